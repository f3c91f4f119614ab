#include "fuzz_common.h"

#include <dirent.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char watched_pipe[64]; /* "pipe:[inode]" of the one pipe an input can pass */

void fuzz_fd_watch_pipe(int fd) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  ssize_t k = readlink(path, watched_pipe, sizeof(watched_pipe) - 1);
  FUZZ_CHECK(k > 0);
  watched_pipe[k] = '\0';
}

int fuzz_fd_count(void) {
  DIR *d = opendir("/proc/self/fd");
  FUZZ_CHECK(d != NULL);
  int n = 0, self = dirfd(d);
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.' || atoi(e->d_name) == self)
      continue;
    char path[300], link[256];
    snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
    ssize_t k = readlink(path, link, sizeof(link) - 1);
    if (k <= 0)
      continue;
    link[k] = '\0';
    /* libFuzzer and the sanitizers open pipes of their own (e.g. to a symbolizer) */
    if (strncmp(link, "pipe:", 5) == 0 && strcmp(link, watched_pipe) != 0)
      continue;
    n++;
  }
  closedir(d);
  return n;
}

int fuzz_fd_entries(void) {
  DIR *d = opendir("/proc/self/fd");
  FUZZ_CHECK(d != NULL);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

void fuzz_fd_dump(void) {
  DIR *d = opendir("/proc/self/fd");
  FUZZ_CHECK(d != NULL);
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    char path[300], link[256];
    snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
    ssize_t k = readlink(path, link, sizeof(link) - 1);
    if (k > 0) {
      link[k] = '\0';
      fprintf(stderr, "  fd %s -> %s\n", e->d_name, link);
    }
  }
  closedir(d);
}

void fuzz_pump(nmif_loop_t *loop) {
  for (int k = 0; k < 256 && nmif_loop_run(loop, 0) > 0; k++) {
  }
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int fuzz_pump_until(nmif_loop_t *loop, int (*cond)(void *), void *ctx, int max_ms) {
  uint64_t end = now_ms() + (uint64_t)max_ms;
  while (!cond(ctx)) {
    if (now_ms() >= end)
      return 0;
    nmif_loop_run(loop, 1);
  }
  return 1;
}

nmif_socket_t *fuzz_socket(nmif_loop_t *loop, const char *path) {
  nmif_socket_args_t a;
  memset(&a, 0, sizeof(a));
  a.path = path;
  a.app_name = "nmif-fuzz";
  a.fd_update = nmif_loop_fd_update;
  a.fd_update_ctx = loop;
  a.reconnect_min_ms = 3600000;
  a.reconnect_max_ms = 3600000;
  a.handshake_timeout_ms = 3600000;
  nmif_socket_t *s = NULL;
  int r = nmif_socket_create(&s, &a);
  if (r < 0) {
    fprintf(stderr, "nmif_socket_create(%s): %s\n", path, nmif_strerror(r));
    abort();
  }
  return s;
}

static void log_sink(int level, const char *msg, void *ctx) {
  if (getenv("NMIF_FUZZ_VERBOSE"))
    fprintf(stderr, "[lib] %s\n", msg);
}

void fuzz_quiet_log(void) { nmif_set_log(log_sink, NULL); }

void fuzz_on_disconnect(nmif_if_t *i, const char *reason, void *user) {
  FUZZ_CHECK(reason && reason[0] && strlen(reason) < NMIF_REASON_MAX);
}
