/* The handshake from the hostile peer's side, one message per step, and the mutations that
 * spoil a step: message fields, the datagram around it, and shared memory. */
#include "flow.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const step_names[HP_NSTEPS] = {
    "INIT", "ADD_REGION", "ADD_RING(S2M)", "ADD_RING(M2S)", "CONNECT", "HELLO", "ACK(INIT)",
    "ACK(ADD_REGION)", "ACK(ADD_RING)", "CONNECTED", "LIVE"};

const char *hp_step_name(int step) {
  return step >= 0 && step < HP_NSTEPS ? step_names[step] : "?";
}

/* ---- the hostile slave's region ---------------------------------------------------------- */

void hp_slave_build(struct hp_peer *p, uint8_t log2, uint32_t bsize) {
  uint32_t n = 1u << log2;
  p->log2 = log2;
  p->bsize = bsize;
  p->ring_bytes = (uint32_t)nmif__ring_bytes(log2);
  p->buf_base = 2ull * p->ring_bytes;
  p->rsize = p->buf_base + 2ull * n * bsize;
  p->rfd = hp_new_memfd(p, "r0", p->rsize, 1);
  p->rbase = hp_map(p, p->rfd, p->rsize);
  for (int t = 0; t < 2; t++) {
    nmif_ring_t *r = hp_slave_ring(p, t);
    r->cookie = NMIF_COOKIE;
    for (uint32_t j = 0; j < n; j++) {
      r->desc[j].region = 0;
      r->desc[j].offset = (uint32_t)(p->buf_base + ((uint64_t)t * n + j) * bsize);
      r->desc[j].length = bsize;
    }
  }
  p->efd[0] = hp_new_eventfd(p);
  p->efd[1] = hp_new_eventfd(p);
}

nmif_ring_t *hp_slave_ring(struct hp_peer *p, int m2s) {
  return (nmif_ring_t *)(p->rbase + (size_t)m2s * p->ring_bytes);
}

nmif_ring_t *hp_master_ring(struct hp_peer *p, int m2s, int k) {
  if (k >= p->nring[m2s])
    HP_FAIL("no %s ring %d was announced", m2s ? "M2S" : "S2M", k);
  return (nmif_ring_t *)(p->reg[p->ring[m2s][k].region].base + p->ring[m2s][k].offset);
}

/* ---- default messages ------------------------------------------------------------------------ */

static void put_str(uint8_t *field, size_t size, const char *s) {
  size_t n = strlen(s);
  memset(field, 0, size);
  memcpy(field, s, n < size ? n : size);
}

void hp_default(struct hp_peer *p, int step, struct hp_out *o) {
  memset(o, 0, sizeof(*o));
  o->len = NMIF_MSG_SIZE;
  switch (step) {
  case S_INIT:
    hp_msg_start(&o->m, NMIF_MSG_INIT);
    o->m.init.version = 0x0200;
    o->m.init.id = p->id;
    o->m.init.mode = p->mode;
    put_str(o->m.init.secret, sizeof(o->m.init.secret), p->secret);
    put_str(o->m.init.name, sizeof(o->m.init.name), p->app_name);
    break;
  case S_REGION:
    hp_msg_start(&o->m, NMIF_MSG_ADD_REGION);
    o->m.add_region.index = 0;
    o->m.add_region.size = p->rsize;
    o->fds[0] = p->rfd;
    o->nfds = 1;
    break;
  case S_RING_S2M:
  case S_RING_M2S: {
    int m2s = step == S_RING_M2S;
    hp_msg_start(&o->m, NMIF_MSG_ADD_RING);
    o->m.add_ring.flags = m2s ? 0 : NMIF_RING_FLAG_S2M;
    o->m.add_ring.index = 0;
    o->m.add_ring.region = 0;
    o->m.add_ring.offset = m2s ? p->ring_bytes : 0;
    o->m.add_ring.log2_ring_size = p->log2;
    o->m.add_ring.private_hdr_size = 0;
    o->fds[0] = p->efd[m2s];
    o->nfds = 1;
    break;
  }
  case S_CONNECT:
    hp_msg_start(&o->m, NMIF_MSG_CONNECT);
    put_str(o->m.connect.if_name, sizeof(o->m.connect.if_name), p->if_name);
    break;
  case M_HELLO:
    hp_msg_start(&o->m, NMIF_MSG_HELLO);
    put_str(o->m.hello.name, sizeof(o->m.hello.name), p->app_name);
    o->m.hello.min_version = 0x0200;
    o->m.hello.max_version = 0x0200;
    o->m.hello.max_region = 255;
    o->m.hello.max_m2s_ring = 255;
    o->m.hello.max_s2m_ring = 255;
    o->m.hello.max_log2_ring_size = 14;
    break;
  case M_ACK_INIT:
  case M_ACK_REGION:
  case M_ACK_RING:
    hp_msg_start(&o->m, NMIF_MSG_ACK);
    break;
  case M_CONNECTED:
    hp_msg_start(&o->m, NMIF_MSG_CONNECTED);
    put_str(o->m.connect.if_name, sizeof(o->m.connect.if_name), p->if_name);
    break;
  default: /* LIVE: nothing to send unless a mutation says so */
    o->skip = 1;
    break;
  }
}

/* ---- mutations --------------------------------------------------------------------------- */

/* Where each message field lives: absolute offset in the 128-byte message and width. A
 * string field takes `str`, or is filled with the byte `value` (no NUL: unterminated). */
static const struct {
  uint8_t off;
  uint8_t width;
  uint8_t is_str;
} msg_fields[HP_NFIELDS] = {
#define FIELD(f, member, str) [f] = {offsetof(nmif_msg_t, member), sizeof(((nmif_msg_t *)0)->member), str}
    FIELD(F_TYPE, type, 0),
    FIELD(F_INIT_VERSION, init.version, 0),
    FIELD(F_INIT_ID, init.id, 0),
    FIELD(F_INIT_MODE, init.mode, 0),
    FIELD(F_INIT_SECRET, init.secret, 1),
    FIELD(F_INIT_NAME, init.name, 1),
    FIELD(F_REGION_INDEX, add_region.index, 0),
    FIELD(F_REGION_SIZE, add_region.size, 0),
    FIELD(F_RING_FLAGS, add_ring.flags, 0),
    FIELD(F_RING_INDEX, add_ring.index, 0),
    FIELD(F_RING_REGION, add_ring.region, 0),
    FIELD(F_RING_OFFSET, add_ring.offset, 0),
    FIELD(F_RING_LOG2, add_ring.log2_ring_size, 0),
    FIELD(F_RING_PRIVHDR, add_ring.private_hdr_size, 0),
    FIELD(F_HELLO_NAME, hello.name, 1),
    FIELD(F_HELLO_MIN, hello.min_version, 0),
    FIELD(F_HELLO_MAX, hello.max_version, 0),
    FIELD(F_HELLO_MAX_REGION, hello.max_region, 0),
    FIELD(F_HELLO_MAX_M2S, hello.max_m2s_ring, 0),
    FIELD(F_HELLO_MAX_S2M, hello.max_s2m_ring, 0),
    FIELD(F_HELLO_MAX_LOG2, hello.max_log2_ring_size, 0),
    FIELD(F_CONN_NAME, connect.if_name, 1),
    FIELD(F_DISC_CODE, disconnect.code, 0),
    FIELD(F_DISC_STRING, disconnect.string, 1),
#undef FIELD
};

static void put_int(uint8_t *at, unsigned width, uint64_t v) {
  uint8_t b8 = (uint8_t)v;
  uint16_t b16 = (uint16_t)v;
  uint32_t b32 = (uint32_t)v;
  switch (width) {
  case 1: memcpy(at, &b8, 1); break;
  case 2: memcpy(at, &b16, 2); break;
  case 4: memcpy(at, &b32, 4); break;
  default: memcpy(at, &v, 8); break;
  }
}

/* The ring our side receives on (the peer produces into it) or transmits on (the peer
 * consumes it), with the peer's counter there and our side's. */
struct ring_view {
  nmif_ring_t *r;
  uint16_t n;
  uint16_t *peer_ctr;
  uint16_t *our_ctr;
};

static struct ring_view view(struct hp_peer *p, int victim_rx) {
  struct ring_view v;
  int m2s = p->role == HP_SLAVE ? !victim_rx : victim_rx;
  if (p->role == HP_SLAVE) {
    v.r = hp_slave_ring(p, m2s);
    v.n = (uint16_t)(1u << p->log2);
    v.peer_ctr = &v.r->head;
    v.our_ctr = &v.r->tail;
  } else {
    v.r = hp_master_ring(p, m2s, 0);
    v.n = (uint16_t)(1u << p->ring[m2s][0].log2);
    v.peer_ctr = &v.r->tail;
    v.our_ctr = &v.r->head;
  }
  return v;
}

static int64_t resolve(struct hp_peer *p, const struct hp_mut *m, const struct ring_view *v) {
  switch (m->rel) {
  case REL_RSIZE: return (int64_t)p->rsize + m->value;
  case REL_RING_BYTES: return (int64_t)p->ring_bytes + m->value;
  case REL_LOG2: return (int64_t)p->log2 + m->value;
  case REL_N: return (v ? v->n : (1 << p->log2)) + m->value;
  case REL_OTHER:
    if (!v)
      HP_FAIL("REL_OTHER needs a ring field");
    return __atomic_load_n(v->our_ctr, __ATOMIC_ACQUIRE) + m->value;
  default: return m->value;
  }
}

static int new_fd(struct hp_peer *p, int kind) {
  switch (kind) {
  case FDK_EVENTFD: return hp_new_eventfd(p);
  case FDK_PIPE: return hp_new_pipe_end(p);
  case FDK_SOCKET: return hp_new_socket_end(p);
  case FDK_MEMFD: return hp_new_memfd(p, "extra", 4096, 1);
  case FDK_UNSEALED_FILE: return hp_new_unsealed_file(p, p->rsize ? p->rsize : 4096);
  default: HP_FAIL("unknown fd kind %d", kind);
  }
}

static void set_fd0(struct hp_out *o, int fd) {
  o->fds[0] = fd;
  if (o->nfds == 0)
    o->nfds = 1;
}

static void apply_ring(struct hp_peer *p, const struct hp_mut *m) {
  int rx = m->field >= F_RX_FLAGS && m->field <= F_RX_CHAIN_ALL;
  struct ring_view v = view(p, rx);
  uint16_t mask = (uint16_t)(v.n - 1);
  uint16_t ctr = __atomic_load_n(v.peer_ctr, __ATOMIC_ACQUIRE);
  nmif_desc_t *d = &v.r->desc[(uint16_t)(ctr + m->n) & mask];
  int64_t val = resolve(p, m, &v);
  switch (m->field) {
  case F_RX_FLAGS: d->flags = (uint16_t)val; break;
  case F_RX_REGION: case F_TX_REGION: d->region = (uint16_t)val; break;
  case F_RX_LEN: case F_TX_LEN: d->length = (uint32_t)val; break;
  case F_RX_OFFSET: case F_TX_OFFSET: d->offset = (uint32_t)val; break;
  case F_RX_PUBLISH:
    __atomic_store_n(v.peer_ctr, (uint16_t)(ctr + val), __ATOMIC_RELEASE);
    break;
  case F_RX_COUNTER: case F_TX_COUNTER:
    __atomic_store_n(v.peer_ctr, (uint16_t)val, __ATOMIC_RELEASE);
    break;
  case F_RX_CHAIN_ALL:
    for (uint32_t k = 0; k < v.n; k++) {
      nmif_desc_t *c = &v.r->desc[(uint16_t)(ctr + k) & mask];
      c->length = (uint32_t)val;
      c->flags = NMIF_DESC_NEXT;
    }
    __atomic_store_n(v.peer_ctr, (uint16_t)(ctr + v.n), __ATOMIC_RELEASE);
    break;
  }
}

static void apply_one(struct hp_peer *p, const struct hp_mut *m, struct hp_out *o) {
  if (m->field < HP_NFIELDS && msg_fields[m->field].width) {
    uint8_t *at = o->raw + msg_fields[m->field].off;
    unsigned w = msg_fields[m->field].width;
    if (!msg_fields[m->field].is_str)
      put_int(at, w, (uint64_t)resolve(p, m, NULL));
    else if (m->str)
      put_str(at, w, m->str);
    else
      memset(at, (int)m->value, w);
    return;
  }
  switch (m->field) {
  case F_BODY_PATTERN:
    for (size_t k = 2; k < NMIF_MSG_SIZE; k++)
      o->raw[k] = (uint8_t)(m->value + k % 26);
    break;
  case F_LEN: o->len = (size_t)m->value; break;
  case F_NFDS:
    if (m->value < o->nfds)
      o->nfds = (int)m->value;
    break;
  case F_FD: set_fd0(o, new_fd(p, (int)m->value)); break;
  case F_FD_MEMFD: set_fd0(o, hp_new_memfd(p, "fd", (uint64_t)resolve(p, m, NULL), 1)); break;
  case F_ADD_FD:
    for (int k = 0; k < (m->n ? m->n : 1) && o->nfds < HP_MAX_FDS; k++)
      o->fds[o->nfds++] = new_fd(p, (int)m->value);
    break;
  case F_AS: hp_default(p, (int)m->value, o); break;
  case F_EMPTY:
    memset(o, 0, sizeof(*o));
    hp_msg_start(&o->m, (uint16_t)m->value);
    o->len = NMIF_MSG_SIZE;
    break;
  case F_SKIP: o->skip = 1; break;
  case F_STOP: o->stop = 1; break;
  case F_CLOSE: o->close_after = 1; break;
  case F_COOKIE_S2M:
  case F_COOKIE_M2S: {
    int m2s = m->field == F_COOKIE_M2S;
    nmif_ring_t *r = p->role == HP_SLAVE ? hp_slave_ring(p, m2s) : hp_master_ring(p, m2s, 0);
    r->cookie = (uint32_t)m->value;
    break;
  }
  default:
    if (m->field >= F_RX_FLAGS && m->field <= F_TX_COUNTER) {
      apply_ring(p, m);
      break;
    }
    HP_FAIL("field %d cannot be mutated", m->field);
  }
}

void hp_apply(struct hp_peer *p, int step, const struct hp_mut *muts, int n, struct hp_out *o) {
  for (int k = 0; k < n && muts[k].field != F_NONE; k++)
    if (muts[k].step == step)
      apply_one(p, &muts[k], o);
}

/* ---- the flows --------------------------------------------------------------------------- */

/* Sends a step's datagram. Returns -1 to go on, or how the flow ends. */
static int send_step(struct hp_peer *p, int step, struct hp_out *o) {
  if (o->stop)
    return HP_STOPPED;
  if (o->skip)
    return -1;
  int r = hp_send_raw(p, o->raw, o->len, o->fds, o->nfds);
  if (r < 0 && r != -EPIPE && r != -ECONNRESET)
    HP_FAIL("send %s: %s", hp_step_name(step), strerror(-r));
  if (o->close_after) {
    close(p->fd);
    p->fd = -1;
    return HP_LEFT;
  }
  if (o->m.type == NMIF_MSG_DISCONNECT && o->len == NMIF_MSG_SIZE)
    return HP_LEFT;
  return -1;
}

int hp_slave_flow(struct hp_peer *p, const struct hp_mut *muts, int n, int timeout_ms) {
  if (!p->rbase)
    hp_slave_build(p, p->log2 ? p->log2 : 6, p->bsize ? p->bsize : 2048);
  for (int step = S_INIT; step <= S_CONNECT; step++) {
    struct hp_out o;
    hp_default(p, step, &o);
    hp_apply(p, step, muts, n, &o);
    int end = send_step(p, step, &o);
    if (end >= 0)
      return end;
    if (o.skip)
      continue;
    nmif_msg_t m;
    ssize_t got = hp_recv(p, &m, NULL, NULL, timeout_ms);
    if (got == -ETIMEDOUT)
      HP_FAIL("after %s: no reply and no DISCONNECT within %d ms", hp_step_name(step), timeout_ms);
    if (got == 0)
      HP_FAIL("after %s: connection closed without DISCONNECT", hp_step_name(step));
    if (got != NMIF_MSG_SIZE)
      HP_FAIL("after %s: our side sent a %zd-byte datagram", hp_step_name(step), got);
    if (m.type == NMIF_MSG_DISCONNECT) {
      hp_record_disconnect(p, &m);
      return HP_REFUSED;
    }
    uint16_t want = step == S_CONNECT ? NMIF_MSG_CONNECTED : NMIF_MSG_ACK;
    if (m.type != want)
      HP_FAIL("after %s: expected %s, got %s (%u)", hp_step_name(step), hp_type_name(want),
              hp_type_name(m.type), m.type);
    if (step == S_CONNECT)
      return HP_UP;
    p->acks++;
  }
  HP_FAIL("handshake flow ended without CONNECT");
}

/* Checks and records what our slave announced; returns the step that answers it. */
static int master_learn(struct hp_peer *p, const nmif_msg_t *m, const int *fds, int nfds) {
  switch (m->type) {
  case NMIF_MSG_INIT:
    HP_EXPECT_EQ(nfds, 0);
    HP_EXPECT_EQ(m->init.version, 0x0200);
    HP_EXPECT_EQ(m->init.id, p->id);
    p->init = *m;
    return M_ACK_INIT;
  case NMIF_MSG_ADD_REGION: {
    HP_EXPECT_EQ(nfds, 1);
    uint16_t idx = m->add_region.index;
    HP_EXPECT_EQ(idx, p->nreg);
    HP_EXPECT(idx < HP_MAX_REGIONS);
    struct stat st;
    HP_EXPECT(fstat(fds[0], &st) == 0);
    HP_EXPECT(m->add_region.size > 0 && (uint64_t)st.st_size >= m->add_region.size);
    int seals = fcntl(fds[0], F_GET_SEALS);
    HP_EXPECT(seals >= 0 && (seals & F_SEAL_SHRINK));
    p->reg[idx].size = m->add_region.size;
    p->reg[idx].base = hp_map(p, fds[0], m->add_region.size);
    p->nreg++;
    return M_ACK_REGION;
  }
  case NMIF_MSG_ADD_RING: {
    const struct nmif_msg_add_ring *r = &m->add_ring;
    HP_EXPECT_EQ(nfds, 1);
    char path[64], link[80];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
    ssize_t k = readlink(path, link, sizeof(link) - 1);
    HP_EXPECT(k > 0);
    link[k] = '\0';
    HP_EXPECT(strcmp(link, "anon_inode:[eventfd]") == 0);
    HP_EXPECT_EQ(r->flags & ~NMIF_RING_FLAG_S2M, 0);
    int t = r->flags & NMIF_RING_FLAG_S2M ? 0 : 1;
    HP_EXPECT_EQ(r->index, p->nring[t]);
    HP_EXPECT(p->nring[t] < HP_MAX_RINGS);
    HP_EXPECT(r->region < p->nreg);
    HP_EXPECT_EQ(r->private_hdr_size, 0);
    HP_EXPECT(r->log2_ring_size <= 14);
    uint64_t end = (uint64_t)r->offset + nmif__ring_bytes(r->log2_ring_size);
    HP_EXPECT(end <= p->reg[r->region].size);
    p->ring[t][p->nring[t]].region = r->region;
    p->ring[t][p->nring[t]].offset = r->offset;
    p->ring[t][p->nring[t]].log2 = r->log2_ring_size;
    p->ring_fd[t][p->nring[t]] = fds[0];
    p->nring[t]++;
    return M_ACK_RING;
  }
  case NMIF_MSG_CONNECT:
    HP_EXPECT_EQ(nfds, 0);
    HP_EXPECT(p->nreg >= 1 && p->nring[0] >= 1 && p->nring[1] >= 1);
    return M_CONNECTED;
  default:
    HP_FAIL("our slave sent %s (%u)", hp_type_name(m->type), m->type);
  }
}

int hp_master_flow(struct hp_peer *p, const struct hp_mut *muts, int n, int timeout_ms) {
  struct hp_out o;
  hp_default(p, M_HELLO, &o);
  hp_apply(p, M_HELLO, muts, n, &o);
  if (o.stop)
    return HP_STOPPED;
  if (!o.skip) {
    int r = hp_send_raw(p, o.raw, o.len, o.fds, o.nfds);
    if (r < 0)
      HP_FAIL("send HELLO: %s", strerror(-r));
    if (o.close_after) {
      close(p->fd);
      p->fd = -1;
      return HP_LEFT;
    }
  }
  for (;;) {
    nmif_msg_t m;
    int fds[8], nfds = 0;
    ssize_t got = hp_recv(p, &m, fds, &nfds, timeout_ms);
    if (got == -ETIMEDOUT)
      HP_FAIL("our slave neither went on nor sent DISCONNECT within %d ms", timeout_ms);
    if (got == 0)
      HP_FAIL("our slave closed the connection without DISCONNECT");
    if (got != NMIF_MSG_SIZE)
      HP_FAIL("our slave sent a %zd-byte datagram", got);
    if (m.type == NMIF_MSG_DISCONNECT) {
      hp_record_disconnect(p, &m);
      return HP_REFUSED;
    }
    int step = master_learn(p, &m, fds, nfds);
    hp_default(p, step, &o);
    hp_apply(p, step, muts, n, &o);
    int end = send_step(p, step, &o);
    if (end >= 0)
      return end;
    if (step == M_CONNECTED)
      return HP_UP;
  }
}

int hp_live(struct hp_peer *p, const struct hp_mut *muts, int n) {
  struct hp_out o;
  hp_default(p, LIVE, &o);
  hp_apply(p, LIVE, muts, n, &o);
  int end = send_step(p, LIVE, &o);
  return end >= 0 ? end : HP_UP;
}
