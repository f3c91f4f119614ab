/* The stack: lwIP's start, the owner's lock bracket, the changed list and its eventfd. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcpip.h"

/* lwIP is per process: its thread starts once and stays; one stack at a time uses it. */
static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;
static int lwip_started;
static nlwip_stack_t *live;

int nlwip_built(void) { return 1; }
const char *nlwip_unavailable_reason(void) { return ""; }

static void start_lwip(void) {
  /* lwIP draws ports and initial sequence numbers from rand(): two processes must differ. */
  unsigned int seed = (unsigned int)getpid();
  if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != sizeof seed) seed ^= (unsigned int)time(NULL);
  srand(seed);
  tcpip_init(NULL, NULL);
  lwip_started = 1;
}

int nlwip_stack_create(nlwip_stack_t **out) {
  if (!out) return -EINVAL;
  pthread_mutex_lock(&start_mu);
  int r = -EBUSY;
  if (live) goto done;
  r = -ENOMEM;
  nlwip_stack_t *s = calloc(1, sizeof *s);
  if (!s) goto done;
  /* Large tables, touched only as ids are used (calloc maps zero pages lazily). */
  s->changed = calloc(NLWIP_MAX_SOCKETS, sizeof *s->changed);
  s->free_ids = calloc(NLWIP_MAX_SOCKETS, sizeof *s->free_ids);
  s->ready = calloc(NLWIP_MAX_SOCKETS, sizeof *s->ready);
  s->socks = calloc(NLWIP_MAX_SOCKETS, sizeof *s->socks);
  s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (!s->changed || !s->free_ids || !s->ready || !s->socks || s->wake_fd < 0) {
    r = s->wake_fd < 0 ? -errno : -ENOMEM;
    if (s->wake_fd >= 0) close(s->wake_fd);
    free(s->changed);
    free(s->free_ids);
    free(s->ready);
    free(s->socks);
    free(s);
    goto done;
  }
  if (!lwip_started) start_lwip();
  live = s;
  *out = s;
  r = 0;
done:
  pthread_mutex_unlock(&start_mu);
  return r;
}

void nlwip_stack_destroy(nlwip_stack_t *s) {
  if (!s) return;
  nlwip__enter(s);
  for (uint32_t id = 0; id < s->next_id; id++) {
    nlwip_sock_t *k = s->socks[id];
    if (!k) continue;
    if (k->kind == SK_UDP) nlwip__udp_close(k);
    else nlwip__tcp_close(k, 1);   /* resets go out before the netifs do */
    nlwip__sock_free(k);
  }
  /* What closed sockets left to lwIP (closing handshakes, TIME_WAIT) and connections still
   * half-open: reset too, so the next stack starts clean. */
  for (struct tcp_pcb *p = tcp_active_pcbs, *next; p; p = next) {
    next = p->next;
    tcp_abort(p);
  }
  for (struct tcp_pcb *p = tcp_tw_pcbs, *next; p; p = next) {
    next = p->next;
    tcp_abort(p);
  }
  while (s->netifs) nlwip__netif_remove(s->netifs);   /* flushes first */
  nlwip__leave(s, 0);
  nlwip__reap(s);
  close(s->wake_fd);
  free(s->changed);
  free(s->free_ids);
  free(s->ready);
  free(s->socks);
  pthread_mutex_lock(&start_mu);
  live = NULL;
  pthread_mutex_unlock(&start_mu);
  free(s);
}

/* A callback through lwIP's mailbox: once it ran, so did every callback queued before it. */
struct barrier {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
};

static void barrier_pass(void *arg) {
  struct barrier *b = arg;
  pthread_mutex_lock(&b->mu);
  b->done = 1;
  pthread_cond_signal(&b->cv);
  pthread_mutex_unlock(&b->mu);
}

void nlwip__reap(nlwip_stack_t *s) {
  if (!s->removed) return;
  struct barrier b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
  if (tcpip_callback(barrier_pass, &b) != ERR_OK) return;   /* no memory: keep them for the next reap */
  pthread_mutex_lock(&b.mu);
  while (!b.done) pthread_cond_wait(&b.cv, &b.mu);
  pthread_mutex_unlock(&b.mu);
  while (s->removed) {
    nlwip_netif_t *n = s->removed;
    s->removed = n->next;
    free(n);
  }
}

int nlwip_wake_fd(const nlwip_stack_t *s) { return s->wake_fd; }
const uint32_t *nlwip_readiness(const nlwip_stack_t *s) { return s->ready; }
const nlwip_shared_t *nlwip_shared(const nlwip_stack_t *s) { return &s->shared; }

void nlwip_counters(const nlwip_stack_t *s, uint64_t out[NLWIP_C_COUNT]) {
  memcpy(out, s->counters, sizeof s->counters);
}

void nlwip__enter(nlwip_stack_t *s) {
  LOCK_TCPIP_CORE();
  s->in_call = 1;
}

static int flush_all(nlwip_stack_t *s) {
  int sent = 0;
  if (s->shared.tx_queued == 0) return 0;
  for (nlwip_netif_t *n = s->netifs; n; n = n->next) {
    sent += n->tx.n_pkts;
    nlwip__netif_flush(n);
  }
  return sent;
}

void nlwip__leave(nlwip_stack_t *s, int flush) {
  if (flush) flush_all(s);
  s->in_call = 0;
  UNLOCK_TCPIP_CORE();
}

int nlwip_flush(nlwip_stack_t *s) {
  nlwip__enter(s);
  int sent = flush_all(s);
  nlwip__leave(s, 0);
  return sent;
}

/* ---- the changed list ---------------------------------------------------------------------- */

static void wake_owner(nlwip_stack_t *s) {
  uint64_t one = 1;
  /* -EAGAIN: the counter is saturated, a wake-up is pending anyway. */
  if (write(s->wake_fd, &one, sizeof one) == sizeof one) s->counters[NLWIP_C_WAKEUPS]++;
  s->wake_written = 1;
}

static void changed_push(nlwip_sock_t *k, uint32_t bits) {
  nlwip_stack_t *s = k->stack;
  k->notify |= bits;
  if (k->queued) return;
  k->queued = 1;
  s->changed[s->n_changed++] = k->id;
  __atomic_store_n(&s->shared.changed, s->n_changed, __ATOMIC_RELAXED);
  /* The owner looks at the list after each of its calls; only lwIP's thread must wake it. */
  if (!s->in_call && s->n_changed == 1) wake_owner(s);
}

static void changed_remove(nlwip_sock_t *k) {
  nlwip_stack_t *s = k->stack;
  if (!k->queued) return;
  for (uint32_t i = 0; i < s->n_changed; i++) {
    if (s->changed[i] != k->id) continue;
    memmove(&s->changed[i], &s->changed[i + 1], (s->n_changed - i - 1) * sizeof *s->changed);
    s->n_changed--;
    break;
  }
  __atomic_store_n(&s->shared.changed, s->n_changed, __ATOMIC_RELAXED);
  k->queued = 0;
  k->notify = 0;
}

int nlwip_take_changed(nlwip_stack_t *s, uint32_t *out, uint32_t max) {
  nlwip__enter(s);
  if (s->wake_written) {
    uint64_t v;
    if (read(s->wake_fd, &v, sizeof v) < 0) { /* nothing to read: already cleared */ }
    s->wake_written = 0;
  }
  uint32_t n = s->n_changed < max ? s->n_changed : max;
  for (uint32_t i = 0; i < n; i++) {
    nlwip_sock_t *k = s->socks[s->changed[i]];
    out[2 * i] = k->id;
    out[2 * i + 1] = k->notify;
    k->notify = 0;
    k->queued = 0;
  }
  if (n < s->n_changed) memmove(s->changed, s->changed + n, (s->n_changed - n) * sizeof *s->changed);
  s->n_changed -= n;
  __atomic_store_n(&s->shared.changed, s->n_changed, __ATOMIC_RELAXED);
  nlwip__leave(s, 0);
  return (int)n;
}

/* ---- socket table ---------------------------------------------------------------------------- */

static uint32_t sock_events(const nlwip_sock_t *k) {
  uint32_t ev = k->err ? NLWIP_EV_ERR : 0;
  switch (k->kind) {
    case SK_UDP:
      return ev | (k->flags & SF_NEIGH_WAIT ? 0 : NLWIP_EV_OUT) | (k->rx.count ? NLWIP_EV_IN : 0);
    case SK_LISTEN:
      return ev | (k->acc_count ? NLWIP_EV_IN : 0);
    default:
      return ev | nlwip__tcp_events(k);
  }
}

void nlwip__sock_refresh(nlwip_sock_t *k) {
  __atomic_store_n(&k->stack->ready[k->id], sock_events(k), __ATOMIC_RELAXED);
}

void nlwip__sock_update(nlwip_sock_t *k, uint32_t renew) {
  uint32_t *word = &k->stack->ready[k->id];
  uint32_t old = *word, now = sock_events(k);
  __atomic_store_n(word, now, __ATOMIC_RELAXED);
  uint32_t bits = (now & ~old) | (renew & now);
  /* A connection still waiting to be accepted has nobody to tell yet. */
  if (bits && !k->listener) changed_push(k, bits);
}

nlwip_sock_t *nlwip__sock_new(nlwip_stack_t *s, int kind, int family) {
  uint32_t id;
  if (s->free_top) id = s->free_ids[--s->free_top];
  else if (s->next_id < NLWIP_MAX_SOCKETS) id = s->next_id++;
  else return NULL;
  nlwip_sock_t *k = calloc(1, sizeof *k);
  if (!k) {
    s->free_ids[s->free_top++] = id;
    return NULL;
  }
  k->stack = s;
  k->id = id;
  k->kind = (uint8_t)kind;
  k->family = (uint8_t)family;
  s->socks[id] = k;
  s->ready[id] = 0;
  return k;
}

void nlwip__sock_free(nlwip_sock_t *k) {
  nlwip_stack_t *s = k->stack;
  changed_remove(k);
  nlwip__neigh_forget(k);
  nlwip__pbq_clear(&k->rx);
  free(k->acceptq);
  s->socks[k->id] = NULL;
  __atomic_store_n(&s->ready[k->id], 0, __ATOMIC_RELAXED);
  s->free_ids[s->free_top++] = k->id;
  free(k);
}

nlwip_sock_t *nlwip__sock_get(nlwip_stack_t *s, int id) {
  if (id < 0 || (uint32_t)id >= s->next_id) return NULL;
  return s->socks[id];
}
