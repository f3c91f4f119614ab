/* The hostile peer's plumbing: owned fds and mappings, the raw control socket, datagrams with
 * fds, and the waits (bounded by a deadline, never a sleep used as synchronisation). */
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- hooks ------------------------------------------------------------------------------- */

static hp_idle_fn idle_fn;
static void *idle_ctx;
static hp_fail_fn fail_fn;

void hp_set_idle(hp_idle_fn fn, void *ctx) {
  idle_fn = fn;
  idle_ctx = ctx;
}

void hp_idle(int ms) {
  if (idle_fn)
    idle_fn(idle_ctx, ms);
  else
    poll(NULL, 0, ms);
}

void hp_set_fail(hp_fail_fn fn) { fail_fn = fn; }

void hp_failf(const char *file, int line, const char *fmt, ...) {
  char msg[500], full[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(full, sizeof(full), "%s:%d: %s", file, line, msg);
  if (fail_fn)
    fail_fn(full);
  fprintf(stderr, "%s\n", full);
  exit(1);
}

uint64_t hp_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *hp_type_name(uint16_t t) {
  static const char *const names[] = {"NONE",     "ACK",     "HELLO",     "INIT",      "ADD_REGION",
                                      "ADD_RING", "CONNECT", "CONNECTED", "DISCONNECT"};
  return t <= NMIF_MSG_TYPE_MAX ? names[t] : "UNKNOWN";
}

/* ---- the peer object ------------------------------------------------------------------------ */

void hp_init(struct hp_peer *p, int role) {
  memset(p, 0, sizeof(*p));
  p->role = role;
  p->fd = -1;
  p->rfd = -1;
  p->efd[0] = p->efd[1] = -1;
  p->app_name = role == HP_SLAVE ? "hostile-slave" : "hostile-master";
  p->if_name = role == HP_SLAVE ? "hostile0" : "hostile-m0";
}

void hp_own(struct hp_peer *p, int fd) {
  if (fd < 0)
    return;
  if (p->nowned >= HP_MAX_OWNED)
    HP_FAIL("peer: too many fds");
  p->owned[p->nowned++] = fd;
}

void *hp_map(struct hp_peer *p, int fd, size_t n) {
  if (p->nmaps >= HP_MAX_MAPS)
    HP_FAIL("peer: too many mappings");
  void *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED)
    HP_FAIL("peer mmap %zu: %s", n, strerror(errno));
  p->maps[p->nmaps].p = m;
  p->maps[p->nmaps].n = n;
  p->nmaps++;
  return m;
}

void hp_release(struct hp_peer *p) {
  if (p->fd >= 0)
    close(p->fd);
  p->fd = -1;
  for (int k = 0; k < p->nowned; k++)
    close(p->owned[k]);
  p->nowned = 0;
  for (int k = 0; k < p->nmaps; k++)
    munmap(p->maps[k].p, p->maps[k].n);
  p->nmaps = 0;
  p->rbase = NULL;
  p->nreg = 0;
}

int hp_new_eventfd(struct hp_peer *p) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0)
    HP_FAIL("eventfd: %s", strerror(errno));
  hp_own(p, fd);
  return fd;
}

int hp_new_pipe_end(struct hp_peer *p) {
  int pp[2];
  if (pipe2(pp, O_CLOEXEC) < 0)
    HP_FAIL("pipe: %s", strerror(errno));
  hp_own(p, pp[0]);
  hp_own(p, pp[1]);
  return pp[1];
}

int hp_new_memfd(struct hp_peer *p, const char *tag, uint64_t size, int seal) {
  char name[64];
  snprintf(name, sizeof(name), "nmif-hostile-%s", tag);
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
    HP_FAIL("memfd: %s", strerror(errno));
  if (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
    HP_FAIL("seal: %s", strerror(errno));
  hp_own(p, fd);
  return fd;
}

int hp_new_socket_end(struct hp_peer *p) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    HP_FAIL("socketpair: %s", strerror(errno));
  hp_own(p, sv[0]);
  hp_own(p, sv[1]);
  return sv[0];
}

int hp_new_unsealed_file(struct hp_peer *p, uint64_t size) {
  char tmpl[] = "/tmp/nmif-hostile-XXXXXX";
  int fd = mkostemp(tmpl, O_CLOEXEC);
  if (fd < 0)
    HP_FAIL("mkostemp: %s", strerror(errno));
  unlink(tmpl);
  hp_own(p, fd);
  if (ftruncate(fd, (off_t)size) < 0)
    HP_FAIL("ftruncate: %s", strerror(errno));
  return fd;
}

/* ---- the control socket ------------------------------------------------------------------- */

socklen_t hp_sockaddr(struct sockaddr_un *a, const char *path) {
  size_t len = strlen(path);
  memset(a, 0, sizeof(*a));
  a->sun_family = AF_UNIX;
  if (len == 0 || len >= sizeof(a->sun_path))
    return 0;
  if (path[0] == '@') {
    memcpy(a->sun_path + 1, path + 1, len - 1);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
  }
  memcpy(a->sun_path, path, len);
  return sizeof(*a);
}

ssize_t hp_sendmsg(int sock, const void *buf, size_t len, const int *fds, int nfds, int flags) {
  union {
    char c[CMSG_SPACE(sizeof(int) * HP_MAX_FDS)];
    struct cmsghdr align;
  } cbuf;
  struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > HP_MAX_FDS)
    nfds = HP_MAX_FDS;
  if (nfds > 0) {
    memset(&cbuf, 0, sizeof(cbuf));
    mh.msg_control = cbuf.c;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
  }
  ssize_t n = sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
  return n < 0 ? -errno : n;
}

ssize_t hp_recvmsg(int sock, void *buf, size_t cap, int *fds, int max, int *nfds, int flags) {
  union {
    char c[CMSG_SPACE(sizeof(int) * HP_MAX_FDS) + CMSG_SPACE(sizeof(struct ucred))];
    struct cmsghdr align;
  } cbuf;
  struct iovec iov = {.iov_base = buf, .iov_len = cap};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.c,
                      .msg_controllen = sizeof(cbuf.c)};
  *nfds = 0;
  ssize_t n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
  if (n < 0)
    return -errno;
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
      continue;
    size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t j = 0; j < k; j++) {
      int fd;
      memcpy(&fd, CMSG_DATA(cm) + j * sizeof(int), sizeof(int));
      if (*nfds < max)
        fds[(*nfds)++] = fd;
      else
        close(fd);
    }
  }
  return n;
}

static void learn_victim_pid(struct hp_peer *p) {
  struct ucred cr;
  socklen_t n = sizeof(cr);
  if (getsockopt(p->fd, SOL_SOCKET, SO_PEERCRED, &cr, &n) == 0)
    p->victim_pid = cr.pid;
}

int hp_connect(struct hp_peer *p, const char *path) {
  struct sockaddr_un a;
  socklen_t alen = hp_sockaddr(&a, path);
  if (!alen)
    return -ENAMETOOLONG;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  if (connect(fd, (struct sockaddr *)&a, alen) < 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  p->fd = fd;
  learn_victim_pid(p);
  return 0;
}

int hp_listen(const char *path) {
  struct sockaddr_un a;
  socklen_t alen = hp_sockaddr(&a, path);
  if (!alen)
    return -ENAMETOOLONG;
  if (path[0] != '@') {
    struct stat st; /* a stale socket file from an earlier run; never anything else */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
      unlink(path);
  }
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -errno;
  if (bind(fd, (struct sockaddr *)&a, alen) < 0 || listen(fd, 16) < 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  return fd;
}

/* Waits for fd (or runs the idle hook) for a slice of what is left before `end`. */
static void wait_slice(int fd, uint64_t end) {
  uint64_t now = hp_now_ms();
  if (idle_fn) {
    idle_fn(idle_ctx, 2);
  } else if (now < end) {
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    poll(&pf, 1, end - now < 50 ? (int)(end - now) : 50);
  }
}

int hp_accept(struct hp_peer *p, int lfd, int timeout_ms) {
  uint64_t end = hp_now_ms() + (uint64_t)timeout_ms;
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
      p->fd = fd;
      learn_victim_pid(p);
      return 0;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      HP_FAIL("accept: %s", strerror(errno));
    if (hp_now_ms() >= end)
      return -ETIMEDOUT;
    wait_slice(lfd, end);
  }
}

int hp_send_raw(struct hp_peer *p, const void *buf, size_t len, const int *fds, int nfds) {
  if (p->fd < 0)
    return -EBADF;
  /* our side may have closed already: that is not the peer's failure */
  ssize_t n = hp_sendmsg(p->fd, buf, len, fds, nfds, 0);
  if (n < 0)
    return (int)n;
  if ((size_t)n != len)
    HP_FAIL("short send %zd of %zu", n, len);
  return 0;
}

int hp_send(struct hp_peer *p, const nmif_msg_t *m, const int *fds, int nfds) {
  return hp_send_raw(p, m, sizeof(*m), fds, nfds);
}

void hp_msg_start(nmif_msg_t *m, uint16_t type) {
  memset(m, 0, sizeof(*m));
  m->type = type;
}

int hp_send_disconnect(struct hp_peer *p, const char *reason) {
  nmif_msg_t m;
  hp_msg_start(&m, NMIF_MSG_DISCONNECT);
  size_t n = strlen(reason);
  memcpy(m.disconnect.string, reason, n < HP_REASON_MAX - 1 ? n : HP_REASON_MAX - 1);
  return hp_send(p, &m, NULL, 0);
}

ssize_t hp_recv(struct hp_peer *p, nmif_msg_t *m, int *fds, int *nfds, int timeout_ms) {
  uint64_t end = hp_now_ms() + (uint64_t)timeout_ms;
  if (nfds)
    *nfds = 0;
  if (p->fd < 0)
    return 0;
  for (;;) {
    uint8_t buf[512];
    int got[HP_MAX_FDS], ngot;
    ssize_t n = hp_recvmsg(p->fd, buf, sizeof(buf), got, HP_MAX_FDS, &ngot, MSG_DONTWAIT);
    if (n >= 0) {
      for (int j = 0; j < ngot; j++) {
        hp_own(p, got[j]);
        if (fds && nfds && *nfds < 8)
          fds[(*nfds)++] = got[j];
      }
      memset(m, 0, sizeof(*m));
      memcpy(m, buf, (size_t)n < sizeof(*m) ? (size_t)n : sizeof(*m));
      return n;
    }
    if (n == -ECONNRESET || n == -EPIPE)
      return 0;
    if (n != -EAGAIN && n != -EWOULDBLOCK && n != -EINTR)
      HP_FAIL("peer recvmsg: %s", strerror((int)-n));
    if (hp_now_ms() >= end)
      return -ETIMEDOUT;
    wait_slice(p->fd, end);
  }
}

void hp_record_disconnect(struct hp_peer *p, const nmif_msg_t *m) {
  p->got_disc = 1;
  memcpy(p->disc_reason, m->disconnect.string, HP_REASON_MAX);
  p->disc_reason[HP_REASON_MAX] = '\0';
}

void hp_expect(struct hp_peer *p, uint16_t type, nmif_msg_t *out, int *fds, int *nfds,
               int timeout_ms) {
  nmif_msg_t m;
  ssize_t n = hp_recv(p, &m, fds, nfds, timeout_ms);
  if (n == -ETIMEDOUT)
    HP_FAIL("waiting for %s: nothing within %d ms", hp_type_name(type), timeout_ms);
  if (n == 0)
    HP_FAIL("waiting for %s: connection closed", hp_type_name(type));
  if (n != NMIF_MSG_SIZE)
    HP_FAIL("waiting for %s: got a %zd-byte datagram", hp_type_name(type), n);
  if (m.type == NMIF_MSG_DISCONNECT && type != NMIF_MSG_DISCONNECT) {
    hp_record_disconnect(p, &m);
    HP_FAIL("waiting for %s: got DISCONNECT \"%s\"", hp_type_name(type), p->disc_reason);
  }
  if (m.type != type)
    HP_FAIL("waiting for %s: got %s (%u)", hp_type_name(type), hp_type_name(m.type), m.type);
  if (out)
    *out = m;
}

const char *hp_expect_disconnect(struct hp_peer *p, int timeout_ms) {
  nmif_msg_t m;
  if (!p->got_disc) {
    ssize_t n = hp_recv(p, &m, NULL, NULL, timeout_ms);
    if (n == -ETIMEDOUT)
      HP_FAIL("no DISCONNECT from our side within %d ms", timeout_ms);
    if (n == 0)
      HP_FAIL("our side closed the connection without sending DISCONNECT");
    if (n != NMIF_MSG_SIZE)
      HP_FAIL("our side sent a %zd-byte datagram", n);
    if (m.type != NMIF_MSG_DISCONNECT)
      HP_FAIL("expected DISCONNECT, got %s (%u)", hp_type_name(m.type), m.type);
    hp_record_disconnect(p, &m);
  }
  ssize_t n = hp_recv(p, &m, NULL, NULL, timeout_ms);
  if (n > 0)
    HP_FAIL("after DISCONNECT our side sent %s (%zd bytes)", hp_type_name(m.type), n);
  if (n == -ETIMEDOUT)
    HP_FAIL("our side did not close the connection after DISCONNECT");
  return p->disc_reason;
}
