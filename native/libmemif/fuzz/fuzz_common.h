/* Shared by the fuzz harnesses: invariant checks, fd accounting, pumping the built-in loop. */
#ifndef NMIF_FUZZ_COMMON_H
#define NMIF_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "nmemif.h"

/* A broken invariant is a crash for libFuzzer (and a failure for the replay test). */
#define FUZZ_CHECK(c)                                                                      \
  do {                                                                                     \
    if (!(c)) {                                                                            \
      fprintf(stderr, "fuzz invariant broken: %s (%s:%d)\n", #c, __FILE__, __LINE__);      \
      abort();                                                                             \
    }                                                                                      \
  } while (0)

/* Open fds of this process, pipes left out but the one given to fuzz_fd_watch_pipe (the
 * fuzzer and the sanitizers open pipes of their own at any time). */
int fuzz_fd_count(void);
void fuzz_fd_watch_pipe(int fd);
/* Entries of /proc/self/fd, every kind counted (cheap: no readlink). */
int fuzz_fd_entries(void);
/* Lists them on stderr (when an fd check fails). */
void fuzz_fd_dump(void);
/* Runs the loop without blocking until it has nothing left to do (bounded). */
void fuzz_pump(nmif_loop_t *loop);
/* Runs the loop until cond(ctx) holds; 0 if it did not within max_ms. */
int fuzz_pump_until(nmif_loop_t *loop, int (*cond)(void *), void *ctx, int max_ms);
/* The bound of a wait in a harness: it only matters when something is already broken, and a
 * loaded machine (or a niced fuzzer) stalls for seconds, which must not read as a finding. */
#define FUZZ_WAIT_MS 30000
/* A socket on the loop that never times a handshake out nor retries by itself within a run
 * (both depend on the clock, and an input must behave the same every time). */
nmif_socket_t *fuzz_socket(nmif_loop_t *loop, const char *path);
/* The library's log off (a fuzzer prints millions of rejections); NMIF_FUZZ_VERBOSE=1 keeps it. */
void fuzz_quiet_log(void);
/* on_disconnect for every interface: a link always ends with a reason that fits the field. */
void fuzz_on_disconnect(nmif_if_t *i, const char *reason, void *user);

#endif
