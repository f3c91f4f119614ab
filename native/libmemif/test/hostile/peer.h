/*
 * A hand-written memif peer for attacking our library: a raw AF_UNIX SOCK_SEQPACKET socket,
 * messages built from wire.h's layouts, fds passed with SCM_RIGHTS and, when it plays the
 * slave, its own memfd region, rings and eventfds. It never calls the library, so it can send
 * anything and write any shared word at any time.
 *
 * Used by the test_malicious cases (in-process: the waits pump the library's loop through the
 * idle hook) and by the nmif-hostile program (a separate process: the waits poll).
 *
 * Files: peer.c (socket, fds, datagrams), flow.c (the handshake as steps, and the {step, field,
 * value} mutations), ring.c (the peer's side of the rings), frames.c (ICMP test frames);
 * attacks.c and nmif-hostile.c make the program.
 */
#ifndef NMIF_HOSTILE_PEER_H
#define NMIF_HOSTILE_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "wire.h"

#define HP_REASON_MAX 96            /* DISCONNECT string field */
#define HP_MAX_OWNED 600
#define HP_MAX_MAPS 300
#define HP_MAX_REGIONS 8
#define HP_MAX_RINGS 8
#define HP_MAX_FDS 16               /* fds attached to one datagram */

/* The role the hostile peer plays (our library under test plays the other one). */
enum hp_role { HP_SLAVE = 0, HP_MASTER = 1 };

/* What the peer's handshake flow ended with. */
enum hp_end {
  HP_REFUSED = 0,    /* our side sent DISCONNECT (reason in disc_reason) */
  HP_UP = 1,         /* CONNECTED went out or came back */
  HP_STOPPED = 2,    /* the case told the peer to fall silent */
  HP_LEFT = 3,       /* the peer closed its socket or sent DISCONNECT itself */
};

struct hp_peer {
  int role;
  int fd;                          /* control socket, -1 when closed */
  int owned[HP_MAX_OWNED];         /* every fd the peer created or received: closed at release */
  int nowned;
  struct {
    void *p;
    size_t n;
  } maps[HP_MAX_MAPS];
  int nmaps;

  /* identity it claims */
  uint32_t id;
  uint8_t mode;
  char secret[24];                 /* INIT field size */
  const char *app_name;
  const char *if_name;

  /* as a slave: its own region (rings S2M 0, M2S 0, then one buffer per slot) */
  int rfd;
  uint8_t *rbase;
  uint64_t rsize;
  uint8_t log2;
  uint32_t bsize;
  uint32_t ring_bytes;
  uint64_t buf_base;
  int efd[2];                      /* [0] S2M ring, [1] M2S ring */

  /* as a master: what our slave announced */
  struct {
    uint8_t *base;
    uint64_t size;
  } reg[HP_MAX_REGIONS];
  int nreg;
  struct {
    uint16_t region;
    uint32_t offset;
    uint8_t log2;
  } ring[2][HP_MAX_RINGS];         /* [0] S2M, [1] M2S */
  int nring[2];
  int ring_fd[2][HP_MAX_RINGS];    /* the eventfds our slave passed */
  nmif_msg_t init;                 /* our slave's INIT */

  /* the peer's private data-path counters (ring.c) */
  uint16_t tx_pos;                 /* next slot to fill on its transmit ring */
  uint16_t rx_pos;                 /* next slot to read on its receive ring */

  /* what came back */
  int got_disc;
  char disc_reason[HP_REASON_MAX + 1];
  int acks;
  int victim_pid;                  /* from SO_PEERCRED, 0 if unknown */
};

/* ---- hooks: how the peer waits and fails -------------------------------------------------- */

/* Called while waiting for the victim (in slices of a few ms). NULL: poll the socket. */
typedef void (*hp_idle_fn)(void *ctx, int ms);
void hp_set_idle(hp_idle_fn fn, void *ctx);
void hp_idle(int ms);

/* A failed expectation: the handler must not return (it longjmps or exits). */
typedef void (*hp_fail_fn)(const char *msg);
void hp_set_fail(hp_fail_fn fn);
void hp_failf(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
#define HP_FAIL(...) hp_failf(__FILE__, __LINE__, __VA_ARGS__)
#define HP_EXPECT(c)                                                                       \
  do {                                                                                     \
    if (!(c))                                                                              \
      HP_FAIL("EXPECT(%s)", #c);                                                           \
  } while (0)
#define HP_EXPECT_EQ(a, b)                                                                 \
  do {                                                                                     \
    long long ea_ = (long long)(a), eb_ = (long long)(b);                                  \
    if (ea_ != eb_)                                                                        \
      HP_FAIL("EXPECT_EQ(%s, %s): %lld != %lld", #a, #b, ea_, eb_);                        \
  } while (0)

uint64_t hp_now_ms(void);
const char *hp_type_name(uint16_t type);

/* ---- the peer object ------------------------------------------------------------------------ */

/* Zeroes p and sets the defaults: id 0, no secret, ethernet, names "hostile-*". */
void hp_init(struct hp_peer *p, int role);
/* Closes the socket, every owned fd and every mapping. */
void hp_release(struct hp_peer *p);
void hp_own(struct hp_peer *p, int fd);
void *hp_map(struct hp_peer *p, int fd, size_t n);

/* Fresh fds the peer owns (closed at release). Names start with "nmif-hostile" so a leak of
 * them into the victim shows in /proc/<pid>/fd. */
int hp_new_eventfd(struct hp_peer *p);
int hp_new_pipe_end(struct hp_peer *p);
int hp_new_memfd(struct hp_peer *p, const char *tag, uint64_t size, int seal);
int hp_new_socket_end(struct hp_peer *p);
int hp_new_unsealed_file(struct hp_peer *p, uint64_t size);

/* ---- datagrams with fds, on any socket -------------------------------------------------------- */

/* A Unix address from a path, "@name" meaning an abstract socket (the length counts no
 * trailing NULs, as the library binds). Returns the length, 0 if the path does not fit. */
socklen_t hp_sockaddr(struct sockaddr_un *a, const char *path);
/* One datagram with nfds fds as SCM_RIGHTS (MSG_NOSIGNAL always added). Bytes or -errno. */
ssize_t hp_sendmsg(int sock, const void *buf, size_t len, const int *fds, int nfds, int flags);
/* One datagram: bytes (0 = EOF) or -errno. Up to `max` fds it carried go to fds (*nfds set);
 * any more are closed. MSG_CMSG_CLOEXEC always added. */
ssize_t hp_recvmsg(int sock, void *buf, size_t cap, int *fds, int max, int *nfds, int flags);

/* ---- the control socket --------------------------------------------------------------------- */

/* To/at a path as hp_sockaddr spells it. */
int hp_connect(struct hp_peer *p, const char *path);          /* 0 or -errno */
int hp_listen(const char *path);                               /* listener fd or -errno */
/* Waits up to timeout_ms for a connection on lfd; 0 or -ETIMEDOUT. */
int hp_accept(struct hp_peer *p, int lfd, int timeout_ms);

/* One datagram of len bytes with nfds fds. 0, or -errno (our side may have closed already). */
int hp_send_raw(struct hp_peer *p, const void *buf, size_t len, const int *fds, int nfds);
int hp_send(struct hp_peer *p, const nmif_msg_t *m, const int *fds, int nfds);
/* A DISCONNECT with this reason. */
int hp_send_disconnect(struct hp_peer *p, const char *reason);
/* Receives one datagram: its length (128 for a well-formed message), 0 on EOF, -ETIMEDOUT.
 * Received fds are owned by the peer (and listed in fds, up to 8). */
ssize_t hp_recv(struct hp_peer *p, nmif_msg_t *m, int *fds, int *nfds, int timeout_ms);
/* Keeps the reason of a DISCONNECT from our side (bounded copy: it may be unterminated). */
void hp_record_disconnect(struct hp_peer *p, const nmif_msg_t *m);
/* Expects the next message to be `type`; fails on anything else. */
void hp_expect(struct hp_peer *p, uint16_t type, nmif_msg_t *out, int *fds, int *nfds,
               int timeout_ms);
/* Waits for our side's DISCONNECT (unless one came during a flow), then for the close.
 * Fails on anything else. Returns the reason. */
const char *hp_expect_disconnect(struct hp_peer *p, int timeout_ms);

void hp_msg_start(nmif_msg_t *m, uint16_t type);

#endif
