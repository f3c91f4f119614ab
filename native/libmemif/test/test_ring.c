/*
 * Ring arithmetic (ring.h): free-running u16 distances and the peer-counter acceptance check
 * across the 65535 -> 0 wrap, and producer/consumer simulations that run the counters through
 * several wraps, single-threaded (exact accounting) and across two threads over a real ring
 * header (acquire/release pairing).
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ring.h"
#include "wire.h"

static void test_dist(void) {
  CHECK_EQ(nmif__dist(0, 0), 0);
  CHECK_EQ(nmif__dist(0, 1), 1);
  CHECK_EQ(nmif__dist(65535, 0), 1);
  CHECK_EQ(nmif__dist(65535, 65535), 0);
  CHECK_EQ(nmif__dist(65530, 5), 11);
  CHECK_EQ(nmif__dist(1, 0), 65535);        /* "backwards by one" is a huge forward step */
  CHECK_EQ(nmif__dist(0, 65535), 65535);
  CHECK_EQ(nmif__dist(32768, 0), 32768);
  for (uint32_t from = 0; from < 65536; from += 257) {
    for (uint32_t d = 0; d < 65536; d += 4099) {
      uint16_t to = (uint16_t)(from + d);
      CHECK_EQ(nmif__dist((uint16_t)from, to), d);
    }
  }
}

/* For each N, around every interesting base including the wrap: the peer may move by 0..N,
 * not by N+1, not backwards. */
static void test_advance_ok(void) {
  const uint16_t sizes[] = {1, 1024, 16384};
  const uint16_t bases[] = {0, 1, 100, 32767, 32768, 65535 - 16384, 65534, 65535};
  for (size_t si = 0; si < 3; si++) {
    uint16_t n = sizes[si];
    for (size_t bi = 0; bi < sizeof(bases) / sizeof(bases[0]); bi++) {
      uint16_t seen = bases[bi];
      for (uint32_t k = 0; k <= n; k++) {
        uint16_t now = (uint16_t)(seen + k);
        if (!nmif__advance_ok(seen, now, n)) {
          fprintf(stderr, "N=%u seen=%u now=%u (+%u) rejected\n", n, seen, now, k);
          exit(1);
        }
      }
      uint16_t over = (uint16_t)(seen + n + 1);
      uint16_t back1 = (uint16_t)(seen - 1);
      uint16_t back_n = (uint16_t)(seen - n);
      uint16_t half = (uint16_t)(seen + 32768);
      if (nmif__advance_ok(seen, over, n) || nmif__advance_ok(seen, back1, n) ||
          nmif__advance_ok(seen, half, n) || (n < 32768 && nmif__advance_ok(seen, back_n, n))) {
        fprintf(stderr, "N=%u seen=%u: accepted a bad value (over=%u back1=%u half=%u)\n", n,
                seen, over, back1, half);
        exit(1);
      }
    }
    /* The wrap explicitly: 65535 - (n-1) + n lands past 0. */
    uint16_t seen = (uint16_t)(65536 - (n > 1 ? n / 2 : 1));
    CHECK(nmif__advance_ok(seen, (uint16_t)(seen + n), n));
    CHECK(!nmif__advance_ok(seen, (uint16_t)(seen + n + 1), n));
  }
  /* limit smaller than N (free space partially used): the limit, not N, bounds the step. */
  CHECK(nmif__advance_ok(65530, 2, 8));
  CHECK(!nmif__advance_ok(65530, 3, 8));
  CHECK(nmif__advance_ok(7, 7, 0));
  CHECK(!nmif__advance_ok(7, 8, 0));
}

/* Tiny deterministic PRNG (xorshift32): reproducible bursts. */
static uint32_t rng_state = 0x12345678u;
static uint32_t rnd(void) {
  uint32_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return rng_state = x;
}

/*
 * Single-threaded simulation, slave -> master (S2M) semantics: the producer owns head, the
 * consumer owns tail. Each side checks the other's counter exactly as a defensive side would,
 * with nmif__advance_ok, and a sequence number stored per slot proves no slot is skipped or
 * read twice. Runs `wraps` full 65536 wraps of the counters plus an odd remainder.
 */
static void simulate(uint16_t n, unsigned wraps) {
  uint32_t *slots = calloc(n, sizeof(uint32_t));
  CHECK(slots != NULL);
  uint16_t head = 0, tail = 0;        /* shared words */
  uint16_t prod_seen_tail = 0;        /* producer's last accepted tail */
  uint16_t cons_seen_head = 0;        /* consumer's last accepted head */
  uint32_t next_put = 0, next_get = 0;
  uint64_t total = (uint64_t)wraps * 65536 + 12345;
  unsigned head_wraps = 0;

  while (next_get < total) {
    /* producer: free = N - (head - tail), after checking tail moved within what we gave */
    uint16_t t = tail;
    CHECK(nmif__advance_ok(prod_seen_tail, t, nmif__dist(prod_seen_tail, head)));
    prod_seen_tail = t;
    uint16_t used = nmif__dist(t, head);
    CHECK(used <= n);
    uint16_t free_slots = (uint16_t)(n - used);
    uint32_t burst = rnd() % (n + 1u);
    if (burst > free_slots)
      burst = free_slots;
    if (next_put + burst > total)
      burst = (uint32_t)(total - next_put);
    for (uint32_t i = 0; i < burst; i++)
      slots[(uint16_t)(head + i) & (n - 1)] = next_put++;
    uint16_t old_head = head;
    head = (uint16_t)(head + burst);
    if (head < old_head)
      head_wraps++;

    /* consumer: available = head - last_head, must be <= N - (last_head - tail) */
    uint16_t h = head;
    uint16_t limit = (uint16_t)(n - nmif__dist(tail, cons_seen_head));
    CHECK(nmif__advance_ok(cons_seen_head, h, limit));
    cons_seen_head = h;
    uint16_t avail = nmif__dist(tail, h);
    uint32_t take = rnd() % (avail + 1u);
    if (next_put == total)
      take = avail; /* drain at the end */
    for (uint32_t i = 0; i < take; i++) {
      uint32_t v = slots[(uint16_t)(tail + i) & (n - 1)];
      if (v != next_get) {
        fprintf(stderr, "N=%u: slot %u holds %u, expected %u\n", n,
                (unsigned)((uint16_t)(tail + i) & (n - 1)), v, next_get);
        exit(1);
      }
      next_get++;
    }
    tail = (uint16_t)(tail + take);
  }
  CHECK_EQ(head, tail);
  CHECK_EQ(head, (uint16_t)total);
  CHECK(head_wraps >= wraps);
  printf("  simulate N=%-5u: %llu items, head wrapped %u times\n", n, (unsigned long long)total,
         head_wraps);
  free(slots);
}

/*
 * Two threads over a real ring header and descriptor array in ordinary memory, using the
 * library's acquire/release helpers and descriptor copy. The consumer validates the producer's
 * head with nmif__advance_ok against its shadow and checks every descriptor's payload.
 */
struct mt_ring {
  nmif_ring_t *ring;
  uint16_t n;
  uint32_t total;
  uint32_t *payload; /* "buffers": one u32 per slot */
  int failed;
};

static void *mt_producer(void *arg) {
  struct mt_ring *s = arg;
  uint16_t head = 0; /* private copy, never read back from shared memory */
  uint32_t seq = 0;
  uint64_t spins = 0;
  while (seq < s->total) {
    uint16_t tail = nmif__load_acquire(&s->ring->tail);
    uint16_t free_slots = (uint16_t)(s->n - nmif__dist(tail, head));
    if (free_slots == 0) {
      if (++spins > 100000000ull) {
        s->failed = 1;
        return NULL;
      }
      sched_yield();
      continue;
    }
    uint32_t burst = 1 + (seq * 2654435761u >> 7) % free_slots;
    if (burst > s->total - seq)
      burst = s->total - seq;
    for (uint32_t i = 0; i < burst; i++) {
      uint16_t slot = (uint16_t)(head + i) & (s->n - 1);
      s->payload[slot] = seq ^ 0x5A5A5A5Au;
      s->ring->desc[slot].length = 4;
      s->ring->desc[slot].offset = slot * 4u;
      s->ring->desc[slot].region = 0;
      s->ring->desc[slot].flags = 0;
      s->ring->desc[slot].metadata = seq;
      seq++;
    }
    head = (uint16_t)(head + burst);
    nmif__store_release(&s->ring->head, head);
  }
  return NULL;
}

static void *mt_consumer(void *arg) {
  struct mt_ring *s = arg;
  uint16_t tail = 0, seen_head = 0;
  uint32_t expect = 0;
  uint64_t spins = 0;
  while (expect < s->total) {
    uint16_t head = nmif__load_acquire(&s->ring->head);
    if (!nmif__advance_ok(seen_head, head, (uint16_t)(s->n - nmif__dist(tail, seen_head)))) {
      fprintf(stderr, "mt: head %u not acceptable from %u (tail %u)\n", head, seen_head, tail);
      s->failed = 1;
      return NULL;
    }
    seen_head = head;
    uint16_t avail = nmif__dist(tail, head);
    if (avail == 0) {
      if (++spins > 100000000ull) {
        s->failed = 1;
        return NULL;
      }
      sched_yield();
      continue;
    }
    for (uint16_t i = 0; i < avail; i++) {
      uint16_t slot = (uint16_t)(tail + i) & (s->n - 1);
      nmif_desc_t d = nmif__desc_copy(&s->ring->desc[slot]);
      if (d.length != 4 || d.offset != slot * 4u ||
          s->payload[d.offset / 4] != (expect ^ 0x5A5A5A5Au)) {
        fprintf(stderr, "mt: slot %u: len %u off %u payload 0x%x, expected seq %u\n", slot,
                d.length, d.offset, s->payload[d.offset / 4], expect);
        s->failed = 1;
        return NULL;
      }
      expect++;
    }
    tail = (uint16_t)(tail + avail);
    nmif__store_release(&s->ring->tail, tail);
  }
  return NULL;
}

static void test_threads(uint16_t n, unsigned wraps) {
  size_t bytes = NMIF_RING_HDR_SIZE + (size_t)n * NMIF_DESC_SIZE;
  struct mt_ring s = {0};
  s.ring = aligned_alloc(NMIF_CACHE_LINE, (bytes + NMIF_CACHE_LINE - 1) & ~(size_t)(NMIF_CACHE_LINE - 1));
  CHECK(s.ring != NULL);
  memset(s.ring, 0, bytes);
  s.ring->cookie = NMIF_COOKIE;
  s.n = n;
  s.total = wraps * 65536u + 777;
  s.payload = calloc(n, sizeof(uint32_t));
  CHECK(s.payload != NULL);
  pthread_t p, c;
  CHECK_EQ(pthread_create(&c, NULL, mt_consumer, &s), 0);
  CHECK_EQ(pthread_create(&p, NULL, mt_producer, &s), 0);
  pthread_join(p, NULL);
  pthread_join(c, NULL);
  CHECK_EQ(s.failed, 0);
  CHECK_EQ(s.ring->head, (uint16_t)s.total);
  CHECK_EQ(s.ring->tail, (uint16_t)s.total);
  printf("  threads  N=%-5u: %u items through a shared ring\n", n, s.total);
  free(s.payload);
  free(s.ring);
}

static void test_desc_copy(void) {
  nmif_desc_t src = {.flags = NMIF_DESC_NEXT, .region = 3, .length = 0xFFFFFFFFu,
                     .offset = 0x80000000u, .metadata = 0xABCD};
  nmif_desc_t c = nmif__desc_copy(&src);
  CHECK_EQ(c.flags, NMIF_DESC_NEXT);
  CHECK_EQ(c.region, 3);
  CHECK_EQ(c.length, 0xFFFFFFFFu);
  CHECK_EQ(c.offset, 0x80000000u);
  CHECK_EQ(c.metadata, 0); /* metadata is never taken from the peer */
}

int main(void) {
  test_dist();
  test_advance_ok();
  test_desc_copy();
  simulate(1, 3);
  simulate(1024, 4);
  simulate(16384, 5);
  test_threads(1024, 4);
  test_threads(16384, 3);
  test_threads(1, 1);
  printf("test_ring: OK\n");
  return 0;
}
