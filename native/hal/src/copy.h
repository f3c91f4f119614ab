/* Packet copy for the forwarding paths.
 *
 * Short packets are copied with 16-byte SSE2 moves (the last one may overlap the one before;
 * nothing outside [0, len) is read or written). glibc's memcpy picks 64-byte AVX-512 moves on
 * CPUs that have them, and those can lower the clock of the core running the forwarding loop
 * (compare with bench/hal_forward, net_null -> memif, 64 B, and GLIBC_TUNABLES set to prefer
 * no AVX-512). Long copies stay with memcpy, whose wide moves pay off there. Non-x86 builds
 * use memcpy throughout. */
#ifndef NHAL_COPY_H
#define NHAL_COPY_H

#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define NHAL_SHORT_COPY_MAX 256

static inline void nhal__copy(void *restrict dst, const void *restrict src, uint32_t len) {
#if defined(__SSE2__)
  if (len >= 16 && len <= NHAL_SHORT_COPY_MAX) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    for (uint32_t k = 0; k + 16 < len; k += 16)
      _mm_storeu_si128((__m128i *)(d + k), _mm_loadu_si128((const __m128i *)(s + k)));
    _mm_storeu_si128((__m128i *)(d + len - 16), _mm_loadu_si128((const __m128i *)(s + len - 16)));
    return;
  }
#endif
  memcpy(dst, src, len);
}

#endif
