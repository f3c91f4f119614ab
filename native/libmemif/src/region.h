/* Shared-memory regions: the slave's layout and allocation, the master's mapping checks. */
#ifndef NMIF_REGION_H
#define NMIF_REGION_H

#include <stdint.h>

/* A mapped region. fd stays open while connected (the master got it from the peer). */
typedef struct nmif__region {
  void *base;
  uint64_t size;
  int fd;
} nmif__region_t;

/*
 * The slave's single-region layout (as VPP's and DPDK's copy-mode slaves): region 0 holds every
 * S2M ring, then every M2S ring, then the buffers, one per slot, in the same ring order.
 */
typedef struct nmif__layout {
  uint16_t num_s2m;
  uint16_t num_m2s;
  uint8_t log2_ring_size;
  uint32_t buffer_size;
  uint64_t ring_bytes;     /* one ring: header + descriptors */
  uint64_t rings_total;
  uint64_t buffer_base;    /* first buffer, cache-line aligned */
  uint64_t region_size;
} nmif__layout_t;

/* Fills *l; -EINVAL if a buffer offset would not fit in 32 bits (descriptors address 4 GiB). */
int nmif__layout_compute(nmif__layout_t *l, uint16_t num_s2m, uint16_t num_m2s,
                         uint8_t log2_ring_size, uint32_t buffer_size);
/* Offset of ring k of type t (0 = S2M, 1 = M2S). */
uint64_t nmif__layout_ring_offset(const nmif__layout_t *l, int is_m2s, uint16_t k);
/* Offset of the buffer for slot j of ring k of type t. */
uint64_t nmif__layout_buffer_offset(const nmif__layout_t *l, int is_m2s, uint16_t k, uint32_t j);

/* Slave: memfd (sealed against shrinking), sized and mapped. 0 or negative errno. */
int nmif__region_create(nmif__region_t *r, uint64_t size, const char *name);

/* Master: checks the peer's fd (regular/memfd file, large enough, sealed against shrinking or
 * sealable by us unless allow_unsealed) and maps it. On failure *why says what was wrong and
 * the fd is left for the caller to close. */
int nmif__region_map_peer(nmif__region_t *r, int fd, uint64_t size, int allow_unsealed,
                          const char **why);

/* Unmaps and closes. Safe on a zeroed or half-built region. */
void nmif__region_release(nmif__region_t *r);

#endif
