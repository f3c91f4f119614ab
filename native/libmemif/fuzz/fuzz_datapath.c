/*
 * Fuzzes the data path: a connected master/slave pair of our library in this process (one
 * memfd region, mapped by both), and an input that interleaves burst calls on either side
 * with writes of any shared word (ring counters, flags, descriptors) as a peer could make
 * them at any time. The format is in fuzz_datapath.h.
 *
 * Each input runs on a fresh connection (the slave is created for it and destroyed after), so
 * it behaves the same every time it runs. Checked after every call: the return value is one the API documents,
 * and every buffer handed out lies inside a region the caller mapped (ASan cannot see an
 * overrun that stays inside a mapping, so this is checked explicitly; the buffer is also read
 * and, for tx, written, so one outside any mapping faults).
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "fuzz_datapath.h"
#include "wire.h"

struct side_state {
  nmif_if_t *iface;
  uint64_t rx_irqs;
  nmif_buf_t tx[256];            /* last alloc (or swap, for the slave) */
  int ntx;
  nmif_buf_t rx[256];            /* last rx burst */
  int nrx;
};

static struct {
  int ready;
  nmif_loop_t *loop;
  char path[64];
  nmif_socket_t *msock, *ssock;
  struct side_state side[2];     /* [0] our master, [1] our slave */
  nmif_ring_t *ring[2];          /* [0] S2M, [1] M2S, in the slave's mapping */
  uint8_t pattern[65536];
} H;

/* Interrupts come through the loop (on_rx set, rx queues in interrupt mode by default). */
static void on_rx(nmif_if_t *i, uint16_t qid, void *user) {
  FUZZ_CHECK(qid == 0);
  ((struct side_state *)user)->rx_irqs++;
}

static void setup(void) {
  fuzz_quiet_log();
  FUZZ_CHECK(nmif_loop_create(&H.loop) == 0);
  snprintf(H.path, sizeof(H.path), "@nmif-fuzz-dp-%d", (int)getpid());
  H.msock = fuzz_socket(H.loop, H.path);
  H.ssock = fuzz_socket(H.loop, H.path);
  nmif_if_args_t a;
  memset(&a, 0, sizeof(a));
  a.is_master = 1;
  a.on_rx = on_rx;
  a.on_disconnect = fuzz_on_disconnect;
  a.user = &H.side[0];
  FUZZ_CHECK(nmif_if_create(H.msock, &H.side[0].iface, &a) == 0);
  for (size_t k = 0; k < sizeof(H.pattern); k++)
    H.pattern[k] = (uint8_t)(k * 7 + 1);
  H.ready = 1;
}

static int both_up(void *ctx) {
  return nmif_if_is_connected(H.side[0].iface) && H.side[1].iface &&
         nmif_if_is_connected(H.side[1].iface);
}
static int master_down(void *ctx) { return !nmif_if_is_connected(H.side[0].iface); }

static nmif_ring_t *ring_of(nmif_if_t *slave, int is_tx) {
  nmif_ring_details_t d;
  FUZZ_CHECK(nmif_ring_details(slave, is_tx, 0, &d) == 0);
  uint64_t size;
  uint8_t *base = nmif_region_base(slave, d.region, &size);
  FUZZ_CHECK(base && (uint64_t)d.offset + nmif__ring_bytes(FDP_LOG2) <= size);
  return (nmif_ring_t *)(base + d.offset);
}

/* A fresh connection: the slave is created and connects at once. */
static void connect_pair(void) {
  nmif_if_args_t a;
  memset(&a, 0, sizeof(a));
  a.log2_ring_size = FDP_LOG2;
  a.buffer_size = FDP_BSIZE;
  a.on_rx = on_rx;
  a.on_disconnect = fuzz_on_disconnect;
  a.user = &H.side[1];
  FUZZ_CHECK(nmif_if_create(H.ssock, &H.side[1].iface, &a) == 0);
  FUZZ_CHECK(fuzz_pump_until(H.loop, both_up, NULL, FUZZ_WAIT_MS));
  H.ring[0] = ring_of(H.side[1].iface, 1); /* the slave transmits on S2M */
  H.ring[1] = ring_of(H.side[1].iface, 0);
  for (int s = 0; s < 2; s++)
    H.side[s].ntx = H.side[s].nrx = 0;
}

/* Ends the input's connection: what an input allocates is freed within it (libFuzzer looks
 * for leaks when an input's mallocs and frees differ). */
static void disconnect_pair(void) {
  FUZZ_CHECK(nmif_if_destroy(H.side[1].iface) == 0);
  H.side[1].iface = NULL;
  FUZZ_CHECK(fuzz_pump_until(H.loop, master_down, NULL, FUZZ_WAIT_MS));
}

/* ---- invariants ------------------------------------------------------------------------------ */

static void check_ret(int r, int allowed_extra) {
  FUZZ_CHECK(r >= 0 || r == NMIF_ENOTCONN || r == NMIF_EPROTO || r == NMIF_EINVAL ||
             r == NMIF_ERANGE || r == allowed_extra);
}

static void check_bufs(nmif_if_t *i, nmif_buf_t *b, int n, int write) {
  for (int k = 0; k < n; k++) {
    uint64_t size = 0;
    uint8_t *base = nmif_region_base(i, b[k].region, &size);
    FUZZ_CHECK(base != NULL);
    FUZZ_CHECK((uint8_t *)b[k].data == base + b[k].offset);
    FUZZ_CHECK((uint64_t)b[k].offset + b[k].len <= size);
    if (b[k].len == 0)
      continue;
    volatile uint8_t *d = b[k].data;
    uint8_t x = d[0];
    x ^= d[b[k].len - 1];
    if (write) {
      d[0] = x;
      d[b[k].len - 1] = x;
    }
  }
}

/* ---- the interpreter ----------------------------------------------------------------------- */

struct reader {
  const uint8_t *p;
  size_t n, at;
};

static uint8_t u8(struct reader *r) { return r->at < r->n ? r->p[r->at++] : 0; }
static uint16_t u16(struct reader *r) {
  uint16_t lo = u8(r);
  return (uint16_t)(lo | u8(r) << 8);
}
static uint32_t u32(struct reader *r) {
  uint32_t lo = u16(r);
  return lo | (uint32_t)u16(r) << 16;
}

/* The shared rings stay mapped until the slave's teardown (the master's may come first). */
static int rings_mapped(void) { return nmif_if_is_connected(H.side[1].iface); }

static void poke16(uint8_t sel, uint16_t v) {
  if (!rings_mapped())
    return;
  nmif_ring_t *r = H.ring[sel & 1];
  uint16_t *w;
  switch ((sel >> 1) & 3) {
  case 0: w = &r->head; break;
  case 1: w = &r->tail; break;
  case 2: w = &r->flags; break;
  default: w = (uint16_t *)&r->cookie; break;
  }
  if (sel & 8)
    v = (uint16_t)(__atomic_load_n(w, __ATOMIC_RELAXED) + v);
  __atomic_store_n(w, v, __ATOMIC_RELEASE);
}

static void poke_desc(uint8_t sel, uint8_t slot, uint32_t v) {
  if (!rings_mapped())
    return;
  nmif_desc_t *d = &H.ring[sel & 1]->desc[slot & ((1u << FDP_LOG2) - 1)];
  switch ((sel >> 1) & 7) {
  case 0: __atomic_store_n(&d->flags, (uint16_t)v, __ATOMIC_RELAXED); break;
  case 1: __atomic_store_n(&d->region, (uint16_t)v, __ATOMIC_RELAXED); break;
  case 2: __atomic_store_n(&d->length, v, __ATOMIC_RELAXED); break;
  case 3: __atomic_store_n(&d->offset, v, __ATOMIC_RELAXED); break;
  default: __atomic_store_n(&d->metadata, v, __ATOMIC_RELAXED); break;
  }
}

static struct side_state *side_of(uint8_t sel, uint16_t *qid) {
  *qid = (sel >> 1) & 1;
  return &H.side[sel & 1];
}

static void op_burst(struct reader *rd) {
  uint16_t qid;
  struct side_state *s = side_of(u8(rd), &qid);
  int count = u8(rd);
  if (count > s->ntx)
    count = s->ntx;
  nmif_buf_t b[256];
  memcpy(b, s->tx, sizeof(b[0]) * (size_t)count);
  for (int k = 0; k < count; k++) {
    uint8_t l = u8(rd), f = u8(rd);
    if (l == 255)
      b[k].len = 0;
    else if (l)
      b[k].len = 2u * l;
    b[k].flags = f & NMIF_BUF_NEXT;
    if (f & 2)
      b[k].slot++;
  }
  int r = nmif_tx_burst(s->iface, qid, b, (uint16_t)count);
  check_ret(r, 0);
  FUZZ_CHECK(r <= count);
  s->ntx = 0; /* unsent reservations are dropped */
}

static void op_copy(struct reader *rd) {
  uint16_t qid;
  struct side_state *s = side_of(u8(rd), &qid);
  int n = u8(rd) % 4 + 1;
  const void *pkts[4];
  uint32_t lens[4];
  for (int k = 0; k < n; k++) {
    lens[k] = u16(rd);
    pkts[k] = H.pattern;
  }
  int r = nmif_tx_copy(s->iface, qid, pkts, lens, (uint16_t)n);
  check_ret(r, 0);
  FUZZ_CHECK(r <= n);
  s->ntx = 0; /* tx_copy reserves and publishes on its own */
}

static void run_op(struct reader *rd, uint8_t op) {
  switch (op % OP_COUNT) {
  case OP_POKE16: {
    uint8_t sel = u8(rd);
    poke16(sel, u16(rd));
    break;
  }
  case OP_POKE_DESC: {
    uint8_t sel = u8(rd), slot = u8(rd);
    poke_desc(sel, slot, u32(rd));
    break;
  }
  case OP_RX: {
    uint16_t qid;
    struct side_state *s = side_of(u8(rd), &qid);
    uint16_t max = (uint16_t)(u8(rd) + 1);
    int r = nmif_rx_burst(s->iface, qid, s->rx, max);
    check_ret(r, NMIF_ENOBUFS);
    FUZZ_CHECK(r <= max);
    if (r > 0)
      check_bufs(s->iface, s->rx, r, 0);
    s->nrx = r > 0 ? r : 0;
    break;
  }
  case OP_RELEASE: {
    uint16_t qid;
    struct side_state *s = side_of(u8(rd), &qid);
    int r = nmif_rx_release(s->iface, qid, u8(rd));
    check_ret(r, 0);
    s->nrx = 0;
    break;
  }
  case OP_ALLOC: {
    uint16_t qid;
    struct side_state *s = side_of(u8(rd), &qid);
    uint16_t max = (uint16_t)(u8(rd) + 1);
    int r = nmif_tx_alloc(s->iface, qid, s->tx, max);
    check_ret(r, 0);
    FUZZ_CHECK(r <= max);
    if (r > 0)
      check_bufs(s->iface, s->tx, r, 1);
    s->ntx = r > 0 ? r : 0;
    break;
  }
  case OP_BURST:
    op_burst(rd);
    break;
  case OP_COPY:
    op_copy(rd);
    break;
  case OP_SWAP: {
    uint16_t qid;
    struct side_state *s = side_of(u8(rd), &qid);
    int count = u8(rd);
    if (count > s->nrx)
      count = s->nrx;
    memcpy(s->tx, s->rx, sizeof(s->tx[0]) * (size_t)count);
    int r = nmif_tx_swap(s->iface, qid, qid, s->tx, (uint16_t)count);
    check_ret(r, NMIF_ENOTSUP);
    FUZZ_CHECK(r <= count);
    s->ntx = r > 0 ? r : 0;
    if (r > 0) /* bufs now describe tx slots holding the received data */
      check_bufs(s->iface, s->tx, r, 1);
    break;
  }
  case OP_ARM: {
    uint16_t qid;
    struct side_state *s = side_of(u8(rd), &qid);
    int r = nmif_rx_arm(s->iface, qid, u8(rd) & 1);
    check_ret(r, 0);
    break;
  }
  case OP_IRQ_BLOCK: {
    int fd = nmif_rx_queue_fd(H.side[u8(rd) & 1].iface, 0);
    if (fd >= 0) {
      int fl = fcntl(fd, F_GETFL);
      FUZZ_CHECK(fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0);
    }
    break;
  }
  default: /* OP_LOOP */
    fuzz_pump(H.loop);
    break;
  }
}

void fdp_run(const uint8_t *data, size_t size, fdp_observer_fn observe, void *ctx) {
  if (!H.ready)
    setup();
  connect_pair();
  struct reader rd = {data, size, 0};
  if (observe)
    observe(ctx, data, 0, rings_mapped() ? H.ring : NULL);
  for (int ops = 0; rd.at < rd.n && ops < FDP_MAX_OPS; ops++) {
    size_t start = rd.at;
    run_op(&rd, u8(&rd));
    if (observe)
      observe(ctx, data + start, rd.at - start, rings_mapped() ? H.ring : NULL);
  }
  fuzz_pump(H.loop);
  disconnect_pair();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fdp_run(data, size, NULL, NULL);
  return 0;
}
