/* Ring arithmetic and the memory-ordering primitives for the shared head/tail words.
 *
 * head and tail are free-running u16 counters; a slot index is counter & (N - 1) and every
 * distance is taken modulo 2^16. The peer can write any value at any time, so every value
 * read from shared memory is read exactly once (one named load) into a local and checked. */
#ifndef NMIF_RING_H
#define NMIF_RING_H

#include <stdint.h>

#include "wire.h"

/* Distance from a to b going forward, modulo 2^16. */
static inline uint16_t nmif__dist(uint16_t from, uint16_t to) { return (uint16_t)(to - from); }

/* Load of the peer's counter: pairs with the peer's store-release after it filled slots. */
static inline uint16_t nmif__load_acquire(const uint16_t *p) {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Store of our own counter: everything we wrote into slots/buffers before it is visible
 * to the peer once it sees the new value (pairs with its load-acquire). */
static inline void nmif__store_release(uint16_t *p, uint16_t v) {
  __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Single reads/writes of shared words that carry no ordering (ring flags, descriptors). */
static inline uint16_t nmif__read_once16(const uint16_t *p) {
  return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline void nmif__write_once16(uint16_t *p, uint16_t v) {
  __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static inline uint32_t nmif__read_once32(const uint32_t *p) {
  return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Copies a descriptor out of shared memory field by field, each read once (no double fetch:
 * callers validate and use only the copy). */
static inline nmif_desc_t nmif__desc_copy(const nmif_desc_t *d) {
  nmif_desc_t c;
  c.flags = nmif__read_once16(&d->flags);
  c.region = nmif__read_once16(&d->region);
  c.length = nmif__read_once32(&d->length);
  c.offset = nmif__read_once32(&d->offset);
  c.metadata = 0;
  return c;
}

/*
 * A new value of a counter the peer owns is acceptable only if it moved forward from the
 * last value we accepted by no more than `limit` slots. Returns 1 if acceptable.
 * Example: master receiving on S2M accepts head' if dist(last_head, head') <= N - (last_head
 * - tail), i.e. the slave never publishes more than the ring holds.
 */
static inline int nmif__advance_ok(uint16_t seen, uint16_t now, uint16_t limit) {
  return nmif__dist(seen, now) <= limit;
}

#endif
