/*
 * Control-message codec: every encoder against the fact sheet's byte offsets (§3.2-3.8),
 * bounded strings, the bounded field reader, and nmif__msg_check's first-level validation.
 *
 * Expected messages are built by hand, byte offset by byte offset, from the fact sheet tables
 * (never from wire.h's structs), then compared to the encoder output over all 128 bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "msg.h"
#include "nmemif.h"
#include "wire.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static void put8(uint8_t *b, size_t off, uint8_t v) { b[off] = v; }
static void put16(uint8_t *b, size_t off, uint16_t v) { memcpy(b + off, &v, 2); } /* host order */
static void put32(uint8_t *b, size_t off, uint32_t v) { memcpy(b + off, &v, 4); }
static void put64(uint8_t *b, size_t off, uint64_t v) { memcpy(b + off, &v, 8); }
static void putstr(uint8_t *b, size_t off, const char *s) { memcpy(b + off, s, strlen(s)); }

static void hexdump_row(const char *label, const uint8_t *b, size_t from) {
  fprintf(stderr, "  %s[%3zu]:", label, from);
  for (size_t i = from; i < from + 16 && i < NMIF_MSG_SIZE; i++)
    fprintf(stderr, " %02x", b[i]);
  fprintf(stderr, "\n");
}

/* Compares all 128 bytes; on a mismatch prints the first differing offset and both rows. */
#define CHECK_BYTES(what, got, exp)                                                       \
  do {                                                                                    \
    const uint8_t *g_ = (const uint8_t *)(got), *e_ = (const uint8_t *)(exp);             \
    for (size_t i_ = 0; i_ < NMIF_MSG_SIZE; i_++) {                                       \
      if (g_[i_] != e_[i_]) {                                                             \
        fprintf(stderr, "%s:%d: %s: byte %zu differs: got 0x%02x, expected 0x%02x\n",     \
                __FILE__, __LINE__, what, i_, g_[i_], e_[i_]);                            \
        hexdump_row("got", g_, i_ & ~(size_t)15);                                         \
        hexdump_row("exp", e_, i_ & ~(size_t)15);                                         \
        exit(1);                                                                          \
      }                                                                                   \
    }                                                                                     \
  } while (0)

/* Fills the message with garbage so the encoder's zero-fill is checked too. */
static void dirty(nmif_msg_t *m) { memset(m, 0xA5, sizeof(*m)); }

static int is_little_endian(void) {
  uint16_t v = 1;
  uint8_t b;
  memcpy(&b, &v, 1);
  return b == 1;
}

/* ---- encoders ---------------------------------------------------------------------------- */

static void test_ack(void) {
  nmif_msg_t m;
  uint8_t exp[NMIF_MSG_SIZE] = {0};
  dirty(&m);
  nmif__msg_ack(&m);
  put16(exp, 0, 1);
  CHECK_BYTES("ACK", &m, exp);
}

static void test_hello(void) {
  nmif_msg_t m;
  uint8_t exp[NMIF_MSG_SIZE] = {0};
  dirty(&m);
  nmif__msg_hello(&m, "app-x");
  put16(exp, 0, 2);
  putstr(exp, 2, "app-x");
  put16(exp, 34, 0x0200);
  put16(exp, 36, 0x0200);
  put16(exp, 38, 255);                   /* max_region: highest region index */
  put16(exp, 40, NMIF_MAX_QUEUES - 1);   /* max_m2s_ring: highest index = 255 queues - 1 */
  put16(exp, 42, NMIF_MAX_QUEUES - 1);   /* max_s2m_ring */
  put8(exp, 44, 14);
  CHECK_BYTES("HELLO", &m, exp);

  /* A 40-character name: 31 characters and a NUL inside the 32-byte field, nothing beyond. */
  const char *longname = "0123456789abcdefghijklmnopqrstuvwxyzABCD";
  CHECK_EQ(strlen(longname), 40);
  dirty(&m);
  nmif__msg_hello(&m, longname);
  memcpy(exp + 2, longname, 31);
  put8(exp, 33, 0);
  CHECK_BYTES("HELLO long name", &m, exp);

  /* NULL name: all zero. */
  dirty(&m);
  nmif__msg_hello(&m, NULL);
  memset(exp + 2, 0, 32);
  CHECK_BYTES("HELLO NULL name", &m, exp);
}

static void test_init(void) {
  nmif_msg_t m;
  uint8_t exp[NMIF_MSG_SIZE] = {0};
  dirty(&m);
  nmif__msg_init(&m, 0xDEADBEEF, NMIF_MODE_IP, "s3cr3t", "slave-app");
  put16(exp, 0, 3);
  put16(exp, 2, 0x0200);
  put32(exp, 4, 0xDEADBEEF);
  put8(exp, 8, 1);
  putstr(exp, 9, "s3cr3t");
  putstr(exp, 33, "slave-app");
  CHECK_BYTES("INIT", &m, exp);

  /* 30-character secret: 23 characters + NUL; 40-character name: 31 + NUL. */
  const char *sec30 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123";
  const char *name40 = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn";
  CHECK_EQ(strlen(sec30), 30);
  CHECK_EQ(strlen(name40), 40);
  dirty(&m);
  nmif__msg_init(&m, 7, NMIF_MODE_PUNT_INJECT, sec30, name40);
  memset(exp, 0, sizeof(exp));
  put16(exp, 0, 3);
  put16(exp, 2, 0x0200);
  put32(exp, 4, 7);
  put8(exp, 8, 2);
  memcpy(exp + 9, sec30, 23);       /* byte 32 (9 + 23) stays 0 */
  memcpy(exp + 33, name40, 31);     /* byte 64 (33 + 31) stays 0 */
  CHECK_BYTES("INIT long secret/name", &m, exp);
  CHECK_EQ(((uint8_t *)&m)[32], 0);
  CHECK_EQ(((uint8_t *)&m)[64], 0);

  /* No secret: the 24 bytes are all zero. */
  dirty(&m);
  nmif__msg_init(&m, 0, NMIF_MODE_ETHERNET, NULL, "a");
  memset(exp, 0, sizeof(exp));
  put16(exp, 0, 3);
  put16(exp, 2, 0x0200);
  putstr(exp, 33, "a");
  CHECK_BYTES("INIT no secret", &m, exp);
  dirty(&m);
  nmif__msg_init(&m, 0, NMIF_MODE_ETHERNET, "", "a");
  CHECK_BYTES("INIT empty secret", &m, exp);
}

static void test_add_region(void) {
  nmif_msg_t m;
  uint8_t exp[NMIF_MSG_SIZE] = {0};
  dirty(&m);
  /* A size using all eight bytes shows the u64 sits at offset 4, unaligned, unpadded. */
  nmif__msg_add_region(&m, 0x0102, 0x1122334455667788ull);
  put16(exp, 0, 4);
  put16(exp, 2, 0x0102);
  put64(exp, 4, 0x1122334455667788ull);
  CHECK_BYTES("ADD_REGION", &m, exp);
  if (is_little_endian()) {
    const uint8_t *b = (const uint8_t *)&m;
    CHECK_EQ(b[4], 0x88);
    CHECK_EQ(b[11], 0x11);
    CHECK_EQ(b[12], 0);
  }
  dirty(&m);
  nmif__msg_add_region(&m, 0, 4227328);
  memset(exp, 0, sizeof(exp));
  put16(exp, 0, 4);
  put64(exp, 4, 4227328);
  CHECK_BYTES("ADD_REGION worked example", &m, exp);
}

static void test_add_ring(void) {
  nmif_msg_t m;
  uint8_t exp[NMIF_MSG_SIZE] = {0};
  dirty(&m);
  nmif__msg_add_ring(&m, 1, 0x0304, 0x0506, 0x0A0B0C0D, 10);
  put16(exp, 0, 5);
  put16(exp, 2, 1);            /* flags: S2M */
  put16(exp, 4, 0x0304);       /* index */
  put16(exp, 6, 0x0506);       /* region */
  put32(exp, 8, 0x0A0B0C0D);   /* offset */
  put8(exp, 12, 10);           /* log2_ring_size */
  put16(exp, 13, 0);           /* private_hdr_size at 13 (unaligned) */
  CHECK_BYTES("ADD_RING S2M", &m, exp);

  dirty(&m);
  nmif__msg_add_ring(&m, 0, 0, 0, 16512, 14);
  memset(exp, 0, sizeof(exp));
  put16(exp, 0, 5);
  put32(exp, 8, 16512);
  put8(exp, 12, 14);
  CHECK_BYTES("ADD_RING M2S", &m, exp);

  /* Any non-zero is_s2m means S2M, and only bit 0 is set. */
  dirty(&m);
  nmif__msg_add_ring(&m, 42, 0, 0, 0, 0);
  CHECK_EQ(((uint8_t *)&m)[2], 1);
  CHECK_EQ(((uint8_t *)&m)[3], 0);
  CHECK_EQ(((uint8_t *)&m)[13], 0);
  CHECK_EQ(((uint8_t *)&m)[14], 0);
}

static void test_connect(void) {
  nmif_msg_t m;
  uint8_t exp[NMIF_MSG_SIZE] = {0};
  dirty(&m);
  nmif__msg_connect(&m, NMIF_MSG_CONNECT, "memif0/0");
  put16(exp, 0, 6);
  putstr(exp, 2, "memif0/0");
  CHECK_BYTES("CONNECT", &m, exp);

  dirty(&m);
  nmif__msg_connect(&m, NMIF_MSG_CONNECTED, "master-if");
  memset(exp, 0, sizeof(exp));
  put16(exp, 0, 7);
  putstr(exp, 2, "master-if");
  CHECK_BYTES("CONNECTED", &m, exp);

  const char *name40 = "IIIIIIIIIIiiiiiiiiiiIIIIIIIIIIiiiiiiiiii";
  dirty(&m);
  nmif__msg_connect(&m, NMIF_MSG_CONNECT, name40);
  memset(exp, 0, sizeof(exp));
  put16(exp, 0, 6);
  memcpy(exp + 2, name40, 31);
  CHECK_BYTES("CONNECT long name", &m, exp);
}

static void test_disconnect(void) {
  nmif_msg_t m;
  uint8_t exp[NMIF_MSG_SIZE] = {0};
  dirty(&m);
  nmif__msg_disconnect(&m, 0x01020304, "bye");
  put16(exp, 0, 8);
  put32(exp, 2, 0x01020304);
  putstr(exp, 6, "bye");
  CHECK_BYTES("DISCONNECT", &m, exp);

  /* 120-character reason: 95 + NUL in the 96-byte field (6..101), rest of the message zero. */
  char reason[121];
  for (int i = 0; i < 120; i++)
    reason[i] = (char)('a' + i % 26);
  reason[120] = '\0';
  dirty(&m);
  nmif__msg_disconnect(&m, 0, reason);
  memset(exp, 0, sizeof(exp));
  put16(exp, 0, 8);
  memcpy(exp + 6, reason, 95);
  CHECK_BYTES("DISCONNECT long reason", &m, exp);
  CHECK_EQ(((uint8_t *)&m)[101], 0);
}

/* ---- bounded strings --------------------------------------------------------------------- */

static void test_str_to_field(void) {
  uint8_t f[8];
  memset(f, 0xEE, sizeof(f));
  nmif__str_to_field(f, sizeof(f), "abcdefghijk");
  CHECK(memcmp(f, "abcdefg", 8) == 0); /* 7 chars + NUL */
  memset(f, 0xEE, sizeof(f));
  nmif__str_to_field(f, sizeof(f), "ab");
  CHECK(memcmp(f, "ab\0\0\0\0\0\0", 8) == 0);
  memset(f, 0xEE, sizeof(f));
  nmif__str_to_field(f, sizeof(f), NULL);
  CHECK(memcmp(f, "\0\0\0\0\0\0\0\0", 8) == 0);
}

/* An unterminated field that ends exactly where a PROT_NONE page starts: reading one byte past
 * it would SIGSEGV, so this test passing shows the reader stays inside the field. */
static void test_field_to_str_guard_page(void) {
  long pg = sysconf(_SC_PAGESIZE);
  uint8_t *map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
  CHECK(map != MAP_FAILED);
  CHECK_EQ(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);

  const size_t sizes[] = {1, 24, 32, 96};
  for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
    size_t fs = sizes[k];
    uint8_t *field = map + pg - fs;
    memset(field, 'Z', fs); /* no NUL anywhere */

    char dst[128];
    memset(dst, 0x55, sizeof(dst));
    nmif__field_to_str(dst, sizeof(dst), field, fs);
    CHECK_EQ(strlen(dst), fs);
    for (size_t i = 0; i < fs; i++)
      CHECK_EQ(dst[i], 'Z');

    /* A destination smaller than the field truncates and terminates. */
    char small[8];
    memset(small, 0x55, sizeof(small));
    nmif__field_to_str(small, sizeof(small), field, fs);
    CHECK_EQ(strlen(small), fs < 7 ? fs : 7);

    /* A terminator inside the field is honoured. */
    if (fs > 3) {
      field[3] = '\0';
      nmif__field_to_str(dst, sizeof(dst), field, fs);
      CHECK(strcmp(dst, "ZZZ") == 0);
    }
  }
  /* A received message whose name field has no NUL: the copy is bounded by the field. */
  nmif_msg_t *m = (nmif_msg_t *)(map + pg - sizeof(nmif_msg_t));
  memset(m, 'Q', sizeof(*m));
  char name[NMIF_NAME_MAX + 8];
  nmif__field_to_str(name, sizeof(name), m->connect.if_name, sizeof(m->connect.if_name));
  CHECK_EQ(strlen(name), 32);
  char reason[NMIF_REASON_MAX + 8];
  nmif__field_to_str(reason, sizeof(reason), m->disconnect.string, sizeof(m->disconnect.string));
  CHECK_EQ(strlen(reason), 96);
  munmap(map, (size_t)pg * 2);
}

/* ---- nmif__msg_check --------------------------------------------------------------------- */

static void expect_reject(const char *what, const void *buf, ssize_t len, int flags) {
  nmif_msg_t out;
  const char *why = NULL;
  int r = nmif__msg_check(buf, len, flags, &out, &why);
  if (r != -EBADMSG || why == NULL || why[0] == '\0') {
    fprintf(stderr, "%s: expected -EBADMSG (%d) with a reason, got %d, why=%s\n", what, -EBADMSG,
            r, why ? why : "(null)");
    exit(1);
  }
  printf("  reject %-28s -> \"%s\"\n", what, why);
}

static void test_msg_check(void) {
  uint8_t buf[256];
  memset(buf, 0, sizeof(buf));
  put16(buf, 0, NMIF_MSG_ACK);

  expect_reject("size 0", buf, 0, 0);
  expect_reject("size 1", buf, 1, 0);
  expect_reject("size 127", buf, 127, 0);
  expect_reject("size 129", buf, 129, 0);
  expect_reject("size 256", buf, 256, 0);
  expect_reject("size -1", buf, -1, 0);
  expect_reject("MSG_TRUNC", buf, 128, MSG_TRUNC);
  expect_reject("MSG_CTRUNC", buf, 128, MSG_CTRUNC);
  expect_reject("MSG_TRUNC|MSG_CTRUNC", buf, 128, MSG_TRUNC | MSG_CTRUNC);

  const uint16_t bad_types[] = {0, 9, 10, 0x100, 0x7fff, 0xffff};
  for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
    char what[32];
    snprintf(what, sizeof(what), "type %u", bad_types[i]);
    put16(buf, 0, bad_types[i]);
    expect_reject(what, buf, 128, 0);
  }

  /* Every valid type is accepted and copied verbatim (non-zero tail bytes are allowed). */
  for (uint16_t t = 1; t <= 8; t++) {
    for (int i = 2; i < 128; i++)
      buf[i] = (uint8_t)(i * 7 + t);
    put16(buf, 0, t);
    nmif_msg_t out;
    memset(&out, 0, sizeof(out));
    const char *why = "untouched";
    int r = nmif__msg_check(buf, 128, 0, &out, &why);
    if (r != 0) {
      fprintf(stderr, "type %u (%s) rejected: %d (%s)\n", t, nmif__msg_type_name(t), r, why);
      exit(1);
    }
    CHECK_EQ(out.type, t);
    CHECK_BYTES("msg_check copy", &out, buf);
  }
  /* Harmless flags (e.g. MSG_CMSG_CLOEXEC echoes, MSG_EOR on seqpacket) do not reject. */
  put16(buf, 0, NMIF_MSG_ACK);
  nmif_msg_t out;
  const char *why = NULL;
  CHECK_EQ(nmif__msg_check(buf, 128, MSG_EOR, &out, &why), 0);
}

/* The kernel really reports an oversized SEQPACKET datagram as MSG_TRUNC with a 128-byte
 * read, which nmif__msg_check must then reject: end-to-end proof of the first check. */
static void test_msg_check_real_socket(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0) {
    printf("  (no SOCK_SEQPACKET socketpair: %s; real-socket part not run)\n", strerror(errno));
    return;
  }
  const size_t sizes[] = {129, 127, 128};
  for (size_t k = 0; k < 3; k++) {
    uint8_t out_buf[200] = {0};
    put16(out_buf, 0, NMIF_MSG_ACK);
    CHECK_EQ(send(sv[0], out_buf, sizes[k], 0), (ssize_t)sizes[k]);
    uint8_t in[NMIF_MSG_SIZE];
    struct iovec iov = {.iov_base = in, .iov_len = sizeof(in)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n = recvmsg(sv[1], &mh, 0);
    nmif_msg_t m;
    const char *why = NULL;
    int r = nmif__msg_check(in, n, mh.msg_flags, &m, &why);
    printf("  real socket: sent %zu, recvmsg %zd flags 0x%x -> %d %s\n", sizes[k], n,
           mh.msg_flags, r, r ? why : "");
    CHECK_EQ(r, sizes[k] == 128 ? 0 : -EBADMSG);
  }
  close(sv[0]);
  close(sv[1]);
}

static void test_misc(void) {
  for (uint16_t t = 0; t <= 10; t++)
    CHECK_EQ(nmif__msg_wants_fd(t), t == NMIF_MSG_ADD_REGION || t == NMIF_MSG_ADD_RING);
  CHECK_EQ(nmif__msg_wants_fd(0xffff), 0);
  CHECK(strcmp(nmif__msg_type_name(0), "NONE") == 0);
  CHECK(strcmp(nmif__msg_type_name(4), "ADD_REGION") == 0);
  CHECK(strcmp(nmif__msg_type_name(8), "DISCONNECT") == 0);
  CHECK(strcmp(nmif__msg_type_name(9), "UNKNOWN") == 0);
  CHECK(strcmp(nmif__msg_type_name(0xffff), "UNKNOWN") == 0);
  CHECK_EQ(sizeof(nmif_msg_t), 128);
}

int main(void) {
  test_ack();
  test_hello();
  test_init();
  test_add_region();
  test_add_ring();
  test_connect();
  test_disconnect();
  test_str_to_field();
  test_field_to_str_guard_page();
  test_msg_check();
  test_msg_check_real_socket();
  test_misc();
  printf("test_msg: OK\n");
  return 0;
}
