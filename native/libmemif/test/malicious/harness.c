/* The one harness that runs every case row: our side's interfaces, fd accounting, the peer's
 * wiring into our loop, and the outcome checks (see harness.h for the rule they enforce). */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct our_side T;
void (*disc_hook)(void);
char case_fail[600];

/* ---- case failure: recorded, then the case is abandoned (longjmp to run_case) ------------- */

static jmp_buf case_jmp;
static int in_case;

static void case_failed(const char *msg) {
  snprintf(case_fail, sizeof(case_fail), "%s", msg);
  fprintf(stderr, "    FAIL %s\n", case_fail);
  if (in_case)
    longjmp(case_jmp, 1);
  exit(1);
}

/* ---- fd accounting ----------------------------------------------------------------------- */

void fd_snapshot(struct fdsnap *s) {
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    HP_FAIL("opendir /proc/self/fd: %s", strerror(errno));
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

int fd_diff(const struct fdsnap *before, const struct fdsnap *after, int print) {
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

static struct fdsnap snap_before, snap_after;

int fds_settle(const struct fdsnap *before, int timeout_ms) {
  uint64_t end = hp_now_ms() + (uint64_t)timeout_ms;
  for (;;) {
    fd_snapshot(&snap_after);
    if (fd_diff(before, &snap_after, 0) == 0)
      return 1;
    if (hp_now_ms() >= end) {
      fd_diff(before, &snap_after, 1);
      return 0;
    }
    pump(2);
  }
}

/* ---- our side ------------------------------------------------------------------------------ */

void on_connect(nmif_if_t *i, void *user) {
  struct side *s = user;
  s->connects++;
}

void on_disconnect(nmif_if_t *i, const char *reason, void *user) {
  struct side *s = user;
  if (disc_hook)
    disc_hook();
  s->disconnects++;
  snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "(null)");
}

void pump(int ms) { nmif_loop_run(T.loop, ms); }

static void pump_hook(void *ctx, int ms) { pump(ms); }

int pump_until(int (*cond)(void), int timeout_ms) {
  uint64_t end = hp_now_ms() + (uint64_t)timeout_ms;
  while (!cond()) {
    if (hp_now_ms() >= end)
      return 0;
    pump(2);
  }
  return 1;
}

int master_up(void) { return nmif_if_is_connected(T.master.iface); }
int slave_up(void) { return T.slave.iface && nmif_if_is_connected(T.slave.iface); }
int our_side_down_short(void) { return !nmif_if_is_connected(T.tmaster.iface); }

nmif_socket_t *make_socket(const char *path, uint32_t handshake_ms) {
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

/* ---- the peer, wired to our side ------------------------------------------------------------ */

void peer_setup(struct hp_peer *p, int role) {
  hp_init(p, role);
  p->id = OUR_ID;
  snprintf(p->secret, sizeof(p->secret), "%s", OUR_SECRET);
  p->log2 = PEER_LOG2;
  p->bsize = PEER_BSIZE;
}

void peer_connect(struct hp_peer *p, const char *path) {
  int r = hp_connect(p, path);
  if (r < 0)
    HP_FAIL("connect %s: %s", path, strerror(-r));
  nmif_msg_t m;
  hp_expect(p, NMIF_MSG_HELLO, &m, NULL, NULL, REPLY_TIMEOUT_MS);
  HP_EXPECT_EQ(m.hello.min_version, 0x0200);
  HP_EXPECT_EQ(m.hello.max_version, 0x0200);
  HP_EXPECT(m.hello.max_log2_ring_size <= 14);
}

void peer_leaves(struct hp_peer *p) { hp_send_disconnect(p, "peer leaves"); }

/* One good packet first, so a later -EPROTO is about the bad value, not a broken path: the
 * peer sends `text`, our side receives it whole and gives the buffer back. */
static void good_packet(struct hp_peer *p, nmif_if_t *ours, const char *text) {
  uint32_t len = (uint32_t)strlen(text);
  HP_EXPECT_EQ(hp_tx_frame(p, text, len, 0), 1);
  hp_tx_publish(p);
  nmif_buf_t b[8];
  int got = nmif_rx_burst(ours, 0, b, 8);
  HP_EXPECT_EQ(got, 1);
  HP_EXPECT_EQ(b[0].len, len);
  HP_EXPECT(memcmp(b[0].data, text, len) == 0);
  HP_EXPECT_EQ(nmif_rx_release(ours, 0, 1), 1);
}

void good_packet_to_master(struct hp_peer *p) {
  uint16_t n;
  nmif_ring_t *r = hp_tx_ring(p, &n);
  uint16_t head = r->head;
  good_packet(p, T.master.iface, "good packet");
  HP_EXPECT_EQ(__atomic_load_n(&r->tail, __ATOMIC_ACQUIRE), (uint16_t)(head + 1));
}

void good_packet_to_slave(struct hp_peer *p) { good_packet(p, T.slave.iface, "to the slave"); }

/* After CONNECTED: our slave comes up and offers its receive buffers. */
static void slave_offered(struct hp_peer *p) {
  if (!pump_until(slave_up, REPLY_TIMEOUT_MS))
    HP_FAIL("our slave did not come up after CONNECTED");
  nmif_ring_t *r = hp_master_ring(p, 1, 0);
  uint16_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
  if (head == 0) {
    /* the application hands buffers over: release refills (nothing received yet) */
    nmif_rx_release(T.slave.iface, 0, 0xffff);
    head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
  }
  HP_EXPECT(head > 0);
}

void hostile_master_up(struct hp_peer *p) {
  HP_EXPECT_EQ(hp_master_flow(p, NULL, 0, REPLY_TIMEOUT_MS), HP_UP);
  slave_offered(p);
}

/* ---- the runner ------------------------------------------------------------------------- */

static const char *const outcome_name[] = {"reject", "reject+cb", "rx -EPROTO", "tx -EPROTO",
                                           "fd closed", "tolerate", "peer left", "good"};

static struct hp_peer P; /* static: survives the longjmp out of a failed case */
static const struct mcase *cur_case;

static struct side *our_side(const struct mcase *c) {
  if (c->ours == OURS_SLAVE)
    return &T.slave;
  return c->flags & SHORT ? &T.tmaster : &T.master;
}

static int our_side_down_cur(void) {
  struct side *s = our_side(cur_case);
  return !s->iface || !nmif_if_is_connected(s->iface);
}

static struct side *cb_side;
static int cb_base;
static int cb_called(void) { return cb_side->disconnects > cb_base; }

static void slave_create(const struct mcase *c) {
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
  nmif_socket_t *sock = c->flags & SHORT ? T.slave_sock_short : T.slave_sock;
  int r = nmif_if_create(sock, &T.slave.iface, &a);
  if (r < 0)
    HP_FAIL("slave nmif_if_create: %d (%s)", r, nmif_strerror(r));
}

static void slave_destroy(void) {
  if (T.slave.iface) {
    nmif_if_destroy(T.slave.iface);
    T.slave.iface = NULL;
  }
}

static int has_live(const struct mcase *c) {
  for (int k = 0; k < MAX_MUTS && c->mut[k].field != F_NONE; k++)
    if (c->mut[k].step == LIVE)
      return 1;
  return 0;
}

static void check_clamp(const struct mcase *c) {
  if (P.nring[0] != c->clamp.rings || P.nring[1] != c->clamp.rings)
    HP_FAIL("our slave announced %d S2M / %d M2S rings, expected %d each", P.nring[0], P.nring[1],
            c->clamp.rings);
  for (int t = 0; t < 2; t++)
    for (int k = 0; k < P.nring[t]; k++)
      if (P.ring[t][k].log2 != c->clamp.log2)
        HP_FAIL("our slave announced log2 %u, expected %d", P.ring[t][k].log2, c->clamp.log2);
}

/* The mutations of a row: the handshake, then (link up) the LIVE values. Returns how the
 * peer's side ended (enum hp_end), or -1 once a LIVE attack went out on a live link. */
static int run_mutations(const struct mcase *c) {
  int up = c->ours == OURS_MASTER ? hp_slave_flow(&P, c->mut, MAX_MUTS, REPLY_TIMEOUT_MS)
                                  : hp_master_flow(&P, c->mut, MAX_MUTS, REPLY_TIMEOUT_MS);
  if (up == HP_UP && c->ours == OURS_SLAVE && !pump_until(slave_up, REPLY_TIMEOUT_MS) &&
      !P.got_disc) {
    /* CONNECTED went out but the slave did not come up: it must have said why */
    nmif_msg_t m;
    ssize_t n = hp_recv(&P, &m, NULL, NULL, REPLY_TIMEOUT_MS);
    if (n == NMIF_MSG_SIZE && m.type == NMIF_MSG_DISCONNECT) {
      hp_record_disconnect(&P, &m);
      up = HP_REFUSED;
    }
  }
  if (up == HP_UP && c->clamp.check)
    check_clamp(c);
  if (!has_live(c))
    return up;
  if (up != HP_UP)
    HP_FAIL("the link did not come up before the LIVE values (%d)", up);
  if (c->ours == OURS_SLAVE)
    slave_offered(&P);
  if (c->expect == O_RX_EPROTO) {
    if (c->ours == OURS_MASTER)
      good_packet_to_master(&P);
    else
      good_packet_to_slave(&P);
  }
  return hp_live(&P, c->mut, MAX_MUTS) == HP_LEFT ? HP_LEFT : -1;
}

/* Checks the outcome the row expects; returns our side's DISCONNECT reason if one is due. */
static const char *check_outcome(const struct mcase *c, struct side *s, int up, uint64_t bad0,
                                 uint64_t txbad0) {
  switch (c->expect) {
  case O_REJECT:
  case O_REJECT_BOUND:
    if (up == HP_UP)
      HP_FAIL("bad value accepted: the link came up");
    return hp_expect_disconnect(&P, REPLY_TIMEOUT_MS);
  case O_RX_EPROTO: {
    nmif_buf_t b[64];
    int r = nmif_rx_burst(s->iface, 0, b, 64);
    if (r != NMIF_EPROTO)
      HP_FAIL("nmif_rx_burst returned %d (%s), expected -EPROTO", r, nmif_err_name(r));
    const nmif_stats_t *st = nmif_stats(s->iface, 0, 0);
    HP_EXPECT(st != NULL);
    if (st->drop_bad_desc <= bad0)
      HP_FAIL("drop_bad_desc not counted (%llu)", (unsigned long long)st->drop_bad_desc);
    r = nmif_rx_burst(s->iface, 0, b, 64); /* again before the control side ran */
    if (r >= 0)
      HP_FAIL("second nmif_rx_burst returned %d after a violation", r);
    const char *reason = hp_expect_disconnect(&P, REPLY_TIMEOUT_MS);
    r = nmif_rx_burst(s->iface, 0, b, 64);
    if (r != NMIF_ENOTCONN)
      HP_FAIL("nmif_rx_burst after teardown returned %d, expected -ENOTCONN", r);
    return reason;
  }
  case O_TX_EPROTO: {
    const void *pk[1] = {"must not be written"};
    uint32_t ln[1] = {19};
    int r = nmif_tx_copy(s->iface, 0, pk, ln, 1);
    if (r >= 1)
      HP_FAIL("nmif_tx_copy sent %d packet(s) into a bad ring", r);
    printf("    nmif_tx_copy -> %d (%s)\n", r, nmif_err_name(r));
    const nmif_stats_t *st = nmif_stats(s->iface, 1, 0);
    if (!st || st->drop_bad_desc <= txbad0)
      HP_FAIL("tx drop_bad_desc not counted");
    return hp_expect_disconnect(&P, REPLY_TIMEOUT_MS);
  }
  case O_FD_CLOSED:
  case O_TOLERATE:
    if (up == HP_REFUSED) {
      const char *reason = hp_expect_disconnect(&P, REPLY_TIMEOUT_MS);
      printf("    rejected\n");
      return reason;
    }
    printf("    accepted: link up\n");
    if (!pump_until(c->ours == OURS_MASTER ? master_up : slave_up, REPLY_TIMEOUT_MS))
      HP_FAIL("handshake completed but the interface is not connected");
    if (c->expect == O_TOLERATE && c->ours == OURS_SLAVE) {
      nmif_details_t d;
      HP_EXPECT_EQ(nmif_if_details(s->iface, &d), 0);
      HP_EXPECT(strlen(d.peer_if_name) < NMIF_NAME_MAX);
      HP_EXPECT(strlen(d.peer_app_name) < NMIF_NAME_MAX);
      HP_EXPECT(d.log2_ring_size <= 14);
      printf("    details: peer \"%s\" app \"%s\" log2 %u, %u rx / %u tx\n", d.peer_if_name,
             d.peer_app_name, d.log2_ring_size, d.rx_queues, d.tx_queues);
    }
    peer_leaves(&P);
    nmif_msg_t x;
    if (hp_recv(&P, &x, NULL, NULL, REPLY_TIMEOUT_MS) > 0)
      HP_FAIL("after the peer's DISCONNECT our side sent %s", hp_type_name(x.type));
    return NULL;
  case O_PEER_LEFT:
    if (P.fd >= 0) {
      nmif_msg_t x;
      ssize_t n = hp_recv(&P, &x, NULL, NULL, REPLY_TIMEOUT_MS);
      if (n > 0)
        HP_FAIL("after the peer left our side sent %s", hp_type_name(x.type));
      if (n == -ETIMEDOUT)
        HP_FAIL("our side kept the connection open after the peer's DISCONNECT");
    }
    return NULL;
  default: /* O_GOOD: the case checked the link itself */
    return NULL;
  }
}

int run_case(const struct mcase *c) {
  struct side *volatile s = our_side(c); /* volatile: used after a longjmp */
  cur_case = c;
  peer_setup(&P, c->ours == OURS_MASTER ? HP_SLAVE : HP_MASTER);
  case_fail[0] = '\0';
  printf("[%s] %s (%s)\n", c->ours == OURS_MASTER ? "master" : "slave ", c->name,
         outcome_name[c->expect]);
  fflush(stdout);

  hp_set_fail(case_failed);
  hp_set_idle(pump_hook, NULL);
  fd_snapshot(&snap_before);
  static int disc0; /* static: read after a longjmp */
  disc0 = s->disconnects;
  s->reason[0] = '\0';

  if (setjmp(case_jmp) == 0) {
    in_case = 1;
    if (c->ours == OURS_SLAVE) {
      slave_create(c);
      disc0 = s->disconnects;
      if (hp_accept(&P, T.peer_listen_fd, REPLY_TIMEOUT_MS) < 0)
        HP_FAIL("our slave did not connect within %d ms", REPLY_TIMEOUT_MS);
    } else {
      peer_connect(&P, c->flags & SHORT ? T.tpath : T.mpath);
    }
    const nmif_stats_t *rxst = nmif_stats(s->iface, 0, 0);
    const nmif_stats_t *txst = nmif_stats(s->iface, 1, 0);
    uint64_t txbad0 = txst ? txst->drop_bad_desc : 0;
    uint64_t bad0 = rxst ? rxst->drop_bad_desc : 0;

    int up = -1;
    if (c->run)
      c->run(&P);
    else
      up = run_mutations(c);
    const char *reason = check_outcome(c, s, up, bad0, txbad0);
    if (reason) {
      printf("    DISCONNECT \"%s\"\n", reason);
      if (reason[0] == '\0')
        HP_FAIL("DISCONNECT with an empty reason");
    }

    /* The peer goes away in every case; our side must end up down and clean. */
    hp_release(&P);
    if (!pump_until(our_side_down_cur, REPLY_TIMEOUT_MS))
      HP_FAIL("our interface is still connected");
    if ((c->flags & BOUND) && c->expect != O_GOOD) {
      cb_side = s;
      cb_base = disc0;
      if (!pump_until(cb_called, REPLY_TIMEOUT_MS))
        HP_FAIL("on_disconnect was not called");
      if (s->disconnects - disc0 != 1)
        HP_FAIL("on_disconnect called %d times", s->disconnects - disc0);
      printf("    on_disconnect \"%s\"\n", s->reason);
      if (s->reason[0] == '\0')
        HP_FAIL("on_disconnect with an empty reason");
      if (strlen(s->reason) >= NMIF_REASON_MAX)
        HP_FAIL("on_disconnect reason longer than %d bytes", NMIF_REASON_MAX - 1);
    } else if (s->disconnects != disc0) {
      printf("    on_disconnect \"%s\" (not required)\n", s->reason);
    }
    if (!fds_settle(&snap_before, REPLY_TIMEOUT_MS))
      HP_FAIL("fd leak after the case (see above)");
    if (c->ours == OURS_SLAVE) {
      slave_destroy();
      if (!fds_settle(&snap_before, REPLY_TIMEOUT_MS))
        HP_FAIL("fd leak after destroying the slave interface");
    }
  } else {
    /* failed: clean up as well as possible so the next case starts fresh */
    hp_release(&P);
    if (c->ours == OURS_SLAVE)
      slave_destroy();
    else if (s->iface && nmif_if_is_connected(s->iface))
      nmif_if_disconnect(s->iface, "test case failed");
    for (int k = 0; k < 50; k++)
      pump(2);
    in_case = 0;
    return 0;
  }
  in_case = 0;
  return 1;
}
