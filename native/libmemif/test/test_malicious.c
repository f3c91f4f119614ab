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
 * on with the next case and exits 1 at the end if any case failed. `test_malicious <text>` runs
 * only the cases whose name contains <text>; NMIF_TEST_VERBOSE=1 shows the library's log.
 *
 * Beyond the fact sheet's list: the interrupt eventfds are one open file description shared
 * with the peer, so the peer can clear O_NONBLOCK on them; the "irq:" cases check that no
 * library call (nor the built-in loop) then blocks on the peer's say-so.
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
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
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
    char path[300];
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
  int rx_irqs;
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

static void (*disc_hook)(void); /* lets a case act "as the peer" at a precise moment */

static void on_disconnect(nmif_if_t *i, const char *reason, void *user) {
  struct side *s = user;
  if (disc_hook)
    disc_hook();
  s->disconnects++;
  snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "(null)");
}

static void pump(int ms) { nmif_loop_run(T.loop, ms); }

static nmif_socket_t *make_socket(const char *path, uint32_t handshake_ms);

static int master_up(void) { return nmif_if_is_connected(T.master.iface); }
static int our_side_down_master(void) { return !nmif_if_is_connected(T.master.iface); }
static int our_side_down_short(void) { return !nmif_if_is_connected(T.tmaster.iface); }

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
  int ring_fd[2][8];               /* the eventfds our slave passed (owned, closed at the end) */
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
  union {
    nmif_msg_t m;
    uint8_t raw[512];  /* room for oversized datagrams (bytes past 128 stay zero) */
  };
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
    int r = peer_send_raw(p, o.raw, o.len, o.fds, o.nfds);
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
/* Index 1 in sequence (after index 0) but beyond the master's configured 1 queue per direction:
 * the second S2M ring takes the place of the M2S ring message. */
static void m_ring_s2m_second(struct peer *p, int step, struct out *o) {
  AT(HS_RING_M2S);
  o->m.add_ring.flags = NMIF_RING_FLAG_S2M;
  o->m.add_ring.index = 1;
}
/* After S2M 0 and M2S 0, a second M2S ring instead of CONNECT. */
static void m_ring_m2s_second(struct peer *p, int step, struct out *o) {
  AT(HS_CONNECT);
  hs_default(p, HS_RING_M2S, o);
  o->m.add_ring.index = 1;
  o->fds[0] = new_eventfd(p);
}
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
    uint64_t tiny = p->ring_bytes - 128; /* smaller than one ring */
    o->fds[0] = new_memfd(p, "tiny", tiny, 1);
    o->m.add_region.size = tiny;
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
    int r = peer_send_raw(p, o.raw, o.len, o.fds, o.nfds);
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
      p->ring_fd[t][p->nring[t]] = fds[0];
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
      int r = peer_send_raw(p, o.raw, o.len, o.fds, o.nfds);
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
  printf("    slot %u: our buffer at region %u offset %u (len %u); peer rewrites it to 0/0\n", slot,
         orig.region, orig.offset, orig.length);
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

/* ---- data-path attacks on our transmit paths ------------------------------------------------- */

/* Our master transmits into buffers the hostile slave offers on M2S. */
static void md_tx_offer_outside(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  nmif_ring_t *m2s = hs_ring(p, 1);
  m2s->desc[0].offset = (uint32_t)p->rsize; /* a buffer just past the end of the region */
  m2s->desc[0].length = PEER_BSIZE;
  __atomic_store_n(&m2s->head, 1, __ATOMIC_RELEASE);
}
static void md_tx_offer_region_bad(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  nmif_ring_t *m2s = hs_ring(p, 1);
  m2s->desc[0].region = 7;
  __atomic_store_n(&m2s->head, 1, __ATOMIC_RELEASE);
}
static void md_tx_offer_len_huge(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  nmif_ring_t *m2s = hs_ring(p, 1);
  m2s->desc[0].offset = 0;
  m2s->desc[0].length = 0xFFFFFFF0u; /* capacity far beyond the region */
  __atomic_store_n(&m2s->head, 1, __ATOMIC_RELEASE);
}
static void md_tx_head_ahead(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  nmif_ring_t *m2s = hs_ring(p, 1);
  __atomic_store_n(&m2s->head, (uint16_t)((1u << p->log2) + 1), __ATOMIC_RELEASE);
}
/* Our slave transmits on S2M; the hostile master moves tail past what we published. */
static void sd_tx_tail_ahead(struct peer *p) {
  hm_up(p);
  nmif_ring_t *s2m = hm_ring(p, 0, 0);
  __atomic_store_n(&s2m->tail, 5, __ATOMIC_RELEASE);
}

/* ---- tolerated HELLO values: the slave clamps, and what it sends must be sane ------------- */

static void h_check_clamp(struct peer *p, int step, struct out *o, int want_rings, int want_log2) {
  if (step != HM_CONNECTED)
    return;
  if (p->nring[0] != want_rings || p->nring[1] != want_rings)
    FAILF("our slave announced %d S2M / %d M2S rings, expected %d each", p->nring[0], p->nring[1],
          want_rings);
  for (int t = 0; t < 2; t++)
    for (int k = 0; k < p->nring[t]; k++)
      if (p->ring[t][k].log2 != want_log2)
        FAILF("our slave announced log2 %u, expected %d", p->ring[t][k].log2, want_log2);
}
static void t_max_log2_15(struct peer *p, int step, struct out *o) { h_max_log2_15(p, step, o); h_check_clamp(p, step, o, 2, SLAVE_LOG2); }
static void t_max_log2_255(struct peer *p, int step, struct out *o) { h_max_log2_255(p, step, o); h_check_clamp(p, step, o, 2, SLAVE_LOG2); }
static void t_max_log2_0(struct peer *p, int step, struct out *o) { h_max_log2_0(p, step, o); h_check_clamp(p, step, o, 2, 0); }
static void t_max_rings_0(struct peer *p, int step, struct out *o) { h_max_rings_0(p, step, o); h_check_clamp(p, step, o, 1, SLAVE_LOG2); }
static void t_max_rings_ffff(struct peer *p, int step, struct out *o) { h_max_rings_ffff(p, step, o); h_check_clamp(p, step, o, 2, SLAVE_LOG2); }
static void t_hello_name(struct peer *p, int step, struct out *o) { h_hello_name_unterminated(p, step, o); h_check_clamp(p, step, o, 2, SLAVE_LOG2); }
static void t_connected_garbage(struct peer *p, int step, struct out *o) { h_connected_garbage(p, step, o); }

/* The hostile master overwrites the cookie our slave wrote, then says CONNECTED. */
static void h_cookie_clobbered(struct peer *p, int step, struct out *o) {
  AT(HM_CONNECTED);
  hm_ring(p, 1, 0)->cookie = 0x12345678;
}

/* Silent master: accepts and never says HELLO. */
static void c_silent_master(struct peer *p) { }
/* HELLO, then never an ACK. */
static void c_silent_after_init(struct peer *p) {
  struct out o;
  hm_default(p, HM_HELLO, &o);
  peer_send(p, &o.m, NULL, 0);
  nmif_msg_t m;
  peer_expect(p, NMIF_MSG_INIT, &m, NULL, NULL);
}
/* The hostile master says HELLO and closes at once (SIGPIPE if INIT were sent without
 * MSG_NOSIGNAL). */
static void c_hello_then_close(struct peer *p) {
  struct out o;
  hm_default(p, HM_HELLO, &o);
  peer_send(p, &o.m, NULL, 0);
  close(p->fd);
  p->fd = -1;
}
/* Master-side silent slave with the INIT done (bound connection, then nothing). */
static void c_silent_slave_after_init(struct peer *p) {
  hs_build(p, PEER_LOG2);
  struct out o;
  hs_default(p, HS_INIT, &o);
  peer_send(p, &o.m, NULL, 0);
  peer_expect(p, NMIF_MSG_ACK, NULL, NULL, NULL);
}

/* While a good link is up, a second connection claims the same id: it must be turned away and
 * the live link must not be disturbed. Checks everything itself. */
static void c_hijack_live_link(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  if (!pump_until(master_up, REPLY_TIMEOUT_MS))
    FAILF("link not up");
  static struct peer q;
  memset(&q, 0, sizeof(q));
  q.fd = -1;
  q.case_name = "hijacker";
  peer_connect(&q, T.mpath);
  struct out o;
  hs_default(&q, HS_INIT, &o);
  peer_send(&q, &o.m, NULL, 0);
  const char *r = peer_expect_disconnect(&q, REPLY_TIMEOUT_MS);
  printf("    hijacker got DISCONNECT \"%s\"\n", r);
  EXPECT(r[0] != '\0');
  peer_release(&q);
  pump(5);
  EXPECT(nmif_if_is_connected(T.master.iface));
  hs_good_packet(p); /* the live link still carries packets */
  nmif_msg_t m;
  msg_init_type(&m, NMIF_MSG_DISCONNECT);
  memcpy(m.disconnect.string, "done", 4);
  peer_send(p, &m, NULL, 0);
}

/* ---- interrupt eventfds: the peer shares the open file description -------------------------- */

/*
 * Both processes hold the same eventfd *open file description*, so the peer can clear
 * O_NONBLOCK on it at any time (F_SETFL on its own fd), undoing ours. With the counter at its
 * maximum (the peer writes 2^64-2 and never reads), our write() of 1 then blocks; with the
 * counter at 0 (the peer read it first), our read() blocks. A library call must not hang on
 * the peer's say-so. A 500 ms interval timer (SIGALRM, no SA_RESTART) turns a block into EINTR
 * so the case can measure it instead of hanging; after 5 s the process gives up.
 */
static volatile sig_atomic_t alarm_ticks;
static void on_alarm(int sig) {
  (void)sig;
  if (++alarm_ticks >= 10) {
    static const char m[] = "test_malicious: a library call blocked for 5 s (EINTR retried?)\n";
    if (write(2, m, sizeof(m) - 1) < 0) {
    }
    _exit(3);
  }
}
static void watchdog_start(void) {
  alarm_ticks = 0;
  struct itimerval it = {{0, 500000}, {0, 500000}};
  setitimer(ITIMER_REAL, &it, NULL);
}
static void watchdog_stop(void) {
  struct itimerval it;
  memset(&it, 0, sizeof(it));
  setitimer(ITIMER_REAL, &it, NULL);
}

static void make_blocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
    FAILF("fcntl: %s", strerror(errno));
}

static void saturate(int efd) {
  uint64_t v = 0xfffffffffffffffeull; /* the largest value an eventfd holds */
  if (write(efd, &v, sizeof(v)) != sizeof(v))
    FAILF("saturate eventfd: %s", strerror(errno));
}

#define BLOCK_LIMIT_MS 300

static void peer_leaves(struct peer *p) {
  nmif_msg_t m;
  msg_init_type(&m, NMIF_MSG_DISCONNECT);
  memcpy(m.disconnect.string, "peer leaves", 11);
  peer_send(p, &m, NULL, 0);
}

/* Ends an interrupt case either way a fixed library may choose: it carried on (the peer then
 * leaves with DISCONNECT) or it treated the stuck eventfd as a violation (our DISCONNECT). */
static void peer_finish(struct peer *p) {
  nmif_msg_t m;
  ssize_t n = peer_recv(p, &m, NULL, NULL, 50);
  if (n == NMIF_MSG_SIZE && m.type == NMIF_MSG_DISCONNECT) {
    record_disconnect(p, &m);
    printf("    our side disconnected: \"%s\"\n", p->disc_reason);
  } else if (n == -ETIMEDOUT) {
    peer_leaves(p);
  } else {
    FAILF("unexpected reply (%zd bytes, type %u)", n, n > 0 ? m.type : 0);
  }
  n = peer_recv(p, &m, NULL, NULL, REPLY_TIMEOUT_MS);
  if (n != 0)
    FAILF("connection not closed at the end (%zd)", n);
  close(p->fd);
  p->fd = -1;
}

static void timed_tx(nmif_if_t *iface, const char *what) {
  const void *pk[1] = {"irq"};
  uint32_t ln[1] = {3};
  uint64_t t0 = now_ms();
  watchdog_start();
  int r = nmif_tx_copy(iface, 0, pk, ln, 1);
  watchdog_stop();
  uint64_t dt = now_ms() - t0;
  printf("    nmif_tx_copy -> %d after %llu ms\n", r, (unsigned long long)dt);
  if (dt > BLOCK_LIMIT_MS)
    FAILF("%s: nmif_tx_copy blocked %llu ms in the interrupt write (the peer cleared "
          "O_NONBLOCK on the shared eventfd and saturated its counter)",
          what, (unsigned long long)dt);
}

static void timed_ack(nmif_if_t *iface, const char *what) {
  uint64_t t0 = now_ms();
  watchdog_start();
  int r = nmif_rx_queue_ack(iface, 0);
  watchdog_stop();
  uint64_t dt = now_ms() - t0;
  printf("    nmif_rx_queue_ack -> %d after %llu ms\n", r, (unsigned long long)dt);
  if (dt > BLOCK_LIMIT_MS)
    FAILF("%s: nmif_rx_queue_ack blocked %llu ms in read() (the peer cleared O_NONBLOCK on "
          "the shared eventfd; its counter was 0)",
          what, (unsigned long long)dt);
}

/* Our master transmits on M2S and signals the peer's eventfd. */
static void x_master_tx_irq_block(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  if (!pump_until(master_up, REPLY_TIMEOUT_MS))
    FAILF("link not up");
  nmif_ring_t *m2s = hs_ring(p, 1);
  __atomic_store_n(&m2s->flags, 0, __ATOMIC_RELAXED); /* the receiver wants interrupts */
  __atomic_store_n(&m2s->head, (uint16_t)(1u << p->log2), __ATOMIC_RELEASE);
  saturate(p->efd[1]);
  make_blocking(p->efd[1]);
  timed_tx(T.master.iface, "master tx");
  peer_finish(p);
}
/* Our master waits on the S2M eventfd itself and acknowledges it. */
static void x_master_rx_ack_block(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1);
  if (!pump_until(master_up, REPLY_TIMEOUT_MS))
    FAILF("link not up");
  make_blocking(p->efd[0]); /* counter 0: the peer drained it, or never wrote */
  timed_ack(T.master.iface, "master rx");
  peer_finish(p);
}
/* Our slave transmits on S2M and signals the eventfd it created (the peer holds it too). */
static void x_slave_tx_irq_block(struct peer *p) {
  hm_up(p);
  nmif_ring_t *s2m = hm_ring(p, 0, 0);
  __atomic_store_n(&s2m->flags, 0, __ATOMIC_RELAXED);
  saturate(p->ring_fd[0][0]);
  make_blocking(p->ring_fd[0][0]);
  timed_tx(T.slave.iface, "slave tx");
  peer_finish(p);
}
static void x_slave_rx_ack_block(struct peer *p) {
  hm_up(p);
  make_blocking(p->ring_fd[1][0]);
  timed_ack(T.slave.iface, "slave rx");
  peer_finish(p);
}

/*
 * The library's own interrupt handler: our loop reads an rx eventfd after epoll said it was
 * readable. The peer holds the same eventfd; if it reads the counter between our epoll_wait
 * and our read(), with O_NONBLOCK cleared, our read() blocks and with it the whole loop (every
 * interface on every socket it serves). The race is made deterministic: in one epoll batch,
 * another interface's teardown runs first, and its on_disconnect plays the peer and drains the
 * eventfd before the interrupt event is dispatched.
 */
static struct side irqside;
static int drain_fd = -1;
static int drained_before_irq = -1;
static void on_rx_count(nmif_if_t *i, uint16_t qid, void *user) { ((struct side *)user)->rx_irqs++; }
static void drain_hook(void) {
  uint64_t v;
  drained_before_irq = irqside.rx_irqs == 0;
  if (drain_fd >= 0 && read(drain_fd, &v, sizeof(v)) != sizeof(v))
    drained_before_irq = -2;
}
static int irq_master_up(void) { return nmif_if_is_connected(irqside.iface); }

static void x_loop_irq_read_block(struct peer *p) {
  EXPECT_EQ(hs_flow(p, NULL), 1); /* P: a live link on our main master */
  if (!pump_until(master_up, REPLY_TIMEOUT_MS))
    FAILF("link not up");
  /* a second master on its own socket, in interrupt mode with on_rx: its rx eventfd is in
   * our loop */
  char path[160];
  snprintf(path, sizeof(path), "%s/irq.sock", T.dir);
  nmif_socket_t *sock = make_socket(path, HANDSHAKE_TIMEOUT_MS);
  nmif_if_args_t a;
  memset(&a, 0, sizeof(a));
  a.id = OUR_ID;
  a.is_master = 1;
  a.secret = OUR_SECRET;
  a.on_connect = on_connect;
  a.on_disconnect = on_disconnect;
  a.on_rx = on_rx_count;
  a.user = &irqside;
  memset(&irqside, 0, sizeof(irqside));
  EXPECT_EQ(nmif_if_create(sock, &irqside.iface, &a), 0);
  static struct peer q;
  memset(&q, 0, sizeof(q));
  q.fd = -1;
  peer_connect(&q, path);
  int up = hs_flow(&q, NULL) == 1 && pump_until(irq_master_up, REPLY_TIMEOUT_MS);

  uint64_t dt = 0;
  if (up) {
    make_blocking(q.efd[0]);           /* the S2M eventfd, our rx interrupt */
    drain_fd = q.efd[0];
    drained_before_irq = -1;
    disc_hook = drain_hook;
    struct out o;
    hs_default(p, HS_INIT, &o);        /* 1st ready: P's INIT on a live link -> teardown */
    peer_send(p, &o.m, NULL, 0);
    uint64_t one = 1;                  /* 2nd ready: q signals our rx interrupt */
    if (write(q.efd[0], &one, sizeof(one)) != sizeof(one))
      FAILF("eventfd write: %s", strerror(errno));
    uint64_t t0 = now_ms();
    watchdog_start();
    nmif_loop_run(T.loop, 100);
    watchdog_stop();
    dt = now_ms() - t0;
    disc_hook = NULL;
    drain_fd = -1;
    printf("    peer drained before our interrupt read: %s; loop iteration took %llu ms\n",
           drained_before_irq == 1 ? "yes" : "no", (unsigned long long)dt);
  }
  /* clean up the second master before judging */
  peer_leaves(&q);
  for (int k = 0; k < 20 && nmif_if_is_connected(irqside.iface); k++)
    pump(2);
  peer_release(&q);
  nmif_if_destroy(irqside.iface);
  irqside.iface = NULL;
  nmif_socket_destroy(sock);
  if (!up)
    FAILF("second master did not come up");
  if (drained_before_irq != 1)
    FAILF("could not order the events as intended (drained_before_irq=%d)", drained_before_irq);
  if (dt > BLOCK_LIMIT_MS)
    FAILF("nmif_loop_run blocked %llu ms in the rx interrupt read() (the peer drained the "
          "eventfd and cleared O_NONBLOCK): the whole loop hangs", (unsigned long long)dt);
}

/* ---- floods ------------------------------------------------------------------------------- */

/* 100 more connections that never say INIT, on the short-timeout socket: our master keeps a
 * bounded number, drops the rest, times out the others, and afterwards still serves a good
 * slave. The harness then expects P's own "handshake timeout". */
static void c_connection_flood(struct peer *p) {
  enum { FLOOD = 100 };
  int fds[FLOOD];
  int hello = 0, closed = 0, disc = 0;
  for (int k = 0; k < FLOOD; k++) {
    fds[k] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    peer_own(p, fds[k]);
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    memcpy(a.sun_path, T.tpath, strlen(T.tpath) + 1);
    uint64_t end = now_ms() + REPLY_TIMEOUT_MS;
    while (connect(fds[k], (struct sockaddr *)&a, sizeof(a)) < 0) {
      if (errno != EAGAIN || now_ms() >= end)
        FAILF("flood connect %d: %s", k, strerror(errno));
      pump(1);
    }
  }
  /* every connection ends within the handshake timeout plus slack */
  uint64_t end = now_ms() + SHORT_HANDSHAKE_MS + REPLY_TIMEOUT_MS;
  int done[FLOOD];
  memset(done, 0, sizeof(done));
  int left = FLOOD;
  while (left > 0 && now_ms() < end) {
    pump(5);
    for (int k = 0; k < FLOOD; k++) {
      if (done[k])
        continue;
      uint8_t buf[256];
      ssize_t n;
      while ((n = recv(fds[k], buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        uint16_t t;
        memcpy(&t, buf, 2);
        hello += t == NMIF_MSG_HELLO;
        disc += t == NMIF_MSG_DISCONNECT;
      }
      if (n == 0 || (n < 0 && errno != EAGAIN)) {
        done[k] = 1;
        closed++;
        left--;
      }
    }
  }
  printf("    flood: %d HELLO, %d DISCONNECT, %d closed of %d\n", hello, disc, closed, FLOOD);
  if (left > 0)
    FAILF("%d flood connections still open after the handshake timeout", left);
  /* the socket still works */
  static struct peer q;
  memset(&q, 0, sizeof(q));
  q.fd = -1;
  peer_connect(&q, T.tpath);
  int up = hs_flow(&q, NULL);
  if (up != 1) {
    peer_release(&q);
    FAILF("a good slave was refused after the flood: \"%s\"", q.disc_reason);
  }
  peer_leaves(&q);
  nmif_msg_t m;
  ssize_t n = peer_recv(&q, &m, NULL, NULL, REPLY_TIMEOUT_MS);
  EXPECT(n <= 0);
  peer_release(&q);
  if (!pump_until(our_side_down_short, REPLY_TIMEOUT_MS))
    FAILF("short-timeout master still connected");
}

/* After INIT, ADD_REGION messages back to back without ever reading a reply: our side must not
 * block, must stop at its region limit or when its replies no longer fit, and close. */
static void c_pipelined_regions(struct peer *p) {
  hs_build(p, PEER_LOG2);
  struct out o;
  hs_default(p, HS_INIT, &o);
  peer_send(p, &o.m, NULL, 0);
  peer_expect(p, NMIF_MSG_ACK, NULL, NULL, NULL);
  int small = new_memfd(p, "pipelined", 4096, 1);
  int sent = 0;
  uint64_t end = now_ms() + 5000;
  for (;;) {
    nmif_msg_t m;
    msg_init_type(&m, NMIF_MSG_ADD_REGION);
    m.add_region.index = (uint16_t)sent;
    m.add_region.size = 4096;
    union {
      char c[CMSG_SPACE(sizeof(int))];
      struct cmsghdr align;
    } cbuf;
    memset(&cbuf, 0, sizeof(cbuf));
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.c,
                        .msg_controllen = sizeof(cbuf.c)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &small, sizeof(int));
    ssize_t n = sendmsg(p->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == (ssize_t)sizeof(m)) {
      sent++;
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
      break; /* our side closed */
    if (n < 0 && errno != EAGAIN)
      FAILF("pipelined send: %s", strerror(errno));
    if (now_ms() >= end)
      FAILF("our side neither read on nor closed after %d pipelined regions", sent);
    pump(2);
  }
  /* now read whatever came back: ACKs, maybe a DISCONNECT, then EOF */
  int acks = 0, discs = 0;
  for (;;) {
    nmif_msg_t m;
    ssize_t n = peer_recv(p, &m, NULL, NULL, REPLY_TIMEOUT_MS);
    if (n == 0)
      break;
    if (n == -ETIMEDOUT)
      FAILF("connection not closed");
    acks += m.type == NMIF_MSG_ACK;
    if (m.type == NMIF_MSG_DISCONNECT) {
      discs++;
      record_disconnect(p, &m);
    }
  }
  printf("    pipelined: %d sent, %d ACKs read back, DISCONNECT %s%s%s\n", sent, acks,
         discs ? "\"" : "none (reply did not fit)", discs ? p->disc_reason : "", discs ? "\"" : "");
  close(p->fd);
  p->fd = -1;
}

/* ================================================================================================
 * The case table and the harness
 * ============================================================================================= */

enum role { OURS_MASTER, OURS_SLAVE };

enum outcome {
  O_REJECT,       /* DISCONNECT with a reason, then close. Not yet bound to the interface, so
                     on_disconnect is optional (reported). */
  O_REJECT_BOUND, /* the same, and on_disconnect must run once with a non-empty reason */
  O_RX_EPROTO,    /* the case leaves a corrupted rx ring: nmif_rx_burst must return -EPROTO and
                     count drop_bad_desc, then as O_REJECT_BOUND */
  O_TX_EPROTO,    /* the same on the transmit side: nmif_tx_copy must send nothing and fail */
  O_FD_CLOSED,    /* an fd on a message that carries none: rejected (DISCONNECT) or the fd is
                     closed and the handshake goes on; either way no leak */
  O_TOLERATE,     /* a weird but harmless value: clamped (link up with sane values, checked in
                     the mutator) or rejected with a reason */
  O_PEER_LEFT,    /* the peer closed or sent DISCONNECT: we send nothing, tear down, no leaks */
  O_GOOD,         /* a well-behaved peer: the case checks the link itself, then leaves */
};

static const char *const outcome_name[] = {"reject", "reject+cb", "rx -EPROTO", "tx -EPROTO",
                                           "fd closed", "tolerate", "peer left", "good"};

struct tcase {
  const char *name;
  enum role role;
  mut_fn mut;                 /* mutate the default flow ... */
  void (*run)(struct peer *); /* ... or run a custom sequence */
  enum outcome out;
  int bound;                  /* the connection is bound to our interface by then (cb required) */
  int short_timeout;          /* use the socket with the short handshake timeout */
};

#define M(name, mut, out, bound) {name, OURS_MASTER, mut, NULL, out, bound, 0}
#define MC(name, run, out, bound) {name, OURS_MASTER, NULL, run, out, bound, 0}
#define S(name, mut, out) {name, OURS_SLAVE, mut, NULL, out, 1, 0}
#define SC(name, run, out) {name, OURS_SLAVE, NULL, run, out, 1, 0}

static const struct tcase cases[] = {
    /* ---- our master, hostile slave: INIT ---- */
    M("init: version 0x0100", m_init_version_0100, O_REJECT, 0),
    M("init: version 0x0201", m_init_version_0201, O_REJECT, 0),
    M("init: version 0xffff", m_init_version_ffff, O_REJECT, 0),
    M("init: unknown id", m_init_unknown_id, O_REJECT, 0),
    M("init: wrong secret", m_init_wrong_secret, O_REJECT, 0),
    M("init: missing secret", m_init_no_secret, O_REJECT, 0),
    M("init: secret is a prefix", m_init_secret_prefix, O_REJECT, 0),
    M("init: secret longer", m_init_secret_longer, O_REJECT, 0),
    M("init: secret+name unterminated", m_init_secret_unterminated, O_REJECT, 0),
    M("init: mode 200", m_init_bad_mode, O_REJECT, 0),
    /* ---- framing and types ---- */
    M("type 0 as first message", m_type0_first, O_REJECT, 0),
    M("type 9 as first message", m_type9_first, O_REJECT, 0),
    M("type 0xffff during config", m_typeffff_config, O_REJECT_BOUND, 1),
    M("type 0 during config", m_type0_config, O_REJECT_BOUND, 1),
    M("127-byte INIT", m_len127_init, O_REJECT, 0),
    M("129-byte INIT", m_len129_init, O_REJECT, 0),
    M("1-byte message during config", m_len1_config, O_REJECT_BOUND, 1),
    M("129-byte ADD_REGION with fd", m_len129_region, O_REJECT_BOUND, 1),
    M("127-byte ADD_RING with fd", m_len127_ring, O_REJECT_BOUND, 1),
    M("256-byte CONNECT", m_len256_config, O_REJECT_BOUND, 1),
    /* ---- ADD_REGION ---- */
    M("region: no fd", m_region_no_fd, O_REJECT_BOUND, 1),
    M("region: 2 fds", m_region_two_fds, O_REJECT_BOUND, 1),
    M("region: 12 fds (MSG_CTRUNC)", m_region_many_fds, O_REJECT_BOUND, 1),
    M("region: index 1 first (sequence)", m_region_index_1, O_REJECT_BOUND, 1),
    M("region: index 256", m_region_index_256, O_REJECT_BOUND, 1),
    M("region: index 0xffff", m_region_index_ffff, O_REJECT_BOUND, 1),
    MC("region: index 0 twice", c_region_duplicate, O_REJECT_BOUND, 1),
    MC("region: flood past the limit", c_region_flood, O_REJECT_BOUND, 1),
    M("region: size 0", m_region_size0, O_REJECT_BOUND, 1),
    M("region: size 2^64-1", m_region_size_huge, O_REJECT_BOUND, 1),
    M("region: fd smaller than size", m_region_fd_smaller, O_REJECT_BOUND, 1),
    M("region: fd is a pipe", m_region_fd_pipe, O_REJECT_BOUND, 1),
    M("region: fd is an eventfd", m_region_fd_eventfd, O_REJECT_BOUND, 1),
    M("region: fd is a socket", m_region_fd_socket, O_REJECT_BOUND, 1),
    M("region: unsealed regular file", m_region_unsealed_file, O_REJECT_BOUND, 1),
    /* ---- ADD_RING ---- */
    M("ring: no fd", m_ring_no_fd, O_REJECT_BOUND, 1),
    M("ring: 2 fds", m_ring_two_fds, O_REJECT_BOUND, 1),
    M("ring: S2M index 1 first (sequence)", m_ring_s2m_index_1, O_REJECT_BOUND, 1),
    M("ring: M2S index 1 first (sequence)", m_ring_m2s_index_1, O_REJECT_BOUND, 1),
    M("ring: 2nd S2M ring, 1 configured", m_ring_s2m_second, O_REJECT_BOUND, 1),
    M("ring: 2nd M2S ring, 1 configured", m_ring_m2s_second, O_REJECT_BOUND, 1),
    M("ring: index 0xffff", m_ring_index_ffff, O_REJECT_BOUND, 1),
    M("ring: S2M ring 0 twice", m_ring_duplicate_s2m, O_REJECT_BOUND, 1),
    M("ring: missing region 1", m_ring_missing_region, O_REJECT_BOUND, 1),
    M("ring: region 0xffff", m_ring_region_ffff, O_REJECT_BOUND, 1),
    M("ring: descriptors past region end", m_ring_offset_past_end, O_REJECT_BOUND, 1),
    M("ring: offset+size wraps u32", m_ring_offset_u32_wrap, O_REJECT_BOUND, 1),
    M("ring: region too small for rings", m_region_too_small_for_rings, O_REJECT_BOUND, 1),
    M("ring: misaligned offset 4", m_ring_offset_misaligned, O_REJECT_BOUND, 1),
    M("ring: log2 15", m_ring_log2_15, O_REJECT_BOUND, 1),
    M("ring: log2 255", m_ring_log2_255, O_REJECT_BOUND, 1),
    M("ring: log2 differs between rings", m_ring_log2_mismatch, O_REJECT_BOUND, 1),
    M("ring: private_hdr_size 1", m_ring_private_hdr, O_REJECT_BOUND, 1),
    M("ring: private_hdr_size 0xffff", m_ring_private_hdr_big, O_REJECT_BOUND, 1),
    M("ring: flags 0x8001", m_ring_flags_unknown, O_REJECT_BOUND, 1),
    M("ring: flags 0x0002", m_ring_flags_bit1, O_REJECT_BOUND, 1),
    M("ring: irq fd is a pipe", m_ring_fd_pipe, O_REJECT_BOUND, 1),
    M("ring: irq fd is a memfd", m_ring_fd_memfd, O_REJECT_BOUND, 1),
    /* ---- CONNECT ---- */
    M("connect: wrong cookie M2S", m_cookie_wrong, O_REJECT_BOUND, 1),
    M("connect: zero cookie S2M", m_cookie_wrong_s2m, O_REJECT_BOUND, 1),
    M("connect: no rings", m_connect_no_rings, O_REJECT_BOUND, 1),
    M("connect: no M2S ring", m_connect_no_m2s_ring, O_REJECT_BOUND, 1),
    M("ring before any region", m_connect_no_region, O_REJECT_BOUND, 1),
    /* ---- state machine ---- */
    MC("ADD_RING before INIT (+eventfd)", c_ring_before_init, O_REJECT, 0),
    MC("ADD_REGION before INIT (+memfd)", c_region_before_init, O_REJECT, 0),
    MC("CONNECT before INIT", c_connect_before_init, O_REJECT, 0),
    MC("ACK from slave before INIT (+fd)", c_ack_before_init, O_REJECT, 0),
    M("ACK from slave during config", m_ack_from_slave, O_REJECT_BOUND, 1),
    M("HELLO from slave", m_hello_from_slave, O_REJECT, 0),
    M("CONNECTED from slave", m_connected_from_slave, O_REJECT_BOUND, 1),
    M("INIT twice", m_init_twice, O_REJECT_BOUND, 1),
    MC("INIT after connect", c_init_after_connect, O_REJECT_BOUND, 1),
    MC("ADD_REGION after connect (+memfd)", c_region_after_connect, O_REJECT_BOUND, 1),
    MC("CONNECT after connect", c_connect_after_connect, O_REJECT_BOUND, 1),
    MC("type 9 after connect (+fd)", c_type9_after_connect, O_REJECT_BOUND, 1),
    MC("129 bytes after connect", c_len129_after_connect, O_REJECT_BOUND, 1),
    {"silent slave: no INIT", OURS_MASTER, NULL, c_silent_slave, O_REJECT, 0, 1},
    {"silent slave after INIT", OURS_MASTER, NULL, c_silent_slave_after_init, O_REJECT_BOUND, 1, 1},
    /* ---- fds where none belong ---- */
    M("INIT with a memfd", m_init_with_fd, O_FD_CLOSED, 1),
    M("CONNECT with eventfd+pipe", m_connect_with_fd, O_FD_CLOSED, 1),
    MC("DISCONNECT before INIT (+memfd)", c_disconnect_before_init_with_fd, O_PEER_LEFT, 0),
    /* ---- peers that vanish ---- */
    MC("bad INIT, peer closes at once", c_bad_init_then_close, O_PEER_LEFT, 0),
    MC("peer closes mid-handshake", c_close_mid_handshake, O_PEER_LEFT, 1),
    MC("peer DISCONNECT, 96-byte reason (+fd)", c_peer_disconnect_unterminated, O_PEER_LEFT, 1),
    MC("second connection claims the live id", c_hijack_live_link, O_PEER_LEFT, 1),
    /* ---- data path, our master receiving on S2M ---- */
    MC("rx: desc offset+len past region end", d_desc_offset_outside, O_RX_EPROTO, 1),
    MC("rx: desc offset beyond region", d_desc_offset_beyond, O_RX_EPROTO, 1),
    MC("rx: desc offset+len wraps u32", d_desc_u32_wrap, O_RX_EPROTO, 1),
    MC("rx: desc length 2^32-1", d_desc_length_huge, O_RX_EPROTO, 1),
    MC("rx: desc region 1 (missing)", d_desc_region_out_of_range, O_RX_EPROTO, 1),
    MC("rx: desc region 0xffff", d_desc_region_ffff, O_RX_EPROTO, 1),
    MC("rx: chain segment outside region", d_chain_segment_outside, O_RX_EPROTO, 1),
    MC("rx: head ahead by N+1", d_head_ahead, O_RX_EPROTO, 1),
    MC("rx: head ahead by 30000", d_head_far_ahead, O_RX_EPROTO, 1),
    MC("rx: head moves backwards", d_head_backwards, O_RX_EPROTO, 1),
    MC("rx: incomplete chain", d_incomplete_chain, O_RX_EPROTO, 1),
    MC("rx: chain never ends (N slots)", d_chain_whole_ring, O_RX_EPROTO, 1),
    /* ---- data path, our master transmitting on M2S ---- */
    MC("tx: offered buffer past region", md_tx_offer_outside, O_TX_EPROTO, 1),
    MC("tx: offered buffer in region 7", md_tx_offer_region_bad, O_TX_EPROTO, 1),
    MC("tx: offered capacity 2^32-16", md_tx_offer_len_huge, O_TX_EPROTO, 1),
    MC("tx: M2S head ahead by N+1", md_tx_head_ahead, O_TX_EPROTO, 1),

    /* ---- our slave, hostile master ---- */
    S("hello: version 0x0100..0x0100", h_version_old, O_REJECT_BOUND),
    S("hello: version 0x0201..0x0300", h_version_new, O_REJECT_BOUND),
    S("hello: version 0x0300..0x0100", h_version_inverted, O_REJECT_BOUND),
    S("hello: type 0", h_type0_first, O_REJECT_BOUND),
    S("hello: type 9", h_type9_first, O_REJECT_BOUND),
    S("hello: 127 bytes", h_hello_len127, O_REJECT_BOUND),
    S("hello: 129 bytes", h_hello_len129, O_REJECT_BOUND),
    S("ACK before HELLO", h_ack_first, O_REJECT_BOUND),
    S("CONNECTED before HELLO", h_connected_first, O_REJECT_BOUND),
    S("INIT from master", h_init_from_master, O_REJECT_BOUND),
    S("HELLO twice", h_hello_twice, O_REJECT_BOUND),
    S("CONNECTED instead of ACK", h_connected_early, O_REJECT_BOUND),
    S("ACK instead of CONNECTED", h_ack_instead_of_connected, O_REJECT_BOUND),
    S("type 9 during config", h_type9_config, O_REJECT_BOUND),
    S("1-byte ACK", h_ack_len1, O_REJECT_BOUND),
    S("ADD_REGION to the slave (+memfd)", h_add_region_to_slave, O_REJECT_BOUND),
    S("cookie overwritten before CONNECTED", h_cookie_clobbered, O_REJECT_BOUND),
    S("HELLO with a memfd", h_hello_with_fd, O_FD_CLOSED),
    S("ACK with eventfd+pipe", h_ack_with_fds, O_FD_CLOSED),
    S("CONNECTED with an eventfd", h_connected_with_fd, O_FD_CLOSED),
    S("hello: max_log2 15", t_max_log2_15, O_TOLERATE),
    S("hello: max_log2 255", t_max_log2_255, O_TOLERATE),
    S("hello: max_log2 0", t_max_log2_0, O_TOLERATE),
    S("hello: max rings index 0 (clamp 2->1)", t_max_rings_0, O_TOLERATE),
    S("hello: max indices 0xffff", t_max_rings_ffff, O_TOLERATE),
    S("hello: name unterminated", t_hello_name, O_TOLERATE),
    S("CONNECTED with garbage everywhere", t_connected_garbage, O_TOLERATE),
    {"silent master: no HELLO", OURS_SLAVE, NULL, c_silent_master, O_REJECT_BOUND, 1, 1},
    {"silent master after INIT", OURS_SLAVE, NULL, c_silent_after_init, O_REJECT_BOUND, 1, 1},
    SC("HELLO, master closes at once", c_hello_then_close, O_PEER_LEFT),
    /* ---- data path, our slave receiving on M2S / transmitting on S2M ---- */
    SC("rx: M2S tail past offered head", sd_tail_ahead, O_RX_EPROTO),
    SC("rx: M2S tail ahead by 20000", sd_tail_far_ahead, O_RX_EPROTO),
    SC("rx: M2S tail moves backwards", sd_tail_backwards, O_RX_EPROTO),
    SC("rx: M2S length > offered capacity", sd_len_beyond_capacity, O_RX_EPROTO),
    SC("rx: M2S length 2^32-1", sd_len_huge, O_RX_EPROTO),
    SC("rx: M2S incomplete chain", sd_incomplete_chain, O_RX_EPROTO),
    SC("rx: M2S region/offset rewritten", sd_rewritten_offset_ignored, O_GOOD),
    SC("tx: S2M tail past head", sd_tx_tail_ahead, O_TX_EPROTO),

    /* ---- interrupt eventfds: the peer clears O_NONBLOCK on the shared description ---- */
    MC("irq: master tx write blocks on peer's efd", x_master_tx_irq_block, O_PEER_LEFT, 1),
    MC("irq: master rx ack read blocks", x_master_rx_ack_block, O_PEER_LEFT, 1),
    SC("irq: slave tx write blocks on shared efd", x_slave_tx_irq_block, O_PEER_LEFT),
    SC("irq: slave rx ack read blocks", x_slave_rx_ack_block, O_PEER_LEFT),
    MC("irq: loop's interrupt read blocks", x_loop_irq_read_block, O_REJECT_BOUND, 1),
    /* ---- floods ---- */
    {"flood: 100 idle connections", OURS_MASTER, NULL, c_connection_flood, O_REJECT, 0, 1},
    MC("flood: pipelined regions, replies unread", c_pipelined_regions, O_PEER_LEFT, 1),

    /* ---- well-behaved peers on the same sockets, after all of the above ---- */
    MC("good slave (hand-written)", c_good_slave, O_PEER_LEFT, 1),
    SC("good master (hand-written)", c_good_master, O_PEER_LEFT),
};

#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))

static struct peer P; /* static: survives the longjmp out of a failed case */
static struct fdsnap snap_before, snap_after;

static struct side *our_side(const struct tcase *c) {
  if (c->role == OURS_SLAVE)
    return &T.slave;
  return c->short_timeout ? &T.tmaster : &T.master;
}

static const struct tcase *cur_case;
static int our_side_down_cur(void) {
  struct side *s = our_side(cur_case);
  return !s->iface || !nmif_if_is_connected(s->iface);
}

static nmif_socket_t *slave_sock_short;
static struct side *cb_side;
static int cb_base;
static int cb_called(void) { return cb_side->disconnects > cb_base; }

static void slave_create(const struct tcase *c) {
  nmif_if_args_t a;
  memset(&a, 0, sizeof(a));
  a.id = OUR_ID;
  a.is_master = 0;
  a.rx_queues = 2;
  a.tx_queues = 2;
  a.log2_ring_size = SLAVE_LOG2;
  a.buffer_size = SLAVE_BSIZE;
  a.if_name = "our-slave";
  a.on_connect = on_connect;
  a.on_disconnect = on_disconnect;
  a.user = &T.slave;
  nmif_socket_t *sock = c->short_timeout ? slave_sock_short : T.slave_sock;
  int r = nmif_if_create(sock, &T.slave.iface, &a);
  if (r < 0)
    FAILF("slave nmif_if_create: %d (%s)", r, nmif_strerror(r));
}

static void slave_destroy(void) {
  if (T.slave.iface) {
    nmif_if_destroy(T.slave.iface);
    T.slave.iface = NULL;
  }
}

/* Waits (bounded) for the fd table to return to the snapshot; prints what differs. */
static int fds_settle(const struct fdsnap *before, int timeout_ms) {
  uint64_t end = now_ms() + (uint64_t)timeout_ms;
  for (;;) {
    fd_snapshot(&snap_after);
    if (fd_diff(before, &snap_after, 0) == 0)
      return 1;
    if (now_ms() >= end) {
      fd_diff(before, &snap_after, 1);
      return 0;
    }
    pump(2);
  }
}

static int run_case(const struct tcase *c) {
  struct side *volatile s = our_side(c); /* volatile: used after a longjmp */
  cur_case = c;
  memset(&P, 0, sizeof(P));
  P.fd = -1;
  P.rfd = -1;
  P.case_name = c->name;
  case_fail[0] = '\0';
  printf("[%s] %s (%s)\n", c->role == OURS_MASTER ? "master" : "slave ", c->name,
         outcome_name[c->out]);
  fflush(stdout);

  fd_snapshot(&snap_before);
  static int disc0; /* static: read after a longjmp */
  static uint64_t bad0;
  disc0 = s->disconnects;
  s->reason[0] = '\0';
  bad0 = 0;

  if (setjmp(case_jmp) == 0) {
    in_case = 1;
    if (c->role == OURS_SLAVE) {
      slave_create(c);
      disc0 = s->disconnects;
      hm_accept(&P);
    } else {
      peer_connect(&P, c->short_timeout ? T.tpath : T.mpath);
    }
    const nmif_stats_t *rxst = nmif_stats(s->iface, 0, 0);
    const nmif_stats_t *txst = nmif_stats(s->iface, 1, 0);
    uint64_t txbad0 = txst ? txst->drop_bad_desc : 0;
    bad0 = rxst ? rxst->drop_bad_desc : 0;

    int up = -1;
    if (c->run) {
      c->run(&P);
    } else {
      up = c->role == OURS_MASTER ? hs_flow(&P, c->mut) : hm_flow(&P, c->mut);
      if (up == 1 && c->role == OURS_SLAVE && !pump_until(slave_up, REPLY_TIMEOUT_MS) &&
          !P.got_disc) {
        /* CONNECTED went out but the slave did not come up: it must have said why */
        nmif_msg_t m;
        ssize_t n = peer_recv(&P, &m, NULL, NULL, REPLY_TIMEOUT_MS);
        if (n == NMIF_MSG_SIZE && m.type == NMIF_MSG_DISCONNECT) {
          record_disconnect(&P, &m);
          up = 0;
        }
      }
    }

    const char *reason = NULL;
    switch (c->out) {
    case O_REJECT:
    case O_REJECT_BOUND:
      if (up == 1)
        FAILF("bad value accepted: the link came up");
      reason = peer_expect_disconnect(&P, REPLY_TIMEOUT_MS);
      break;
    case O_RX_EPROTO: {
      nmif_buf_t b[64];
      int r = nmif_rx_burst(s->iface, 0, b, 64);
      if (r != NMIF_EPROTO)
        FAILF("nmif_rx_burst returned %d (%s), expected -EPROTO", r, nmif_err_name(r));
      const nmif_stats_t *st = nmif_stats(s->iface, 0, 0);
      EXPECT(st != NULL);
      if (st->drop_bad_desc <= bad0)
        FAILF("drop_bad_desc not counted (%llu)", (unsigned long long)st->drop_bad_desc);
      r = nmif_rx_burst(s->iface, 0, b, 64); /* again before the control side ran */
      if (r >= 0)
        FAILF("second nmif_rx_burst returned %d after a violation", r);
      reason = peer_expect_disconnect(&P, REPLY_TIMEOUT_MS);
      r = nmif_rx_burst(s->iface, 0, b, 64);
      if (r != NMIF_ENOTCONN)
        FAILF("nmif_rx_burst after teardown returned %d, expected -ENOTCONN", r);
      break;
    }
    case O_TX_EPROTO: {
      const void *pk[1] = {"must not be written"};
      uint32_t ln[1] = {19};
      int r = nmif_tx_copy(s->iface, 0, pk, ln, 1);
      if (r >= 1)
        FAILF("nmif_tx_copy sent %d packet(s) into a bad ring", r);
      printf("    nmif_tx_copy -> %d (%s)\n", r, nmif_err_name(r));
      const nmif_stats_t *st = nmif_stats(s->iface, 1, 0);
      if (!st || st->drop_bad_desc <= txbad0)
        FAILF("tx drop_bad_desc not counted");
      reason = peer_expect_disconnect(&P, REPLY_TIMEOUT_MS);
      break;
    }
    case O_FD_CLOSED:
    case O_TOLERATE:
      if (up == 0) {
        reason = peer_expect_disconnect(&P, REPLY_TIMEOUT_MS);
        printf("    rejected\n");
      } else {
        printf("    accepted: link up\n");
        if (!pump_until(c->role == OURS_MASTER ? master_up : slave_up, REPLY_TIMEOUT_MS))
          FAILF("handshake completed but the interface is not connected");
        if (c->out == O_TOLERATE && c->role == OURS_SLAVE) {
          nmif_details_t d;
          EXPECT_EQ(nmif_if_details(s->iface, &d), 0);
          EXPECT(strlen(d.peer_if_name) < NMIF_NAME_MAX);
          EXPECT(strlen(d.peer_app_name) < NMIF_NAME_MAX);
          EXPECT(d.log2_ring_size <= 14);
          printf("    details: peer \"%s\" app \"%s\" log2 %u, %u rx / %u tx\n", d.peer_if_name,
                 d.peer_app_name, d.log2_ring_size, d.rx_queues, d.tx_queues);
        }
        nmif_msg_t m;
        msg_init_type(&m, NMIF_MSG_DISCONNECT);
        memcpy(m.disconnect.string, "peer leaves", 11);
        peer_send(&P, &m, NULL, 0);
        nmif_msg_t x;
        ssize_t n = peer_recv(&P, &x, NULL, NULL, REPLY_TIMEOUT_MS);
        if (n > 0)
          FAILF("after the peer's DISCONNECT our side sent %s", type_name(x.type));
      }
      break;
    case O_PEER_LEFT:
    case O_GOOD:
      if (P.fd >= 0 && c->out == O_PEER_LEFT) {
        nmif_msg_t x;
        ssize_t n = peer_recv(&P, &x, NULL, NULL, REPLY_TIMEOUT_MS);
        if (n > 0)
          FAILF("after the peer left our side sent %s", type_name(x.type));
        if (n == -ETIMEDOUT)
          FAILF("our side kept the connection open after the peer's DISCONNECT");
      }
      break;
    }
    if (reason) {
      printf("    DISCONNECT \"%s\"\n", reason);
      if (reason[0] == '\0')
        FAILF("DISCONNECT with an empty reason");
    }

    /* The peer goes away in every case; our side must end up down and clean. */
    peer_release(&P);
    if (!pump_until(our_side_down_cur, REPLY_TIMEOUT_MS))
      FAILF("our interface is still connected");
    if (c->bound && c->out != O_GOOD) {
      cb_side = s;
      cb_base = disc0;
      if (!pump_until(cb_called, REPLY_TIMEOUT_MS))
        FAILF("on_disconnect was not called");
      if (s->disconnects - disc0 != 1)
        FAILF("on_disconnect called %d times", s->disconnects - disc0);
      printf("    on_disconnect \"%s\"\n", s->reason);
      if (s->reason[0] == '\0')
        FAILF("on_disconnect with an empty reason");
      if (strlen(s->reason) >= NMIF_REASON_MAX)
        FAILF("on_disconnect reason longer than %d bytes", NMIF_REASON_MAX - 1);
    } else if (s->disconnects != disc0) {
      printf("    on_disconnect \"%s\" (not required)\n", s->reason);
    }
    if (!fds_settle(&snap_before, REPLY_TIMEOUT_MS))
      FAILF("fd leak after the case (see above)");
    if (c->role == OURS_SLAVE) {
      slave_destroy();
      if (!fds_settle(&snap_before, REPLY_TIMEOUT_MS))
        FAILF("fd leak after destroying the slave interface");
    }
  } else {
    /* failed: clean up as well as possible so the next case starts fresh */
    peer_release(&P);
    if (c->role == OURS_SLAVE) {
      slave_destroy();
    } else if (s->iface && nmif_if_is_connected(s->iface)) {
      nmif_if_disconnect(s->iface, "test case failed");
    }
    for (int k = 0; k < 50; k++)
      pump(2);
    in_case = 0;
    return 0;
  }
  in_case = 0;
  return 1;
}

/* ---- setup --------------------------------------------------------------------------------- */

static nmif_socket_t *make_socket(const char *path, uint32_t handshake_ms) {
  nmif_socket_args_t a;
  memset(&a, 0, sizeof(a));
  a.path = path;
  a.app_name = "nmif-under-test";
  a.fd_update = nmif_loop_fd_update;
  a.fd_update_ctx = T.loop;
  a.reconnect_min_ms = 600000; /* our slave never reconnects on its own during a case */
  a.reconnect_max_ms = 600000;
  a.handshake_timeout_ms = handshake_ms;
  nmif_socket_t *s = NULL;
  int r = nmif_socket_create(&s, &a);
  if (r < 0) {
    fprintf(stderr, "nmif_socket_create(%s): %d (%s)\n", path, r, nmif_strerror(r));
    exit(1);
  }
  return s;
}

static nmif_if_t *make_master(nmif_socket_t *sock, struct side *side) {
  nmif_if_args_t a;
  memset(&a, 0, sizeof(a));
  a.id = OUR_ID;
  a.is_master = 1;
  a.secret = OUR_SECRET;
  a.if_name = "our-master";
  a.rx_queues = 1;
  a.tx_queues = 1;
  a.on_connect = on_connect;
  a.on_disconnect = on_disconnect;
  a.user = side;
  nmif_if_t *i = NULL;
  int r = nmif_if_create(sock, &i, &a);
  if (r < 0) {
    fprintf(stderr, "nmif_if_create(master): %d (%s)\n", r, nmif_strerror(r));
    exit(1);
  }
  side->iface = i;
  side->sock = sock;
  return i;
}

static void log_quiet(int level, const char *msg, void *ctx) {
  if (getenv("NMIF_TEST_VERBOSE"))
    fprintf(stderr, "      [lib] %s\n", msg);
}

/* Our own slave library against our own master on the same socket, after everything above. */
static int own_slave_up(void) {
  return nmif_if_is_connected(T.master.iface) && T.slave.iface &&
         nmif_if_is_connected(T.slave.iface);
}

static int run_own_slave(void) {
  printf("[both  ] our slave library against our master on the same socket\n");
  struct fdsnap before;
  fd_snapshot(&before);
  nmif_socket_t *ss = make_socket(T.mpath, HANDSHAKE_TIMEOUT_MS);
  nmif_if_args_t a;
  memset(&a, 0, sizeof(a));
  a.id = OUR_ID;
  a.secret = OUR_SECRET;
  a.log2_ring_size = 8;
  a.on_connect = on_connect;
  a.on_disconnect = on_disconnect;
  a.user = &T.slave;
  int ok = 1;
  if (nmif_if_create(ss, &T.slave.iface, &a) < 0 || !pump_until(own_slave_up, 3000)) {
    fprintf(stderr, "    FAIL link did not come up on both sides\n");
    ok = 0;
  } else {
    const void *pk[1] = {"ping"};
    uint32_t ln[1] = {4};
    nmif_buf_t b[4];
    int n = 0;
    ok = nmif_tx_copy(T.slave.iface, 0, pk, ln, 1) == 1;
    for (uint64_t end = now_ms() + 1000; ok && n == 0 && now_ms() < end;)
      n = nmif_rx_burst(T.master.iface, 0, b, 4);
    ok = ok && n == 1 && b[0].len == 4 && memcmp(b[0].data, "ping", 4) == 0;
    if (ok)
      nmif_rx_release(T.master.iface, 0, 1);
    printf("    link up on both sides, packet %s\n", ok ? "received" : "LOST");
    if (!ok)
      fprintf(stderr, "    FAIL packet from our slave to our master\n");
  }
  nmif_if_destroy(T.slave.iface);
  T.slave.iface = NULL;
  nmif_socket_destroy(ss);
  if (!pump_until(our_side_down_master, 1000)) {
    fprintf(stderr, "    FAIL master still connected after the slave left\n");
    ok = 0;
  }
  if (!fds_settle(&before, 1000)) {
    fprintf(stderr, "    FAIL fd leak\n");
    ok = 0;
  }
  return ok;
}

int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL; /* run the cases whose name contains this */
  setvbuf(stdout, NULL, _IOLBF, 0); /* keep case lines and FAIL lines in order */
  nmif_set_log(log_quiet, NULL);
  struct sigaction sa_alarm;
  memset(&sa_alarm, 0, sizeof(sa_alarm));
  sa_alarm.sa_handler = on_alarm; /* no SA_RESTART: a blocked syscall returns EINTR */
  sigaction(SIGALRM, &sa_alarm, NULL);
  struct fdsnap start;
  fd_snapshot(&start);

  snprintf(T.dir, sizeof(T.dir), "/tmp/nmif-mal-XXXXXX");
  if (!mkdtemp(T.dir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(T.mpath, sizeof(T.mpath), "%s/master.sock", T.dir);
  snprintf(T.tpath, sizeof(T.tpath), "%s/short.sock", T.dir);
  snprintf(T.spath, sizeof(T.spath), "%s/hostile-master.sock", T.dir);
  if (nmif_loop_create(&T.loop) < 0) {
    fprintf(stderr, "nmif_loop_create failed\n");
    return 1;
  }
  make_master(make_socket(T.mpath, HANDSHAKE_TIMEOUT_MS), &T.master);
  make_master(make_socket(T.tpath, SHORT_HANDSHAKE_MS), &T.tmaster);

  /* the hostile master's listener */
  T.peer_listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  if (strlen(T.spath) >= sizeof(sa.sun_path)) {
    fprintf(stderr, "socket path too long\n");
    return 1;
  }
  memcpy(sa.sun_path, T.spath, strlen(T.spath) + 1);
  if (T.peer_listen_fd < 0 || bind(T.peer_listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
      listen(T.peer_listen_fd, 8) < 0) {
    perror("hostile master listener");
    return 1;
  }
  T.slave_sock = make_socket(T.spath, HANDSHAKE_TIMEOUT_MS);
  slave_sock_short = make_socket(T.spath, SHORT_HANDSHAKE_MS);

  int passed = 0, failed = 0, ran = 0;
  static char failures[NCASES + 2][700];
  for (int k = 0; k < NCASES; k++) {
    if (only && !strstr(cases[k].name, only))
      continue;
    ran++;
    if (run_case(&cases[k])) {
      passed++;
    } else {
      snprintf(failures[failed], sizeof(failures[0]), "%s: %s", cases[k].name, case_fail);
      failed++;
    }
  }
  if (!only || strstr("own slave", only)) {
    ran++;
    if (run_own_slave())
      passed++;
    else
      snprintf(failures[failed++], sizeof(failures[0]), "our slave against our master");
  }

  nmif_socket_destroy(T.slave_sock);
  nmif_socket_destroy(slave_sock_short);
  nmif_socket_destroy(T.master.sock);
  nmif_socket_destroy(T.tmaster.sock);
  close(T.peer_listen_fd);
  unlink(T.spath);
  nmif_loop_destroy(T.loop);
  struct fdsnap end;
  fd_snapshot(&end);
  if (fd_diff(&start, &end, 1) != 0) {
    fprintf(stderr, "fd leak at exit\n");
    failed++;
    snprintf(failures[failed - 1], sizeof(failures[0]), "fds left open at exit");
  }
  rmdir(T.dir);

  printf("\ntest_malicious: %d cases, %d passed, %d failed\n", ran, passed, failed);
  for (int k = 0; k < failed; k++)
    printf("  FAILED %s\n", failures[k]);
  return failed ? 1 : 0;
}
