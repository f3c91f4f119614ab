/* Floods: more regions than advertised, many idle connections, messages pipelined without
 * reading the replies. Our side must stay bounded in what it keeps and never block. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

static void send_init(struct hp_peer *p) {
  struct hp_out o;
  hp_default(p, S_INIT, &o);
  hp_send(p, &o.m, NULL, 0);
  hp_expect(p, NMIF_MSG_ACK, NULL, NULL, NULL, REPLY_TIMEOUT_MS);
}

/* Regions 0, 1, 2, ... until our master says stop; it must stop at the limit it advertised. */
static void region_flood(struct hp_peer *p) {
  hp_slave_build(p, PEER_LOG2, PEER_BSIZE);
  send_init(p);
  int small = hp_new_memfd(p, "flood", 4096, 1);
  for (int k = 0; k < 300; k++) {
    nmif_msg_t m;
    hp_msg_start(&m, NMIF_MSG_ADD_REGION);
    m.add_region.index = (uint16_t)k;
    m.add_region.size = 4096;
    int r = hp_send(p, &m, &small, 1);
    nmif_msg_t a;
    ssize_t n = hp_recv(p, &a, NULL, NULL, REPLY_TIMEOUT_MS);
    if (n == NMIF_MSG_SIZE && a.type == NMIF_MSG_ACK && r == 0)
      continue;
    if (n == NMIF_MSG_SIZE && a.type == NMIF_MSG_DISCONNECT) {
      hp_record_disconnect(p, &a);
      printf("    (stopped at region index %d)\n", k);
      HP_EXPECT(k <= 256);
      return;
    }
    HP_FAIL("region %d: unexpected reply (len %zd type %u)", k, n, n > 0 ? a.type : 0);
  }
  HP_FAIL("300 regions accepted: no limit");
}

/* 100 more connections that never say INIT, on the short-timeout socket: our master keeps a
 * bounded number, drops the rest, times out the others, and afterwards still serves a good
 * slave. The harness then expects P's own "handshake timeout". */
static void connection_flood(struct hp_peer *p) {
  enum { FLOOD = 100 };
  int fds[FLOOD];
  int hello = 0, closed = 0, disc = 0;
  for (int k = 0; k < FLOOD; k++) {
    fds[k] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    hp_own(p, fds[k]);
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    memcpy(a.sun_path, T.tpath, strlen(T.tpath) + 1);
    uint64_t end = hp_now_ms() + REPLY_TIMEOUT_MS;
    while (connect(fds[k], (struct sockaddr *)&a, sizeof(a)) < 0) {
      if (errno != EAGAIN || hp_now_ms() >= end)
        HP_FAIL("flood connect %d: %s", k, strerror(errno));
      pump(1);
    }
  }
  /* every connection ends within the handshake timeout plus slack */
  uint64_t end = hp_now_ms() + SHORT_HANDSHAKE_MS + REPLY_TIMEOUT_MS;
  int done[FLOOD];
  memset(done, 0, sizeof(done));
  int left = FLOOD;
  while (left > 0 && hp_now_ms() < end) {
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
    HP_FAIL("%d flood connections still open after the handshake timeout", left);
  /* the socket still works */
  static struct hp_peer q;
  peer_setup(&q, HP_SLAVE);
  peer_connect(&q, T.tpath);
  int up = hp_slave_flow(&q, NULL, 0, REPLY_TIMEOUT_MS);
  if (up != HP_UP) {
    hp_release(&q);
    HP_FAIL("a good slave was refused after the flood: \"%s\"", q.disc_reason);
  }
  peer_leaves(&q);
  nmif_msg_t m;
  ssize_t n = hp_recv(&q, &m, NULL, NULL, REPLY_TIMEOUT_MS);
  HP_EXPECT(n <= 0);
  hp_release(&q);
  if (!pump_until(our_side_down_short, REPLY_TIMEOUT_MS))
    HP_FAIL("short-timeout master still connected");
}

/* After INIT, ADD_REGION messages back to back without ever reading a reply: our side must not
 * block, must stop at its region limit or when its replies no longer fit, and close. */
static void pipelined_regions(struct hp_peer *p) {
  hp_slave_build(p, PEER_LOG2, PEER_BSIZE);
  send_init(p);
  int small = hp_new_memfd(p, "pipelined", 4096, 1);
  int sent = 0;
  uint64_t end = hp_now_ms() + 5000;
  for (;;) {
    nmif_msg_t m;
    hp_msg_start(&m, NMIF_MSG_ADD_REGION);
    m.add_region.index = (uint16_t)sent;
    m.add_region.size = 4096;
    ssize_t n = hp_sendmsg(p->fd, &m, sizeof(m), &small, 1, MSG_DONTWAIT);
    if (n == (ssize_t)sizeof(m)) {
      sent++;
      continue;
    }
    if (n == -EPIPE || n == -ECONNRESET)
      break; /* our side closed */
    if (n < 0 && n != -EAGAIN)
      HP_FAIL("pipelined send: %s", strerror((int)-n));
    if (hp_now_ms() >= end)
      HP_FAIL("our side neither read on nor closed after %d pipelined regions", sent);
    pump(2);
  }
  /* now read whatever came back: ACKs, maybe a DISCONNECT, then EOF */
  int acks = 0, discs = 0;
  for (;;) {
    nmif_msg_t m;
    ssize_t n = hp_recv(p, &m, NULL, NULL, REPLY_TIMEOUT_MS);
    if (n == 0)
      break;
    if (n == -ETIMEDOUT)
      HP_FAIL("connection not closed");
    acks += m.type == NMIF_MSG_ACK;
    if (m.type == NMIF_MSG_DISCONNECT) {
      discs++;
      hp_record_disconnect(p, &m);
    }
  }
  printf("    pipelined: %d sent, %d ACKs read back, DISCONNECT %s%s%s\n", sent, acks,
         discs ? "\"" : "none (reply did not fit)", discs ? p->disc_reason : "", discs ? "\"" : "");
  close(p->fd);
  p->fd = -1;
}

static const struct mcase cases[] = {
    MASTER_RUN("region: flood past the limit", O_REJECT_BOUND, BOUND, region_flood),
    MASTER_RUN("flood: 100 idle connections", O_REJECT, SHORT, connection_flood),
    MASTER_RUN("flood: pipelined regions, replies unread", O_PEER_LEFT, BOUND, pipelined_regions),
};

const struct case_table flood_cases = TABLE("floods", cases);
