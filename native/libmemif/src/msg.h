/* Control message encoding and first-level validation (pure functions, no I/O). */
#ifndef NMIF_MSG_H
#define NMIF_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

/* Encoders: zero the whole message, then fill the body (strings bounded, NUL-terminated). */
void nmif__msg_ack(nmif_msg_t *m);
void nmif__msg_hello(nmif_msg_t *m, const char *app_name);
void nmif__msg_init(nmif_msg_t *m, uint32_t id, uint8_t mode, const char *secret,
                    const char *app_name);
void nmif__msg_add_region(nmif_msg_t *m, uint16_t index, uint64_t size);
void nmif__msg_add_ring(nmif_msg_t *m, int is_s2m, uint16_t index, uint16_t region,
                        uint32_t offset, uint8_t log2_ring_size);
void nmif__msg_connect(nmif_msg_t *m, uint16_t type, const char *if_name); /* CONNECT(ED) */
void nmif__msg_disconnect(nmif_msg_t *m, uint32_t code, const char *reason);

/* Checks a received datagram: exactly 128 bytes, not truncated, known type. Copies it into
 * *out (so later reads never touch the receive buffer twice). Returns 0 or -EBADMSG with *why
 * set to a reason suitable for a DISCONNECT. */
int nmif__msg_check(const void *buf, ssize_t len, int msg_flags, nmif_msg_t *out,
                    const char **why);

/* 1 for the two types that must carry exactly one fd (ADD_REGION, ADD_RING). */
int nmif__msg_wants_fd(uint16_t type);
const char *nmif__msg_type_name(uint16_t type);

/* Copies a fixed-size, possibly unterminated string field into dst and NUL-terminates it. */
void nmif__field_to_str(char *dst, size_t dst_size, const uint8_t *field, size_t field_size);
/* Copies a C string into a fixed field: at most field_size - 1 bytes, rest zeroed. */
void nmif__str_to_field(uint8_t *field, size_t field_size, const char *src);

#endif
