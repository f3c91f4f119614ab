/*
 * A hostile peer against our library (fact sheet §18).
 *
 * The peer is written by hand in this file: a raw AF_UNIX SOCK_SEQPACKET socket, messages
 * crafted from wire.h's layouts, fds passed with SCM_RIGHTS, and, when it plays the slave, its
 * own memfd region, rings and eventfds. Our side is the library driven by its built-in loop
 * (nmif_loop_*) in the same thread: every wait below pumps nmif_loop_run() in small steps
 * while polling the peer socket, bounded by a deadline (no sleeps as synchronisation).
 *
 * Each case runs in a fresh connection and checks:
 *   - our side answers the bad value with a DISCONNECT whose reason is non-empty (printed),
 *     then closes the connection;
 *   - the interface is not connected afterwards, and (once the connection was bound to the
 *     interface) on_disconnect ran with a non-empty reason;
 *   - no fd leaks: /proc/self/fd is the same multiset of objects before and after the case,
 *     after the peer closed everything it created or received; so every fd the peer passed
 *     was closed by us;
 *   - the process is still running (a SIGPIPE or SIGBUS would end it; SIGPIPE is left at its
 *     default on purpose).
 * After the hostile cases, well-behaved peers connect on the same sockets and the link comes
 * up, with packets in both directions.
 *
 * A failing check ends its case only (the failure is recorded and printed); the program goes
 * on with the next case and exits 1 at the end if any case failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
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

#include "check.h"
#include "nmemif.h"
#include "wire.h"

/* ---- configuration of our side ---------------------------------------------------------- */

#define OUR_ID 1
#define OUR_SECRET "sesame"
#define PEER_LOG2 6                 /* the hostile slave's rings: 64 slots */
#define PEER_BSIZE 2048
#define SLAVE_LOG2 6                /* our slave's configured ring size */
#define SLAVE_BSIZE 2048
#define REPLY_TIMEOUT_MS 1500       /* well below the handshake timeout below */
#define HANDSHAKE_TIMEOUT_MS 6000
#define SHORT_HANDSHAKE_MS 300      /* for the one case that tests the handshake timeout */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- case failure: recorded, then the case is abandoned (longjmp to the harness) ---------- */

static jmp_buf case_jmp;
static int in_case;
static char case_fail[600];

static void failf(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4), noreturn));
static void failf(const char *file, int line, const char *fmt, ...) {
  char msg[500];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(case_fail, sizeof(case_fail), "%s:%d: %s", file, line, msg);
  fprintf(stderr, "    FAIL %s\n", case_fail);
  if (in_case)
    longjmp(case_jmp, 1);
  exit(1);
}
#define FAILF(...) failf(__FILE__, __LINE__, __VA_ARGS__)
#define EXPECT(c)                                                                          \
  do {                                                                                     \
    if (!(c))                                                                              \
      FAILF("EXPECT(%s)", #c);                                                             \
  } while (0)
#define EXPECT_EQ(a, b)                                                                    \
  do {                                                                                     \
    long long ea_ = (long long)(a), eb_ = (long long)(b);                                  \
    if (ea_ != eb_)                                                                        \
      FAILF("EXPECT_EQ(%s, %s): %lld != %lld", #a, #b, ea_, eb_);                          \
  } while (0)

/* ---- fd accounting ----------------------------------------------------------------------- */

/* The multiset of open objects, by their /proc/self/fd link text ("socket:[123]",
 * "anon_inode:[eventfd]", "/memfd:hostile-r0 (deleted)", "pipe:[456]"). */
struct fdsnap {
  int n;
  char name[512][80];
};

static void fd_snapshot(struct fdsnap *s) {
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    FAILF("opendir /proc/self/fd: %s", strerror(errno));
  int self = dirfd(d);
  struct dirent *e;
  s->n = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || atoi(e->d_name) == self)
      continue;
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
    if (s->n >= 512)
      break;
    ssize_t k = readlink(path, s->name[s->n], sizeof(s->name[0]) - 1);
    if (k < 0)
      continue;
    s->name[s->n][k] = '\0';
    s->n++;
  }
  closedir(d);
}

/* Prints what `after` has that `before` does not (and the reverse); returns the count. */
static int fd_diff(const struct fdsnap *before, const struct fdsnap *after, int print) {
  static char used[512];
  int extra = 0;
  memset(used, 0, sizeof(used));
  for (int a = 0; a < after->n; a++) {
    int found = 0;
    for (int b = 0; b < before->n; b++) {
      if (!used[b] && strcmp(before->name[b], after->name[a]) == 0) {
        used[b] = 1;
        found = 1;
        break;
      }
    }
    if (!found) {
      extra++;
      if (print)
        fprintf(stderr, "      leaked: %s\n", after->name[a]);
    }
  }
  for (int b = 0; b < before->n; b++) {
    if (!used[b]) {
      extra++;
      if (print)
        fprintf(stderr, "      closed (not ours to close?): %s\n", before->name[b]);
    }
  }
  return extra;
}

static int fd_is_eventfd(int fd) {
  char path[64], link[80];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  ssize_t k = readlink(path, link, sizeof(link) - 1);
  if (k < 0)
    return 0;
  link[k] = '\0';
  return strcmp(link, "anon_inode:[eventfd]") == 0;
}

/* ---- our side ------------------------------------------------------------------------------ */

struct side {
  nmif_socket_t *sock;
  nmif_if_t *iface;
  int connects;
  int disconnects;
  char reason[256];
};

static struct {
  char dir[64];
  char mpath[128];        /* our master's socket */
  char tpath[128];        /* our master with a short handshake timeout */
  char spath[128];        /* the hostile master's listener, our slave connects to it */
  nmif_loop_t *loop;
  struct side master;     /* our master interface (id 1, secret) */
  struct side tmaster;    /* master on tpath */
  struct side slave;      /* our slave interface (created per case) */
  nmif_socket_t *slave_sock;
  int peer_listen_fd;     /* the hostile master's listener */
} T;

static void on_connect(nmif_if_t *i, void *user) {
  struct side *s = user;
  s->connects++;
}

static void on_disconnect(nmif_if_t *i, const char *reason, void *user) {
  struct side *s = user;
  s->disconnects++;
  snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "(null)");
}

static void pump(int ms) { nmif_loop_run(T.loop, ms); }

/* Pumps the loop until cond() holds or the deadline passes. */
static int pump_until(int (*cond)(void), int timeout_ms) {
  uint64_t end = now_ms() + (uint64_t)timeout_ms;
  while (!cond()) {
    if (now_ms() >= end)
      return 0;
    pump(2);
  }
  return 1;
}

/* ---- the hostile peer --------------------------------------------------------------------- */

struct peer {
  const char *case_name;
  int fd;                          /* control socket */
  int owned[600];                  /* every fd the peer created or received: closed at the end */
  int nowned;
  struct {
    void *p;
    size_t n;
  } maps[300];
  int nmaps;

  /* as a slave: its region and rings */
  int rfd;
  uint8_t *rbase;
  uint64_t rsize;
  uint8_t log2;
  uint32_t ring_bytes;
  int efd[2];                      /* [0] S2M ring, [1] M2S ring */

  /* as a master: what our slave announced */
  struct {
    uint8_t *base;
    uint64_t size;
  } reg[8];
  int nreg;
  struct {
    uint16_t region;
    uint32_t offset;
    uint8_t log2;
  } ring[2][8];                    /* [0] S2M, [1] M2S */
  int nring[2];
  nmif_msg_t init;                 /* our slave's INIT */

  /* what came back */
  int got_disc;
  char disc_reason[NMIF_REASON_MAX + 1];
  int acks;                        /* ACKs received while running a flow */
};

static void peer_own(struct peer *p, int fd) {
  if (fd < 0)
    return;
  if (p->nowned >= (int)(sizeof(p->owned) / sizeof(p->owned[0])))
    FAILF("peer: too many fds");
  p->owned[p->nowned++] = fd;
}

static void *peer_map(struct peer *p, int fd, size_t n) {
  void *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED)
    FAILF("peer mmap %zu: %s", n, strerror(errno));
  p->maps[p->nmaps].p = m;
  p->maps[p->nmaps].n = n;
  p->nmaps++;
  return m;
}

static void peer_release(struct peer *p) {
  if (p->fd >= 0)
    close(p->fd);
  p->fd = -1;
  for (int k = 0; k < p->nowned; k++)
    close(p->owned[k]);
  p->nowned = 0;
  for (int k = 0; k < p->nmaps; k++)
    munmap(p->maps[k].p, p->maps[k].n);
  p->nmaps = 0;
}

static int new_eventfd(struct peer *p) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0)
    FAILF("eventfd: %s", strerror(errno));
  peer_own(p, fd);
  return fd;
}

static int new_pipe_end(struct peer *p) {
  int pp[2];
  if (pipe2(pp, O_CLOEXEC) < 0)
    FAILF("pipe: %s", strerror(errno));
  peer_own(p, pp[0]);
  peer_own(p, pp[1]);
  return pp[1];
}

static int new_memfd(struct peer *p, const char *tag, uint64_t size, int seal) {
  char name[64];
  snprintf(name, sizeof(name), "hostile-%s", tag);
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
    FAILF("memfd: %s", strerror(errno));
  if (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
    FAILF("seal: %s", strerror(errno));
  peer_own(p, fd);
  return fd;
}

/* Sends one datagram of len bytes with nfds fds; returns 0 or -errno (our side may have closed
 * already, which is not a failure by itself). MSG_NOSIGNAL: the peer is not under test. */
static int peer_send_raw(struct peer *p, const void *buf, size_t len, const int *fds, int nfds) {
  union {
    char c[CMSG_SPACE(sizeof(int) * 16)];
    struct cmsghdr align;
  } cbuf;
  struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
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
  ssize_t n = sendmsg(p->fd, &mh, MSG_NOSIGNAL);
  if (n < 0)
    return -errno;
  if ((size_t)n != len)
    FAILF("short send %zd of %zu", n, len);
  return 0;
}

static int peer_send(struct peer *p, const nmif_msg_t *m, const int *fds, int nfds) {
  return peer_send_raw(p, m, sizeof(*m), fds, nfds);
}

static void msg_init_type(nmif_msg_t *m, uint16_t type) {
  memset(m, 0, sizeof(*m));
  m->type = type;
}

/* Receives one datagram, pumping our loop while waiting. Returns its length (128 for a
 * well-formed message), 0 on EOF, -ETIMEDOUT. Received fds are owned by the peer. */
static ssize_t peer_recv(struct peer *p, nmif_msg_t *m, int *fds, int *nfds, int timeout_ms) {
  uint64_t end = now_ms() + (uint64_t)timeout_ms;
  if (nfds)
    *nfds = 0;
  for (;;) {
    uint8_t buf[512];
    union {
      char c[CMSG_SPACE(sizeof(int) * 8) + CMSG_SPACE(sizeof(struct ucred))];
      struct cmsghdr align;
    } cbuf;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.c,
                        .msg_controllen = sizeof(cbuf.c)};
    ssize_t n = recvmsg(p->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n >= 0) {
      for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
          int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
          for (int j = 0; j < k; j++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + sizeof(int) * (size_t)j, sizeof(int));
            peer_own(p, fd);
            if (fds && nfds && *nfds < 8)
              fds[(*nfds)++] = fd;
          }
        }
      }
      memset(m, 0, sizeof(*m));
      memcpy(m, buf, (size_t)n < sizeof(*m) ? (size_t)n : sizeof(*m));
      return n;
    }
    if (errno == ECONNRESET || errno == EPIPE)
      return 0;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      FAILF("peer recvmsg: %s", strerror(errno));
    if (now_ms() >= end)
      return -ETIMEDOUT;
    pump(2);
  }
}

static const char *type_name(uint16_t t) {
  static const char *const names[] = {"NONE",     "ACK",     "HELLO",     "INIT",      "ADD_REGION",
                                      "ADD_RING", "CONNECT", "CONNECTED", "DISCONNECT"};
  return t <= 8 ? names[t] : "UNKNOWN";
}

static void record_disconnect(struct peer *p, const nmif_msg_t *m) {
  p->got_disc = 1;
  /* bounded copy: our own side under test could send an unterminated string */
  memcpy(p->disc_reason, m->disconnect.string, NMIF_REASON_MAX);
  p->disc_reason[NMIF_REASON_MAX] = '\0';
}

/* Waits for our side's DISCONNECT (unless one arrived already during a flow), then for the
 * connection to close. Anything else first is a failure. Returns the reason. */
static const char *peer_expect_disconnect(struct peer *p, int timeout_ms) {
  nmif_msg_t m;
  uint64_t t0 = now_ms();
  if (!p->got_disc) {
    ssize_t n = peer_recv(p, &m, NULL, NULL, timeout_ms);
    if (n == -ETIMEDOUT)
      FAILF("no DISCONNECT from our side within %d ms", timeout_ms);
    if (n == 0)
      FAILF("our side closed the connection without sending DISCONNECT");
    if (n != NMIF_MSG_SIZE)
      FAILF("our side sent a %zd-byte datagram", n);
    if (m.type != NMIF_MSG_DISCONNECT)
      FAILF("expected DISCONNECT, got %s (%u)", type_name(m.type), m.type);
    record_disconnect(p, &m);
  }
  ssize_t n = peer_recv(p, &m, NULL, NULL, timeout_ms);
  if (n > 0)
    FAILF("after DISCONNECT our side sent %s (%zd bytes)", type_name(m.type), n);
  if (n == -ETIMEDOUT)
    FAILF("our side did not close the connection after DISCONNECT");
  (void)t0;
  return p->disc_reason;
}

/* Expects the next message to be of `type` (ACK, CONNECTED, ...). */
static void peer_expect(struct peer *p, uint16_t type, nmif_msg_t *out, int *fds, int *nfds) {
  nmif_msg_t m;
  ssize_t n = peer_recv(p, &m, fds, nfds, REPLY_TIMEOUT_MS);
  if (n == -ETIMEDOUT)
    FAILF("waiting for %s: nothing within %d ms", type_name(type), REPLY_TIMEOUT_MS);
  if (n == 0)
    FAILF("waiting for %s: connection closed", type_name(type));
  if (n != NMIF_MSG_SIZE)
    FAILF("waiting for %s: got a %zd-byte datagram", type_name(type), n);
  if (m.type == NMIF_MSG_DISCONNECT && type != NMIF_MSG_DISCONNECT) {
    record_disconnect(p, &m);
    FAILF("waiting for %s: got DISCONNECT \"%s\"", type_name(type), p->disc_reason);
  }
  if (m.type != type)
    FAILF("waiting for %s: got %s (%u)", type_name(type), type_name(m.type), m.type);
  if (out)
    *out = m;
}

/* Connects to a listening path (abstract if it starts with '@'). */
static int unix_connect(const char *path) {
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0)
    FAILF("socket: %s", strerror(errno));
  struct sockaddr_un a;
  memset(&a, 0, sizeof(a));
  a.sun_family = AF_UNIX;
  snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
    int e = errno;
    close(fd);
    FAILF("connect %s: %s", path, strerror(e));
  }
  return fd;
}

/* The hostile slave connects to our master and reads its HELLO. */
static void peer_connect(struct peer *p, const char *path) {
  p->fd = unix_connect(path);
  nmif_msg_t m;
  peer_expect(p, NMIF_MSG_HELLO, &m, NULL, NULL);
  EXPECT_EQ(m.hello.min_version, 0x0200);
  EXPECT_EQ(m.hello.max_version, 0x0200);
  EXPECT(m.hello.max_log2_ring_size <= 14);
}

/* ================================================================================================
 * The hostile slave (against our master)
 * ============================================================================================= */

/* Builds the peer's region: S2M ring 0 at 0, M2S ring 0 after it, then one buffer per slot. */
static void hs_build(struct peer *p, uint8_t log2) {
  uint32_t n = 1u << log2;
  p->log2 = log2;
  p->ring_bytes = (uint32_t)(NMIF_RING_HDR_SIZE + NMIF_DESC_SIZE * n);
  p->rsize = 2ull * p->ring_bytes + 2ull * n * PEER_BSIZE;
  p->rfd = new_memfd(p, "r0", p->rsize, 1);
  p->rbase = peer_map(p, p->rfd, p->rsize);
  for (int t = 0; t < 2; t++) {
    nmif_ring_t *r = (nmif_ring_t *)(p->rbase + (size_t)t * p->ring_bytes);
    r->cookie = NMIF_COOKIE;
    for (uint32_t j = 0; j < n; j++) {
      r->desc[j].region = 0;
      r->desc[j].offset = (uint32_t)(2ull * p->ring_bytes + ((uint64_t)t * n + j) * PEER_BSIZE);
      r->desc[j].length = PEER_BSIZE;
    }
  }
  p->efd[0] = new_eventfd(p);
  p->efd[1] = new_eventfd(p);
}

static nmif_ring_t *hs_ring(struct peer *p, int m2s) {
  return (nmif_ring_t *)(p->rbase + (size_t)m2s * p->ring_bytes);
}

enum hs_step { HS_INIT, HS_REGION, HS_RING_S2M, HS_RING_M2S, HS_CONNECT, HS_NSTEPS };
static const char *const hs_step_name[] = {"INIT", "ADD_REGION", "ADD_RING(S2M)", "ADD_RING(M2S)",
                                           "CONNECT"};

/* What one step sends; a mutator may change any of it. */
struct out {
  nmif_msg_t m;
  size_t len;        /* datagram length, 128 unless a case says otherwise */
  int fds[16];
  int nfds;
  int skip;          /* don't send this step's message at all */
  int no_reply;      /* this message gets no reply when accepted (don't wait for ACK) */
};

typedef void (*mut_fn)(struct peer *p, int step, struct out *o);

static void hs_default(struct peer *p, int step, struct out *o) {
  memset(o, 0, sizeof(*o));
  o->len = NMIF_MSG_SIZE;
  switch (step) {
  case HS_INIT:
    msg_init_type(&o->m, NMIF_MSG_INIT);
    o->m.init.version = 0x0200;
    o->m.init.id = OUR_ID;
    o->m.init.mode = NMIF_MODE_ETHERNET;
    memcpy(o->m.init.secret, OUR_SECRET, strlen(OUR_SECRET));
    memcpy(o->m.init.name, "hostile-slave", 13);
    break;
  case HS_REGION:
    msg_init_type(&o->m, NMIF_MSG_ADD_REGION);
    o->m.add_region.index = 0;
    o->m.add_region.size = p->rsize;
    o->fds[0] = p->rfd;
    o->nfds = 1;
    break;
  case HS_RING_S2M:
  case HS_RING_M2S: {
    int m2s = step == HS_RING_M2S;
    msg_init_type(&o->m, NMIF_MSG_ADD_RING);
    o->m.add_ring.flags = m2s ? 0 : NMIF_RING_FLAG_S2M;
    o->m.add_ring.index = 0;
    o->m.add_ring.region = 0;
    o->m.add_ring.offset = m2s ? p->ring_bytes : 0;
    o->m.add_ring.log2_ring_size = p->log2;
    o->m.add_ring.private_hdr_size = 0;
    o->fds[0] = p->efd[m2s];
    o->nfds = 1;
    break;
  }
  case HS_CONNECT:
    msg_init_type(&o->m, NMIF_MSG_CONNECT);
    memcpy(o->m.connect.if_name, "hostile0", 8);
    break;
  }
}

/*
 * Runs the slave's half of the handshake (INIT, ADD_REGION, ADD_RING S2M, ADD_RING M2S,
 * CONNECT), letting mut alter each step. Stops at the first DISCONNECT. Returns 1 if the link
 * came up (CONNECTED received), 0 if our side sent DISCONNECT (p->disc_reason). Fails on EOF
 * without DISCONNECT, silence, or an unexpected message.
 */
static int hs_flow(struct peer *p, mut_fn mut) {
  if (!p->rbase)
    hs_build(p, PEER_LOG2);
  for (int step = 0; step < HS_NSTEPS; step++) {
    struct out o;
    hs_default(p, step, &o);
    if (mut)
      mut(p, step, &o);
    if (o.skip)
      continue;
    int r = peer_send_raw(p, &o.m, o.len, o.fds, o.nfds);
    if (r < 0 && r != -EPIPE && r != -ECONNRESET)
      FAILF("send %s: %s", hs_step_name[step], strerror(-r));
    if (o.no_reply && r == 0)
      continue;
    nmif_msg_t m;
    ssize_t n = peer_recv(p, &m, NULL, NULL, REPLY_TIMEOUT_MS);
    if (n == -ETIMEDOUT)
      FAILF("after %s: no reply and no DISCONNECT within %d ms", hs_step_name[step],
            REPLY_TIMEOUT_MS);
    if (n == 0)
      FAILF("after %s: connection closed without DISCONNECT", hs_step_name[step]);
    if (n != NMIF_MSG_SIZE)
      FAILF("after %s: our side sent a %zd-byte datagram", hs_step_name[step], n);
    if (m.type == NMIF_MSG_DISCONNECT) {
      record_disconnect(p, &m);
      return 0;
    }
    uint16_t want = step == HS_CONNECT ? NMIF_MSG_CONNECTED : NMIF_MSG_ACK;
    if (m.type != want)
      FAILF("after %s: expected %s, got %s (%u)", hs_step_name[step], type_name(want),
            type_name(m.type), m.type);
    if (step == HS_CONNECT)
      return 1;
    p->acks++;
  }
  FAILF("handshake flow ended without CONNECT");
}

/* ---- mutators for the hostile slave (one per bad value) -------------------------------------- */

#define AT(s)                                                                                 \
  if (step != (s))                                                                            \
  return

static void m_init_version_0100(struct peer *p, int step, struct out *o) { AT(HS_INIT); o->m.init.version = 0x0100; }
static void m_init_version_0201(struct peer *p, int step, struct out *o) { AT(HS_INIT); o->m.init.version = 0x0201; }
static void m_init_version_ffff(struct peer *p, int step, struct out *o) { AT(HS_INIT); o->m.init.version = 0xffff; }
static void m_init_unknown_id(struct peer *p, int step, struct out *o) { AT(HS_INIT); o->m.init.id = 99; }
static void m_init_wrong_secret(struct peer *p, int step, struct out *o) {
  AT(HS_INIT);
  memset(o->m.init.secret, 0, sizeof(o->m.init.secret));
  memcpy(o->m.init.secret, "wrong", 5);
}
static void m_init_no_secret(struct peer *p, int step, struct out *o) {
  AT(HS_INIT);
  memset(o->m.init.secret, 0, sizeof(o->m.init.secret));
}
static void m_init_secret_prefix(struct peer *p, int step, struct out *o) {
  AT(HS_INIT);
  memset(o->m.init.secret, 0, sizeof(o->m.init.secret));
  memcpy(o->m.init.secret, "sesam", 5);
}
static void m_init_secret_longer(struct peer *p, int step, struct out *o) {
  AT(HS_INIT);
  memset(o->m.init.secret, 0, sizeof(o->m.init.secret));
  memcpy(o->m.init.secret, "sesame2", 7);
}
static void m_init_secret_unterminated(struct peer *p, int step, struct out *o) {
  AT(HS_INIT);
  memset(o->m.init.secret, 'S', sizeof(o->m.init.secret)); /* 24 bytes, no NUL */
  memset(o->m.init.name, 'N', sizeof(o->m.init.name));     /* and an unterminated name */
}
static void m_init_bad_mode(struct peer *p, int step, struct out *o) { AT(HS_INIT); o->m.init.mode = 200; }
static void m_type0_first(struct peer *p, int step, struct out *o) { AT(HS_INIT); o->m.type = 0; }
static void m_type9_first(struct peer *p, int step, struct out *o) { AT(HS_INIT); o->m.type = 9; }
static void m_typeffff_config(struct peer *p, int step, struct out *o) { AT(HS_REGION); o->m.type = 0xffff; o->nfds = 0; }
static void m_type0_config(struct peer *p, int step, struct out *o) { AT(HS_RING_S2M); o->m.type = 0; o->nfds = 0; }
static void m_len127_init(struct peer *p, int step, struct out *o) { AT(HS_INIT); o->len = 127; }
static void m_len129_init(struct peer *p, int step, struct out *o) { AT(HS_INIT); o->len = 129; }
static void m_len1_config(struct peer *p, int step, struct out *o) { AT(HS_REGION); o->len = 1; o->nfds = 0; }
static void m_len129_region(struct peer *p, int step, struct out *o) { AT(HS_REGION); o->len = 129; }
static void m_len127_ring(struct peer *p, int step, struct out *o) { AT(HS_RING_S2M); o->len = 127; }
static void m_len256_config(struct peer *p, int step, struct out *o) { AT(HS_CONNECT); o->len = 256; }

static void m_region_no_fd(struct peer *p, int step, struct out *o) { AT(HS_REGION); o->nfds = 0; }
static void m_region_two_fds(struct peer *p, int step, struct out *o) {
  AT(HS_REGION);
  o->fds[1] = new_memfd(p, "second", 4096, 1);
  o->nfds = 2;
}
static void m_region_many_fds(struct peer *p, int step, struct out *o) {
  AT(HS_REGION);
  for (int k = 1; k < 12; k++)
    o->fds[k] = new_eventfd(p);
  o->nfds = 12; /* more than any receiver sets room for: MSG_CTRUNC */
}
static void m_region_index_1(struct peer *p, int step, struct out *o) { AT(HS_REGION); o->m.add_region.index = 1; }
static void m_region_index_256(struct peer *p, int step, struct out *o) { AT(HS_REGION); o->m.add_region.index = 256; }
static void m_region_index_ffff(struct peer *p, int step, struct out *o) { AT(HS_REGION); o->m.add_region.index = 0xffff; }
static void m_region_size0(struct peer *p, int step, struct out *o) { AT(HS_REGION); o->m.add_region.size = 0; }
static void m_region_size_huge(struct peer *p, int step, struct out *o) { AT(HS_REGION); o->m.add_region.size = UINT64_MAX; }
static void m_region_fd_smaller(struct peer *p, int step, struct out *o) {
  AT(HS_REGION);
  o->fds[0] = new_memfd(p, "small", 4096, 1);
  o->m.add_region.size = p->rsize; /* announced much larger than the file */
}
static void m_region_fd_pipe(struct peer *p, int step, struct out *o) { AT(HS_REGION); o->fds[0] = new_pipe_end(p); }
static void m_region_fd_eventfd(struct peer *p, int step, struct out *o) { AT(HS_REGION); o->fds[0] = new_eventfd(p); }
static void m_region_fd_socket(struct peer *p, int step, struct out *o) {
  AT(HS_REGION);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    FAILF("socketpair: %s", strerror(errno));
  peer_own(p, sv[0]);
  peer_own(p, sv[1]);
  o->fds[0] = sv[0];
}
static void m_region_unsealed_file(struct peer *p, int step, struct out *o) {
  AT(HS_REGION);
  char tmpl[] = "/tmp/nmif-hostile-XXXXXX";
  int fd = mkostemp(tmpl, O_CLOEXEC);
  if (fd < 0)
    FAILF("mkostemp: %s", strerror(errno));
  unlink(tmpl);
  peer_own(p, fd);
  if (ftruncate(fd, (off_t)p->rsize) < 0)
    FAILF("ftruncate: %s", strerror(errno));
  o->fds[0] = fd;
}

static void m_ring_no_fd(struct peer *p, int step, struct out *o) { AT(HS_RING_S2M); o->nfds = 0; }
static void m_ring_two_fds(struct peer *p, int step, struct out *o) {
  AT(HS_RING_S2M);
  o->fds[1] = new_eventfd(p);
  o->nfds = 2;
}
static void m_ring_s2m_index_1(struct peer *p, int step, struct out *o) { AT(HS_RING_S2M); o->m.add_ring.index = 1; }
static void m_ring_m2s_index_1(struct peer *p, int step, struct out *o) { AT(HS_RING_M2S); o->m.add_ring.index = 1; }
static void m_ring_index_ffff(struct peer *p, int step, struct out *o) { AT(HS_RING_S2M); o->m.add_ring.index = 0xffff; }
static void m_ring_missing_region(struct peer *p, int step, struct out *o) { AT(HS_RING_S2M); o->m.add_ring.region = 1; }
static void m_ring_region_ffff(struct peer *p, int step, struct out *o) { AT(HS_RING_M2S); o->m.add_ring.region = 0xffff; }
static void m_ring_offset_past_end(struct peer *p, int step, struct out *o) {
  AT(HS_RING_M2S);
  /* the header fits but not the descriptors */
  o->m.add_ring.offset = (uint32_t)(p->rsize - NMIF_RING_HDR_SIZE);
}
static void m_ring_offset_u32_wrap(struct peer *p, int step, struct out *o) {
  AT(HS_RING_S2M);
  o->m.add_ring.offset = 0xFFFFFFC0u; /* offset + ring size wraps in 32 bits */
}
static void m_ring_offset_misaligned(struct peer *p, int step, struct out *o) {
  AT(HS_RING_S2M);
  o->m.add_ring.offset = 4; /* head/tail would be misaligned for atomics */
}
static void m_region_too_small_for_rings(struct peer *p, int step, struct out *o) {
  /* the region is announced (and is) smaller than its own rings */
  if (step == HS_REGION) {
    o->fds[0] = new_memfd(p, "tiny", 4096, 1);
    o->m.add_region.size = 4096;
  }
}
static void m_ring_log2_15(struct peer *p, int step, struct out *o) { AT(HS_RING_S2M); o->m.add_ring.log2_ring_size = 15; }
static void m_ring_log2_255(struct peer *p, int step, struct out *o) { AT(HS_RING_S2M); o->m.add_ring.log2_ring_size = 255; }
static void m_ring_log2_mismatch(struct peer *p, int step, struct out *o) {
  AT(HS_RING_M2S);
  o->m.add_ring.log2_ring_size = (uint8_t)(p->log2 - 1); /* fits in the region, differs from S2M */
}
static void m_ring_private_hdr(struct peer *p, int step, struct out *o) { AT(HS_RING_S2M); o->m.add_ring.private_hdr_size = 1; }
static void m_ring_private_hdr_big(struct peer *p, int step, struct out *o) { AT(HS_RING_M2S); o->m.add_ring.private_hdr_size = 0xffff; }
static void m_ring_flags_unknown(struct peer *p, int step, struct out *o) { AT(HS_RING_S2M); o->m.add_ring.flags = 0x8001; }
static void m_ring_flags_bit1(struct peer *p, int step, struct out *o) { AT(HS_RING_M2S); o->m.add_ring.flags = 0x0002; }
static void m_ring_fd_pipe(struct peer *p, int step, struct out *o) { AT(HS_RING_S2M); o->fds[0] = new_pipe_end(p); }
static void m_ring_fd_memfd(struct peer *p, int step, struct out *o) { AT(HS_RING_M2S); o->fds[0] = new_memfd(p, "notevent", 4096, 1); }
static void m_ring_duplicate_s2m(struct peer *p, int step, struct out *o) {
  AT(HS_RING_M2S);
  /* a second S2M ring 0 instead of the M2S ring */
  o->m.add_ring.flags = NMIF_RING_FLAG_S2M;
  o->m.add_ring.offset = 0;
}
static void m_cookie_wrong(struct peer *p, int step, struct out *o) {
  AT(HS_CONNECT);
  hs_ring(p, 1)->cookie = 0xDEADBEEF;
}
static void m_cookie_wrong_s2m(struct peer *p, int step, struct out *o) {
  AT(HS_CONNECT);
  hs_ring(p, 0)->cookie = 0;
}
static void m_connect_no_rings(struct peer *p, int step, struct out *o) {
  if (step == HS_RING_S2M || step == HS_RING_M2S)
    o->skip = 1;
}
static void m_connect_no_m2s_ring(struct peer *p, int step, struct out *o) { AT(HS_RING_M2S); o->skip = 1; }
static void m_connect_no_region(struct peer *p, int step, struct out *o) {
  if (step == HS_REGION)
    o->skip = 1;
}
static void m_init_with_fd(struct peer *p, int step, struct out *o) {
  AT(HS_INIT);
  o->fds[0] = new_memfd(p, "on-init", 4096, 1);
  o->nfds = 1;
}
static void m_connect_with_fd(struct peer *p, int step, struct out *o) {
  AT(HS_CONNECT);
  o->fds[0] = new_eventfd(p);
  o->fds[1] = new_pipe_end(p);
  o->nfds = 2;
}
static void m_ack_from_slave(struct peer *p, int step, struct out *o) { AT(HS_REGION); msg_init_type(&o->m, NMIF_MSG_ACK); o->nfds = 0; }
static void m_hello_from_slave(struct peer *p, int step, struct out *o) { AT(HS_INIT); msg_init_type(&o->m, NMIF_MSG_HELLO); }
static void m_connected_from_slave(struct peer *p, int step, struct out *o) { AT(HS_CONNECT); o->m.type = NMIF_MSG_CONNECTED; }
static void m_init_twice(struct peer *p, int step, struct out *o) {
  AT(HS_REGION);
  hs_default(p, HS_INIT, o); /* INIT again instead of the region */
}

/* ---- custom sequences for the hostile slave ----------------------------------------------------- */

/* Messages before INIT, with an fd where the type carries one. */
static void c_ring_before_init(struct peer *p) {
  hs_build(p, PEER_LOG2);
  struct out o;
  hs_default(p, HS_RING_S2M, &o);
  peer_send(p, &o.m, o.fds, o.nfds);
}
static void c_region_before_init(struct peer *p) {
  hs_build(p, PEER_LOG2);
  struct out o;
  hs_default(p, HS_REGION, &o);
  peer_send(p, &o.m, o.fds, o.nfds);
}
static void c_connect_before_init(struct peer *p) {
  hs_build(p, PEER_LOG2);
  struct out o;
  hs_default(p, HS_CONNECT, &o);
  peer_send(p, &o.m, NULL, 0);
}
static void c_ack_before_init(struct peer *p) {
  nmif_msg_t m;
  msg_init_type(&m, NMIF_MSG_ACK);
  int fd = new_eventfd(p);
  peer_send(p, &m, &fd, 1);
}
static void c_disconnect_before_init_with_fd(struct peer *p) {
  /* The peer gives up at once (no DISCONNECT back is expected), with an fd attached. */
  nmif_msg_t m;
  msg_init_type(&m, NMIF_MSG_DISCONNECT);
  memcpy(m.disconnect.string, "bye", 3);
  int fd = new_memfd(p, "on-disc", 4096, 1);
  peer_send(p, &m, &fd, 1);
}
/* A duplicate ADD_REGION index 0 (the first was accepted). */
static void c_region_duplicate(struct peer *p) {
  hs_build(p, PEER_LOG2);
  struct out o;
  hs_default(p, HS_INIT, &o);
  peer_send(p, &o.m, NULL, 0);
  peer_expect(p, NMIF_MSG_ACK, NULL, NULL, NULL);
  hs_default(p, HS_REGION, &o);
  peer_send(p, &o.m, o.fds, o.nfds);
  peer_expect(p, NMIF_MSG_ACK, NULL, NULL, NULL);
  peer_send(p, &o.m, o.fds, o.nfds); /* index 0 again, same fd */
}
/* Regions 0, 1, 2, ... until our master says stop; it must stop at the limit it advertised. */
static void c_region_flood(struct peer *p) {
  hs_build(p, PEER_LOG2);
  struct out o;
  hs_default(p, HS_INIT, &o);
  peer_send(p, &o.m, NULL, 0);
  peer_expect(p, NMIF_MSG_ACK, NULL, NULL, NULL);
  int small = new_memfd(p, "flood", 4096, 1);
  for (int k = 0; k < 300; k++) {
    nmif_msg_t m;
    msg_init_type(&m, NMIF_MSG_ADD_REGION);
    m.add_region.index = (uint16_t)k;
    m.add_region.size = 4096;
    int r = peer_send(p, &m, &small, 1);
    nmif_msg_t a;
    ssize_t n = peer_recv(p, &a, NULL, NULL, REPLY_TIMEOUT_MS);
    if (n == NMIF_MSG_SIZE && a.type == NMIF_MSG_ACK && r == 0)
      continue;
    if (n == NMIF_MSG_SIZE && a.type == NMIF_MSG_DISCONNECT) {
      record_disconnect(p, &a);
      printf("    (stopped at region index %d)\n", k);
      EXPECT(k <= 256);
      return;
    }
    FAILF("region %d: unexpected reply (len %zd type %u)", k, n, n > 0 ? a.type : 0);
  }
  FAILF("300 regions accepted: no limit");
}
/* The hostile slave connects, reads HELLO and then says nothing at all. */
static void c_silent_slave(struct peer *p) {
  /* connected by the harness to the short-timeout socket; just wait */
}
/* Valid handshake, then a second INIT on the live link. */
static void c_init_after_connect(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  struct out o;
  hs_default(p, HS_INIT, &o);
  peer_send(p, &o.m, NULL, 0);
}
static void c_region_after_connect(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  struct out o;
  hs_default(p, HS_REGION, &o);
  o.m.add_region.index = 1;
  o.fds[0] = new_memfd(p, "late", 8192, 1);
  o.m.add_region.size = 8192;
  peer_send(p, &o.m, o.fds, 1);
}
static void c_connect_after_connect(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  struct out o;
  hs_default(p, HS_CONNECT, &o);
  peer_send(p, &o.m, NULL, 0);
}
static void c_type9_after_connect(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  nmif_msg_t m;
  msg_init_type(&m, 9);
  int fd = new_eventfd(p);
  peer_send(p, &m, &fd, 1);
}
static void c_len129_after_connect(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  uint8_t buf[129];
  memset(buf, 0, sizeof(buf));
  buf[0] = NMIF_MSG_ACK;
  peer_send_raw(p, buf, sizeof(buf), NULL, 0);
}
/* The peer sends a bad INIT and closes at once: our DISCONNECT hits a closed socket (SIGPIPE
 * would kill the process if the library sent without MSG_NOSIGNAL). */
static void c_bad_init_then_close(struct peer *p) {
  struct out o;
  hs_build(p, PEER_LOG2);
  hs_default(p, HS_INIT, &o);
  o.m.init.version = 0x0100;
  peer_send(p, &o.m, NULL, 0);
  close(p->fd);
  p->fd = -1;
}
static void c_close_mid_handshake(struct peer *p) {
  hs_build(p, PEER_LOG2);
  struct out o;
  hs_default(p, HS_INIT, &o);
  peer_send(p, &o.m, NULL, 0);
  peer_expect(p, NMIF_MSG_ACK, NULL, NULL, NULL);
  hs_default(p, HS_REGION, &o);
  peer_send(p, &o.m, o.fds, o.nfds);
  close(p->fd); /* gone before reading the ACK */
  p->fd = -1;
}
/* Valid link, then the peer's DISCONNECT with a 96-byte reason and no NUL. */
static void c_peer_disconnect_unterminated(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  nmif_msg_t m;
  msg_init_type(&m, NMIF_MSG_DISCONNECT);
  memset(m.disconnect.string, 'R', sizeof(m.disconnect.string));
  m.disconnect.code = 0xffffffffu;
  int fd = new_eventfd(p); /* and an fd it must not carry */
  peer_send(p, &m, &fd, 1);
}

/* ---- data-path attacks on our master's rx (S2M ring, written by the hostile slave) ---------- */

/* One good packet first, so the -EPROTO below is about the bad value, not a broken path. */
static void hs_good_packet(struct peer *p) {
  nmif_ring_t *r = hs_ring(p, 0);
  uint16_t head = r->head;
  uint16_t slot = head & ((1u << p->log2) - 1);
  uint8_t *buf = p->rbase + r->desc[slot].offset;
  memcpy(buf, "good packet", 11);
  r->desc[slot].length = 11;
  r->desc[slot].flags = 0;
  __atomic_store_n(&r->head, (uint16_t)(head + 1), __ATOMIC_RELEASE);
  nmif_buf_t b[8];
  int n = nmif_rx_burst(T.master.iface, 0, b, 8);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(b[0].len, 11);
  EXPECT(memcmp(b[0].data, "good packet", 11) == 0);
  EXPECT_EQ(nmif_rx_release(T.master.iface, 0, 1), 1);
  EXPECT_EQ(__atomic_load_n(&r->tail, __ATOMIC_ACQUIRE), (uint16_t)(head + 1));
}

static void hs_publish(struct peer *p, int count) {
  nmif_ring_t *r = hs_ring(p, 0);
  __atomic_store_n(&r->head, (uint16_t)(r->head + count), __ATOMIC_RELEASE);
}

static nmif_desc_t *hs_next_desc(struct peer *p, int k) {
  nmif_ring_t *r = hs_ring(p, 0);
  return &r->desc[(uint16_t)(r->head + k) & ((1u << p->log2) - 1)];
}

static void d_desc_offset_outside(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  hs_good_packet(p);
  nmif_desc_t *d = hs_next_desc(p, 0);
  d->offset = (uint32_t)p->rsize - 10;
  d->length = 100;
  d->flags = 0;
  hs_publish(p, 1);
}
static void d_desc_offset_beyond(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  hs_good_packet(p);
  nmif_desc_t *d = hs_next_desc(p, 0);
  d->offset = (uint32_t)p->rsize + 4096;
  d->length = 1;
  hs_publish(p, 1);
}
static void d_desc_u32_wrap(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  hs_good_packet(p);
  nmif_desc_t *d = hs_next_desc(p, 0);
  d->offset = 0xFFFFFFF0u; /* offset + length wraps to a small number in 32 bits */
  d->length = 0x20;
  hs_publish(p, 1);
}
static void d_desc_length_huge(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  hs_good_packet(p);
  nmif_desc_t *d = hs_next_desc(p, 0);
  d->offset = 0;
  d->length = 0xFFFFFFFFu;
  hs_publish(p, 1);
}
static void d_desc_region_out_of_range(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  hs_good_packet(p);
  nmif_desc_t *d = hs_next_desc(p, 0);
  d->region = 1; /* only region 0 exists */
  d->length = 64;
  hs_publish(p, 1);
}
static void d_desc_region_ffff(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  hs_good_packet(p);
  nmif_desc_t *d = hs_next_desc(p, 0);
  d->region = 0xffff;
  d->length = 64;
  hs_publish(p, 1);
}
static void d_chain_segment_outside(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  hs_good_packet(p);
  nmif_desc_t *a = hs_next_desc(p, 0), *b = hs_next_desc(p, 1);
  a->length = 64;
  a->flags = NMIF_DESC_NEXT;
  b->offset = (uint32_t)p->rsize; /* second segment starts at the end */
  b->length = 64;
  b->flags = 0;
  hs_publish(p, 2);
}
static void d_head_ahead(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  hs_good_packet(p);
  hs_publish(p, (1 << p->log2) + 1); /* N + 1 slots "filled" */
}
static void d_head_far_ahead(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  hs_good_packet(p);
  hs_publish(p, 30000);
}
static void d_head_backwards(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  hs_good_packet(p);
  hs_publish(p, -1); /* below what we already consumed */
}
static void d_incomplete_chain(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  hs_good_packet(p);
  nmif_desc_t *a = hs_next_desc(p, 0), *b = hs_next_desc(p, 1);
  a->length = 64;
  a->flags = 0;
  b->length = 64;
  b->flags = NMIF_DESC_NEXT; /* the last published slot says "more follows" */
  hs_publish(p, 2);
}
static void d_chain_whole_ring(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  hs_good_packet(p);
  int n = 1 << p->log2;
  for (int k = 0; k < n; k++) {
    nmif_desc_t *d = hs_next_desc(p, k);
    d->length = 64;
    d->flags = NMIF_DESC_NEXT; /* every slot chained, never ends */
  }
  hs_publish(p, n);
}

/* ================================================================================================
 * The hostile master (against our slave)
 * ============================================================================================= */

enum hm_step { HM_HELLO, HM_ACK_INIT, HM_ACK_REGION, HM_ACK_RING, HM_CONNECTED, HM_NSTEPS };
static const char *const hm_step_name[] = {"HELLO", "ACK(INIT)", "ACK(ADD_REGION)", "ACK(ADD_RING)",
                                           "CONNECTED"};

static void hm_default(struct peer *p, int step, struct out *o) {
  memset(o, 0, sizeof(*o));
  o->len = NMIF_MSG_SIZE;
  switch (step) {
  case HM_HELLO:
    msg_init_type(&o->m, NMIF_MSG_HELLO);
    memcpy(o->m.hello.name, "hostile-master", 14);
    o->m.hello.min_version = 0x0200;
    o->m.hello.max_version = 0x0200;
    o->m.hello.max_region = 255;
    o->m.hello.max_m2s_ring = 255;
    o->m.hello.max_s2m_ring = 255;
    o->m.hello.max_log2_ring_size = 14;
    break;
  case HM_ACK_INIT:
  case HM_ACK_REGION:
  case HM_ACK_RING:
    msg_init_type(&o->m, NMIF_MSG_ACK);
    break;
  case HM_CONNECTED:
    msg_init_type(&o->m, NMIF_MSG_CONNECTED);
    memcpy(o->m.connect.if_name, "hostile-m0", 10);
    break;
  }
}

/* Accepts our slave's connection on the hostile master's listener. */
static void hm_accept(struct peer *p) {
  uint64_t end = now_ms() + REPLY_TIMEOUT_MS;
  for (;;) {
    int fd = accept4(T.peer_listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
      p->fd = fd;
      return;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      FAILF("accept: %s", strerror(errno));
    if (now_ms() >= end)
      FAILF("our slave did not connect within %d ms", REPLY_TIMEOUT_MS);
    pump(2);
  }
}

/*
 * Runs the master's half: HELLO, then answers INIT, each ADD_REGION (mapping it), each ADD_RING
 * (recording it) and CONNECT, each reply passing through mut. Checks what our slave sends.
 * Returns 1 after the CONNECTED step went out, 0 if our slave sent DISCONNECT.
 */
static int hm_flow(struct peer *p, mut_fn mut) {
  struct out o;
  hm_default(p, HM_HELLO, &o);
  if (mut)
    mut(p, HM_HELLO, &o);
  if (!o.skip) {
    int r = peer_send_raw(p, &o.m, o.len, o.fds, o.nfds);
    if (r < 0)
      FAILF("send HELLO: %s", strerror(-r));
  }
  for (;;) {
    nmif_msg_t m;
    int fds[8], nfds = 0;
    ssize_t n = peer_recv(p, &m, fds, &nfds, REPLY_TIMEOUT_MS);
    if (n == -ETIMEDOUT)
      FAILF("our slave neither went on nor sent DISCONNECT within %d ms", REPLY_TIMEOUT_MS);
    if (n == 0)
      FAILF("our slave closed the connection without DISCONNECT");
    if (n != NMIF_MSG_SIZE)
      FAILF("our slave sent a %zd-byte datagram", n);
    int step;
    switch (m.type) {
    case NMIF_MSG_DISCONNECT:
      record_disconnect(p, &m);
      return 0;
    case NMIF_MSG_INIT:
      EXPECT_EQ(nfds, 0);
      EXPECT_EQ(m.init.version, 0x0200);
      EXPECT_EQ(m.init.id, OUR_ID);
      p->init = m;
      step = HM_ACK_INIT;
      break;
    case NMIF_MSG_ADD_REGION: {
      EXPECT_EQ(nfds, 1);
      uint16_t idx = m.add_region.index;
      EXPECT_EQ(idx, p->nreg);
      EXPECT(idx < 8);
      struct stat st;
      EXPECT(fstat(fds[0], &st) == 0);
      EXPECT(m.add_region.size > 0 && (uint64_t)st.st_size >= m.add_region.size);
      int seals = fcntl(fds[0], F_GET_SEALS);
      EXPECT(seals >= 0 && (seals & F_SEAL_SHRINK));
      p->reg[idx].size = m.add_region.size;
      p->reg[idx].base = peer_map(p, fds[0], m.add_region.size);
      p->nreg++;
      step = HM_ACK_REGION;
      break;
    }
    case NMIF_MSG_ADD_RING: {
      EXPECT_EQ(nfds, 1);
      EXPECT(fd_is_eventfd(fds[0]));
      int s2m = m.add_ring.flags & NMIF_RING_FLAG_S2M;
      EXPECT_EQ(m.add_ring.flags & ~NMIF_RING_FLAG_S2M, 0);
      int t = s2m ? 0 : 1;
      EXPECT_EQ(m.add_ring.index, p->nring[t]);
      EXPECT(p->nring[t] < 8);
      EXPECT(m.add_ring.region < p->nreg);
      EXPECT_EQ(m.add_ring.private_hdr_size, 0);
      EXPECT(m.add_ring.log2_ring_size <= 14);
      uint64_t end = (uint64_t)m.add_ring.offset + NMIF_RING_HDR_SIZE +
                     ((uint64_t)NMIF_DESC_SIZE << m.add_ring.log2_ring_size);
      EXPECT(end <= p->reg[m.add_ring.region].size);
      p->ring[t][p->nring[t]].region = m.add_ring.region;
      p->ring[t][p->nring[t]].offset = m.add_ring.offset;
      p->ring[t][p->nring[t]].log2 = m.add_ring.log2_ring_size;
      p->nring[t]++;
      step = HM_ACK_RING;
      break;
    }
    case NMIF_MSG_CONNECT:
      EXPECT_EQ(nfds, 0);
      EXPECT(p->nreg >= 1 && p->nring[0] >= 1 && p->nring[1] >= 1);
      step = HM_CONNECTED;
      break;
    default:
      FAILF("our slave sent %s (%u)", type_name(m.type), m.type);
    }
    hm_default(p, step, &o);
    if (mut)
      mut(p, step, &o);
    if (!o.skip) {
      int r = peer_send_raw(p, &o.m, o.len, o.fds, o.nfds);
      if (r < 0 && r != -EPIPE && r != -ECONNRESET)
        FAILF("send %s: %s", hm_step_name[step], strerror(-r));
    }
    if (step == HM_CONNECTED)
      return 1;
  }
}

static nmif_ring_t *hm_ring(struct peer *p, int m2s, int k) {
  return (nmif_ring_t *)(p->reg[p->ring[m2s][k].region].base + p->ring[m2s][k].offset);
}

/* ---- mutators for the hostile master ------------------------------------------------------- */

static void h_version_old(struct peer *p, int step, struct out *o) { AT(HM_HELLO); o->m.hello.min_version = o->m.hello.max_version = 0x0100; }
static void h_version_new(struct peer *p, int step, struct out *o) { AT(HM_HELLO); o->m.hello.min_version = 0x0201; o->m.hello.max_version = 0x0300; }
static void h_version_inverted(struct peer *p, int step, struct out *o) { AT(HM_HELLO); o->m.hello.min_version = 0x0300; o->m.hello.max_version = 0x0100; }
static void h_type0_first(struct peer *p, int step, struct out *o) { AT(HM_HELLO); o->m.type = 0; }
static void h_type9_first(struct peer *p, int step, struct out *o) { AT(HM_HELLO); o->m.type = 9; }
static void h_ack_first(struct peer *p, int step, struct out *o) { AT(HM_HELLO); msg_init_type(&o->m, NMIF_MSG_ACK); }
static void h_connected_first(struct peer *p, int step, struct out *o) { AT(HM_HELLO); hm_default(p, HM_CONNECTED, o); }
static void h_init_from_master(struct peer *p, int step, struct out *o) { AT(HM_HELLO); msg_init_type(&o->m, NMIF_MSG_INIT); o->m.init.version = 0x0200; }
static void h_hello_len127(struct peer *p, int step, struct out *o) { AT(HM_HELLO); o->len = 127; }
static void h_hello_len129(struct peer *p, int step, struct out *o) { AT(HM_HELLO); o->len = 129; }
static void h_ack_len1(struct peer *p, int step, struct out *o) { AT(HM_ACK_INIT); o->len = 1; }
static void h_hello_with_fd(struct peer *p, int step, struct out *o) {
  AT(HM_HELLO);
  o->fds[0] = new_memfd(p, "on-hello", 4096, 1);
  o->nfds = 1;
}
static void h_ack_with_fds(struct peer *p, int step, struct out *o) {
  AT(HM_ACK_REGION);
  o->fds[0] = new_eventfd(p);
  o->fds[1] = new_pipe_end(p);
  o->nfds = 2;
}
static void h_hello_twice(struct peer *p, int step, struct out *o) { AT(HM_ACK_INIT); hm_default(p, HM_HELLO, o); }
static void h_connected_early(struct peer *p, int step, struct out *o) { AT(HM_ACK_INIT); hm_default(p, HM_CONNECTED, o); }
static void h_ack_instead_of_connected(struct peer *p, int step, struct out *o) { AT(HM_CONNECTED); msg_init_type(&o->m, NMIF_MSG_ACK); }
static void h_type9_config(struct peer *p, int step, struct out *o) { AT(HM_ACK_RING); o->m.type = 9; }
static void h_add_region_to_slave(struct peer *p, int step, struct out *o) {
  AT(HM_ACK_INIT);
  msg_init_type(&o->m, NMIF_MSG_ADD_REGION);
  o->m.add_region.size = 4096;
  o->fds[0] = new_memfd(p, "m2s-region", 4096, 1);
  o->nfds = 1;
}
static void h_connected_with_fd(struct peer *p, int step, struct out *o) {
  AT(HM_CONNECTED);
  o->fds[0] = new_eventfd(p);
  o->nfds = 1;
}
/* Tolerated: weird but harmless HELLO values must be clamped, never trusted. */
static void h_max_log2_15(struct peer *p, int step, struct out *o) { AT(HM_HELLO); o->m.hello.max_log2_ring_size = 15; }
static void h_max_log2_255(struct peer *p, int step, struct out *o) { AT(HM_HELLO); o->m.hello.max_log2_ring_size = 255; }
static void h_max_log2_0(struct peer *p, int step, struct out *o) { AT(HM_HELLO); o->m.hello.max_log2_ring_size = 0; }
static void h_max_rings_0(struct peer *p, int step, struct out *o) {
  AT(HM_HELLO);
  o->m.hello.max_s2m_ring = 0; /* highest index 0: one ring each way */
  o->m.hello.max_m2s_ring = 0;
}
static void h_max_rings_ffff(struct peer *p, int step, struct out *o) {
  AT(HM_HELLO);
  o->m.hello.max_s2m_ring = 0xffff;
  o->m.hello.max_m2s_ring = 0xffff;
  o->m.hello.max_region = 0xffff;
}
static void h_hello_name_unterminated(struct peer *p, int step, struct out *o) {
  AT(HM_HELLO);
  memset(o->m.hello.name, 'H', sizeof(o->m.hello.name));
}
static void h_connected_garbage(struct peer *p, int step, struct out *o) {
  AT(HM_CONNECTED);
  /* if_name without NUL, and every byte after it non-zero */
  for (size_t k = 2; k < sizeof(o->m); k++)
    ((uint8_t *)&o->m)[k] = (uint8_t)(0x41 + k % 26);
}

/* ---- data-path attacks on our slave's rx (M2S ring, written by the hostile master) ---------- */

static int slave_up(void) { return T.slave.iface && nmif_if_is_connected(T.slave.iface); }

/* Valid handshake; our slave is connected and has offered its M2S buffers. */
static nmif_ring_t *hm_up(struct peer *p) {
  EXPECT_EQ(hm_flow(p, NULL), 1);
  if (!pump_until(slave_up, REPLY_TIMEOUT_MS))
    FAILF("our slave did not come up after CONNECTED");
  nmif_ring_t *r = hm_ring(p, 1, 0);
  uint16_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
  if (head == 0) {
    /* the application hands buffers over: release refills (nothing received yet) */
    nmif_rx_release(T.slave.iface, 0, 0xffff);
    head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
  }
  EXPECT(head > 0);
  return r;
}

static void hm_fill(struct peer *p, nmif_ring_t *r, uint16_t k, const char *data, uint32_t len,
                    uint16_t flags) {
  uint16_t mask = (uint16_t)((1u << p->ring[1][0].log2) - 1);
  uint16_t slot = (uint16_t)(r->tail + k) & mask;
  nmif_desc_t d = r->desc[slot];
  if (data && d.region < p->nreg && (uint64_t)d.offset + len <= p->reg[d.region].size)
    memcpy(p->reg[d.region].base + d.offset, data, len);
  r->desc[slot].length = len;
  r->desc[slot].flags = flags;
}

static void hm_publish(nmif_ring_t *r, int count) {
  __atomic_store_n(&r->tail, (uint16_t)(r->tail + count), __ATOMIC_RELEASE);
}

static void hm_good_packet(struct peer *p, nmif_ring_t *r) {
  hm_fill(p, r, 0, "to the slave", 12, 0);
  hm_publish(r, 1);
  nmif_buf_t b[8];
  int n = nmif_rx_burst(T.slave.iface, 0, b, 8);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(b[0].len, 12);
  EXPECT(memcmp(b[0].data, "to the slave", 12) == 0);
  EXPECT_EQ(nmif_rx_release(T.slave.iface, 0, 1), 1);
}

static void sd_tail_ahead(struct peer *p) {
  nmif_ring_t *r = hm_up(p);
  hm_good_packet(p, r);
  uint16_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
  __atomic_store_n(&r->tail, (uint16_t)(head + 1), __ATOMIC_RELEASE); /* past what was offered */
}
static void sd_tail_far_ahead(struct peer *p) {
  nmif_ring_t *r = hm_up(p);
  hm_good_packet(p, r);
  hm_publish(r, 20000);
}
static void sd_tail_backwards(struct peer *p) {
  nmif_ring_t *r = hm_up(p);
  hm_good_packet(p, r);
  hm_publish(r, -1);
}
static void sd_len_beyond_capacity(struct peer *p) {
  nmif_ring_t *r = hm_up(p);
  hm_good_packet(p, r);
  hm_fill(p, r, 0, NULL, SLAVE_BSIZE + 1, 0);
  hm_publish(r, 1);
}
static void sd_len_huge(struct peer *p) {
  nmif_ring_t *r = hm_up(p);
  hm_good_packet(p, r);
  hm_fill(p, r, 0, NULL, 0xFFFFFFFFu, 0);
  hm_publish(r, 1);
}
static void sd_incomplete_chain(struct peer *p) {
  nmif_ring_t *r = hm_up(p);
  hm_good_packet(p, r);
  hm_fill(p, r, 0, "x", 1, NMIF_DESC_NEXT);
  hm_publish(r, 1);
}

/* Tolerated: the master rewrites region/offset of a filled M2S descriptor. Our slave must use
 * its own record of the buffer (fact sheet §18), not the rewritten place. */
static void sd_rewritten_offset_ignored(struct peer *p) {
  nmif_ring_t *r = hm_up(p);
  uint16_t mask = (uint16_t)((1u << p->ring[1][0].log2) - 1);
  uint16_t slot = r->tail & mask;
  nmif_desc_t orig = r->desc[slot];
  hm_fill(p, r, 0, "shadowed", 8, 0);
  r->desc[slot].region = 0;
  r->desc[slot].offset = 0; /* would point at the S2M ring header */
  hm_publish(r, 1);
  nmif_buf_t b[4];
  int n = nmif_rx_burst(T.slave.iface, 0, b, 4);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(b[0].offset, orig.offset);
  EXPECT_EQ(b[0].region, orig.region);
  EXPECT(memcmp(b[0].data, "shadowed", 8) == 0);
  EXPECT_EQ(nmif_rx_release(T.slave.iface, 0, 1), 1);
  /* the refilled slot carries our offset again, not the peer's */
  EXPECT_EQ(r->desc[slot].offset, orig.offset);
}

/* ================================================================================================
 * Well-behaved peers
 * ============================================================================================= */

/* The hand-written slave, done right: link up, one packet each way, then a clean DISCONNECT. */
static void c_good_slave(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  int before = T.master.connects;
  for (uint64_t end = now_ms() + REPLY_TIMEOUT_MS; !nmif_if_is_connected(T.master.iface);) {
    if (now_ms() >= end)
      FAILF("our master is not connected after CONNECTED");
    pump(2);
  }
  EXPECT(T.master.connects >= before);
  EXPECT(nmif_if_is_connected(T.master.iface));
  hs_good_packet(p);
  /* the peer offers M2S buffers, our master sends into them */
  nmif_ring_t *m2s = hs_ring(p, 1);
  uint16_t n = (uint16_t)(1u << p->log2);
  __atomic_store_n(&m2s->head, n, __ATOMIC_RELEASE);
  const void *pkts[1] = {"from the master"};
  uint32_t lens[1] = {15};
  EXPECT_EQ(nmif_tx_copy(T.master.iface, 0, pkts, lens, 1), 1);
  EXPECT_EQ(__atomic_load_n(&m2s->tail, __ATOMIC_ACQUIRE), 1);
  EXPECT_EQ(m2s->desc[0].length, 15);
  EXPECT(memcmp(p->rbase + m2s->desc[0].offset, "from the master", 15) == 0);
  nmif_msg_t m;
  msg_init_type(&m, NMIF_MSG_DISCONNECT);
  memcpy(m.disconnect.string, "done", 4);
  peer_send(p, &m, NULL, 0);
}

/* The hostile master, done right. */
static void c_good_master(struct peer *p) {
  nmif_ring_t *r = hm_up(p);
  hm_good_packet(p, r);
  /* our slave sends on S2M */
  const void *pkts[1] = {"from the slave"};
  uint32_t lens[1] = {14};
  EXPECT_EQ(nmif_tx_copy(T.slave.iface, 0, pkts, lens, 1), 1);
  nmif_ring_t *s2m = hm_ring(p, 0, 0);
  EXPECT_EQ(__atomic_load_n(&s2m->head, __ATOMIC_ACQUIRE), 1);
  nmif_desc_t d = s2m->desc[0];
  EXPECT_EQ(d.length, 14);
  EXPECT(d.region < p->nreg && (uint64_t)d.offset + 14 <= p->reg[d.region].size);
  EXPECT(memcmp(p->reg[d.region].base + d.offset, "from the slave", 14) == 0);
  nmif_msg_t m;
  msg_init_type(&m, NMIF_MSG_DISCONNECT);
  memcpy(m.disconnect.string, "done", 4);
  peer_send(p, &m, NULL, 0);
}
