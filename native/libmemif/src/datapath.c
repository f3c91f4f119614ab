/* The data path: rx burst and release, tx alloc/burst/copy, and the slave's zero-copy swap.
 *
 * Every value the peer can write (its counter, descriptors) is read once into a local and
 * checked before use; our own counters live in private copies (nmif__queue_t), never read
 * back from shared memory. A bad value is a protocol violation: the call returns -EPROTO,
 * counts drop_bad_desc, and the control side tears the link down. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "ring.h"

#define COPY_CHUNK 256 /* slots reserved per round by nmif_tx_copy */

void nmif__queue_reset(nmif__queue_t *q, int is_master) {
  q->own = q->seen = q->last = q->alloc = 0;
  /* Each side resets only the counter it owns. */
  if (is_master)
    nmif__store_release(&q->ring->tail, 0);
  else
    nmif__store_release(&q->ring->head, 0);
}

void nmif__violation(struct nmif_if_s *i, nmif__queue_t *q, const char *reason) {
  q->stats->drop_bad_desc++;
  int expected = 0;
  /* 0 -> 2 (writing the reason) -> 1 (ready for the control side) */
  if (atomic_compare_exchange_strong(&i->violation, &expected, 2)) {
    snprintf(i->violation_reason, sizeof(i->violation_reason), "%s on %s queue %u", reason,
             q->is_tx ? "tx" : "rx", (unsigned)q->qid);
    atomic_store(&i->violation, 1);
    nmif__efd_signal(i->wake_fd);
  }
}

static inline int link_ok(const struct nmif_if_s *i) {
  return i->connected && atomic_load_explicit(&i->violation, memory_order_relaxed) == 0;
}

static inline void *region_ptr(const struct nmif_if_s *i, uint16_t region, uint32_t offset) {
  return (uint8_t *)i->regions[region].base + offset;
}

/* A peer-written descriptor is usable if its buffer lies inside a region we mapped. */
static inline int desc_in_bounds(const struct nmif_if_s *i, const nmif_desc_t *d) {
  return d->region < i->num_regions &&
         (uint64_t)d->offset + d->length <= i->regions[d->region].size;
}

static void signal_peer(struct nmif_if_s *i, nmif__queue_t *q) {
  /* The receiver owns flags; MASK_INT set means it polls and wants no wake-ups. The fence
   * orders our counter store before this load (a receiver arming its interrupt stores flags,
   * fences, then re-reads our counter: one of the two sides sees the other). */
  atomic_thread_fence(memory_order_seq_cst);
  if (nmif__read_once16(&q->ring->flags) & NMIF_RING_MASK_INT)
    return;
  int r = nmif__irq_write(q->irq_fd);
  if (r == 0)
    q->stats->irq_sent++;
  else if (r == -EPERM)
    nmif__violation(i, q, "peer made the interrupt fd blocking");
  /* -EAGAIN: the counter is saturated, the peer has a wake-up pending anyway */
}

/* ---- receive ---------------------------------------------------------------------------- */

/* Reads the producer's counter and checks it: it may only move forward, by no more than the
 * slots that can be in flight. Returns 1 and sets *avail on success. */
static int rx_avail(struct nmif_if_s *i, nmif__queue_t *q, uint16_t *avail) {
  if (i->is_master) {
    /* S2M: the slave's head. Slots [own(tail), head) are filled, at most N of them. */
    uint16_t h = nmif__load_acquire(&q->ring->head);
    if (nmif__dist(q->own, h) > q->size || nmif__dist(q->own, h) < nmif__dist(q->own, q->last)) {
      nmif__violation(i, q, "head out of range");
      return 0;
    }
    *avail = nmif__dist(q->last, h);
  } else {
    /* M2S: the master's tail may not pass the buffers we offered (own = head). */
    uint16_t t = nmif__load_acquire(&q->ring->tail);
    if (nmif__dist(q->last, t) > nmif__dist(q->last, q->own)) {
      nmif__violation(i, q, "tail out of range");
      return 0;
    }
    *avail = nmif__dist(q->last, t);
  }
  return 1;
}

/* Validates one received descriptor and fills *b from our trusted view of the buffer. */
static int rx_fill(struct nmif_if_s *i, nmif__queue_t *q, uint16_t pos, nmif_buf_t *b) {
  nmif_desc_t d = nmif__desc_copy(&q->ring->desc[pos & q->mask]);
  if (i->is_master) {
    if (!desc_in_bounds(i, &d)) {
      nmif__violation(i, q, d.region < i->num_regions ? "descriptor outside its region"
                                                       : "descriptor region out of range");
      return -1;
    }
    b->offset = d.offset;
    b->region = d.region;
  } else {
    /* Our own buffer: only length and flags come from the master. */
    const nmif__slot_t *sl = &q->slots[pos & q->mask];
    if (d.length > sl->cap) {
      nmif__violation(i, q, "descriptor length beyond buffer capacity");
      return -1;
    }
    b->offset = sl->offset;
    b->region = sl->region;
  }
  b->data = region_ptr(i, b->region, b->offset);
  b->len = d.length;
  b->flags = d.flags & NMIF_DESC_NEXT;
  b->slot = pos;
  b->qid = q->qid;
  return 0;
}

/* Whether a chain continued at slot pos ends within the avail slots published from there. Only
 * the flags are read (once each): the buffers are validated when a call takes the chain. */
static int chain_ends(const nmif__queue_t *q, uint16_t pos, uint16_t avail) {
  const nmif_desc_t *ring = q->ring->desc;
  for (uint16_t k = 0; k < avail; k++)
    if (!(nmif__read_once16(&ring[(uint16_t)(pos + k) & q->mask].flags) & NMIF_DESC_NEXT))
      return 1;
  return 0;
}

int nmif_rx_burst(nmif_if_t *i, uint16_t qid, nmif_buf_t *bufs, uint16_t max) {
  if (!link_ok(i))
    return i->connected ? NMIF_EPROTO : NMIF_ENOTCONN;
  if (qid >= nmif__num_rx(i))
    return NMIF_ERANGE;
  nmif__queue_t *q = nmif__rxq(i, qid);
  uint16_t avail;
  if (!rx_avail(i, q, &avail))
    return NMIF_EPROTO;
  uint16_t n = 0, pos = q->last;
  uint64_t pkts = 0, bytes = 0;
  {
    const int master = i->is_master;
    const uint16_t nreg = i->num_regions, mask = q->mask;
    const nmif__region_t *reg = i->regions;
    const nmif_desc_t *ring = q->ring->desc;
    const nmif__slot_t *slots = q->slots;
    const uint16_t lim = avail < max ? avail : max;
    while (n < lim) {
      nmif_desc_t d = nmif__desc_copy(&ring[pos & mask]);
      if (d.flags & NMIF_DESC_NEXT)
        break; /* chains take the general path below */
      uint32_t off;
      uint16_t r;
      if (master) {
        if (d.region >= nreg || (uint64_t)d.offset + d.length > reg[d.region].size)
          break; /* the general path reports it */
        off = d.offset;
        r = d.region;
      } else {
        const nmif__slot_t *sl = &slots[pos & mask];
        if (d.length > sl->cap)
          break;
        off = sl->offset;
        r = sl->region;
      }
      nmif_buf_t *b = &bufs[n];
      b->data = (uint8_t *)reg[r].base + off;
      b->len = d.length;
      b->offset = off;
      b->region = r;
      b->flags = 0;
      b->slot = pos;
      b->qid = qid;
      bytes += d.length;
      n++;
      pos++;
    }
    pkts = n;
    avail = (uint16_t)(avail - n);
  }
  while (avail > 0 && n < max) {
    uint16_t start_n = n, start_pos = pos;
    uint64_t pkt_bytes = 0;
    for (;;) {
      if (rx_fill(i, q, pos, &bufs[n]) < 0)
        return NMIF_EPROTO;
      pkt_bytes += bufs[n].len;
      int more = bufs[n].flags & NMIF_BUF_NEXT;
      n++;
      pos++;
      avail--;
      if (!more)
        break;
      if (avail == 0) {
        /* Producers publish whole chains only. */
        nmif__violation(i, q, "incomplete chain");
        return NMIF_EPROTO;
      }
      if (n == max) {
        /* The caller's array is full mid-chain. A chain that ends within what the peer
         * published is legal: leave it for a call with room for it. One that does not end
         * there never will (producers publish whole chains): refuse it, or it blocks the ring. */
        if (!chain_ends(q, pos, avail)) {
          nmif__violation(i, q, "incomplete chain");
          return NMIF_EPROTO;
        }
        n = start_n;
        pos = start_pos;
        if (n == 0)
          return NMIF_ENOBUFS; /* not even one packet fits: say so rather than return 0 */
        goto done;
      }
    }
    pkts++;
    bytes += pkt_bytes;
  }
done:
  q->last = pos;
  q->stats->packets += pkts;
  q->stats->bytes += bytes;
  if (n)
    q->stats->bursts++;
  return n;
}

int nmif_rx_refuse(nmif_if_t *i, uint16_t qid, const char *reason) {
  if (!i || !reason)
    return NMIF_EINVAL;
  if (!i->connected)
    return NMIF_ENOTCONN;
  if (qid >= nmif__num_rx(i))
    return NMIF_ERANGE;
  nmif__violation(i, nmif__rxq(i, qid), reason);
  return 0;
}

int nmif_rx_arm(nmif_if_t *i, uint16_t qid, int arm) {
  if (!link_ok(i))
    return i->connected ? NMIF_EPROTO : NMIF_ENOTCONN;
  if (qid >= nmif__num_rx(i))
    return NMIF_ERANGE;
  nmif__queue_t *q = nmif__rxq(i, qid);
  if (!arm) {
    nmif__write_once16(&q->ring->flags, NMIF_RING_MASK_INT);
    return 0;
  }
  /* Unmask, then look again: whatever the peer published before it could see the unmasked
   * flag is found here; anything after will be signalled (see signal_peer). */
  nmif__write_once16(&q->ring->flags, 0);
  atomic_thread_fence(memory_order_seq_cst);
  uint16_t avail;
  if (!rx_avail(i, q, &avail))
    return NMIF_EPROTO;
  return avail;
}

int nmif_rx_pending(nmif_if_t *i, uint16_t qid) {
  if (!link_ok(i))
    return i->connected ? NMIF_EPROTO : NMIF_ENOTCONN;
  if (qid >= nmif__num_rx(i))
    return NMIF_ERANGE;
  uint16_t avail;
  if (!rx_avail(i, nmif__rxq(i, qid), &avail))
    return NMIF_EPROTO;
  return avail;
}

int nmif_rx_release(nmif_if_t *i, uint16_t qid, uint16_t count) {
  if (!link_ok(i))
    return i->connected ? NMIF_EPROTO : NMIF_ENOTCONN;
  if (qid >= nmif__num_rx(i))
    return NMIF_ERANGE;
  nmif__queue_t *q = nmif__rxq(i, qid);
  if (i->is_master) {
    uint16_t held = nmif__dist(q->own, q->last);
    uint16_t n = count < held ? count : held;
    q->own = (uint16_t)(q->own + n);
    nmif__store_release(&q->ring->tail, q->own); /* slots back to the slave */
    return n;
  }
  /* Slave: the oldest unreleased received slots sit N behind head; offering them again
   * re-posts the same ring positions with our (possibly swapped) buffers. */
  uint16_t released_upto = (uint16_t)(q->own - q->size);
  uint16_t held = nmif__dist(released_upto, q->last);
  uint16_t n = count < held ? count : held;
  for (uint16_t k = 0; k < n; k++) {
    uint16_t s = (uint16_t)(q->own + k);
    const nmif__slot_t *sl = &q->slots[s & q->mask];
    nmif_desc_t *d = &q->ring->desc[s & q->mask];
    d->region = sl->region;
    d->offset = sl->offset;
    d->length = sl->cap;
    d->flags = 0;
  }
  q->own = (uint16_t)(q->own + n);
  nmif__store_release(&q->ring->head, q->own);
  return n;
}

/* ---- transmit -------------------------------------------------------------------------------- */

/* Free slots for new reservations, from the consumer's counter (checked). -1 on violation. */
static int tx_room(struct nmif_if_s *i, nmif__queue_t *q) {
  if (i->is_master) {
    /* M2S: slots [tail, head) are empty buffers the slave offered. */
    uint16_t h = nmif__load_acquire(&q->ring->head);
    if (nmif__dist(q->own, h) > q->size || nmif__dist(q->own, h) < nmif__dist(q->own, q->seen)) {
      nmif__violation(i, q, "head out of range");
      return -1;
    }
    q->seen = h;
    return nmif__dist(q->alloc, h);
  }
  /* S2M: the master's tail may not pass what we published. */
  uint16_t t = nmif__load_acquire(&q->ring->tail);
  if (nmif__dist(q->seen, t) > nmif__dist(q->seen, q->own)) {
    nmif__violation(i, q, "tail out of range");
    return -1;
  }
  q->seen = t;
  return q->size - nmif__dist(t, q->alloc);
}

int nmif_tx_room(nmif_if_t *i, uint16_t qid) {
  if (!link_ok(i))
    return i->connected ? NMIF_EPROTO : NMIF_ENOTCONN;
  if (qid >= nmif__num_tx(i))
    return NMIF_ERANGE;
  int room = tx_room(i, nmif__txq(i, qid));
  return room < 0 ? NMIF_EPROTO : room;
}

int nmif_tx_alloc(nmif_if_t *i, uint16_t qid, nmif_buf_t *bufs, uint16_t max) {
  if (!link_ok(i))
    return i->connected ? NMIF_EPROTO : NMIF_ENOTCONN;
  if (qid >= nmif__num_tx(i))
    return NMIF_ERANGE;
  nmif__queue_t *q = nmif__txq(i, qid);
  int room = tx_room(i, q);
  if (room < 0)
    return NMIF_EPROTO;
  const uint16_t n = (uint16_t)(room < max ? room : max);
  /* Locals: stores into bufs[] must not make the compiler reload ring state per buffer. */
  const uint16_t mask = q->mask, first = q->alloc;
  nmif__slot_t *const slots = q->slots;
  const nmif__region_t *const regions = i->regions;
  if (i->is_master) {
    /* The slave's offer decides where and how much we may write: check it once, keep it. */
    const nmif_desc_t *const ring = q->ring->desc;
    const uint16_t num_regions = i->num_regions;
    for (uint16_t k = 0; k < n; k++) {
      const uint16_t s = (uint16_t)(first + k);
      const nmif_desc_t d = nmif__desc_copy(&ring[s & mask]);
      if (d.length == 0 || d.region >= num_regions ||
          (uint64_t)d.offset + d.length > regions[d.region].size) {
        nmif__violation(i, q, "offered buffer outside its region");
        return NMIF_EPROTO;
      }
      slots[s & mask] = (nmif__slot_t){.offset = d.offset, .cap = d.length, .region = d.region};
      bufs[k] = (nmif_buf_t){.data = (uint8_t *)regions[d.region].base + d.offset, .len = d.length,
                             .offset = d.offset, .region = d.region, .slot = s, .qid = qid};
    }
  } else {
    for (uint16_t k = 0; k < n; k++) {
      const uint16_t s = (uint16_t)(first + k);
      const nmif__slot_t sl = slots[s & mask];
      bufs[k] = (nmif_buf_t){.data = (uint8_t *)regions[sl.region].base + sl.offset, .len = sl.cap,
                             .offset = sl.offset, .region = sl.region, .slot = s, .qid = qid};
    }
  }
  q->alloc = (uint16_t)(first + n);
  return n;
}

int nmif_tx_burst(nmif_if_t *i, uint16_t qid, nmif_buf_t *bufs, uint16_t count) {
  if (!link_ok(i))
    return i->connected ? NMIF_EPROTO : NMIF_ENOTCONN;
  if (qid >= nmif__num_tx(i))
    return NMIF_ERANGE;
  nmif__queue_t *q = nmif__txq(i, qid);
  uint16_t reserved = nmif__dist(q->own, q->alloc);
  if (count > reserved)
    return NMIF_EINVAL;
  /* One pass: slots past our published counter are private until the store-release, so
   * descriptors can be written while checking; an invalid buffer returns before publishing. */
  const int master = i->is_master;
  const uint16_t mask = q->mask, own = q->own;
  nmif_desc_t *const ring = q->ring->desc;
  const nmif__slot_t *const slots = q->slots;
  uint16_t send = 0;
  uint64_t pkts = 0, bytes = 0, pkts_sent = 0, bytes_sent = 0;
  for (uint16_t k = 0; k < count; k++) {
    const uint16_t s = (uint16_t)(own + k);
    const uint32_t len = bufs[k].len;
    const uint16_t fl = bufs[k].flags & NMIF_BUF_NEXT;
    const nmif__slot_t *sl = &slots[s & mask];
    if (bufs[k].slot != s || len - 1 >= sl->cap) /* also catches len == 0 */
      return NMIF_EINVAL;
    nmif_desc_t *d = &ring[s & mask];
    if (!master) {
      d->region = sl->region;
      d->offset = sl->offset;
    }
    d->length = len;
    d->flags = fl;
    bytes += len;
    if (!fl) {
      pkts++;
      send = (uint16_t)(k + 1);
      pkts_sent = pkts;
      bytes_sent = bytes;
    }
  }
  pkts = pkts_sent;
  bytes = bytes_sent;
  q->own = (uint16_t)(own + send);
  q->alloc = q->own; /* unsent reservations are dropped */
  if (send == 0)
    return 0;
  /* Publish: slave head / master tail; pairs with the peer's load-acquire. */
  nmif__store_release(master ? &q->ring->tail : &q->ring->head, q->own);
  q->stats->packets += pkts;
  q->stats->bytes += bytes;
  q->stats->bursts++;
  signal_peer(i, q);
  return send;
}

int nmif_tx_copy(nmif_if_t *i, uint16_t qid, const void *const *pkts, const uint32_t *lens,
                 uint16_t count) {
  nmif_buf_t bufs[COPY_CHUNK];
  uint16_t done = 0;
  if (link_ok(i) && qid < nmif__num_tx(i)) {
    nmif__queue_t *q = nmif__txq(i, qid);
    q->alloc = q->own; /* a send is a tx burst: earlier reservations not sent are dropped */
  }
  while (done < count) {
    int nb = nmif_tx_alloc(i, qid, bufs, COPY_CHUNK);
    if (nb < 0)
      return done ? done : nb;
    nmif__queue_t *q = nmif__txq(i, qid);
    uint16_t used = 0, p = done;
    while (p < count) {
      uint32_t rem = lens[p];
      const uint8_t *src = pkts[p];
      uint16_t k = used;
      while (rem > 0 && k < nb) {
        uint32_t c = rem < bufs[k].len ? rem : bufs[k].len;
        memcpy(bufs[k].data, src, c);
        bufs[k].len = c;
        src += c;
        rem -= c;
        bufs[k].flags = rem ? NMIF_BUF_NEXT : 0;
        k++;
      }
      if (rem > 0 || lens[p] == 0)
        break;
      used = k;
      p++;
    }
    if (used == 0) {
      q->alloc = q->own; /* give the reservation back */
      int full_chunk = nb == COPY_CHUNK || nb == q->size;
      if (p < count && (lens[p] == 0 || full_chunk)) {
        /* Can never fit (or is empty): drop it rather than block the queue forever. */
        q->stats->drop_too_big++;
        done++;
        continue;
      }
      if (p < count)
        q->stats->ring_full++;
      break;
    }
    int r = nmif_tx_burst(i, qid, bufs, used);
    if (r < 0)
      return done ? done : r;
    done = p;
    if (p < count && (uint16_t)nb < COPY_CHUNK)
      break; /* the ring is full */
  }
  return done;
}

int nmif_tx_swap(nmif_if_t *i, uint16_t rx_qid, uint16_t tx_qid, nmif_buf_t *bufs,
                 uint16_t count) {
  if (!link_ok(i))
    return i->connected ? NMIF_EPROTO : NMIF_ENOTCONN;
  if (i->is_master)
    return NMIF_ENOTSUP;
  if (rx_qid >= nmif__num_rx(i) || tx_qid >= nmif__num_tx(i))
    return NMIF_ERANGE;
  nmif__queue_t *rq = nmif__rxq(i, rx_qid), *tq = nmif__txq(i, tx_qid);
  uint16_t held_from = (uint16_t)(rq->own - rq->size);
  uint16_t held = nmif__dist(held_from, rq->last);
  for (uint16_t k = 0; k < count; k++)
    if (bufs[k].qid != rx_qid || nmif__dist(held_from, bufs[k].slot) >= held)
      return NMIF_EINVAL; /* not a received, unreleased buffer of rx_qid */
  int room = tx_room(i, tq);
  if (room < 0)
    return NMIF_EPROTO;
  uint16_t moved = 0;
  while (moved < count) {
    uint16_t end = moved; /* find the end of this packet's chain */
    while (end < count && (bufs[end].flags & NMIF_BUF_NEXT))
      end++;
    if (end == count)
      break; /* partial chain in the caller's array */
    uint16_t segs = (uint16_t)(end - moved + 1);
    if (segs > room)
      break;
    for (uint16_t k = moved; k <= end; k++) {
      uint16_t ts = tq->alloc++;
      nmif__slot_t *a = &rq->slots[bufs[k].slot & rq->mask];
      nmif__slot_t *b = &tq->slots[ts & tq->mask];
      nmif__slot_t tmp = *a; /* the packet's buffer goes to tx, tx's spare to rx */
      *a = *b;
      *b = tmp;
      bufs[k].slot = ts;
      bufs[k].qid = tx_qid;
    }
    room -= segs;
    moved = (uint16_t)(end + 1);
  }
  return moved;
}
