/* memif 2.0 wire format: control messages and shared-memory layout (host byte order). */
#ifndef NMIF_WIRE_H
#define NMIF_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define NMIF_COOKIE 0x03E31F20u
#define NMIF_MSG_SIZE 128
#define NMIF_DESC_SIZE 16

#ifndef NMIF_CACHE_LINE
#if defined(__aarch64__)
#define NMIF_CACHE_LINE 128
#else
#define NMIF_CACHE_LINE 64
#endif
#endif

enum nmif_msg_type {
  NMIF_MSG_NONE = 0,
  NMIF_MSG_ACK = 1,
  NMIF_MSG_HELLO = 2,
  NMIF_MSG_INIT = 3,
  NMIF_MSG_ADD_REGION = 4,
  NMIF_MSG_ADD_RING = 5,
  NMIF_MSG_CONNECT = 6,
  NMIF_MSG_CONNECTED = 7,
  NMIF_MSG_DISCONNECT = 8,
  NMIF_MSG_TYPE_MAX = 8,
};

#define NMIF_RING_FLAG_S2M 1u   /* ADD_RING flags bit 0 */
#define NMIF_DESC_NEXT 1u       /* descriptor flags bit 0 */
#define NMIF_RING_MASK_INT 1u   /* ring header flags bit 0 */

/* Packed bodies: offsets are absolute within the 128-byte message. */
struct __attribute__((packed)) nmif_msg_hello {
  uint8_t name[32];
  uint16_t min_version;
  uint16_t max_version;
  uint16_t max_region;
  uint16_t max_m2s_ring;
  uint16_t max_s2m_ring;
  uint8_t max_log2_ring_size;
};

struct __attribute__((packed)) nmif_msg_init {
  uint16_t version;
  uint32_t id;
  uint8_t mode;
  uint8_t secret[24];
  uint8_t name[32];
};

struct __attribute__((packed)) nmif_msg_add_region {
  uint16_t index;
  uint64_t size;
};

struct __attribute__((packed)) nmif_msg_add_ring {
  uint16_t flags;
  uint16_t index;
  uint16_t region;
  uint32_t offset;
  uint8_t log2_ring_size;
  uint16_t private_hdr_size;
};

struct __attribute__((packed)) nmif_msg_connect {
  uint8_t if_name[32];
};

struct __attribute__((packed)) nmif_msg_disconnect {
  uint32_t code;
  uint8_t string[96];
};

typedef struct __attribute__((packed)) nmif_msg {
  uint16_t type;
  union __attribute__((packed)) {
    struct nmif_msg_hello hello;
    struct nmif_msg_init init;
    struct nmif_msg_add_region add_region;
    struct nmif_msg_add_ring add_ring;
    struct nmif_msg_connect connect;      /* also CONNECTED */
    struct nmif_msg_disconnect disconnect;
    uint8_t raw[NMIF_MSG_SIZE - 2];
  };
} nmif_msg_t;

_Static_assert(sizeof(nmif_msg_t) == NMIF_MSG_SIZE, "message is 128 bytes");
_Static_assert(offsetof(nmif_msg_t, hello.min_version) == 34, "hello layout");
_Static_assert(offsetof(nmif_msg_t, hello.max_log2_ring_size) == 44, "hello layout");
_Static_assert(offsetof(nmif_msg_t, init.mode) == 8, "init layout");
_Static_assert(offsetof(nmif_msg_t, init.secret) == 9, "init layout");
_Static_assert(offsetof(nmif_msg_t, init.name) == 33, "init layout");
_Static_assert(offsetof(nmif_msg_t, add_region.size) == 4, "add_region layout");
_Static_assert(offsetof(nmif_msg_t, add_ring.offset) == 8, "add_ring layout");
_Static_assert(offsetof(nmif_msg_t, add_ring.private_hdr_size) == 13, "add_ring layout");
_Static_assert(offsetof(nmif_msg_t, disconnect.string) == 6, "disconnect layout");

/* Descriptor (16 bytes). */
typedef struct nmif_desc {
  uint16_t flags;
  uint16_t region;
  uint32_t length;
  uint32_t offset;
  uint32_t metadata;
} nmif_desc_t;

_Static_assert(sizeof(nmif_desc_t) == NMIF_DESC_SIZE, "descriptor is 16 bytes");

/* Ring header: cookie/flags/head in the first cache line, tail in the second, then desc[]. */
typedef struct nmif_ring {
  uint32_t cookie;
  uint16_t flags;
  uint16_t head;                               /* written by the slave only */
  uint8_t pad0[NMIF_CACHE_LINE - 8];
  uint16_t tail;                               /* written by the master only */
  uint8_t pad1[NMIF_CACHE_LINE - 2];
  nmif_desc_t desc[];
} nmif_ring_t;

_Static_assert(offsetof(nmif_ring_t, tail) == NMIF_CACHE_LINE, "tail at CL");
_Static_assert(offsetof(nmif_ring_t, desc) == 2 * NMIF_CACHE_LINE, "desc at 2*CL");

#define NMIF_RING_HDR_SIZE (2 * NMIF_CACHE_LINE)

static inline uint64_t nmif__ring_bytes(unsigned log2_size) {
  return (uint64_t)NMIF_RING_HDR_SIZE + (uint64_t)NMIF_DESC_SIZE * (1ull << log2_size);
}

#endif /* NMIF_WIRE_H */
