/* Queue leases: a queue pair lent to another thread, with the gate the library's own teardown
 * closes before it unmaps anything, the generation a lessee remaps on, and an eventfd that
 * tells a sleeping lessee about every link change.
 *
 * The gate is a Dekker-style pair, sequentially consistent: the lessee increments `inside`,
 * then reads `open_gen`; the owner clears `open_gen`, then reads `inside`. At least one of them
 * sees the other's store: either the lessee backs off, or the owner waits for it to leave. The
 * owner changes the interface only while the gate is closed, and publishes it before opening,
 * so everything a lessee reads inside the gate is stable. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

struct nmif_lease_s {
  atomic_int refs;
  atomic_int inside;            /* lessees between enter and leave */
  atomic_int open_gen;          /* 0: closed; else the generation the gate is open for */
  atomic_int ended;             /* the owner ended it, or the interface is gone: for good */
  int event_fd;
  struct nmif_if_s *iface;      /* owner-thread data; NULL once ended */
  uint16_t qid;
  uint8_t rx_mode;
  pthread_mutex_t mu;           /* guards reason (written by the owner, read by the lessee) */
  char reason[NMIF_REASON_MAX];
};

static void gate_close(nmif_lease_t *l) {
  atomic_store(&l->open_gen, 0);
  while (atomic_load(&l->inside) > 0)
    sched_yield(); /* a burst in flight finishes: bursts are short and never block */
}

static void set_reason(nmif_lease_t *l, const char *reason) {
  pthread_mutex_lock(&l->mu);
  snprintf(l->reason, sizeof(l->reason), "%s", reason);
  pthread_mutex_unlock(&l->mu);
}

int nmif_lease_create(nmif_if_t *i, const nmif_lease_args_t *a, nmif_lease_t **out) {
  if (!i || !a || !out || i->destroyed)
    return NMIF_EINVAL;
  if (a->rx_mode != NMIF_RX_INTERRUPT && a->rx_mode != NMIF_RX_POLLING)
    return NMIF_EINVAL;
  if (a->qid >= i->cfg_rx || a->qid >= i->cfg_tx)
    return NMIF_ERANGE;
  if (i->leases[a->qid])
    return NMIF_EBUSY;
  nmif_lease_t *l = calloc(1, sizeof(*l));
  if (!l)
    return NMIF_ENOMEM;
  l->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (l->event_fd < 0) {
    int err = -errno;
    free(l);
    return err;
  }
  pthread_mutex_init(&l->mu, NULL);
  atomic_init(&l->refs, 2); /* the caller's and the interface's */
  atomic_init(&l->inside, 0);
  atomic_init(&l->open_gen, 0);
  atomic_init(&l->ended, 0);
  l->iface = i;
  l->qid = a->qid;
  l->rx_mode = (uint8_t)a->rx_mode;
  snprintf(l->reason, sizeof(l->reason), "%s", i->last_reason[0] ? i->last_reason : "not connected yet");
  i->leases[a->qid] = l;
  if (i->connected) {
    nmif__if_apply_rx_mode(i, a->qid);
    nmif__lease_open(l);
  }
  *out = l;
  return 0;
}

int nmif_lease_end(nmif_lease_t *l) {
  if (!l)
    return NMIF_EINVAL;
  struct nmif_if_s *i = l->iface;
  if (!i)
    return 0; /* already ended (the interface went away) */
  nmif__lease_detach(l, "queue lease ended");
  if (i->connected)
    nmif__if_apply_rx_mode(i, l->qid); /* the queue is the library's again */
  return 0;
}

void nmif_lease_ref(nmif_lease_t *l) { atomic_fetch_add(&l->refs, 1); }

void nmif_lease_unref(nmif_lease_t *l) {
  if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
    return;
  close(l->event_fd);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

int nmif_lease_enter(nmif_lease_t *l) {
  atomic_fetch_add(&l->inside, 1);
  int gen = atomic_load(&l->open_gen);
  if (gen == 0) {
    atomic_fetch_sub_explicit(&l->inside, 1, memory_order_release);
    return NMIF_ENOTCONN;
  }
  return gen;
}

void nmif_lease_leave(nmif_lease_t *l) {
  atomic_fetch_sub_explicit(&l->inside, 1, memory_order_release); /* pairs with gate_close */
}

nmif_if_t *nmif_lease_iface(const nmif_lease_t *l) { return l->iface; }
uint16_t nmif_lease_qid(const nmif_lease_t *l) { return l->qid; }
int nmif_lease_event_fd(const nmif_lease_t *l) { return l->event_fd; }

int nmif_lease_ack(nmif_lease_t *l) {
  uint64_t v;
  return read(l->event_fd, &v, sizeof(v)) == (ssize_t)sizeof(v) ? 1 : 0;
}

int nmif_lease_state(nmif_lease_t *l, nmif_lease_state_t *out) {
  if (!l || !out)
    return NMIF_EINVAL;
  out->generation = (uint32_t)atomic_load(&l->open_gen);
  out->up = out->generation != 0;
  out->ended = atomic_load(&l->ended);
  pthread_mutex_lock(&l->mu);
  snprintf(out->reason, sizeof(out->reason), "%s", out->up ? "" : l->reason);
  pthread_mutex_unlock(&l->mu);
  return 0;
}

int nmif_lease_region(nmif_lease_t *l, uint16_t region, uint64_t *size) {
  int fd = nmif_region_fd(l->iface, region);
  if (fd >= 0 && size)
    nmif_region_base(l->iface, region, size);
  return fd;
}

int nmif_lease_rx_fd(nmif_lease_t *l) { return nmif_rx_queue_fd(l->iface, l->qid); }

/* ---- the owner's side, called by the interface ----------------------------------------------- */

int nmif__lease_rx_mode(const nmif_lease_t *l) { return l->rx_mode; }

void nmif__lease_open(nmif_lease_t *l) {
  struct nmif_if_s *i = l->iface;
  /* A peer may have granted fewer queues than configured: this pair stays closed. */
  if (l->qid >= nmif__num_rx(i) || l->qid >= nmif__num_tx(i))
    return;
  atomic_store(&l->open_gen, (int)i->generation);
  nmif__efd_signal(l->event_fd);
}

void nmif__lease_close(nmif_lease_t *l, const char *reason) {
  int was_open = atomic_load(&l->open_gen) != 0;
  set_reason(l, reason); /* first: a lessee that finds the gate closed reads why */
  gate_close(l);
  if (was_open) /* a failed handshake changes nothing a lessee could use */
    nmif__efd_signal(l->event_fd);
}

void nmif__lease_detach(nmif_lease_t *l, const char *reason) {
  struct nmif_if_s *i = l->iface;
  set_reason(l, reason);
  atomic_store(&l->ended, 1);
  gate_close(l);
  nmif__efd_signal(l->event_fd);
  i->leases[l->qid] = NULL;
  l->iface = NULL;
  nmif_lease_unref(l); /* the interface's reference */
}
