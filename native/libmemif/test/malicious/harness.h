/*
 * test_malicious: the hostile peer (test/hostile) against our library in both roles.
 *
 * Our side is the library on its built-in loop (nmif_loop_*) in this thread; every wait pumps
 * that loop in small steps while watching the peer's socket, bounded by a deadline.
 *
 * A case is one row: a name, which role our side plays, the outcome expected, and either a
 * list of {step, field, value} mutations applied to a well-behaved peer's handshake (and, at
 * step LIVE, to the link once it is up), or a function for sequences a row cannot say.
 *
 * The rule every case checks: a peer can write anything into any message and any shared word,
 * and our side must answer a bad value with a DISCONNECT carrying a non-empty reason and then
 * close; it must never crash (SIGPIPE and SIGBUS would end this process: SIGPIPE is left at
 * its default on purpose), block on the peer's say-so, leak an fd the peer passed, read or
 * write outside the memory the peer shared, or stay connected. Values that are odd but
 * harmless are clamped, never trusted.
 */
#ifndef NMIF_MALICIOUS_HARNESS_H
#define NMIF_MALICIOUS_HARNESS_H

#include "flow.h"
#include "nmemif.h"
#include "peer.h"
#include "ring.h"

/* ---- configuration of both sides ----------------------------------------------------------- */

#define OUR_ID 1
#define OUR_SECRET "sesame"
#define PEER_LOG2 6                 /* the hostile slave's rings: 64 slots */
#define PEER_BSIZE 2048
#define SLAVE_LOG2 6                /* our slave's configured ring size */
#define SLAVE_BSIZE 2048
#define REPLY_TIMEOUT_MS 1500       /* well below the handshake timeout below */
#define HANDSHAKE_TIMEOUT_MS 6000
#define SHORT_HANDSHAKE_MS 300      /* for the cases about the handshake timeout */

/* ---- cases ----------------------------------------------------------------------------------- */

enum ours { OURS_MASTER, OURS_SLAVE };

enum outcome {
  O_REJECT,       /* DISCONNECT with a reason, then close. Before the connection is bound to an
                     interface on_disconnect is optional (reported). */
  O_REJECT_BOUND, /* the same, and on_disconnect must run once with a non-empty reason */
  O_RX_EPROTO,    /* one good packet passes first; then the case's LIVE values corrupt the
                     ring we receive on: nmif_rx_burst returns -EPROTO and counts drop_bad_desc,
                     then as O_REJECT_BOUND */
  O_TX_EPROTO,    /* the LIVE values spoil the ring we transmit on: nmif_tx_copy sends nothing
                     and counts drop_bad_desc, then as O_REJECT_BOUND */
  O_FD_CLOSED,    /* an fd on a message that carries none: rejected (DISCONNECT) or the fd is
                     closed and the handshake goes on; either way no leak */
  O_TOLERATE,     /* a weird but harmless value: clamped (link up with sane values) or
                     rejected with a reason */
  O_PEER_LEFT,    /* the peer closed or sent DISCONNECT: we send nothing, tear down, no leaks */
  O_GOOD,         /* a well-behaved peer: the case checks the link itself, then leaves */
};

enum case_flags {
  BOUND = 1,      /* the connection is bound to our interface by then (on_disconnect due) */
  SHORT = 2,      /* on the sockets with the short handshake timeout */
};

#define MAX_MUTS 6

struct mcase {
  const char *name;
  uint8_t ours;                   /* enum ours */
  uint8_t expect;                 /* enum outcome */
  uint8_t flags;                  /* enum case_flags */
  struct hp_mut mut[MAX_MUTS];    /* ends at the first F_NONE */
  void (*run)(struct hp_peer *p); /* instead of the mutations */
  struct {
    uint8_t check, rings, log2;   /* O_TOLERATE on our slave: what it must announce */
  } clamp;
};

/* Rows: our master against the hostile slave, our slave against the hostile master. */
#define MASTER(name, expect, flags, ...) {name, OURS_MASTER, expect, flags, .mut = {__VA_ARGS__}}
#define SLAVE(name, expect, ...) {name, OURS_SLAVE, expect, BOUND, .mut = {__VA_ARGS__}}
#define MASTER_RUN(name, expect, flags, fn) {name, OURS_MASTER, expect, flags, .run = fn}
#define SLAVE_RUN(name, expect, flags, fn) {name, OURS_SLAVE, expect, BOUND | (flags), .run = fn}

struct case_table {
  const char *area;
  const struct mcase *cases;
  int n;
};

#define TABLE(area, arr) {area, arr, (int)(sizeof(arr) / sizeof(arr[0]))}

extern const struct case_table master_control_cases, slave_control_cases, datapath_cases,
    irq_cases, flood_cases, good_cases;

/* ---- our side --------------------------------------------------------------------------- */

struct side {
  nmif_socket_t *sock;
  nmif_if_t *iface;
  int connects;
  int disconnects;
  int rx_irqs;
  char reason[256];
};

struct our_side {
  char dir[64];
  char mpath[128];        /* our master's socket */
  char tpath[128];        /* our master with a short handshake timeout */
  char spath[128];        /* the hostile master's listener, our slave connects to it */
  nmif_loop_t *loop;
  struct side master;     /* our master interface (id 1, secret) */
  struct side tmaster;    /* master on tpath */
  struct side slave;      /* our slave interface (created per case) */
  nmif_socket_t *slave_sock;
  nmif_socket_t *slave_sock_short;
  int peer_listen_fd;     /* the hostile master's listener */
};

extern struct our_side T;
extern void (*disc_hook)(void); /* lets a case act as the peer at a precise moment */

void on_connect(nmif_if_t *i, void *user);
void on_disconnect(nmif_if_t *i, const char *reason, void *user);
nmif_socket_t *make_socket(const char *path, uint32_t handshake_ms);

void pump(int ms);
int pump_until(int (*cond)(void), int timeout_ms);
int master_up(void);
int slave_up(void);
int our_side_down_short(void);

/* A hostile peer with our side's id and secret, its region sized as the cases expect. */
void peer_setup(struct hp_peer *p, int role);
/* The hostile slave connects to a master socket of ours and reads its HELLO. */
void peer_connect(struct hp_peer *p, const char *path);
/* Good packets: from the hostile slave to our master, from the hostile master to our slave. */
void good_packet_to_master(struct hp_peer *p);
void good_packet_to_slave(struct hp_peer *p);
/* The hostile master's handshake done right; our slave is up and has offered its buffers. */
void hostile_master_up(struct hp_peer *p);
/* The peer leaves with a DISCONNECT. */
void peer_leaves(struct hp_peer *p);

/* Runs one case: 1 passed, 0 failed (the reason is in case_fail). */
int run_case(const struct mcase *c);
extern char case_fail[600];

/* The multiset of open objects, by their /proc/self/fd link text. */
struct fdsnap {
  int n;
  char name[512][80];
};
void fd_snapshot(struct fdsnap *s);
int fd_diff(const struct fdsnap *before, const struct fdsnap *after, int print);
/* Waits (bounded) for the fd table to match `before` again; prints what differs. */
int fds_settle(const struct fdsnap *before, int timeout_ms);

#endif
