/* Shared-memory regions: the slave's layout and memfds, the master's checks of a peer's fd. */
#include "region.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wire.h"

/* Largest region we map for a peer. Descriptors address only 4 GiB of a region, but VPP's
 * zero-copy slaves hand over whole hugepage pools; 64 GiB bounds address-space use. */
#define NMIF_REGION_MAX_SIZE (64ull << 30)

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

int nmif__layout_compute(nmif__layout_t *l, uint16_t num_s2m, uint16_t num_m2s,
                         uint8_t log2_ring_size, uint32_t buffer_size) {
  memset(l, 0, sizeof(*l));
  if (num_s2m == 0 || num_m2s == 0 || log2_ring_size > 14 || buffer_size == 0)
    return -EINVAL;
  l->num_s2m = num_s2m;
  l->num_m2s = num_m2s;
  l->log2_ring_size = log2_ring_size;
  l->buffer_size = buffer_size;
  l->ring_bytes = nmif__ring_bytes(log2_ring_size);
  l->rings_total = l->ring_bytes * (uint64_t)(num_s2m + num_m2s);
  l->buffer_base = align_up(l->rings_total, NMIF_CACHE_LINE);
  uint64_t nbuf = (uint64_t)(num_s2m + num_m2s) << log2_ring_size;
  l->region_size = l->buffer_base + nbuf * buffer_size;
  /* The last buffer's offset and end must be addressable by a u32 descriptor offset. */
  if (l->region_size > UINT32_MAX)
    return -EINVAL;
  return 0;
}

uint64_t nmif__layout_ring_offset(const nmif__layout_t *l, int is_m2s, uint16_t k) {
  return ((uint64_t)k + (is_m2s ? l->num_s2m : 0)) * l->ring_bytes;
}

uint64_t nmif__layout_buffer_offset(const nmif__layout_t *l, int is_m2s, uint16_t k, uint32_t j) {
  uint64_t g = (uint64_t)k + (is_m2s ? l->num_s2m : 0);
  return l->buffer_base + ((g << l->log2_ring_size) + j) * l->buffer_size;
}

int nmif__region_create(nmif__region_t *r, uint64_t size, const char *name) {
  memset(r, 0, sizeof(*r));
  r->fd = -1;
  int fd = memfd_create(name, MFD_ALLOW_SEALING | MFD_CLOEXEC);
  if (fd < 0)
    return -errno;
  int err = 0;
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0 || ftruncate(fd, (off_t)size) < 0) {
    err = -errno;
    close(fd);
    return err;
  }
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    err = -errno;
    close(fd);
    return err;
  }
  r->base = p;
  r->size = size;
  r->fd = fd;
  return 0;
}

/* Makes sure the peer cannot shrink the file under our mapping (that would be SIGBUS). */
static int ensure_no_shrink(int fd) {
  int seals = fcntl(fd, F_GET_SEALS);
  if (seals >= 0 && (seals & F_SEAL_SHRINK))
    return 0;
  if (seals >= 0 && !(seals & F_SEAL_SEAL) && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0)
    return 0;
  return -EPERM;
}

int nmif__region_map_peer(nmif__region_t *r, int fd, uint64_t size, int allow_unsealed,
                          const char **why) {
  struct stat st;
  memset(r, 0, sizeof(*r));
  r->fd = -1;
  if (size == 0 || size > NMIF_REGION_MAX_SIZE) {
    *why = "region size out of range";
    return -EINVAL;
  }
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    *why = "region fd is not a memory file";
    return -EINVAL;
  }
  if ((uint64_t)st.st_size < size) {
    *why = "region file smaller than its announced size";
    return -EINVAL;
  }
  if (ensure_no_shrink(fd) < 0 && !allow_unsealed) {
    *why = "region fd is not sealed against shrinking";
    return -EPERM;
  }
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    *why = "region mmap failed";
    return -errno;
  }
  r->base = p;
  r->size = size;
  r->fd = fd;
  return 0;
}

void nmif__region_release(nmif__region_t *r) {
  if (r->base)
    munmap(r->base, r->size);
  if (r->fd >= 0)
    close(r->fd);
  r->base = NULL;
  r->size = 0;
  r->fd = -1;
}
