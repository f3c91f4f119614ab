/* Forwarding workers: one native thread each, owning the ports of its paths.
 *
 * The loop: apply pending commands (SPSC ring), then for each path src -> dst do one
 * rx_burst on src, one tx_burst of that batch on dst, and rx_done on src. Commands are
 * acknowledged through `done_seq`, which the control thread waits for, so when add/del/pause
 * return the worker has already applied them (a deleted path is no longer referenced). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cmd_ring.h"
#include "port.h"

#define MAX_PATHS 64
/* Longest sleep on interrupts when every input can wake the worker: bounds the delay after a
 * memif reconnect (which masks interrupts again) and after a peer that never signals. */
#define IRQ_SLEEP_MAX_US 10000

const char *const nhal_worker_stat_names[NHAL_WS_COUNT] = {
    [NHAL_WS_ROUNDS] = "rounds",
    [NHAL_WS_IDLE_ROUNDS] = "idle_rounds",
    [NHAL_WS_SLEEPS] = "sleeps",
    [NHAL_WS_COMMANDS] = "commands",
    [NHAL_WS_PATHS] = "paths",
    [NHAL_WS_PAUSED] = "paused",
    [NHAL_WS_IRQ_WAKEUPS] = "irq_wakeups",
};

enum { CMD_ADD = 1, CMD_DEL, CMD_PAUSE, CMD_RESUME, CMD_STOP };

typedef struct path {
  nhal_port_t *src, *dst;
} path_t;

struct nhal_worker {
  nhal_cmd_ring_t cmds;
  uint32_t next_seq;                 /* control thread only */
  uint32_t done_seq;                 /* written by the worker (release), read by control */
  int result;                        /* of the last command, written before done_seq */
  pthread_t thread;
  int started;
  uint16_t burst;
  uint32_t idle_sleep_us;
  int cpu;
  int wake_fd;                       /* eventfd: a command was pushed (wakes a sleeping worker) */
  char name[16];
  /* worker-private state */
  path_t paths[MAX_PATHS];
  int n_paths;
  int paused;
  int stop;
  uint64_t stats[NHAL_WS_COUNT];     /* written by the worker only */
  nhal_batch_t batch;                /* large: one per worker, reused every burst */
};

#define WSTAT_SET(w, i, val) __atomic_store_n(&(w)->stats[(i)], (uint64_t)(val), __ATOMIC_RELAXED)
#define WSTAT_ADD(w, i, n) WSTAT_SET(w, i, (w)->stats[(i)] + (n))

static int apply(nhal_worker_t *w, const nhal_cmd_t *c) {
  switch (c->op) {
    case CMD_ADD:
      if (w->n_paths == MAX_PATHS) return -ENOSPC;
      w->paths[w->n_paths].src = c->a;
      w->paths[w->n_paths].dst = c->b;
      w->n_paths++;
      return 0;
    case CMD_DEL:
      for (int k = 0; k < w->n_paths; k++) {
        if (w->paths[k].src == c->a && w->paths[k].dst == c->b) {
          w->paths[k] = w->paths[--w->n_paths];
          return 0;
        }
      }
      return -ENOENT;
    case CMD_PAUSE: w->paused = 1; return 0;
    case CMD_RESUME: w->paused = 0; return 0;
    case CMD_STOP: w->stop = 1; return 0;
  }
  return -EINVAL;
}

static void drain_commands(nhal_worker_t *w) {
  nhal_cmd_t c;
  while (nhal__cmd_pop(&w->cmds, &c) == 0) {
    w->result = apply(w, &c);
    WSTAT_ADD(w, NHAL_WS_COMMANDS, 1);
    WSTAT_SET(w, NHAL_WS_PATHS, w->n_paths);
    WSTAT_SET(w, NHAL_WS_PAUSED, w->paused);
    __atomic_store_n(&w->done_seq, c.seq, __ATOMIC_RELEASE);  /* pairs with wait_done */
  }
}

/* Idle: sleep until an input's interrupt fires, a command arrives, or the timeout. Inputs
 * that can signal (memif queues) are armed first and re-checked, so nothing that arrived
 * meanwhile waits for the timeout; with an input that cannot (a DPDK queue, a port that is
 * down) the timeout is idle_sleep_us, else up to IRQ_SLEEP_MAX_US. */
static void idle_wait(nhal_worker_t *w) {
  struct pollfd fds[MAX_PATHS + 1];
  nhal_port_t *armed[MAX_PATHS];
  int nfds = 1, narmed = 0, all = !w->paused && w->n_paths > 0, busy = 0;
  fds[0] = (struct pollfd){.fd = w->wake_fd, .events = POLLIN};
  for (int k = 0; k < w->n_paths && !w->paused; k++) {
    nhal_port_t *src = w->paths[k].src;
    int fd = src->ops->rx_irq ? src->ops->rx_irq(src, 1) : -ENOTSUP;
    if (fd >= 0) {
      armed[narmed++] = src;
      fds[nfds++] = (struct pollfd){.fd = fd, .events = POLLIN};
      continue;
    }
    all = 0;
    if (fd == -EAGAIN) {  /* packets already waiting */
      busy = 1;
      break;
    }
  }
  if (!busy) {
    long us = w->paused ? 1000000L : all ? IRQ_SLEEP_MAX_US : (long)w->idle_sleep_us;
    struct timespec ts = {us / 1000000L, (us % 1000000L) * 1000L};
    int r = ppoll(fds, (nfds_t)nfds, &ts, NULL);
    WSTAT_ADD(w, NHAL_WS_SLEEPS, 1);
    for (int k = 1; r > 0 && k < nfds; k++) {
      if (fds[k].revents) {
        WSTAT_ADD(w, NHAL_WS_IRQ_WAKEUPS, 1);
        break;
      }
    }
    uint64_t v;
    if (r > 0 && (fds[0].revents & POLLIN) && read(w->wake_fd, &v, sizeof v) < 0) { /* drained */ }
  }
  for (int k = 0; k < narmed; k++) armed[k]->ops->rx_irq(armed[k], 0);
}

static void *worker_main(void *arg) {
  nhal_worker_t *w = arg;
  pthread_setname_np(pthread_self(), w->name);
  nhal_dpdk_thread_register();
  uint32_t idle = 0;
  while (!w->stop) {
    drain_commands(w);
    if (w->stop) break;
    uint64_t moved = 0;
    if (!w->paused) {
      for (int k = 0; k < w->n_paths; k++) {
        nhal_port_t *src = w->paths[k].src, *dst = w->paths[k].dst;
        int n = src->ops->rx_burst(src, &w->batch, w->burst);
        if (n <= 0) continue;
        dst->ops->tx_burst(dst, &w->batch);
        src->ops->rx_done(src, &w->batch);
        moved += (uint64_t)n;
      }
    }
    WSTAT_ADD(w, NHAL_WS_ROUNDS, 1);
    if (moved) {
      idle = 0;
      continue;
    }
    WSTAT_ADD(w, NHAL_WS_IDLE_ROUNDS, 1);
    if (w->paused || (w->idle_sleep_us && ++idle >= 1024)) idle_wait(w);
  }
  nhal_dpdk_thread_unregister();
  return NULL;
}

static void wake(nhal_worker_t *w) {
  uint64_t one = 1;
  if (write(w->wake_fd, &one, sizeof one) < 0) { /* EAGAIN: a wake-up is pending anyway */ }
}

static int send_and_wait(nhal_worker_t *w, uint32_t op, void *a, void *b) {
  nhal_cmd_t c = {op, ++w->next_seq, a, b};
  struct timespec ts = {0, 50 * 1000L};
  int spins = 0;
  while (nhal__cmd_push(&w->cmds, &c) < 0) {
    if (++spins > 40000) return -ETIMEDOUT;
    nanosleep(&ts, NULL);
  }
  wake(w);
  spins = 0;
  /* Signed difference: seq numbers wrap. */
  while ((int32_t)(__atomic_load_n(&w->done_seq, __ATOMIC_ACQUIRE) - c.seq) < 0) {
    if (++spins > 40000) return -ETIMEDOUT;  /* ~2 s */
    if (spins < 100) sched_yield();
    else nanosleep(&ts, NULL);
  }
  return w->result;
}

int nhal_worker_create(nhal_worker_t **out, const nhal_worker_args_t *args) {
  nhal_worker_args_t a = args ? *args : (nhal_worker_args_t){0};
  if (a.burst == 0) a.burst = 64;
  if (a.burst > NHAL_BURST_MAX) return -EINVAL;
  nhal_worker_t *w;
  if (posix_memalign((void **)&w, 64, sizeof *w)) return -ENOMEM;
  memset(w, 0, sizeof *w);
  w->burst = a.burst;
  w->idle_sleep_us = a.idle_sleep_us;
  w->cpu = args ? a.cpu : -1;
  strncpy(w->name, a.name ? a.name : "nhal-worker", sizeof w->name - 1);
  w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->wake_fd < 0) {
    int e = errno;
    free(w);
    return -e;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (w->cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(w->cpu, &set);
    pthread_attr_setaffinity_np(&attr, sizeof set, &set);
  }
  int r = pthread_create(&w->thread, &attr, worker_main, w);
  pthread_attr_destroy(&attr);
  if (r) {
    close(w->wake_fd);
    free(w);
    return -r;
  }
  w->started = 1;
  *out = w;
  return 0;
}

void nhal_worker_destroy(nhal_worker_t *w) {
  if (!w) return;
  if (w->started) {
    nhal_cmd_t c = {CMD_STOP, ++w->next_seq, NULL, NULL};
    while (nhal__cmd_push(&w->cmds, &c) < 0) sched_yield();
    wake(w);
    pthread_join(w->thread, NULL);
  }
  close(w->wake_fd);
  /* The thread is gone: its paths' ports are free again. */
  for (int k = 0; k < w->n_paths; k++) {
    nhal_port_t *ports[2] = {w->paths[k].src, w->paths[k].dst};
    for (int j = 0; j < 2; j++) {
      if (atomic_fetch_sub(&ports[j]->users, 1) == 1) atomic_store(&ports[j]->owner, NULL);
    }
  }
  free(w);
}

static int claim(nhal_worker_t *w, nhal_port_t *p) {
  void *expected = NULL;
  if (!atomic_compare_exchange_strong(&p->owner, &expected, (void *)w) && expected != w) return -EBUSY;
  atomic_fetch_add(&p->users, 1);
  return 0;
}

static void unclaim(nhal_port_t *p) {
  if (atomic_fetch_sub(&p->users, 1) == 1) atomic_store(&p->owner, NULL);
}

int nhal_worker_add_path(nhal_worker_t *w, nhal_port_t *src, nhal_port_t *dst) {
  if (!w || !src || !dst || src == dst) return -EINVAL;
  int r = claim(w, src);
  if (r < 0) return r;
  if ((r = claim(w, dst)) < 0) {
    unclaim(src);
    return r;
  }
  r = send_and_wait(w, CMD_ADD, src, dst);
  if (r < 0 && r != -ETIMEDOUT) {
    unclaim(src);
    unclaim(dst);
  }
  return r;
}

int nhal_worker_del_path(nhal_worker_t *w, nhal_port_t *src, nhal_port_t *dst) {
  int r = send_and_wait(w, CMD_DEL, src, dst);
  if (r == 0) {
    unclaim(src);
    unclaim(dst);
  }
  return r;
}

int nhal_worker_pause(nhal_worker_t *w) { return send_and_wait(w, CMD_PAUSE, NULL, NULL); }
int nhal_worker_resume(nhal_worker_t *w) { return send_and_wait(w, CMD_RESUME, NULL, NULL); }
const uint64_t *nhal_worker_stats(const nhal_worker_t *w) { return w->stats; }
