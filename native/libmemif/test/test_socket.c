/* Sockets and interfaces: path handling (missing directory, stale file, live listener, not a
 * socket, abstract names), many interfaces per socket matched by id, secrets, argument
 * errors, the slave's automatic reconnect and why its attempts fail (on_connect_error). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "check.h"
#include "loop_pair.h"
#include "nmemif.h"

static nmif_loop_t *loop;
static char dir[64];

typedef struct {
  int up;
  int downs;
  char reason[NMIF_REASON_MAX];
  int connect_errors;
  int last_err;
} state_t;

static void on_connect(nmif_if_t *i, void *u) { ((state_t *)u)->up = 1; }
static void on_disconnect(nmif_if_t *i, const char *reason, void *u) {
  state_t *s = u;
  s->up = 0;
  s->downs++;
  snprintf(s->reason, sizeof(s->reason), "%s", reason);
}

static void on_connect_error(nmif_if_t *i, int err, void *u) {
  state_t *s = u;
  s->connect_errors++;
  s->last_err = err;
}

static nmif_socket_t *sock_at(const char *path) {
  nmif_socket_t *s = NULL;
  nmif_socket_args_t a = {.path = path, .fd_update = nmif_loop_fd_update, .fd_update_ctx = loop,
                          .reconnect_min_ms = 20, .reconnect_max_ms = 100};
  CHECK_OK(nmif_socket_create(&s, &a));
  return s;
}

static nmif_if_args_t if_args(uint32_t id, int master, state_t *st) {
  return (nmif_if_args_t){.id = id, .is_master = master, .on_connect = on_connect,
                          .on_disconnect = on_disconnect, .user = st};
}

/* Runs the loop until *flag == want or ~2 s pass. */
static void wait_for(int *flag, int want) {
  for (int k = 0; k < 400 && *flag != want; k++)
    nmif_loop_run(loop, 5);
  CHECK_EQ(*flag, want);
}

static void test_path_errors(void) {
  char p[256];
  state_t st = {0};
  nmif_if_t *i;
  nmif_if_args_t a = if_args(0, 1, &st);

  /* missing directory: an error at creation, whatever the role of the interfaces to come */
  snprintf(p, sizeof(p), "%s/no-such-dir/memif.sock", dir);
  nmif_socket_t *s = NULL;
  nmif_socket_args_t missing = {.path = p, .fd_update = nmif_loop_fd_update, .fd_update_ctx = loop};
  CHECK_EQ(nmif_socket_create(&s, &missing), NMIF_ENOENT);
  CHECK(s == NULL);
  /* ... and a file where the directory should be */
  snprintf(p, sizeof(p), "%s/a-file", dir);
  int dfd = open(p, O_CREAT | O_WRONLY, 0600);
  CHECK(dfd >= 0);
  close(dfd);
  snprintf(p, sizeof(p), "%s/a-file/memif.sock", dir);
  CHECK_EQ(nmif_socket_create(&s, &missing), NMIF_ENOTDIR);
  snprintf(p, sizeof(p), "%s/a-file", dir);
  unlink(p);

  /* a regular file where the socket should be is never replaced */
  snprintf(p, sizeof(p), "%s/plain-file", dir);
  int fd = open(p, O_CREAT | O_WRONLY, 0600);
  CHECK(fd >= 0);
  close(fd);
  s = sock_at(p);
  CHECK_EQ(nmif_if_create(s, &i, &a), NMIF_ENOTSOCK);
  CHECK_OK(nmif_socket_destroy(s));
  struct stat stt;
  CHECK(stat(p, &stt) == 0 && S_ISREG(stt.st_mode));
  unlink(p);

  /* too long, empty, bad arguments */
  char longp[200];
  memset(longp, 'a', sizeof(longp) - 1);
  longp[sizeof(longp) - 1] = 0;
  nmif_socket_args_t sa = {.path = longp, .fd_update = nmif_loop_fd_update, .fd_update_ctx = loop};
  CHECK_EQ(nmif_socket_create(&s, &sa), NMIF_ENAMETOOLONG);
  sa.path = "";
  CHECK_EQ(nmif_socket_create(&s, &sa), NMIF_EINVAL);
  sa.path = "@";
  CHECK_EQ(nmif_socket_create(&s, &sa), NMIF_EINVAL);
  sa.path = "/tmp/x";
  sa.fd_update = NULL;
  CHECK_EQ(nmif_socket_create(&s, &sa), NMIF_EINVAL);
  printf("path errors: ok (%s)\n", nmif_strerror(NMIF_ENOENT));
}

static void test_stale_and_live(void) {
  char p[256];
  snprintf(p, sizeof(p), "%s/stale.sock", dir);
  /* a socket file nobody listens on: bind then close leaves it behind */
  int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  CHECK(strlen(p) < sizeof(sun.sun_path));
  memcpy(sun.sun_path, p, strlen(p) + 1);
  CHECK(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
  close(fd);
  struct stat st;
  CHECK(stat(p, &st) == 0 && S_ISSOCK(st.st_mode));

  state_t ms = {0};
  nmif_if_t *m, *m2;
  nmif_if_args_t a = if_args(0, 1, &ms);
  nmif_socket_t *s = sock_at(p);
  CHECK_OK(nmif_if_create(s, &m, &a)); /* stale file replaced */
  CHECK(nmif_socket_listener_fd(s) >= 0);

  /* a second listener on a live path is refused, and the live one keeps its file */
  nmif_socket_t *s2 = sock_at(p);
  CHECK_EQ(nmif_if_create(s2, &m2, &a), NMIF_EADDRINUSE);
  CHECK_OK(nmif_socket_destroy(s2));
  CHECK(stat(p, &st) == 0);

  /* duplicate id in the same role on one socket */
  CHECK_EQ(nmif_if_create(s, &m2, &a), NMIF_EEXIST);
  CHECK_OK(nmif_socket_destroy(s));
  CHECK(stat(p, &st) < 0); /* our own file is removed on destroy */
  printf("stale/live: ok\n");
}

static void test_bad_if_args(void) {
  char p[256];
  snprintf(p, sizeof(p), "%s/args.sock", dir);
  nmif_socket_t *s = sock_at(p);
  nmif_if_t *i;
  state_t st = {0};
  nmif_if_args_t a = if_args(1, 0, &st);
  a.log2_ring_size = 15;
  CHECK_EQ(nmif_if_create(s, &i, &a), NMIF_ERANGE);
  a = if_args(1, 0, &st);
  a.rx_queues = 256;
  CHECK_EQ(nmif_if_create(s, &i, &a), NMIF_ERANGE);
  a = if_args(1, 0, &st);
  a.buffer_size = 65536;
  CHECK_EQ(nmif_if_create(s, &i, &a), NMIF_ERANGE);
  a = if_args(1, 0, &st);
  a.secret = "this secret is far too long";
  CHECK_EQ(nmif_if_create(s, &i, &a), NMIF_EINVAL);
  a = if_args(1, 0, &st);
  a.mode = 3;
  CHECK_EQ(nmif_if_create(s, &i, &a), NMIF_EINVAL);
  /* a layout beyond what 32-bit descriptor offsets can address */
  a = if_args(1, 0, &st);
  a.rx_queues = a.tx_queues = 255;
  a.log2_ring_size = 14;
  a.buffer_size = 65535;
  CHECK_EQ(nmif_if_create(s, &i, &a), NMIF_ERANGE);
  CHECK_OK(nmif_socket_destroy(s));
  printf("bad interface arguments: ok\n");
}

static void test_many_ids_and_secret(const char *p) {
  nmif_socket_t *ls = sock_at(p), *cs = sock_at(p);
  enum { N = 4 };
  state_t ms[N] = {0}, ss[N] = {0};
  nmif_if_t *m[N], *sl[N];
  for (int k = 0; k < N; k++) {
    nmif_if_args_t a = if_args((uint32_t)(10 + k), 1, &ms[k]);
    a.secret = k == 3 ? "right" : NULL;
    CHECK_OK(nmif_if_create(ls, &m[k], &a));
  }
  for (int k = 0; k < N; k++) {
    nmif_if_args_t a = if_args((uint32_t)(10 + k), 0, &ss[k]);
    a.secret = k == 3 ? "wrong" : NULL;
    CHECK_OK(nmif_if_create(cs, &sl[k], &a));
  }
  for (int k = 0; k < 3; k++) {
    wait_for(&ss[k].up, 1);
    wait_for(&ms[k].up, 1);
    nmif_details_t d;
    CHECK_OK(nmif_if_details(m[k], &d));
    CHECK_EQ(d.id, 10 + k);
    CHECK(d.connected);
    char want[32];
    snprintf(want, sizeof(want), "nmemif%d", 10 + k);
    CHECK(strcmp(d.peer_if_name, want) == 0);
  }
  /* id 13: wrong secret is refused with a reason, and the slave keeps retrying */
  wait_for(&ss[3].downs, ss[3].downs ? ss[3].downs : 1);
  CHECK(!ss[3].up && !ms[3].up);
  CHECK(strcmp(ss[3].reason, "incorrect secret") == 0);
  /* an id nobody serves */
  state_t lost = {0};
  nmif_if_t *x;
  nmif_if_args_t a = if_args(99, 0, &lost);
  CHECK_OK(nmif_if_create(cs, &x, &a));
  wait_for(&lost.downs, lost.downs ? lost.downs : 1);
  CHECK(strcmp(lost.reason, "unmatched interface id") == 0);
  CHECK_OK(nmif_if_destroy(x));
  CHECK_OK(nmif_socket_destroy(cs));
  for (int k = 0; k < 3; k++)
    wait_for(&ms[k].up, 0);
  CHECK(strstr(ms[0].reason, "socket closed") != NULL);
  CHECK_OK(nmif_socket_destroy(ls));
  printf("many interfaces per socket (%s): ok\n", p);
}

/* A slave that cannot reach its socket says why on every retry: no file (ENOENT), then a stale
 * file nobody listens on (ECONNREFUSED); never during nmif_if_create() itself. */
static void test_connect_errors(void) {
  char p[256];
  snprintf(p, sizeof(p), "%s/nobody.sock", dir);
  state_t st = {0};
  nmif_socket_t *s = sock_at(p);
  nmif_if_t *sl;
  nmif_if_args_t a = if_args(3, 0, &st);
  a.on_connect_error = on_connect_error;
  CHECK_OK(nmif_if_create(s, &sl, &a));
  CHECK_EQ(st.connect_errors, 0);
  RUN_UNTIL(loop, st.connect_errors >= 1, "the first failed attempt");
  CHECK_EQ(st.last_err, NMIF_ENOENT);
  RUN_UNTIL(loop, st.connect_errors >= 2, "a retry"); /* it failed too, and said so */

  /* a stale socket file: bound, never listening */
  int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  CHECK(fd >= 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  CHECK(strlen(p) < sizeof(addr.sun_path));
  memcpy(addr.sun_path, p, strlen(p) + 1);
  CHECK(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
  int seen = st.connect_errors;
  RUN_UNTIL(loop, st.last_err == NMIF_ECONNREFUSED, "an attempt refused by the stale file");
  CHECK(st.connect_errors > seen);
  CHECK(!st.up);
  CHECK_EQ(st.downs, 0); /* no connection was made: nothing went down */
  close(fd);
  unlink(p);
  CHECK_OK(nmif_socket_destroy(s));
  printf("connect errors: ok (%s, then %s)\n", nmif_err_name(NMIF_ENOENT), nmif_err_name(NMIF_ECONNREFUSED));
}

static void test_reconnect(void) {
  char p[256];
  snprintf(p, sizeof(p), "%s/reconnect.sock", dir);
  state_t ss = {0}, ms = {0};
  nmif_socket_t *cs = sock_at(p);
  nmif_if_t *sl, *m;
  nmif_if_args_t a = if_args(5, 0, &ss);
  CHECK_OK(nmif_if_create(cs, &sl, &a)); /* no master yet: keeps retrying */
  for (int k = 0; k < 20; k++)
    nmif_loop_run(loop, 5);
  CHECK(!ss.up);
  for (int round = 0; round < 3; round++) {
    nmif_socket_t *ls = sock_at(p);
    nmif_if_args_t b = if_args(5, 1, &ms);
    CHECK_OK(nmif_if_create(ls, &m, &b));
    wait_for(&ss.up, 1);
    wait_for(&ms.up, 1);
    CHECK_OK(nmif_socket_destroy(ls)); /* master goes away */
    wait_for(&ss.up, 0);
  }
  CHECK_EQ(ss.downs, 3);
  CHECK_OK(nmif_socket_destroy(cs));
  printf("reconnect: ok\n");
}

/* The mapping every epoll-based loop uses (the built-in one and the Node binding). */
static void test_event_mapping(void) {
  CHECK_EQ(nmif_events_from_epoll(EPOLLIN), NMIF_EV_READ);
  CHECK_EQ(nmif_events_from_epoll(EPOLLPRI), NMIF_EV_READ);
  CHECK_EQ(nmif_events_from_epoll(EPOLLOUT), NMIF_EV_WRITE);
  CHECK_EQ(nmif_events_from_epoll(EPOLLERR), NMIF_EV_ERROR);
  CHECK_EQ(nmif_events_from_epoll(EPOLLHUP), NMIF_EV_HUP);
  CHECK_EQ(nmif_events_from_epoll(EPOLLRDHUP), NMIF_EV_HUP);
  CHECK_EQ(nmif_events_from_epoll(EPOLLIN | EPOLLRDHUP | EPOLLHUP), NMIF_EV_READ | NMIF_EV_HUP);
  CHECK_EQ(nmif_events_to_epoll(NMIF_EV_READ | NMIF_EV_WRITE), EPOLLIN | EPOLLOUT);
  CHECK_EQ(nmif_events_to_epoll(NMIF_EV_READ), EPOLLIN);
  printf("event mapping: ok\n");
}

int main(void) {
  snprintf(dir, sizeof(dir), "/tmp/nmif-socket-XXXXXX");
  CHECK(mkdtemp(dir));
  CHECK_OK(nmif_loop_create(&loop));
  nmif_set_log_level(-1); /* the errors provoked here are expected */
  test_event_mapping();
  test_path_errors();
  test_stale_and_live();
  test_bad_if_args();
  char p[256];
  snprintf(p, sizeof(p), "%s/many.sock", dir);
  test_many_ids_and_secret(p);
  snprintf(p, sizeof(p), "@nmif-test-many-%d", (int)getpid());
  test_many_ids_and_secret(p);
  test_connect_errors();
  test_reconnect();
  nmif_loop_destroy(loop);
  rmdir(dir);
  return 0;
}
