/*
 * nmif-fuzz-record OUTDIR: records seed inputs for the fuzzers from real runs of our library.
 *
 *   OUTDIR/msg/       real handshakes: our slave and our master talk through a proxy that
 *                     writes what each side sent (with the kind of fd it carried) as a
 *                     fuzz_msg input, once as the slave's part and once as the master's part;
 *   OUTDIR/datapath/  real traffic between a connected pair (copies, bursts, swaps, releases),
 *                     each call followed by pokes that restate what the call wrote into the
 *                     shared rings (ring snapshots), so the fuzzer starts from real values.
 *
 * The committed corpus under fuzz/corpus was written by this program.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "fuzz_datapath.h"
#include "fuzz_msg.h"
#include "peer.h"
#include "wire.h"

/* ---- output ---------------------------------------------------------------------------- */

struct out {
  uint8_t b[1 << 16];
  size_t n;
};

static void put(struct out *o, const void *p, size_t n) {
  FUZZ_CHECK(o->n + n <= sizeof(o->b));
  memcpy(o->b + o->n, p, n);
  o->n += n;
}

static void put8(struct out *o, uint8_t v) { put(o, &v, 1); }

static void save(const char *dir, const char *sub, const char *name, const struct out *o) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, sub);
  mkdir(path, 0755);
  snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
  FILE *f = fopen(path, "wb");
  FUZZ_CHECK(f && fwrite(o->b, 1, o->n, f) == o->n && fclose(f) == 0);
  printf("%s: %zu bytes\n", path, o->n);
}

/* ---- handshakes through a recording proxy --------------------------------------------------- */

static uint8_t fd_kind(int fd) {
  char path[64], link[128];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  ssize_t k = readlink(path, link, sizeof(link) - 1);
  FUZZ_CHECK(k > 0);
  link[k] = '\0';
  return strstr(link, "eventfd") ? FDSEL_EVENTFD : FDSEL_REGION;
}

/* Moves every waiting datagram from `from` to `to`, appending a record per datagram. */
static int forward(int from, int to, struct out *rec) {
  int moved = 0;
  for (;;) {
    uint8_t buf[256];
    int fds[HP_MAX_FDS], nfds;
    ssize_t n = hp_recvmsg(from, buf, sizeof(buf), fds, HP_MAX_FDS, &nfds, MSG_DONTWAIT);
    if (n <= 0)
      return moved;
    FUZZ_CHECK(n == NMIF_MSG_SIZE && nfds <= 1);
    put8(rec, nfds ? fd_kind(fds[0]) : FDSEL_NONE);
    put8(rec, 0);
    put(rec, buf, NMIF_MSG_SIZE);
    FUZZ_CHECK(hp_sendmsg(to, buf, NMIF_MSG_SIZE, fds, nfds, 0) == NMIF_MSG_SIZE);
    if (nfds)
      close(fds[0]);
    moved++;
  }
}

struct hs_case {
  const char *name;
  uint16_t queues;
  uint8_t log2;
  uint32_t bsize;
  const char *secret;
};

static nmif_if_t *g_master, *g_slave;
static int both_up(void *ctx) { return nmif_if_is_connected(g_master) && nmif_if_is_connected(g_slave); }

static void record_handshake(const char *dir, nmif_loop_t *loop, const struct hs_case *hc) {
  char mpath[64], lpath[64];
  snprintf(mpath, sizeof(mpath), "@nmif-rec-m-%d", (int)getpid());
  snprintf(lpath, sizeof(lpath), "@nmif-rec-s-%d", (int)getpid());
  nmif_socket_t *ms = fuzz_socket(loop, mpath), *ss = fuzz_socket(loop, lpath);
  nmif_if_args_t a;
  memset(&a, 0, sizeof(a));
  a.id = FUZZ_MSG_ID;
  a.is_master = 1;
  a.secret = FUZZ_MSG_SECRET;
  a.rx_queues = a.tx_queues = FUZZ_MSG_QUEUES;
  FUZZ_CHECK(nmif_if_create(ms, &g_master, &a) == 0);

  int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa;
  socklen_t len = hp_sockaddr(&sa, lpath);
  FUZZ_CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, len) == 0 && listen(lfd, 1) == 0);
  memset(&a, 0, sizeof(a));
  a.id = FUZZ_MSG_ID;
  a.secret = hc->secret;
  a.rx_queues = a.tx_queues = hc->queues;
  a.log2_ring_size = hc->log2;
  a.buffer_size = hc->bsize;
  FUZZ_CHECK(nmif_if_create(ss, &g_slave, &a) == 0);
  int cs = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  int cm = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  len = hp_sockaddr(&sa, mpath);
  FUZZ_CHECK(cs >= 0 && cm >= 0 && connect(cm, (struct sockaddr *)&sa, len) == 0);

  static struct out as_slave, as_master;
  as_slave.n = as_master.n = 0;
  put8(&as_slave, 0);
  put8(&as_master, 1);
  int destroyed = 0;
  for (int round = 0; round < 2000; round++) {
    nmif_loop_run(loop, 1);
    int moved = forward(cs, cm, &as_slave) + forward(cm, cs, &as_master);
    if (!destroyed && (both_up(NULL) || (!moved && round > 200))) {
      nmif_if_destroy(g_slave); /* DISCONNECT "interface deleted", recorded too */
      destroyed = 1;
      round = 1900;
    }
  }
  char name[64];
  snprintf(name, sizeof(name), "%s-as-slave", hc->name);
  save(dir, "msg", name, &as_slave);
  snprintf(name, sizeof(name), "%s-as-master", hc->name);
  save(dir, "msg", name, &as_master);
  close(cs);
  close(cm);
  close(lfd);
  fuzz_pump(loop);
  nmif_socket_destroy(ss);
  nmif_socket_destroy(ms);
}

/* ---- traffic, with the ring words each call wrote restated as pokes -------------------------- */

struct snap {
  uint16_t w[2][3];                       /* head, tail, flags per ring */
  nmif_desc_t d[2][1u << FDP_LOG2];
  int valid;
};

struct recorder {
  struct out o;
  struct snap s;
};

static void take(struct snap *s, nmif_ring_t *const *rings) {
  s->valid = rings != NULL;
  if (!rings)
    return;
  for (int r = 0; r < 2; r++) {
    s->w[r][0] = rings[r]->head;
    s->w[r][1] = rings[r]->tail;
    s->w[r][2] = rings[r]->flags;
    memcpy(s->d[r], rings[r]->desc, sizeof(s->d[r]));
  }
}

static void observe(void *ctx, const uint8_t *op, size_t len, nmif_ring_t *const *rings) {
  struct recorder *rc = ctx;
  put(&rc->o, op, len);
  struct snap now;
  take(&now, rings);
  if (now.valid && rc->s.valid && op[0] % OP_COUNT != OP_POKE16 &&
      op[0] % OP_COUNT != OP_POKE_DESC) {
    for (int r = 0; r < 2; r++) {
      for (int w = 0; w < 3; w++) {
        if (now.w[r][w] == rc->s.w[r][w])
          continue;
        uint8_t p[4] = {OP_POKE16, (uint8_t)(r | w << 1), (uint8_t)now.w[r][w],
                        (uint8_t)(now.w[r][w] >> 8)};
        put(&rc->o, p, sizeof(p));
      }
      for (unsigned k = 0; k < (1u << FDP_LOG2); k++) {
        const nmif_desc_t *a = &rc->s.d[r][k], *b = &now.d[r][k];
        uint32_t v[4] = {b->flags, b->region, b->length, b->offset};
        uint32_t was[4] = {a->flags, a->region, a->length, a->offset};
        for (int f = 0; f < 4; f++) {
          if (v[f] == was[f])
            continue;
          uint8_t p[7] = {OP_POKE_DESC, (uint8_t)(r | f << 1), (uint8_t)k, (uint8_t)v[f],
                          (uint8_t)(v[f] >> 8), (uint8_t)(v[f] >> 16), (uint8_t)(v[f] >> 24)};
          put(&rc->o, p, sizeof(p));
        }
      }
    }
  }
  rc->s = now;
}

/* Script helpers: side 0 our master, 1 our slave. */
static void copy(struct out *o, int side, int n, const uint16_t *lens) {
  put8(o, OP_COPY);
  put8(o, (uint8_t)side);
  put8(o, (uint8_t)(n - 1));
  for (int k = 0; k < n; k++) {
    put8(o, (uint8_t)lens[k]);
    put8(o, (uint8_t)(lens[k] >> 8));
  }
}
static void op2(struct out *o, int op, int a, int b) {
  put8(o, (uint8_t)op);
  put8(o, (uint8_t)a);
  put8(o, (uint8_t)b);
}

static void record_traffic(const char *dir, const char *name, const struct out *script) {
  static struct recorder rc;
  memset(&rc, 0, sizeof(rc));
  fdp_run(script->b, script->n, observe, &rc);
  save(dir, "datapath", name, &rc.o);
}

static void traffic_seeds(const char *dir) {
  static struct out s;
  /* slave -> master, sizes from one buffer to a chain of 16, then released */
  s.n = 0;
  const uint16_t up[4] = {60, 300, 1500, 4000};
  copy(&s, 1, 4, up);
  op2(&s, OP_RX, 0, 63);
  op2(&s, OP_RELEASE, 0, 255);
  put8(&s, OP_LOOP);
  record_traffic(dir, "copy-slave-to-master", &s);

  /* master -> slave, then the slave's zero-copy swap back */
  s.n = 0;
  const uint16_t down[2] = {64, 700};
  copy(&s, 0, 2, down);
  op2(&s, OP_RX, 1, 31);
  op2(&s, OP_SWAP, 1, 4);
  put8(&s, OP_BURST);
  put8(&s, 1);
  put8(&s, 4);
  for (int k = 0; k < 4; k++) {
    put8(&s, 0);
    put8(&s, k == 1 || k == 2 ? NMIF_BUF_NEXT : 0); /* 64 B, then 700 B in three buffers */
  }
  op2(&s, OP_RELEASE, 1, 255);
  op2(&s, OP_RX, 0, 31);
  op2(&s, OP_RELEASE, 0, 255);
  record_traffic(dir, "copy-swap-back", &s);

  /* alloc and burst by hand on both sides, with interrupts armed */
  s.n = 0;
  op2(&s, OP_ARM, 0, 1);
  op2(&s, OP_ARM, 1, 1);
  op2(&s, OP_ALLOC, 0, 7);
  put8(&s, OP_BURST);
  put8(&s, 0);
  put8(&s, 3);
  const uint8_t lens[3] = {30, 128, 10};
  for (int k = 0; k < 3; k++) {
    put8(&s, lens[k]);
    put8(&s, k == 1 ? NMIF_BUF_NEXT : 0);
  }
  put8(&s, OP_LOOP);
  op2(&s, OP_RX, 1, 15);
  op2(&s, OP_RELEASE, 1, 255);
  op2(&s, OP_ALLOC, 1, 3);
  put8(&s, OP_BURST);
  put8(&s, 1);
  put8(&s, 2);
  for (int k = 0; k < 2; k++) {
    put8(&s, 0);
    put8(&s, 0);
  }
  op2(&s, OP_RX, 0, 15);
  op2(&s, OP_RELEASE, 0, 255);
  put8(&s, OP_LOOP);
  record_traffic(dir, "alloc-burst-armed", &s);

  /* enough rounds each way for the 16-slot rings and the u16 counters' low bits to wrap */
  s.n = 0;
  for (int k = 0; k < 24; k++) {
    const uint16_t one[1] = {(uint16_t)(60 + k * 40)};
    copy(&s, k & 1, 1, one);
    op2(&s, OP_RX, !(k & 1), 15);
    op2(&s, OP_RELEASE, !(k & 1), 255);
  }
  record_traffic(dir, "ring-wrap", &s);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: nmif-fuzz-record OUTDIR\n");
    return 2;
  }
  fuzz_quiet_log();
  mkdir(argv[1], 0755);
  nmif_loop_t *loop;
  FUZZ_CHECK(nmif_loop_create(&loop) == 0);
  static const struct hs_case hs[] = {
      {"handshake-2q", FUZZ_MSG_QUEUES, FUZZ_MSG_SLAVE_LOG2, FUZZ_MSG_SLAVE_BSIZE, FUZZ_MSG_SECRET},
      {"handshake-1q", 1, 2, 64, FUZZ_MSG_SECRET},
      {"handshake-big-region", 1, 10, 2048, FUZZ_MSG_SECRET},
      {"handshake-wrong-secret", 1, FUZZ_MSG_SLAVE_LOG2, FUZZ_MSG_SLAVE_BSIZE, "nope"},
  };
  for (size_t k = 0; k < sizeof(hs) / sizeof(hs[0]); k++)
    record_handshake(argv[1], loop, &hs[k]);
  nmif_loop_destroy(loop);
  traffic_seeds(argv[1]);
  return 0;
}
