/* The memif backend: one queue pair of an nmif interface, through a queue lease.
 *
 * rx hands out the ring's own buffers (zero-copy, chains become multi-segment packets) and
 * holds the lease's gate until rx_done has released them, so the mapping cannot go away while
 * the other port copies from it. tx copies into buffers reserved from the tx ring, chaining as
 * many as a packet needs, and publishes them with one tx_burst. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "copy.h"
#include "port.h"

#define NHAL_STR_(x) #x
#define NHAL_STR(x) NHAL_STR_(x)

typedef struct memif_port {
  nhal_port_t base;
  nmif_lease_t *lease;
  nmif_if_t *rx_iface;          /* while the gate is held between rx_burst and rx_done */
  uint16_t qid;
  uint16_t rx_held;             /* buffers of the last rx_burst, released by rx_done */
  int rx_in;                    /* the gate is held between rx_burst and rx_done */
  uint32_t tx_buf_size;         /* learned from tx_alloc; 2048 until then */
  nmif_buf_t rxb[NHAL_SEGS_MAX];
  nmif_buf_t txb[NHAL_SEGS_MAX];
} memif_port_t;

static int memif_rx_burst(nhal_port_t *p, nhal_batch_t *b, uint16_t max) {
  memif_port_t *m = (memif_port_t *)p;
  nhal__batch_reset(b);
  if (nmif_lease_enter(m->lease) < 0) {
    NHAL_STAT_ADD(p->stats, NHAL_ST_DOWN_POLLS, 1);
    return -ENOTCONN;
  }
  nmif_if_t *iface = nmif_lease_iface(m->lease);
  if (max > NHAL_BURST_MAX) max = NHAL_BURST_MAX;
  /* Ask for as many buffers as packets: with chains we get fewer packets, never more. */
  int n = nmif_rx_burst(iface, m->qid, m->rxb, max);
  if (n == -ENOBUFS) n = nmif_rx_burst(iface, m->qid, m->rxb, NHAL_SEGS_MAX);  /* one long chain */
  if (n == -ENOBUFS) {  /* legal, but more buffers than a batch holds: not left blocking the ring */
    nmif_rx_refuse(iface, m->qid, "chain longer than " NHAL_STR(NHAL_SEGS_MAX) " buffers");
    n = -EPROTO;
  }
  if (n <= 0) {
    nmif_lease_leave(m->lease);
    if (n == -ENOTCONN) NHAL_STAT_ADD(p->stats, NHAL_ST_DOWN_POLLS, 1);
    else if (n < 0) NHAL_STAT_ADD(p->stats, NHAL_ST_RX_ERRORS, 1);
    return n;
  }
  /* Ring buffers become segments in place (zero-copy); a chain ends at a buffer without NEXT.
   * priv stays unset: nothing is handed back per packet, rx_done releases the ring slots. */
  const nmif_buf_t *restrict rb = m->rxb;
  nhal_seg_t *restrict segs = b->segs;
  uint32_t *restrict plen = b->pkt_len;
  uint16_t *restrict first = b->first;
  uint64_t bytes = 0;
  uint32_t len = 0;
  uint16_t pk = 0;
  int k = 0;
  for (; k < n && pk < NHAL_BURST_MAX; k++) {
    segs[k].data = rb[k].data;
    segs[k].len = rb[k].len;
    len += rb[k].len;
    if (!(rb[k].flags & NMIF_BUF_NEXT)) {
      plen[pk] = len;
      bytes += len;
      len = 0;
      first[++pk] = (uint16_t)(k + 1);
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
  m->rx_iface = iface;
  NHAL_STAT_ADD(p->stats, NHAL_ST_RX_PKTS, pk);
  NHAL_STAT_ADD(p->stats, NHAL_ST_RX_BYTES, bytes);
  NHAL_STAT_ADD(p->stats, NHAL_ST_RX_BURSTS, 1);
  return pk;
}

static void memif_rx_done(nhal_port_t *p, nhal_batch_t *b) {
  memif_port_t *m = (memif_port_t *)p;
  if (!m->rx_in) return;
  nmif_rx_release(m->rx_iface, m->qid, m->rx_held);
  m->rx_held = 0;
  m->rx_in = 0;
  nmif_lease_leave(m->lease);
}

/* Copies packet i of b into ring buffers dst[0..avail), each filled up to its own capacity
 * (a master writes into buffers the slave offered, whose lengths it chose), chaining with
 * NMIF_BUF_NEXT. Returns the buffers used, 0 if they ran out (ring full), or -1 if the packet
 * is empty or needs more than NHAL_PKT_SEGS_MAX buffers. */
static int copy_chained(const nhal_batch_t *b, uint16_t i, nmif_buf_t *dst, uint32_t avail) {
  if (b->pkt_len[i] == 0) return -1;
  uint32_t d = 0, room = dst[0].len;
  uint8_t *w = dst[0].data;
  for (uint16_t s = b->first[i]; s < b->first[i + 1]; s++) {
    const uint8_t *src = b->segs[s].data;
    uint32_t left = b->segs[s].len;
    while (left) {
      if (room == 0) {
        dst[d].flags = NMIF_BUF_NEXT;  /* full: its len is still its capacity */
        if (++d == NHAL_PKT_SEGS_MAX) return -1;
        if (d == avail) return 0;
        w = dst[d].data;
        room = dst[d].len;
      }
      uint32_t c = left < room ? left : room;
      memcpy(w, src, c);
      w += c;
      src += c;
      left -= c;
      room -= c;
    }
  }
  dst[d].len -= room;
  dst[d].flags = 0;
  return (int)d + 1;
}

/* The common case: packets of one segment that fit their buffer, one memcpy each, into
 * buffers fresh from tx_alloc (flags already 0). Returns how many it copied; stops at the
 * first packet that needs the general path. Kept apart so the loop has few live values. */
static uint32_t copy_simple(const nhal_seg_t *restrict segs, nmif_buf_t *restrict dst, uint32_t count) {
  uint32_t k = 0;
  for (; k < count; k++) {
    const uint32_t len = segs[k].len;
    if (len - 1 >= dst[k].len) break;  /* empty, or longer than this buffer */
    nhal__copy(dst[k].data, segs[k].data, len);
    dst[k].len = len;
  }
  return k;
}

static int memif_tx_burst(nhal_port_t *p, const nhal_batch_t *b) {
  memif_port_t *m = (memif_port_t *)p;
  const uint16_t n = b->n_pkts;
  if (n == 0) return 0;
  if (nmif_lease_enter(m->lease) < 0) {
    NHAL_STAT_ADD(p->stats, NHAL_ST_DROP_LINK_DOWN, n);
    return 0;
  }
  nmif_if_t *iface = nmif_lease_iface(m->lease);
  /* Buffers to reserve: one per packet, more for packets longer than the buffer size seen
   * last time (the division is off the common path). Bytes are summed here, once. */
  const uint32_t bs = m->tx_buf_size;
  uint32_t want = n;
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; i++) {
    const uint32_t len = b->pkt_len[i];
    bytes += len;
    if (len > bs) want += (len - 1) / bs;
  }
  if (want > NHAL_SEGS_MAX) want = NHAL_SEGS_MAX;
  int got = nmif_tx_alloc(iface, m->qid, m->txb, (uint16_t)want);
  if (got < 0) {
    nmif_lease_leave(m->lease);
    NHAL_STAT_ADD(p->stats, got == -ENOTCONN ? NHAL_ST_DROP_LINK_DOWN : NHAL_ST_DROP_TX_FULL, n);
    return 0;
  }
  if (got > 0) m->tx_buf_size = m->txb[0].len;

  uint32_t avail = (uint32_t)got;
  uint32_t used = 0;
  uint16_t i = 0, sent, too_big = 0;
  if (b->n_segs == n) {  /* every packet is one segment */
    used = copy_simple(b->segs, m->txb, n < avail ? n : avail);
    i = (uint16_t)used;
  }
  for (; i < n && used < avail; i++) {
    int k;
    /* Out of reserved buffers (the peer offered shorter ones than counted on): reserve more
     * while the ring has them; the reservations extend the same run of slots. */
    while ((k = copy_chained(b, i, &m->txb[used], avail - used)) == 0 && avail < NHAL_SEGS_MAX) {
      int more = nmif_tx_alloc(iface, m->qid, &m->txb[avail], (uint16_t)(NHAL_SEGS_MAX - avail));
      if (more <= 0) break;
      avail += (uint32_t)more;
    }
    if (k == 0) break;  /* ring full: this and the rest are dropped */
    if (k < 0) {        /* its buffers (lengths untouched) go to the next packet */
      too_big++;
      bytes -= b->pkt_len[i];
      continue;
    }
    used += (uint32_t)k;
  }
  sent = (uint16_t)(i - too_big);
  for (uint16_t j = i; j < n; j++) bytes -= b->pkt_len[j];
  int r = used ? nmif_tx_burst(iface, m->qid, m->txb, (uint16_t)used) : 0;
  nmif_lease_leave(m->lease);
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

static int memif_rx_irq(nhal_port_t *p, int arm) {
  memif_port_t *m = (memif_port_t *)p;
  if (nmif_lease_enter(m->lease) < 0) return -ENOTCONN;
  nmif_if_t *iface = nmif_lease_iface(m->lease);
  int r;
  if (arm) {
    r = nmif_rx_arm(iface, m->qid, 1);
    if (r > 0) r = -EAGAIN;
    else if (r == 0) r = nmif_lease_rx_fd(m->lease);
  } else {
    r = nmif_rx_arm(iface, m->qid, 0);
    nmif_rx_queue_ack(iface, m->qid);
  }
  nmif_lease_leave(m->lease);
  return r;
}

static void memif_destroy(nhal_port_t *p) {
  nmif_lease_unref(((memif_port_t *)p)->lease);
  free(p);
}

static const nhal_port_ops_t memif_ops = {
    .kind = "memif",
    .rx_burst = memif_rx_burst,
    .rx_done = memif_rx_done,
    .tx_burst = memif_tx_burst,
    .rx_irq = memif_rx_irq,
    .destroy = memif_destroy,
};

int nhal_memif_port_create(nhal_port_t **out, const char *name, nmif_lease_t *lease,
                           nhal_stats_t *stats) {
  if (!out || !lease || !stats) return -EINVAL;
  memif_port_t *m = calloc(1, sizeof *m);
  if (!m) return -ENOMEM;
  nhal__port_init(&m->base, &memif_ops, name, stats);
  nmif_lease_ref(lease);
  m->lease = lease;
  m->qid = nmif_lease_qid(lease);
  m->tx_buf_size = 2048;
  *out = &m->base;
  return 0;
}
