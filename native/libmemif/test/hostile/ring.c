/* The hostile peer's well-behaved data path (see ring.h). */
#include "ring.h"

#include <string.h>
#include <unistd.h>

#include "flow.h"

/* As a slave the peer transmits on S2M and receives on M2S; a master the other way round. */
static int tx_is_m2s(const struct hp_peer *p) { return p->role == HP_MASTER; }

static nmif_ring_t *ring_of(struct hp_peer *p, int m2s, uint16_t *slots) {
  if (p->role == HP_SLAVE) {
    *slots = (uint16_t)(1u << p->log2);
    return hp_slave_ring(p, m2s);
  }
  *slots = (uint16_t)(1u << p->ring[m2s][0].log2);
  return hp_master_ring(p, m2s, 0);
}

nmif_ring_t *hp_tx_ring(struct hp_peer *p, uint16_t *slots) { return ring_of(p, tx_is_m2s(p), slots); }
nmif_ring_t *hp_rx_ring(struct hp_peer *p, uint16_t *slots) { return ring_of(p, !tx_is_m2s(p), slots); }

int hp_tx_irq_fd(struct hp_peer *p) {
  return p->role == HP_SLAVE ? p->efd[0] : p->ring_fd[1][0];
}
int hp_rx_irq_fd(struct hp_peer *p) {
  return p->role == HP_SLAVE ? p->efd[1] : p->ring_fd[0][0];
}

/* The slave's own buffer for slot j of ring m2s. */
static uint8_t *own_buffer(struct hp_peer *p, int m2s, uint16_t j, uint32_t *offset) {
  uint32_t n = 1u << p->log2;
  *offset = (uint32_t)(p->buf_base + ((uint64_t)m2s * n + j) * p->bsize);
  return p->rbase + *offset;
}

/* ---- transmit ----------------------------------------------------------------------------- */

uint16_t hp_tx_room(struct hp_peer *p) {
  uint16_t n;
  nmif_ring_t *r = hp_tx_ring(p, &n);
  if (p->role == HP_SLAVE) { /* S2M: our master's tail frees slots */
    uint16_t t = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
    uint16_t used = (uint16_t)(p->tx_pos - t);
    return used > n ? 0 : (uint16_t)(n - used);
  }
  /* M2S: our slave's head offers buffers */
  uint16_t h = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
  uint16_t offered = (uint16_t)(h - p->tx_pos);
  return offered > n ? 0 : offered;
}

int hp_tx_frame(struct hp_peer *p, const void *data, uint32_t len, uint32_t seg) {
  uint16_t n;
  nmif_ring_t *r = hp_tx_ring(p, &n);
  uint16_t mask = (uint16_t)(n - 1), room = hp_tx_room(p);
  const uint8_t *src = data;
  uint32_t rem = len;
  uint16_t used = 0;
  do {
    if (used >= room)
      return 0;
    uint16_t s = (uint16_t)(p->tx_pos + used);
    nmif_desc_t *d = &r->desc[s & mask];
    uint8_t *dst;
    uint32_t cap;
    if (p->role == HP_SLAVE) {
      uint32_t off;
      dst = own_buffer(p, 0, s & mask, &off);
      cap = p->bsize;
      d->region = 0;
      d->offset = off;
    } else { /* the capacity our slave offered, in a region it announced */
      nmif_desc_t o = *d;
      if (o.region >= p->nreg || (uint64_t)o.offset + o.length > p->reg[o.region].size)
        return -1;
      dst = p->reg[o.region].base + o.offset;
      cap = o.length;
    }
    if (seg && cap > seg)
      cap = seg;
    uint32_t c = rem < cap ? rem : cap;
    if (c)
      memcpy(dst, src, c);
    src += c;
    rem -= c;
    d->length = c;
    d->flags = rem ? NMIF_DESC_NEXT : 0;
    used++;
  } while (rem > 0);
  p->tx_pos = (uint16_t)(p->tx_pos + used);
  return used;
}

void hp_tx_publish(struct hp_peer *p) {
  uint16_t n;
  nmif_ring_t *r = hp_tx_ring(p, &n);
  __atomic_store_n(p->role == HP_SLAVE ? &r->head : &r->tail, p->tx_pos, __ATOMIC_RELEASE);
}

int hp_tx_signal(struct hp_peer *p) {
  uint16_t n;
  nmif_ring_t *r = hp_tx_ring(p, &n);
  __atomic_thread_fence(__ATOMIC_SEQ_CST); /* counter store before the flags load */
  if (__atomic_load_n(&r->flags, __ATOMIC_RELAXED) & NMIF_RING_MASK_INT)
    return 0;
  uint64_t one = 1;
  return write(hp_tx_irq_fd(p), &one, sizeof(one)) == sizeof(one);
}

/* ---- receive ------------------------------------------------------------------------------ */

void hp_rx_release(struct hp_peer *p) {
  uint16_t n;
  nmif_ring_t *r = hp_rx_ring(p, &n);
  if (p->role == HP_MASTER) {
    __atomic_store_n(&r->tail, p->rx_pos, __ATOMIC_RELEASE);
    return;
  }
  /* offer again every slot up to N ahead of what was read, with the peer's own buffers */
  uint16_t mask = (uint16_t)(n - 1), head = r->head, upto = (uint16_t)(p->rx_pos + n);
  for (uint16_t s = head; s != upto; s++) {
    nmif_desc_t *d = &r->desc[s & mask];
    uint32_t off;
    own_buffer(p, 1, s & mask, &off);
    d->region = 0;
    d->offset = off;
    d->length = p->bsize;
    d->flags = 0;
  }
  __atomic_store_n(&r->head, upto, __ATOMIC_RELEASE);
}

void hp_rx_offer(struct hp_peer *p) { hp_rx_release(p); }

int hp_rx_frame(struct hp_peer *p, uint8_t *buf, uint32_t cap, uint64_t *len, uint32_t *segs) {
  uint16_t n;
  nmif_ring_t *r = hp_rx_ring(p, &n);
  uint16_t mask = (uint16_t)(n - 1);
  uint16_t end = __atomic_load_n(p->role == HP_SLAVE ? &r->tail : &r->head, __ATOMIC_ACQUIRE);
  uint16_t avail = (uint16_t)(end - p->rx_pos);
  if (avail > n)
    return -1;
  uint64_t total = 0;
  uint16_t k = 0;
  for (;;) {
    if (k >= avail)
      return 0; /* nothing, or a chain not yet complete */
    uint16_t s = (uint16_t)(p->rx_pos + k);
    nmif_desc_t d = r->desc[s & mask];
    const uint8_t *src;
    if (p->role == HP_SLAVE) {
      uint32_t off;
      src = own_buffer(p, 1, s & mask, &off);
      if (d.length > p->bsize)
        return -1;
    } else {
      if (d.region >= p->nreg || (uint64_t)d.offset + d.length > p->reg[d.region].size)
        return -1;
      src = p->reg[d.region].base + d.offset;
    }
    if (total < cap) {
      uint64_t c = cap - total < d.length ? cap - total : d.length;
      memcpy(buf + total, src, (size_t)c);
    }
    total += d.length;
    k++;
    if (!(d.flags & NMIF_DESC_NEXT))
      break;
  }
  p->rx_pos = (uint16_t)(p->rx_pos + k);
  *len = total;
  if (segs)
    *segs = k;
  return 1;
}
