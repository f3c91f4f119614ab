/*
 * Shared-memory regions (region.h): the slave's layout against the fact sheet's worked example
 * (§9.5), 32-bit offset limits, memfd creation and sealing, the master's checks on a peer's
 * region fd, and the eventfd test. No fd may leak across the whole program.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "irq.h"
#include "region.h"
#include "wire.h"

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  CHECK(d != NULL);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n - 1; /* the directory's own fd */
}

static int fd_is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

/* ---- layout ------------------------------------------------------------------------------ */

static void test_worked_example(void) {
  if (NMIF_CACHE_LINE != 64) {
    printf("  (worked example assumes CL 64, this build has %d: checking the formula only)\n",
           NMIF_CACHE_LINE);
  }
  nmif__layout_t l;
  CHECK_EQ(nmif__layout_compute(&l, 1, 1, 10, 2048), 0);
  uint64_t rb = 2 * NMIF_CACHE_LINE + 16 * 1024;
  CHECK_EQ(l.ring_bytes, rb);
  CHECK_EQ(nmif__layout_ring_offset(&l, 0, 0), 0);
  CHECK_EQ(nmif__layout_ring_offset(&l, 1, 0), rb);
  CHECK_EQ(l.rings_total, 2 * rb);
  CHECK_EQ(l.buffer_base, 2 * rb);
  CHECK_EQ(l.region_size, 2 * rb + 2048ull * 2048);
  if (NMIF_CACHE_LINE == 64) {
    CHECK_EQ(l.ring_bytes, 16512);
    CHECK_EQ(nmif__layout_ring_offset(&l, 1, 0), 16512);
    CHECK_EQ(l.rings_total, 33024);
    CHECK_EQ(l.region_size, 4227328);
    for (uint32_t j = 0; j < 1024; j += 73) {
      CHECK_EQ(nmif__layout_buffer_offset(&l, 0, 0, j), 33024 + 2048ull * j);
      CHECK_EQ(nmif__layout_buffer_offset(&l, 1, 0, j), 33024 + 2048ull * (1024 + j));
    }
    CHECK_EQ(nmif__layout_buffer_offset(&l, 0, 0, 1023), 33024 + 2048ull * 1023);
    /* The last M2S buffer ends exactly at the end of the region. */
    CHECK_EQ(nmif__layout_buffer_offset(&l, 1, 0, 1023) + 2048, 4227328);
  }
  CHECK_EQ(l.num_s2m, 1);
  CHECK_EQ(l.num_m2s, 1);
  CHECK_EQ(l.log2_ring_size, 10);
  CHECK_EQ(l.buffer_size, 2048);
}

static void test_multi_queue_layout(void) {
  nmif__layout_t l;
  CHECK_EQ(nmif__layout_compute(&l, 3, 2, 8, 1500), 0);
  uint64_t rb = 2 * NMIF_CACHE_LINE + 16 * 256;
  CHECK_EQ(l.ring_bytes, rb);
  /* Ring k of type t at (k + t * num_s2m) * ring_bytes. */
  for (uint16_t k = 0; k < 3; k++)
    CHECK_EQ(nmif__layout_ring_offset(&l, 0, k), k * rb);
  for (uint16_t k = 0; k < 2; k++)
    CHECK_EQ(nmif__layout_ring_offset(&l, 1, k), (3 + k) * rb);
  CHECK_EQ(l.rings_total, 5 * rb);
  CHECK_EQ(l.buffer_base % NMIF_CACHE_LINE, 0);
  CHECK(l.buffer_base >= l.rings_total);
  /* Buffers in ring order, global ring g = k (S2M) or num_s2m + k (M2S), no overlaps. */
  CHECK_EQ(nmif__layout_buffer_offset(&l, 0, 2, 5), l.buffer_base + (2 * 256 + 5) * 1500ull);
  CHECK_EQ(nmif__layout_buffer_offset(&l, 1, 1, 255) + 1500, l.region_size);
  CHECK_EQ(l.region_size, l.buffer_base + 5ull * 256 * 1500);
}

static void test_tiny_rings(void) {
  /* log2 0: ring_bytes 2CL+16 is not a multiple of CL; buffers still start cache-aligned. */
  nmif__layout_t l;
  CHECK_EQ(nmif__layout_compute(&l, 1, 1, 0, 2048), 0);
  CHECK_EQ(l.ring_bytes, 2 * NMIF_CACHE_LINE + 16);
  CHECK_EQ(l.rings_total, 2 * (2 * NMIF_CACHE_LINE + 16));
  CHECK_EQ(l.buffer_base % NMIF_CACHE_LINE, 0);
  CHECK(l.buffer_base >= l.rings_total);
  CHECK_EQ(l.region_size, l.buffer_base + 2 * 2048);
}

static void test_layout_limits(void) {
  nmif__layout_t l;
  /* 255 + 255 queues, log2 14, 2048-byte buffers: 510 * 16384 * 2048 bytes > 4 GiB. */
  int r = nmif__layout_compute(&l, 255, 255, 14, 2048);
  printf("  255+255 log2 14 bsize 2048 -> %d\n", r);
  CHECK_EQ(r, -EINVAL);
  /* 255 + 255, log2 10, 2048: about 1 GiB, fine. */
  CHECK_EQ(nmif__layout_compute(&l, 255, 255, 10, 2048), 0);
  CHECK(l.region_size <= UINT32_MAX);
  CHECK_EQ(nmif__layout_buffer_offset(&l, 1, 254, 1023) + 2048, l.region_size);
  /* Largest buffers at log2 14: 1+1 fits (about 2 GiB), 2+2 does not (just over 4 GiB). */
  CHECK_EQ(nmif__layout_compute(&l, 1, 1, 14, 65535), 0);
  CHECK(l.region_size <= UINT32_MAX);
  CHECK_EQ(nmif__layout_compute(&l, 2, 2, 14, 65535), -EINVAL);
  /* A huge buffer size alone. */
  CHECK_EQ(nmif__layout_compute(&l, 1, 1, 14, 0x01000000u), -EINVAL);
  CHECK_EQ(nmif__layout_compute(&l, 1, 1, 0, 0xFFFFFFFFu), -EINVAL);
  /* Nonsense arguments. */
  CHECK_EQ(nmif__layout_compute(&l, 0, 1, 10, 2048), -EINVAL);
  CHECK_EQ(nmif__layout_compute(&l, 1, 0, 10, 2048), -EINVAL);
  CHECK_EQ(nmif__layout_compute(&l, 1, 1, 15, 2048), -EINVAL);
  CHECK_EQ(nmif__layout_compute(&l, 1, 1, 255, 2048), -EINVAL);
  CHECK_EQ(nmif__layout_compute(&l, 1, 1, 10, 0), -EINVAL);
  /* Every accepted layout keeps every buffer end within u32 (descriptor offset + length). */
  const uint16_t qs[] = {1, 2, 16, 64, 255};
  const uint8_t logs[] = {0, 1, 6, 10, 12, 14};
  const uint32_t bs[] = {1, 64, 2048, 9216, 65535};
  for (size_t a = 0; a < 5; a++)
    for (size_t b = 0; b < 6; b++)
      for (size_t c = 0; c < 5; c++) {
        if (nmif__layout_compute(&l, qs[a], qs[a], logs[b], bs[c]) != 0)
          continue;
        uint64_t last = nmif__layout_buffer_offset(&l, 1, (uint16_t)(qs[a] - 1),
                                                   (1u << logs[b]) - 1);
        if (last + bs[c] > (uint64_t)UINT32_MAX + 1 || last + bs[c] != l.region_size) {
          fprintf(stderr, "q %u log2 %u bsize %u: last buffer %llu + %u vs region %llu\n",
                  qs[a], logs[b], bs[c], (unsigned long long)last, bs[c],
                  (unsigned long long)l.region_size);
          exit(1);
        }
      }
}

/* ---- memfd creation ---------------------------------------------------------------------- */

static void test_region_create(void) {
  nmif__region_t r;
  CHECK_EQ(nmif__region_create(&r, 4227328, "nmif test region"), 0);
  CHECK(r.base != NULL);
  CHECK_EQ(r.size, 4227328);
  CHECK(r.fd >= 0);
  struct stat st;
  CHECK_EQ(fstat(r.fd, &st), 0);
  CHECK_EQ(st.st_size, 4227328);
  int seals = fcntl(r.fd, F_GET_SEALS);
  printf("  region_create: fd %d size %lld seals 0x%x\n", r.fd, (long long)st.st_size, seals);
  CHECK(seals >= 0);
  CHECK(seals & F_SEAL_SHRINK);
  CHECK(fcntl(r.fd, F_GETFD) & FD_CLOEXEC);
  /* The seal holds: shrinking fails with EPERM, so the peer cannot SIGBUS the master. */
  CHECK_EQ(ftruncate(r.fd, 4096), -1);
  CHECK_EQ(errno, EPERM);
  /* Mapped read/write, zero-filled, shared with a second mapping of the same fd. */
  uint8_t *p = r.base;
  CHECK_EQ(p[0], 0);
  CHECK_EQ(p[4227327], 0);
  p[4227327] = 0x5A;
  uint8_t *q = mmap(NULL, 4227328, PROT_READ, MAP_SHARED, r.fd, 0);
  CHECK(q != MAP_FAILED);
  CHECK_EQ(q[4227327], 0x5A);
  munmap(q, 4227328);
  int fd = r.fd;
  nmif__region_release(&r);
  CHECK(!fd_is_open(fd));
  CHECK(r.base == NULL);
  CHECK_EQ(r.fd, -1);
  nmif__region_release(&r); /* twice is harmless */

  /* A size that is not a page multiple is kept as is (no rounding). */
  CHECK_EQ(nmif__region_create(&r, 33024, "odd"), 0);
  CHECK_EQ(fstat(r.fd, &st), 0);
  CHECK_EQ(st.st_size, 33024);
  nmif__region_release(&r);

  /* Release of a zeroed or half-built region. */
  nmif__region_t z;
  memset(&z, 0, sizeof(z));
  z.fd = -1;
  nmif__region_release(&z);
}

/* ---- the master's checks on a peer's region fd ------------------------------------------- */

static int make_memfd(uint64_t size, unsigned seals) {
  int fd = memfd_create("peer", MFD_ALLOW_SEALING | MFD_CLOEXEC);
  CHECK(fd >= 0);
  CHECK_EQ(ftruncate(fd, (off_t)size), 0);
  if (seals)
    CHECK_EQ(fcntl(fd, F_ADD_SEALS, seals), 0);
  return fd;
}

static void expect_map_reject(const char *what, int fd, uint64_t size, int allow_unsealed) {
  nmif__region_t r;
  const char *why = NULL;
  int was_open = fd_is_open(fd);
  int rc = nmif__region_map_peer(&r, fd, size, allow_unsealed, &why);
  printf("  map_peer %-40s -> %d \"%s\"\n", what, rc, why ? why : "(null)");
  if (rc >= 0 || why == NULL || why[0] == '\0') {
    fprintf(stderr, "%s: expected a rejection with a reason, got %d\n", what, rc);
    exit(1);
  }
  CHECK(r.base == NULL);
  /* The fd is left to the caller: still open. */
  if (was_open)
    CHECK(fd_is_open(fd));
}

static void expect_map_ok(const char *what, int fd, uint64_t size, int allow_unsealed,
                          nmif__region_t *r) {
  const char *why = NULL;
  int rc = nmif__region_map_peer(r, fd, size, allow_unsealed, &why);
  printf("  map_peer %-40s -> %d\n", what, rc);
  if (rc != 0) {
    fprintf(stderr, "%s: expected success, got %d (%s)\n", what, rc, why ? why : "(null)");
    exit(1);
  }
  CHECK(r->base != NULL);
  CHECK_EQ(r->size, size);
  CHECK_EQ(r->fd, fd);
}

static void test_map_peer(void) {
  int before = count_fds();

  int p[2];
  CHECK_EQ(pipe(p), 0);
  expect_map_reject("pipe fd", p[0], 4096, 0);
  expect_map_reject("pipe fd, allow_unsealed", p[0], 4096, 1);
  close(p[0]);
  close(p[1]);

  int sp[2];
  CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
  expect_map_reject("socket fd", sp[0], 4096, 1);
  close(sp[0]);
  close(sp[1]);

  int efd = eventfd(0, EFD_NONBLOCK);
  CHECK(efd >= 0);
  expect_map_reject("eventfd", efd, 4096, 1);
  close(efd);

  int dfd = open("/tmp", O_RDONLY | O_DIRECTORY);
  CHECK(dfd >= 0);
  expect_map_reject("directory fd", dfd, 4096, 1);
  close(dfd);

  int fd = make_memfd(65536, F_SEAL_SHRINK);
  expect_map_reject("memfd smaller than announced", fd, 65537, 0);
  expect_map_reject("memfd much smaller, allow_unsealed", fd, 1ull << 30, 1);
  expect_map_reject("size 0", fd, 0, 0);
  expect_map_reject("size 0, allow_unsealed", fd, 0, 1);
  expect_map_reject("size 2^63", fd, 1ull << 63, 1);
  expect_map_reject("size UINT64_MAX", fd, UINT64_MAX, 1);
  expect_map_reject("closed fd", 1000, 4096, 1);

  /* A proper sealed memfd, mapped with exactly its size and with less than its size. */
  nmif__region_t r;
  expect_map_ok("sealed memfd, exact size", fd, 65536, 0, &r);
  ((volatile uint8_t *)r.base)[65535] = 7;
  uint8_t *q = mmap(NULL, 65536, PROT_READ, MAP_SHARED, fd, 0);
  CHECK(q != MAP_FAILED);
  CHECK_EQ(q[65535], 7); /* really the peer's memory, shared */
  munmap(q, 65536);
  nmif__region_release(&r); /* closes fd */
  CHECK(!fd_is_open(fd));

  fd = make_memfd(65536, F_SEAL_SHRINK);
  expect_map_ok("sealed memfd, smaller announced size", fd, 4096, 0, &r);
  nmif__region_release(&r);

  /* An unsealed but sealable memfd: the master seals it itself, then accepts. */
  fd = make_memfd(8192, 0);
  expect_map_ok("sealable memfd without seals", fd, 8192, 0, &r);
  int seals = fcntl(fd, F_GET_SEALS);
  CHECK(seals >= 0 && (seals & F_SEAL_SHRINK));
  CHECK_EQ(ftruncate(fd, 0), -1); /* the peer can no longer shrink it */
  nmif__region_release(&r);

  /* A memfd whose seals are frozen without SHRINK cannot be made safe: rejected. */
  fd = make_memfd(8192, F_SEAL_SEAL);
  expect_map_reject("memfd sealed without SHRINK (F_SEAL_SEAL)", fd, 8192, 0);
  expect_map_ok("... same with allow_unsealed", fd, 8192, 1, &r);
  nmif__region_release(&r);

  /* A memfd created without MFD_ALLOW_SEALING (F_SEAL_SEAL set by the kernel). */
  fd = memfd_create("nosealing", MFD_CLOEXEC);
  CHECK(fd >= 0);
  CHECK_EQ(ftruncate(fd, 8192), 0);
  expect_map_reject("memfd without MFD_ALLOW_SEALING", fd, 8192, 0);
  close(fd);

  /* An ordinary (non-memfd) temp file cannot be sealed: rejected unless allow_unsealed. */
  char tmpl[] = "/tmp/nmif-test-region-XXXXXX";
  fd = mkstemp(tmpl);
  CHECK(fd >= 0);
  unlink(tmpl);
  CHECK_EQ(ftruncate(fd, 16384), 0);
  expect_map_reject("unsealed tmp file", fd, 16384, 0);
  expect_map_reject("tmp file too small, allow_unsealed", fd, 16385, 1);
  expect_map_ok("unsealed tmp file, allow_unsealed", fd, 16384, 1, &r);
  nmif__region_release(&r);

  /* A read-only fd of a sealed memfd: mmap(PROT_WRITE, MAP_SHARED) fails, with a reason. */
  int rw = make_memfd(4096, F_SEAL_SHRINK);
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", rw);
  int ro = open(path, O_RDONLY);
  if (ro >= 0) {
    expect_map_reject("read-only fd of a memfd", ro, 4096, 0);
    close(ro);
  }
  close(rw);

  int after = count_fds();
  CHECK_EQ(after, before);
}

/* ---- eventfd detection ------------------------------------------------------------------- */

static void test_is_eventfd(void) {
  int before = count_fds();
  int e1 = eventfd(0, EFD_NONBLOCK);
  int e2 = eventfd(5, EFD_SEMAPHORE);
  int p[2];
  CHECK_EQ(pipe(p), 0);
  int m = memfd_create("x", MFD_CLOEXEC);
  int sp[2];
  CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
  CHECK(e1 >= 0 && e2 >= 0 && m >= 0);
  CHECK_EQ(nmif__fd_is_eventfd(e1), 1);
  CHECK_EQ(nmif__fd_is_eventfd(e2), 1);
  CHECK_EQ(nmif__fd_is_eventfd(p[0]), 0);
  CHECK_EQ(nmif__fd_is_eventfd(p[1]), 0);
  CHECK_EQ(nmif__fd_is_eventfd(m), 0);
  CHECK_EQ(nmif__fd_is_eventfd(sp[0]), 0);
  CHECK_EQ(nmif__fd_is_eventfd(-1), 0);
  CHECK_EQ(nmif__fd_is_eventfd(999), 0);
  /* A duplicate of an eventfd (as received through SCM_RIGHTS) is still one. */
  int d = dup(e1);
  CHECK_EQ(nmif__fd_is_eventfd(d), 1);
  close(d);
  close(e1);
  close(e2);
  close(p[0]);
  close(p[1]);
  close(m);
  close(sp[0]);
  close(sp[1]);
  CHECK_EQ(nmif__fd_is_eventfd(e1), 0); /* closed */
  CHECK_EQ(count_fds(), before);
}

int main(void) {
  int before = count_fds();
  test_worked_example();
  test_multi_queue_layout();
  test_tiny_rings();
  test_layout_limits();
  test_region_create();
  test_map_peer();
  test_is_eventfd();
  CHECK_EQ(count_fds(), before);
  printf("test_layout: OK\n");
  return 0;
}
