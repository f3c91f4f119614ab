/* The lock-step handshake for both roles: one handler per message type and role validating
 * every field the peer sends, the state machine that dispatches them, and the reader of a
 * connection's messages. Every failed check ends in a DISCONNECT carrying the reason. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"
#include "msg.h"
#include "ring.h"

/* A handler failed for a reason of our own (resources, a broken connection), not because of what
 * the peer sent: the link goes down as a local failure rather than a violation. */
static const char *local_failure(nmif__conn_t *c, const char *why) {
  c->local_failure = 1;
  return why;
}

static int rings_cookie_ok(struct nmif_if_s *i, const char **why) {
  for (int dir = 0; dir < 2; dir++) {
    nmif__queue_t *arr = dir ? i->m2s : i->s2m;
    uint16_t n = dir ? i->num_m2s : i->num_s2m;
    for (uint16_t k = 0; k < n; k++) {
      if (__atomic_load_n(&arr[k].ring->cookie, __ATOMIC_ACQUIRE) != NMIF_COOKIE) {
        *why = dir ? "wrong cookie on M2S ring" : "wrong cookie on S2M ring";
        return 0;
      }
    }
  }
  return 1;
}

/* ---- master handlers ------------------------------------------------------------------------ */

static struct nmif_if_s *find_master(struct nmif_socket_s *s, uint32_t id) {
  for (struct nmif_if_s *i = s->ifaces; i; i = i->next)
    if (i->is_master && i->id == id && !i->destroyed)
      return i;
  return NULL;
}

static const char *master_on_init(nmif__conn_t *c, const nmif_msg_t *m) {
  struct nmif_socket_s *s = c->sock;
  if (m->init.version != NMIF_VERSION)
    return "incompatible memif version";
  struct nmif_if_s *i = find_master(s, m->init.id);
  if (!i)
    return "unmatched interface id";
  if (i->conn)
    return "already connected";
  if (m->init.mode != i->mode)
    return "mode mismatch";
  if (i->secret[0]) {
    char got[NMIF_SECRET_MAX];
    nmif__field_to_str(got, sizeof(got), m->init.secret, sizeof(m->init.secret));
    if (!got[0])
      return "secret required";
    if (strcmp(got, i->secret) != 0)
      return "incorrect secret";
  }
  /* Stage queue arrays for the most rings this interface accepts; counts grow per ADD_RING. */
  if (nmif__if_alloc_queues(i, i->cfg_rx, i->cfg_tx) < 0)
    return local_failure(c, "out of memory");
  i->num_s2m = i->num_m2s = 0;
  i->run_log2 = 0xff;
  nmif__conn_unlink_pending(c);
  c->next = NULL;
  c->iface = i;
  i->conn = c;
  nmif__field_to_str(i->peer_app_name, sizeof(i->peer_app_name), m->init.name,
                     sizeof(m->init.name));
  c->state = NMIF_CS_M_CONFIG;
  return NULL;
}

static const char *master_on_add_region(nmif__conn_t *c, const nmif_msg_t *m, int fd) {
  struct nmif_if_s *i = c->iface;
  uint16_t idx = m->add_region.index;
  if (idx != i->num_regions || idx >= NMIF_MAX_REGIONS)
    return "unexpected region index";
  const char *why = NULL;
  if (nmif__region_map_peer(&i->regions[idx], fd, m->add_region.size, c->sock->allow_unsealed,
                            &why) < 0)
    return why;
  i->num_regions++;
  return NULL;
}

static const char *master_on_add_ring(nmif__conn_t *c, const nmif_msg_t *m, int fd) {
  struct nmif_if_s *i = c->iface;
  const struct nmif_msg_add_ring *r = &m->add_ring;
  if (r->flags & ~NMIF_RING_FLAG_S2M)
    return "invalid ring flags";
  int is_s2m = r->flags & NMIF_RING_FLAG_S2M;
  uint16_t *count = is_s2m ? &i->num_s2m : &i->num_m2s;
  uint16_t limit = is_s2m ? i->cfg_rx : i->cfg_tx; /* master receives on S2M */
  if (r->index != *count)
    return "unexpected ring index";
  if (r->index >= limit)
    return "ring index out of range (more queues than configured)";
  if (r->region >= i->num_regions)
    return "ring in unknown region";
  if (r->private_hdr_size != 0)
    return "private headers not supported";
  if (r->log2_ring_size > NMIF_MAX_LOG2_RING_SIZE)
    return "ring size out of range";
  if (i->run_log2 != 0xff && r->log2_ring_size != i->run_log2)
    return "ring sizes differ";
  if (r->offset % 8)
    return "misaligned ring";
  nmif__region_t *reg = &i->regions[r->region];
  if ((uint64_t)r->offset + nmif__ring_bytes(r->log2_ring_size) > reg->size)
    return "region too small for its ring";
  if (!nmif__fd_is_eventfd(fd))
    return "interrupt fd is not an eventfd";
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return "interrupt fd unusable";
  nmif__queue_t *q = is_s2m ? &i->s2m[r->index] : &i->m2s[r->index];
  q->ring = (nmif_ring_t *)((uint8_t *)reg->base + r->offset);
  q->region = r->region;
  q->ring_offset = r->offset;
  q->log2 = r->log2_ring_size;
  q->size = (uint16_t)(1u << r->log2_ring_size);
  q->mask = (uint16_t)(q->size - 1);
  q->irq_fd = fd;
  i->run_log2 = r->log2_ring_size;
  (*count)++;
  return NULL;
}

static const char *master_on_connect(nmif__conn_t *c, const nmif_msg_t *m) {
  struct nmif_if_s *i = c->iface;
  const char *why = NULL;
  if (i->num_s2m == 0 || i->num_m2s == 0)
    return "no rings in one direction";
  if (!rings_cookie_ok(i, &why))
    return why;
  for (uint16_t k = 0; k < i->num_m2s; k++) {
    i->m2s[k].slots = calloc(i->m2s[k].size, sizeof(nmif__slot_t));
    if (!i->m2s[k].slots)
      return local_failure(c, "out of memory");
  }
  for (uint16_t k = 0; k < i->num_s2m; k++)
    nmif__queue_reset(&i->s2m[k], 1);
  for (uint16_t k = 0; k < i->num_m2s; k++)
    nmif__queue_reset(&i->m2s[k], 1);
  nmif__field_to_str(i->peer_if_name, sizeof(i->peer_if_name), m->connect.if_name,
                     sizeof(m->connect.if_name));
  nmif_msg_t reply;
  nmif__msg_connect(&reply, NMIF_MSG_CONNECTED, i->if_name);
  if (nmif__conn_send(c, &reply, -1) < 0)
    return local_failure(c, "failed to send CONNECTED");
  nmif__link_up(i);
  return NULL;
}

/* ---- slave handlers --------------------------------------------------------------------------- */

static const char *slave_build(nmif__conn_t *c) {
  struct nmif_if_s *i = c->iface;
  nmif__layout_t l;
  if (nmif__layout_compute(&l, i->num_s2m, i->num_m2s, i->run_log2, i->buffer_size) < 0)
    return "shared memory layout too large";
  uint16_t ns = i->num_s2m, nm = i->num_m2s;
  if (nmif__if_alloc_queues(i, ns, nm) < 0)
    return local_failure(c, "out of memory");
  char name[64];
  snprintf(name, sizeof(name), "nmemif %u region 0", (unsigned)i->id);
  if (nmif__region_create(&i->regions[0], l.region_size, name) < 0)
    return local_failure(c, "failed to create shared memory");
  i->num_regions = 1;
  uint8_t *base = i->regions[0].base;
  uint16_t n = (uint16_t)(1u << i->run_log2);
  for (int dir = 0; dir < 2; dir++) {
    nmif__queue_t *arr = dir ? i->m2s : i->s2m;
    uint16_t cnt = dir ? nm : ns;
    for (uint16_t k = 0; k < cnt; k++) {
      nmif__queue_t *q = &arr[k];
      q->ring_offset = (uint32_t)nmif__layout_ring_offset(&l, dir, k);
      q->ring = (nmif_ring_t *)(base + q->ring_offset);
      q->region = 0;
      q->log2 = i->run_log2;
      q->size = n;
      q->mask = (uint16_t)(n - 1);
      q->slots = calloc(n, sizeof(nmif__slot_t));
      q->irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (!q->slots || q->irq_fd < 0)
        return local_failure(c, "failed to allocate ring state");
      q->ring->cookie = NMIF_COOKIE;
      q->ring->flags = 0;
      q->ring->head = 0;
      q->ring->tail = 0;
      for (uint32_t j = 0; j < n; j++) {
        uint32_t off = (uint32_t)nmif__layout_buffer_offset(&l, dir, k, j);
        q->slots[j] = (nmif__slot_t){.offset = off, .cap = i->buffer_size, .region = 0};
        q->ring->desc[j] = (nmif_desc_t){.flags = 0, .region = 0, .length = i->buffer_size,
                                         .offset = off, .metadata = 0};
      }
    }
  }
  return NULL;
}

static const char *slave_on_hello(nmif__conn_t *c, const nmif_msg_t *m) {
  struct nmif_if_s *i = c->iface;
  const struct nmif_msg_hello *h = &m->hello;
  if (h->min_version > NMIF_VERSION || h->max_version < NMIF_VERSION)
    return "incompatible memif version";
  nmif__field_to_str(i->peer_app_name, sizeof(i->peer_app_name), h->name, sizeof(h->name));
  uint32_t max_s2m = (uint32_t)h->max_s2m_ring + 1, max_m2s = (uint32_t)h->max_m2s_ring + 1;
  i->num_s2m = (uint16_t)(i->cfg_tx < max_s2m ? i->cfg_tx : max_s2m);
  i->num_m2s = (uint16_t)(i->cfg_rx < max_m2s ? i->cfg_rx : max_m2s);
  i->run_log2 = i->cfg_log2 < h->max_log2_ring_size ? i->cfg_log2 : h->max_log2_ring_size;
  const char *why = slave_build(c);
  if (why)
    return why;
  nmif_msg_t reply;
  nmif__msg_init(&reply, i->id, i->mode, i->secret, c->sock->app_name);
  if (nmif__conn_send(c, &reply, -1) < 0)
    return local_failure(c, "failed to send INIT");
  c->state = NMIF_CS_S_WAIT_ACK;
  return NULL;
}

/* Sends the next queued handshake message: regions, S2M rings, M2S rings, then CONNECT. */
static const char *slave_on_ack(nmif__conn_t *c) {
  struct nmif_if_s *i = c->iface;
  nmif_msg_t m;
  int fd = -1;
  if (c->sent_regions < i->num_regions) {
    uint16_t k = c->sent_regions++;
    nmif__msg_add_region(&m, k, i->regions[k].size);
    fd = i->regions[k].fd;
  } else if (c->sent_s2m < i->num_s2m) {
    nmif__queue_t *q = &i->s2m[c->sent_s2m];
    nmif__msg_add_ring(&m, 1, c->sent_s2m++, q->region, q->ring_offset, q->log2);
    fd = q->irq_fd;
  } else if (c->sent_m2s < i->num_m2s) {
    nmif__queue_t *q = &i->m2s[c->sent_m2s];
    nmif__msg_add_ring(&m, 0, c->sent_m2s++, q->region, q->ring_offset, q->log2);
    fd = q->irq_fd;
  } else {
    nmif__msg_connect(&m, NMIF_MSG_CONNECT, i->if_name);
    c->state = NMIF_CS_S_WAIT_CONNECTED;
  }
  if (nmif__conn_send(c, &m, fd) < 0)
    return local_failure(c, "failed to send handshake message");
  return NULL;
}

static const char *slave_on_connected(nmif__conn_t *c, const nmif_msg_t *m) {
  struct nmif_if_s *i = c->iface;
  const char *why = NULL;
  if (!rings_cookie_ok(i, &why))
    return why;
  nmif__field_to_str(i->peer_if_name, sizeof(i->peer_if_name), m->connect.if_name,
                     sizeof(m->connect.if_name));
  for (uint16_t k = 0; k < i->num_s2m; k++)
    nmif__queue_reset(&i->s2m[k], 0);
  for (uint16_t k = 0; k < i->num_m2s; k++) {
    nmif__queue_reset(&i->m2s[k], 0);
  }
  nmif__link_up(i);
  /* Give the master every receive buffer, or it has nothing to transmit into. */
  for (uint16_t k = 0; k < i->num_m2s; k++)
    nmif_rx_release(i, k, i->m2s[k].size);
  return NULL;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

/* Handles one message; returns NULL or the reason to disconnect. */
static const char *dispatch(nmif__conn_t *c, const nmif_msg_t *m, int fd, int *fd_used) {
  uint16_t t = m->type;
  if (t == NMIF_MSG_DISCONNECT)
    return NULL; /* handled by the caller */
  switch (c->state) {
  case NMIF_CS_M_WAIT_INIT:
    return t == NMIF_MSG_INIT ? master_on_init(c, m) : "unexpected message before INIT";
  case NMIF_CS_M_CONFIG:
    if (t == NMIF_MSG_ADD_REGION) {
      *fd_used = 1;
      return master_on_add_region(c, m, fd);
    }
    if (t == NMIF_MSG_ADD_RING) {
      *fd_used = 1;
      return master_on_add_ring(c, m, fd);
    }
    if (t == NMIF_MSG_CONNECT)
      return master_on_connect(c, m);
    return "unexpected message during configuration";
  case NMIF_CS_S_WAIT_HELLO:
    return t == NMIF_MSG_HELLO ? slave_on_hello(c, m) : "unexpected message before HELLO";
  case NMIF_CS_S_WAIT_ACK:
    return t == NMIF_MSG_ACK ? slave_on_ack(c) : "unexpected message, expected ACK";
  case NMIF_CS_S_WAIT_CONNECTED:
    return t == NMIF_MSG_CONNECTED ? slave_on_connected(c, m)
                                   : "unexpected message, expected CONNECTED";
  default:
    return "unexpected message on a connected link";
  }
}

static int needs_ack(const nmif__conn_t *c, uint16_t type) {
  return (type == NMIF_MSG_INIT || type == NMIF_MSG_ADD_REGION || type == NMIF_MSG_ADD_RING) &&
         c->iface && c->iface->is_master;
}

/* Handles one received message. Returns 0 to go on reading, 1 when the connection is gone. */
static int handle_one(nmif__conn_t *c) {
  uint8_t buf[NMIF_MSG_SIZE + 1];
  int fds[NMIF_MAX_FDS_PER_MSG], nfds = 0, flags = 0;
  ssize_t n = nmif__conn_recv(c->fd, buf, sizeof(buf), fds, &nfds, &flags);
  if (n == -EAGAIN || n == -EINTR)
    return 2;
  if (n < 0) {
    char why[NMIF_REASON_MAX];
    snprintf(why, sizeof(why), "control socket error: %s", strerror((int)-n));
    nmif__conn_fail(c, NMIF_DOWN_PEER, why);
    return 1;
  }
  if (n == 0) {
    nmif__close_fds(fds, nfds);
    nmif__conn_fail(c, NMIF_DOWN_PEER, "peer closed the connection");
    return 1;
  }
  nmif_msg_t m;
  const char *why = NULL;
  if (nmif__msg_check(buf, n, flags, &m, &why) < 0) {
    nmif__close_fds(fds, nfds);
    nmif__conn_fail(c, NMIF_DOWN_VIOLATION, why);
    return 1;
  }
  NMIF_DBG("fd %d: received %s with %d fd(s)", c->fd, nmif__msg_type_name(m.type), nfds);
  if (nmif__msg_wants_fd(m.type) && nfds != 1) {
    nmif__close_fds(fds, nfds);
    nmif__conn_fail(c, NMIF_DOWN_VIOLATION,
                    nfds == 0 ? "missing file descriptor" : "more than one file descriptor");
    return 1;
  }
  if (!nmif__msg_wants_fd(m.type) && nfds > 0) {
    NMIF_WARN("fd %d: closing %d unexpected fd(s) sent with %s", c->fd, nfds,
              nmif__msg_type_name(m.type));
    nmif__close_fds(fds, nfds);
    nfds = 0;
  }
  if (m.type == NMIF_MSG_DISCONNECT) {
    char reason[NMIF_REASON_MAX];
    nmif__field_to_str(reason, sizeof(reason), m.disconnect.string, sizeof(m.disconnect.string));
    if (!reason[0])
      snprintf(reason, sizeof(reason), "peer disconnected");
    nmif__conn_fail(c, NMIF_DOWN_PEER, reason);
    return 1;
  }
  int fd_used = 0;
  int was_up = c->iface && c->iface->connected;
  why = dispatch(c, &m, nfds ? fds[0] : -1, &fd_used);
  if (why) {
    if (nfds) /* a rejected region/ring fd was not stored anywhere */
      close(fds[0]);
    int cause = c->local_failure ? NMIF_DOWN_LOCAL : NMIF_DOWN_VIOLATION;
    c->local_failure = 0;
    nmif__conn_fail(c, cause, why);
    return 1;
  }
  if (nfds && !fd_used)
    close(fds[0]);
  if (needs_ack(c, m.type)) {
    nmif_msg_t ack;
    nmif__msg_ack(&ack);
    if (nmif__conn_send(c, &ack, -1) < 0) {
      nmif__conn_fail(c, NMIF_DOWN_PEER, "failed to send ACK");
      return 1;
    }
  }
  struct nmif_if_s *i = c->iface;
  if (i && !was_up && i->connected) {
    /* Last: the callback may destroy the interface and with it this connection. */
    if (i->on_connect) {
      i->sock->dispatch_depth++;
      i->on_connect(i, i->user);
      i->sock->dispatch_depth--;
    }
    return 1;
  }
  return 0;
}

void nmif__conn_readable(nmif__conn_t *c, uint32_t revents) {
  /* Bounded: a peer flooding messages cannot starve the rest of the loop; the fd is watched
   * level-triggered, so what is left is read on the next event. */
  int r = 0;
  for (int k = 0; k < 16 && r == 0; k++)
    r = handle_one(c);
  /* A peer close shows up as EOF above; an error without EOF ends the connection too. */
  if (r == 2 && (revents & NMIF_EV_ERROR))
    nmif__conn_fail(c, NMIF_DOWN_PEER, "control connection error");
}
