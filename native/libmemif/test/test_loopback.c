/* In-process loopback: a master on a listener socket and a slave on a client socket, same
 * path, one process. Traffic both ways on 2 queues, sizes 60..9000 (chained buffers), every
 * packet checksummed and compared byte for byte; in polling mode, interrupt mode, and the
 * slave's zero-copy swap (master -> slave -> swapped back -> master); and in interrupt mode
 * with the rx eventfds watched edge-triggered (irq_edge_triggered), where the library never
 * reads them and every interrupt must still be seen.
 *
 * NMIF_LOOPBACK_PACKETS overrides the packets per mode (default 1,000,000). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "nmemif.h"

#define QUEUES 2
#define BURST 64
#define MAX_PKT 9000

enum run_mode { POLLING, INTERRUPT, ZEROCOPY, INTERRUPT_EDGE };
static const char *const mode_names[] = {"polling", "interrupt", "zero-copy", "irq-edge"};

typedef struct side {
  nmif_if_t *iface;
  int connected;
  int rx_pending[QUEUES];
  /* per tx queue: next sequence to send; per rx queue: next expected */
  uint32_t tx_seq[QUEUES];
  uint32_t rx_seq[QUEUES];
} side_t;

typedef struct ctx {
  nmif_loop_t *loop;
  side_t master, slave;
  enum run_mode mode;
  uint32_t per_queue;            /* packets per (direction, queue) */
  uint64_t bytes_checked;
  uint32_t zc_offset[QUEUES][65536]; /* zero-copy: where the master wrote each seq */
} ctx_t;

/* ---- packet content ------------------------------------------------------------------- */

static uint32_t mix(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

/* Mostly ordinary sizes, every 8th packet a jumbo of 1.5 to 9 KB: the range is covered and
 * chains (bsize 2048) are frequent without making the test slow. */
static uint32_t pkt_len(int dir, int q, uint32_t seq) {
  uint32_t h = mix(seq * 4u + (uint32_t)(dir * 2 + q));
  if ((seq & 7) == 7)
    return 1501 + h % (MAX_PKT - 1500);
  return 60 + h % 1441;
}

static uint32_t csum(const uint8_t *p, uint32_t n) {
  uint32_t a = 1, b = 0; /* Adler-32 */
  for (uint32_t k = 0; k < n; k++) {
    a = (a + p[k]) % 65521;
    b = (b + a) % 65521;
  }
  return (b << 16) | a;
}

/* [0..3] seq, [4..7] len, [8..11] checksum of [12..len), then a pattern. */
static void pkt_build(uint8_t *p, int dir, int q, uint32_t seq, uint32_t len) {
  uint8_t seed = (uint8_t)mix(seq ^ (uint32_t)(dir << 8 | q));
  for (uint32_t k = 12; k < len; k++)
    p[k] = (uint8_t)(seed + k * 31);
  memcpy(p, &seq, 4);
  memcpy(p + 4, &len, 4);
  uint32_t c = csum(p + 12, len - 12);
  memcpy(p + 8, &c, 4);
}

static void pkt_verify(ctx_t *x, const uint8_t *p, uint32_t got_len, int dir, int q,
                       uint32_t seq) {
  static uint8_t want[MAX_PKT];
  uint32_t len = pkt_len(dir, q, seq);
  uint32_t seq_in, len_in, c_in;
  memcpy(&seq_in, p, 4);
  memcpy(&len_in, p + 4, 4);
  memcpy(&c_in, p + 8, 4);
  if (got_len != len || seq_in != seq || len_in != len) {
    fprintf(stderr, "dir %d q %d: expected seq %u len %u, got seq %u len %u (hdr len %u)\n", dir,
            q, seq, len, seq_in, got_len, len_in);
    exit(1);
  }
  CHECK_EQ(csum(p + 12, len - 12), c_in);
  pkt_build(want, dir, q, seq, len);
  CHECK(memcmp(want, p, len) == 0);
  x->bytes_checked += len;
}

/* ---- callbacks ------------------------------------------------------------------------- */

static void on_connect(nmif_if_t *i, void *user) { ((side_t *)user)->connected = 1; }
static void on_disconnect(nmif_if_t *i, const char *reason, void *user) {
  ((side_t *)user)->connected = 0; /* the traffic loop checks the link stays up */
}
static void on_rx(nmif_if_t *i, uint16_t qid, void *user) { ((side_t *)user)->rx_pending[qid] = 1; }

/* ---- traffic ---------------------------------------------------------------------------- */

/* dir 0: slave -> master (S2M), dir 1: master -> slave (M2S). */
static void send_some(ctx_t *x, side_t *s, int dir) {
  static uint8_t pkt[BURST][MAX_PKT];
  const void *ptrs[BURST];
  uint32_t lens[BURST];
  for (int q = 0; q < QUEUES; q++) {
    uint32_t n = 0;
    while (n < BURST && s->tx_seq[q] + n < x->per_queue) {
      uint32_t seq = s->tx_seq[q] + n;
      lens[n] = pkt_len(dir, q, seq);
      pkt_build(pkt[n], dir, q, seq, lens[n]);
      ptrs[n] = pkt[n];
      n++;
    }
    if (n == 0)
      continue;
    if (x->mode == ZEROCOPY) {
      /* Allocate in place so we know where each packet was written. */
      nmif_buf_t b[BURST * 5];
      int got = nmif_tx_alloc(s->iface, (uint16_t)q, b, BURST * 5);
      CHECK(got >= 0);
      int used = 0;
      uint32_t k = 0;
      for (; k < n; k++) {
        uint32_t need = (lens[k] + 2047) / 2048;
        if (used + (int)need > got)
          break;
        x->zc_offset[q][(s->tx_seq[q] + k) & 0xffff] = b[used].offset;
        uint32_t rem = lens[k];
        const uint8_t *src = ptrs[k];
        while (rem) {
          uint32_t c = rem < b[used].len ? rem : b[used].len;
          memcpy(b[used].data, src, c);
          b[used].len = c;
          rem -= c;
          src += c;
          b[used].flags = rem ? NMIF_BUF_NEXT : 0;
          used++;
        }
      }
      if (used) {
        CHECK_EQ(nmif_tx_burst(s->iface, (uint16_t)q, b, (uint16_t)used), used);
      } else {
        nmif_tx_burst(s->iface, (uint16_t)q, b, 0); /* give the reservation back */
      }
      s->tx_seq[q] += k;
    } else {
      int sent = nmif_tx_copy(s->iface, (uint16_t)q, ptrs, lens, (uint16_t)n);
      CHECK(sent >= 0);
      s->tx_seq[q] += (uint32_t)sent;
    }
  }
}

/* Receives everything available on rx queue q of side s, verifying each packet. */
static int drain(ctx_t *x, side_t *s, int dir, int q) {
  static uint8_t pkt[MAX_PKT];
  nmif_buf_t b[256];
  int total = 0;
  for (;;) {
    int n = nmif_rx_burst(s->iface, (uint16_t)q, b, 256);
    CHECK_OK(n);
    if (n == 0)
      break;
    total += n;
    if (x->mode == ZEROCOPY && s == &x->slave) {
      /* Echo without copying: the received buffers become tx buffers. */
      int moved = nmif_tx_swap(s->iface, (uint16_t)q, (uint16_t)q, b, (uint16_t)n);
      CHECK_EQ(moved, n); /* the echo ring has room: master drains it each round */
      CHECK_EQ(nmif_tx_burst(s->iface, (uint16_t)q, b, (uint16_t)n), n);
      CHECK_EQ(nmif_rx_release(s->iface, (uint16_t)q, (uint16_t)n), n);
      for (int k = 0; k < n; k++)
        s->rx_seq[q] += !(b[k].flags & NMIF_BUF_NEXT);
      continue;
    }
    uint32_t len = 0;
    for (int k = 0; k < n; k++) {
      CHECK(len + b[k].len <= MAX_PKT);
      memcpy(pkt + len, b[k].data, b[k].len);
      if (len == 0 && x->mode == ZEROCOPY) {
        /* Same buffer the master wrote: the swap moved no bytes. */
        CHECK_EQ(b[k].offset, x->zc_offset[q][s->rx_seq[q] & 0xffff]);
      }
      len += b[k].len;
      if (!(b[k].flags & NMIF_BUF_NEXT)) {
        pkt_verify(x, pkt, len, x->mode == ZEROCOPY ? 1 : dir, q, s->rx_seq[q]++);
        len = 0;
      }
    }
    CHECK_EQ(len, 0); /* whole packets only */
    CHECK_EQ(nmif_rx_release(s->iface, (uint16_t)q, (uint16_t)n), n);
  }
  return total;
}

static int done(ctx_t *x) {
  for (int q = 0; q < QUEUES; q++) {
    if (x->master.rx_seq[q] < x->per_queue)
      return 0;
    if (x->mode != ZEROCOPY && x->slave.rx_seq[q] < x->per_queue)
      return 0;
  }
  return 1;
}

static void run(const char *path, enum run_mode mode, uint32_t total_packets) {
  ctx_t *x = calloc(1, sizeof(*x));
  CHECK(x);
  x->mode = mode;
  /* total over both directions and both queues (zero-copy: one direction, echoed) */
  x->per_queue = total_packets / (mode == ZEROCOPY ? QUEUES : 2 * QUEUES);
  CHECK_OK(nmif_loop_create(&x->loop));

  const int irq = mode == INTERRUPT || mode == INTERRUPT_EDGE;
  nmif_socket_args_t sa = {.path = path, .fd_update = nmif_loop_fd_update, .fd_update_ctx = x->loop,
                           .irq_edge_triggered = mode == INTERRUPT_EDGE};
  nmif_socket_t *listener, *client;
  CHECK_OK(nmif_socket_create(&listener, &sa));
  CHECK_OK(nmif_socket_create(&client, &sa));

  nmif_if_args_t ma = {.id = 7, .is_master = 1, .rx_queues = QUEUES, .tx_queues = QUEUES,
                       .secret = "s3cret", .on_connect = on_connect,
                       .on_disconnect = on_disconnect, .user = &x->master};
  nmif_if_args_t sl = ma;
  sl.is_master = 0;
  sl.user = &x->slave;
  if (irq)
    ma.on_rx = sl.on_rx = on_rx;
  CHECK_OK(nmif_if_create(listener, &x->master.iface, &ma));
  CHECK_OK(nmif_if_create(client, &x->slave.iface, &sl));
  for (int k = 0; k < 200 && !(x->master.connected && x->slave.connected); k++)
    nmif_loop_run(x->loop, 10);
  CHECK(x->master.connected && x->slave.connected);
  for (int q = 0; q < QUEUES; q++) {
    nmif_rx_mode_t rm = irq ? NMIF_RX_INTERRUPT : NMIF_RX_POLLING;
    CHECK_OK(nmif_set_rx_mode(x->master.iface, (uint16_t)q, rm));
    CHECK_OK(nmif_set_rx_mode(x->slave.iface, (uint16_t)q, rm));
  }

  uint64_t rounds = 0;
  while (!done(x)) {
    CHECK(x->master.connected && x->slave.connected);
    if (mode != ZEROCOPY)
      send_some(x, &x->slave, 0);
    send_some(x, &x->master, 1);
    if (irq) {
      /* Sleep until an interrupt arrives; the handlers mark queues to drain. */
      int r = nmif_loop_run(x->loop, 1000);
      CHECK(r > 0); /* something must have been signalled */
      for (int q = 0; q < QUEUES; q++) {
        if (x->master.rx_pending[q]) {
          x->master.rx_pending[q] = 0;
          drain(x, &x->master, 0, q);
        }
        if (x->slave.rx_pending[q]) {
          x->slave.rx_pending[q] = 0;
          drain(x, &x->slave, 1, q);
        }
      }
    } else {
      for (int q = 0; q < QUEUES; q++) {
        drain(x, &x->slave, 1, q);
        drain(x, &x->master, 0, q);
      }
      if ((++rounds & 63) == 0)
        nmif_loop_run(x->loop, 0);
    }
  }

  uint64_t pk = 0, irq_rx = 0, irq_tx = 0;
  for (int q = 0; q < QUEUES; q++) {
    const nmif_stats_t *ms = nmif_stats(x->master.iface, 0, (uint16_t)q);
    const nmif_stats_t *ss = nmif_stats(x->slave.iface, 0, (uint16_t)q);
    CHECK_EQ(ms->drop_bad_desc, 0);
    pk += ms->packets + (mode == ZEROCOPY ? 0 : ss->packets);
    irq_rx += ms->irq_received + ss->irq_received;
    irq_tx += nmif_stats(x->master.iface, 1, (uint16_t)q)->irq_sent +
              nmif_stats(x->slave.iface, 1, (uint16_t)q)->irq_sent;
  }
  CHECK_EQ(pk, (uint64_t)x->per_queue * (mode == ZEROCOPY ? QUEUES : 2 * QUEUES));
  if (irq) {
    CHECK(irq_rx > 0 && irq_tx > 0);
  } else {
    CHECK_EQ(irq_tx, 0); /* polling: MASK_INT set, nobody signals */
  }
  printf("%-9s: %llu packets, %llu bytes verified, interrupts sent %llu received %llu\n",
         mode_names[mode], (unsigned long long)pk, (unsigned long long)x->bytes_checked,
         (unsigned long long)irq_tx, (unsigned long long)irq_rx);

  if (mode == INTERRUPT_EDGE) {
    /* Nobody emptied the counters: each queue's eventfd still holds the signals. */
    for (int q = 0; q < QUEUES; q++) {
      CHECK_EQ(nmif_rx_queue_ack(x->master.iface, (uint16_t)q), 1);
      CHECK_EQ(nmif_rx_queue_ack(x->slave.iface, (uint16_t)q), 1);
    }
  }

  CHECK_OK(nmif_if_destroy(x->slave.iface));
  for (int k = 0; k < 100 && x->master.connected; k++)
    nmif_loop_run(x->loop, 10);
  CHECK(!x->master.connected);
  nmif_details_t d;
  CHECK_OK(nmif_if_details(x->master.iface, &d));
  CHECK(strstr(d.last_disconnect_reason, "interface deleted") != NULL);
  CHECK_OK(nmif_socket_destroy(client));
  CHECK_OK(nmif_socket_destroy(listener));
  nmif_loop_destroy(x->loop);
  free(x);
}

int main(void) {
  const char *env = getenv("NMIF_LOOPBACK_PACKETS");
  uint32_t total = env ? (uint32_t)strtoul(env, NULL, 10) : 1000000u;
  char dir[] = "/tmp/nmif-loopback-XXXXXX";
  CHECK(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof(path), "%s/memif.sock", dir);
  run(path, POLLING, total);
  run(path, INTERRUPT, total);
  run(path, ZEROCOPY, total);
  run(path, INTERRUPT_EDGE, total / 50);
  /* and once over an abstract socket */
  char abs[64];
  snprintf(abs, sizeof(abs), "@nmif-loopback-%d", (int)getpid());
  run(abs, POLLING, total / 10);
  unlink(path);
  rmdir(dir);
  return 0;
}
