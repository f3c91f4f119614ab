/* A master and a slave in one process on the built-in loop, for tests that drive both sides:
 * link callbacks that record state and the last reason, and bounded waits on the loop. */
#ifndef NMIF_TEST_LOOP_PAIR_H
#define NMIF_TEST_LOOP_PAIR_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "nmemif.h"

typedef struct side {
  nmif_if_t *iface;
  int connected;
  int rx_events[2];
  char reason[NMIF_REASON_MAX];
} side_t;

static inline void side_on_connect(nmif_if_t *i, void *u) { ((side_t *)u)->connected = 1; }
static inline void side_on_disconnect(nmif_if_t *i, const char *reason, void *u) {
  side_t *s = u;
  s->connected = 0;
  snprintf(s->reason, sizeof(s->reason), "%s", reason);
}
static inline void side_on_rx(nmif_if_t *i, uint16_t qid, void *u) {
  if (qid < 2)
    ((side_t *)u)->rx_events[qid]++;
}

static inline double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Runs `loop` until cond holds; fails after a generous bound (a loaded machine is slow). */
#define RUN_UNTIL(loop, cond, what)                                                         \
  do {                                                                                      \
    double end_ = now_ms() + 30000;                                                         \
    while (!(cond)) {                                                                       \
      if (now_ms() > end_) {                                                                \
        fprintf(stderr, "%s:%d: timed out waiting for %s\n", __FILE__, __LINE__, what);    \
        exit(1);                                                                            \
      }                                                                                     \
      nmif_loop_run(loop, 5);                                                               \
    }                                                                                       \
  } while (0)

/* A fresh directory, the loop, and a socket for each side on the same path (fast reconnects,
 * a handshake deadline long enough for a loaded machine). */
typedef struct pair_env {
  char dir[64];
  char path[128];
  nmif_loop_t *loop;
  nmif_socket_t *ms, *ss;
} pair_env_t;

static inline void pair_env_open(pair_env_t *e, const char *name) {
  snprintf(e->dir, sizeof(e->dir), "/tmp/nmif-%s-XXXXXX", name);
  CHECK(mkdtemp(e->dir));
  snprintf(e->path, sizeof(e->path), "%s/%s.sock", e->dir, name);
  CHECK_OK(nmif_loop_create(&e->loop));
  nmif_socket_args_t sa = {.path = e->path, .fd_update = nmif_loop_fd_update, .fd_update_ctx = e->loop,
                           .reconnect_min_ms = 10, .reconnect_max_ms = 50,
                           .handshake_timeout_ms = 30000};
  CHECK_OK(nmif_socket_create(&e->ms, &sa));
  CHECK_OK(nmif_socket_create(&e->ss, &sa));
}

static inline void pair_env_close(pair_env_t *e) {
  CHECK_OK(nmif_socket_destroy(e->ss));
  CHECK_OK(nmif_socket_destroy(e->ms));
  nmif_loop_destroy(e->loop);
  rmdir(e->dir);
}

#endif
