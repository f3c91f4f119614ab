/* The memif backend: one queue pair of an nmif interface.
 *
 * rx hands out the ring's own buffers (zero-copy, chains become multi-segment packets) and
 * holds the gate until rx_done has released them, so the mapping cannot go away while the
 * other port copies from it. tx copies into buffers reserved from the tx ring, chaining as
 * many as a packet needs, and publishes them with one tx_burst. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "port.h"

typedef struct memif_port {
  nhal_port_t base;
  nmif_if_t *iface;
  uint16_t qid;
  const nhal_gate_ops_t *gate;
  void *gate_ctx;
  uint16_t rx_held;             /* buffers of the last rx_burst, released by rx_done */
  int rx_in;                    /* the gate is held between rx_burst and rx_done */
  uint32_t tx_buf_size;         /* learned from tx_alloc; 2048 until then */
  nmif_buf_t rxb[NHAL_SEGS_MAX];
  nmif_buf_t txb[NHAL_SEGS_MAX];
} memif_port_t;

static int no_gate_enter(void *ctx) { return 0; }
static void no_gate_leave(void *ctx) {}
static const nhal_gate_ops_t no_gate = {no_gate_enter, no_gate_leave};

static int memif_rx_burst(nhal_port_t *p, nhal_batch_t *b, uint16_t max) {
  memif_port_t *m = (memif_port_t *)p;
  nhal__batch_reset(b);
  if (m->gate->enter(m->gate_ctx) < 0) {
    NHAL_STAT_ADD(p->stats, NHAL_ST_DOWN_POLLS, 1);
    return -ENOTCONN;
  }
  if (max > NHAL_BURST_MAX) max = NHAL_BURST_MAX;
  /* Ask for as many buffers as packets: with chains we get fewer packets, never more. */
  int n = nmif_rx_burst(m->iface, m->qid, m->rxb, max);
  if (n == -ENOBUFS) n = nmif_rx_burst(m->iface, m->qid, m->rxb, NHAL_SEGS_MAX);  /* one long chain */
  if (n <= 0) {
    m->gate->leave(m->gate_ctx);
    if (n == -ENOTCONN) NHAL_STAT_ADD(p->stats, NHAL_ST_DOWN_POLLS, 1);
    else if (n < 0) NHAL_STAT_ADD(p->stats, NHAL_ST_RX_ERRORS, 1);
    return n;
  }
  uint64_t bytes = 0;
  uint32_t len = 0;
  uint16_t pk = 0;
  int k = 0;
  for (; k < n && pk < NHAL_BURST_MAX; k++) {
    const nmif_buf_t *nb = &m->rxb[k];
    b->segs[k].data = nb->data;
    b->segs[k].len = nb->len;
    len += nb->len;
    if (!(nb->flags & NMIF_BUF_NEXT)) {
      b->pkt_len[pk] = len;
      b->priv[pk] = NULL;
      bytes += len;
      len = 0;
      b->first[++pk] = (uint16_t)(k + 1);
    }
  }
  /* Only after a retry for one long chain can more than NHAL_BURST_MAX packets come back;
   * the surplus is released unsent and counted as rx errors. */
  for (; k < n; k++)
    if (!(m->rxb[k].flags & NMIF_BUF_NEXT)) NHAL_STAT_ADD(p->stats, NHAL_ST_RX_ERRORS, 1);
  b->n_pkts = pk;
  b->n_segs = b->first[pk];
  m->rx_held = (uint16_t)n;
  m->rx_in = 1;
  NHAL_STAT_ADD(p->stats, NHAL_ST_RX_PKTS, pk);
  NHAL_STAT_ADD(p->stats, NHAL_ST_RX_BYTES, bytes);
  NHAL_STAT_ADD(p->stats, NHAL_ST_RX_BURSTS, 1);
  return pk;
}

static void memif_rx_done(nhal_port_t *p, nhal_batch_t *b) {
  memif_port_t *m = (memif_port_t *)p;
  if (!m->rx_in) return;
  nmif_rx_release(m->iface, m->qid, m->rx_held);
  m->rx_held = 0;
  m->rx_in = 0;
  m->gate->leave(m->gate_ctx);
}

static int memif_tx_burst(nhal_port_t *p, const nhal_batch_t *b) {
  memif_port_t *m = (memif_port_t *)p;
  uint16_t n = b->n_pkts;
  if (n == 0) return 0;
  if (m->gate->enter(m->gate_ctx) < 0) {
    NHAL_STAT_ADD(p->stats, NHAL_ST_DROP_LINK_DOWN, n);
    return 0;
  }
  uint32_t bs = m->tx_buf_size;
  uint32_t want = 0;
  for (uint16_t i = 0; i < n; i++) want += b->pkt_len[i] ? (b->pkt_len[i] + bs - 1) / bs : 1;
  if (want > NHAL_SEGS_MAX) want = NHAL_SEGS_MAX;
  int got = nmif_tx_alloc(m->iface, m->qid, m->txb, (uint16_t)want);
  if (got < 0) {
    m->gate->leave(m->gate_ctx);
    NHAL_STAT_ADD(p->stats, got == -ENOTCONN ? NHAL_ST_DROP_LINK_DOWN : NHAL_ST_DROP_TX_FULL, n);
    return 0;
  }
  if (got > 0) bs = m->tx_buf_size = m->txb[0].len;

  uint16_t used = 0, sent = 0, too_big = 0;
  uint64_t bytes = 0;
  uint16_t i = 0;
  for (; i < n; i++) {
    uint32_t len = b->pkt_len[i];
    uint32_t need = (len + bs - 1) / bs;
    if (len == 0 || need > NHAL_PKT_SEGS_MAX) {
      too_big++;
      continue;
    }
    if (used + need > (uint32_t)got) break;  /* ring full: this and the rest are dropped */
    /* Copy the packet's segments into `need` ring buffers, chained. */
    nmif_buf_t *dst = &m->txb[used];
    uint32_t room = bs, d = 0;
    uint8_t *w = dst->data;
    for (uint16_t s = b->first[i]; s < b->first[i + 1]; s++) {
      const uint8_t *src = b->segs[s].data;
      uint32_t left = b->segs[s].len;
      while (left) {
        if (room == 0) {
          dst[d].len = bs;
          dst[d].flags = NMIF_BUF_NEXT;
          d++;
          w = dst[d].data;
          room = bs;
        }
        uint32_t c = left < room ? left : room;
        memcpy(w, src, c);
        w += c;
        src += c;
        left -= c;
        room -= c;
      }
    }
    dst[d].len = bs - room;
    dst[d].flags = 0;
    used += (uint16_t)need;
    sent++;
    bytes += len;
  }
  int r = used ? nmif_tx_burst(m->iface, m->qid, m->txb, used) : 0;
  m->gate->leave(m->gate_ctx);
  if (r < 0) {  /* link went down under us: nothing was published */
    NHAL_STAT_ADD(p->stats, NHAL_ST_DROP_LINK_DOWN, sent);
    sent = 0;
    bytes = 0;
  }
  NHAL_STAT_ADD(p->stats, NHAL_ST_TX_PKTS, sent);
  NHAL_STAT_ADD(p->stats, NHAL_ST_TX_BYTES, bytes);
  if (too_big) NHAL_STAT_ADD(p->stats, NHAL_ST_DROP_TOO_BIG, too_big);
  if (i < n) NHAL_STAT_ADD(p->stats, NHAL_ST_DROP_TX_FULL, n - i);
  return sent;
}

static void memif_destroy(nhal_port_t *p) { free(p); }

static const nhal_port_ops_t memif_ops = {
    .kind = "memif",
    .rx_burst = memif_rx_burst,
    .rx_done = memif_rx_done,
    .tx_burst = memif_tx_burst,
    .destroy = memif_destroy,
};

int nhal_memif_port_create(nhal_port_t **out, const char *name, nmif_if_t *iface, uint16_t qid,
                           const nhal_gate_ops_t *gate, void *gate_ctx, nhal_stats_t *stats) {
  if (!out || !iface || !stats) return -EINVAL;
  memif_port_t *m = calloc(1, sizeof *m);
  if (!m) return -ENOMEM;
  nhal__port_init(&m->base, &memif_ops, name, stats);
  m->iface = iface;
  m->qid = qid;
  m->gate = gate ? gate : &no_gate;
  m->gate_ctx = gate_ctx;
  m->tx_buf_size = 2048;
  *out = &m->base;
  return 0;
}
