#include "msg.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "nmemif.h"

void nmif__str_to_field(uint8_t *field, size_t field_size, const char *src) {
  size_t n = src ? strnlen(src, field_size - 1) : 0;
  memset(field, 0, field_size);
  if (n)
    memcpy(field, src, n);
}

void nmif__field_to_str(char *dst, size_t dst_size, const uint8_t *field, size_t field_size) {
  size_t n = strnlen((const char *)field, field_size); /* never reads past the field */
  if (n >= dst_size)
    n = dst_size - 1;
  memcpy(dst, field, n);
  dst[n] = '\0';
}

static void msg_start(nmif_msg_t *m, uint16_t type) {
  memset(m, 0, sizeof(*m));
  m->type = type;
}

void nmif__msg_ack(nmif_msg_t *m) { msg_start(m, NMIF_MSG_ACK); }

void nmif__msg_hello(nmif_msg_t *m, const char *app_name) {
  msg_start(m, NMIF_MSG_HELLO);
  nmif__str_to_field(m->hello.name, sizeof(m->hello.name), app_name);
  m->hello.min_version = NMIF_VERSION;
  m->hello.max_version = NMIF_VERSION;
  m->hello.max_region = 255;
  m->hello.max_m2s_ring = NMIF_MAX_QUEUES - 1;
  m->hello.max_s2m_ring = NMIF_MAX_QUEUES - 1;
  m->hello.max_log2_ring_size = NMIF_MAX_LOG2_RING_SIZE;
}

void nmif__msg_init(nmif_msg_t *m, uint32_t id, uint8_t mode, const char *secret,
                    const char *app_name) {
  msg_start(m, NMIF_MSG_INIT);
  m->init.version = NMIF_VERSION;
  m->init.id = id;
  m->init.mode = mode;
  nmif__str_to_field(m->init.secret, sizeof(m->init.secret), secret);
  nmif__str_to_field(m->init.name, sizeof(m->init.name), app_name);
}

void nmif__msg_add_region(nmif_msg_t *m, uint16_t index, uint64_t size) {
  msg_start(m, NMIF_MSG_ADD_REGION);
  m->add_region.index = index;
  m->add_region.size = size;
}

void nmif__msg_add_ring(nmif_msg_t *m, int is_s2m, uint16_t index, uint16_t region,
                        uint32_t offset, uint8_t log2_ring_size) {
  msg_start(m, NMIF_MSG_ADD_RING);
  m->add_ring.flags = is_s2m ? NMIF_RING_FLAG_S2M : 0;
  m->add_ring.index = index;
  m->add_ring.region = region;
  m->add_ring.offset = offset;
  m->add_ring.log2_ring_size = log2_ring_size;
  m->add_ring.private_hdr_size = 0;
}

void nmif__msg_connect(nmif_msg_t *m, uint16_t type, const char *if_name) {
  msg_start(m, type);
  nmif__str_to_field(m->connect.if_name, sizeof(m->connect.if_name), if_name);
}

void nmif__msg_disconnect(nmif_msg_t *m, uint32_t code, const char *reason) {
  msg_start(m, NMIF_MSG_DISCONNECT);
  m->disconnect.code = code;
  nmif__str_to_field(m->disconnect.string, sizeof(m->disconnect.string), reason);
}

int nmif__msg_check(const void *buf, ssize_t len, int msg_flags, nmif_msg_t *out,
                    const char **why) {
  if (msg_flags & MSG_TRUNC) {
    *why = "malformed message: longer than 128 bytes";
    return -EBADMSG;
  }
  if (msg_flags & MSG_CTRUNC) {
    *why = "malformed message: too many file descriptors";
    return -EBADMSG;
  }
  if (len != NMIF_MSG_SIZE) {
    *why = "malformed message: size is not 128 bytes";
    return -EBADMSG;
  }
  memcpy(out, buf, sizeof(*out));
  if (out->type == NMIF_MSG_NONE || out->type > NMIF_MSG_TYPE_MAX) {
    *why = "unknown message type";
    return -EBADMSG;
  }
  return 0;
}

int nmif__msg_wants_fd(uint16_t type) {
  return type == NMIF_MSG_ADD_REGION || type == NMIF_MSG_ADD_RING;
}

const char *nmif__msg_type_name(uint16_t type) {
  static const char *const names[] = {"NONE",     "ACK",      "HELLO",   "INIT",      "ADD_REGION",
                                      "ADD_RING", "CONNECT",  "CONNECTED", "DISCONNECT"};
  return type <= NMIF_MSG_TYPE_MAX ? names[type] : "UNKNOWN";
}
