/* memif <-> memif cross-connect through an nhal worker, no DPDK.
 *
 * One process: two memif links (peer slave A <-> bridge master A, peer slave B <-> bridge
 * master B); a worker forwards bridge A <-> bridge B in both directions. The peers send
 * packets of 60..9000 bytes (chained 2048-byte buffers), with a window so that the bridge
 * never finds a full ring, and every packet arrives in order and byte for byte. Then peer B
 * disconnects while A keeps sending: the worker counts link-down drops, nothing crashes, and
 * once B is back the traffic flows again with exact counts. An idle worker sleeps on the memif
 * interrupts and single packets wake it. Also: the command ring (pause, resume, del), and a
 * port cannot belong to two workers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "nhal.h"

#define N_PACKETS 20000
#define WINDOW 64
#define MAX_PKT 9000

typedef struct link {
  nmif_if_t *bridge, *peer;
  int bridge_up, peer_up;
  nmif_lease_t *lease;       /* the bridge master's queue 0, lent to the worker */
  uint32_t tx_seq, rx_seq;   /* peer side: sent from this peer, received at this peer */
} link_t;

static nmif_loop_t *loop;
static link_t A, B;

/* The lease's gate is libmemif's business: nothing to open or close here. */
static void on_bridge_connect(nmif_if_t *i, void *u) { ((link_t *)u)->bridge_up = 1; }
static void on_bridge_disconnect(nmif_if_t *i, const char *reason, void *u) { ((link_t *)u)->bridge_up = 0; }
static void on_peer_connect(nmif_if_t *i, void *u) { ((link_t *)u)->peer_up = 1; }
static void on_peer_disconnect(nmif_if_t *i, const char *r, void *u) { ((link_t *)u)->peer_up = 0; }

static uint32_t pkt_len(int dir, uint32_t seq) {
  static const uint32_t sizes[] = {60, 64, 128, 1500, 2048, 2049, 4000, 9000, 61, 333};
  return sizes[(seq * 7 + (uint32_t)dir) % 10];
}

static void pkt_fill(uint8_t *p, int dir, uint32_t seq, uint32_t len) {
  for (uint32_t k = 0; k < len; k++) p[k] = (uint8_t)(seq * 31 + k * 7 + (uint32_t)dir);
  memcpy(p, &seq, 4);
}

/* Sends from `from`'s peer towards `to`'s peer, keeping at most WINDOW in flight. */
static void peer_send(link_t *from, link_t *to, int dir, uint32_t total, int windowed) {
  static uint8_t buf[32][MAX_PKT];
  const void *ptrs[32];
  uint32_t lens[32];
  uint32_t n = 0;
  while (n < 32 && from->tx_seq + n < total && (!windowed || from->tx_seq + n - to->rx_seq < WINDOW)) {
    uint32_t seq = from->tx_seq + n;
    lens[n] = pkt_len(dir, seq);
    pkt_fill(buf[n], dir, seq, lens[n]);
    ptrs[n] = buf[n];
    n++;
  }
  if (!n || !from->peer_up) return;
  int r = nmif_tx_copy(from->peer, 0, ptrs, lens, (uint16_t)n);
  if (r > 0) from->tx_seq += (uint32_t)r;
}

/* Receives at `at`'s peer; checks order and content unless gaps are allowed. */
static uint64_t peer_recv(link_t *at, int dir, int allow_gaps) {
  static uint8_t pkt[MAX_PKT], want[MAX_PKT];
  nmif_buf_t b[256];
  if (!at->peer_up) return 0;
  int n = nmif_rx_burst(at->peer, 0, b, 256);
  if (n <= 0) return 0;
  uint64_t bytes = 0;
  uint32_t len = 0;
  for (int k = 0; k < n; k++) {
    CHECK(len + b[k].len <= MAX_PKT);
    memcpy(pkt + len, b[k].data, b[k].len);
    len += b[k].len;
    if (b[k].flags & NMIF_BUF_NEXT) continue;
    uint32_t seq;
    memcpy(&seq, pkt, 4);
    if (allow_gaps) CHECK(seq >= at->rx_seq);
    else CHECK_EQ(seq, at->rx_seq);
    CHECK_EQ(len, pkt_len(dir, seq));
    pkt_fill(want, dir, seq, len);
    CHECK(memcmp(pkt, want, len) == 0);
    at->rx_seq = seq + 1;
    bytes += len;
    len = 0;
  }
  nmif_rx_release(at->peer, 0, (uint16_t)n);
  return bytes;
}

static void make_link(link_t *l, const char *path, uint32_t id) {
  nmif_socket_args_t sa = {.path = path, .fd_update = nmif_loop_fd_update, .fd_update_ctx = loop,
                           .reconnect_min_ms = 20, .reconnect_max_ms = 50};
  nmif_socket_t *ls, *cs;
  CHECK_OK(nmif_socket_create(&ls, &sa));
  CHECK_OK(nmif_socket_create(&cs, &sa));
  nmif_if_args_t ma = {.id = id, .is_master = 1, .on_connect = on_bridge_connect,
                       .on_disconnect = on_bridge_disconnect, .user = l};
  CHECK_OK(nmif_if_create(ls, &l->bridge, &ma));
  nmif_lease_args_t la = {.qid = 0, .rx_mode = NMIF_RX_POLLING};
  CHECK_OK(nmif_lease_create(l->bridge, &la, &l->lease));
  nmif_if_args_t sl = {.id = id, .is_master = 0, .on_connect = on_peer_connect,
                       .on_disconnect = on_peer_disconnect, .user = l};
  CHECK_OK(nmif_if_create(cs, &l->peer, &sl));
  CHECK_OK(nmif_set_rx_mode(l->peer, 0, NMIF_RX_POLLING));
}

static void wait_up(void) {
  for (int k = 0; k < 500 && !(A.bridge_up && A.peer_up && B.bridge_up && B.peer_up); k++) nmif_loop_run(loop, 10);
  CHECK(A.bridge_up && A.peer_up && B.bridge_up && B.peer_up);
}

int main(void) {
  char pa[64], pb[64];
  snprintf(pa, sizeof pa, "/tmp/nhal-xc-a-%d.sock", getpid());
  snprintf(pb, sizeof pb, "/tmp/nhal-xc-b-%d.sock", getpid());
  CHECK_OK(nmif_loop_create(&loop));
  make_link(&A, pa, 1);
  make_link(&B, pb, 2);
  wait_up();

  static nhal_stats_t sa, sb;
  nhal_port_t *pA, *pB;
  CHECK_OK(nhal_memif_port_create(&pA, "memA", A.lease, &sa));
  CHECK_OK(nhal_memif_port_create(&pB, "memB", B.lease, &sb));
  nhal_worker_t *w, *w2;
  nhal_worker_args_t wa = {.burst = 64, .cpu = -1, .idle_sleep_us = 20};
  CHECK_OK(nhal_worker_create(&w, &wa));
  CHECK_OK(nhal_worker_add_path(w, pA, pB));
  CHECK_OK(nhal_worker_add_path(w, pB, pA));
  CHECK_EQ(nhal_worker_stats(w)[NHAL_WS_PATHS], 2);
  /* One owner per port. */
  CHECK_OK(nhal_worker_create(&w2, &wa));
  CHECK_EQ(nhal_worker_add_path(w2, pA, pB), -EBUSY);
  CHECK_EQ(nhal_port_destroy(pA), -EBUSY);

  /* 1. both directions, exact and byte for byte */
  uint64_t bytes_ab = 0, bytes_ba = 0;
  for (int it = 0; (A.tx_seq < N_PACKETS || B.rx_seq < N_PACKETS || B.tx_seq < N_PACKETS || A.rx_seq < N_PACKETS); it++) {
    CHECK(it < 2000000);
    peer_send(&A, &B, 0, N_PACKETS, 1);
    peer_send(&B, &A, 1, N_PACKETS, 1);
    bytes_ab += peer_recv(&B, 0, 0);
    bytes_ba += peer_recv(&A, 1, 0);
    nmif_loop_run(loop, 0);
    if ((it & 63) == 0) usleep(50);
  }
  CHECK_EQ(sa.v[NHAL_ST_RX_PKTS], N_PACKETS);
  CHECK_EQ(sb.v[NHAL_ST_TX_PKTS], N_PACKETS);
  CHECK_EQ(sb.v[NHAL_ST_RX_PKTS], N_PACKETS);
  CHECK_EQ(sa.v[NHAL_ST_TX_PKTS], N_PACKETS);
  CHECK_EQ(sa.v[NHAL_ST_RX_BYTES], bytes_ab);
  CHECK_EQ(sb.v[NHAL_ST_TX_BYTES], bytes_ab);
  CHECK_EQ(sb.v[NHAL_ST_RX_BYTES], bytes_ba);
  CHECK_EQ(sa.v[NHAL_ST_DROP_TX_FULL] + sb.v[NHAL_ST_DROP_TX_FULL], 0);
  printf("cross-connect: %u packets each way, %llu + %llu bytes, exact\n", N_PACKETS,
         (unsigned long long)bytes_ab, (unsigned long long)bytes_ba);

  /* 2. pause: nothing moves; resume: it flows again */
  CHECK_OK(nhal_worker_pause(w));
  CHECK_EQ(nhal_worker_stats(w)[NHAL_WS_PAUSED], 1);
  uint32_t total = N_PACKETS + 10;
  for (int k = 0; k < 20; k++) peer_send(&A, &B, 0, total, 0), nmif_loop_run(loop, 1);
  CHECK_EQ(A.tx_seq, total);
  CHECK_EQ(peer_recv(&B, 0, 0), 0);
  CHECK_OK(nhal_worker_resume(w));
  for (int k = 0; k < 2000 && B.rx_seq < total; k++) peer_recv(&B, 0, 0), usleep(1000);
  CHECK_EQ(B.rx_seq, total);

  /* 3. peer B goes away while A sends: drops counted as link down, then B comes back */
  nmif_if_disconnect(B.peer, "peer killed (test)");
  for (int k = 0; k < 50 && B.bridge_up; k++) nmif_loop_run(loop, 10);
  CHECK(!B.bridge_up);
  total += 500;
  for (int k = 0; k < 2000 && A.tx_seq < total; k++) {
    peer_send(&A, &B, 0, total, 0);
    nmif_loop_run(loop, 0);
    usleep(200);
  }
  CHECK_EQ(A.tx_seq, total);
  for (int k = 0; k < 200 && sb.v[NHAL_ST_DROP_LINK_DOWN] < 500; k++) usleep(1000);
  printf("while B was down: %llu dropped (link down)\n", (unsigned long long)sb.v[NHAL_ST_DROP_LINK_DOWN]);
  CHECK_EQ(sb.v[NHAL_ST_DROP_LINK_DOWN], 500);
  wait_up();  /* the slave reconnects by itself */
  B.rx_seq = A.tx_seq;
  total += 1000;
  for (int it = 0; B.rx_seq < total; it++) {
    CHECK(it < 2000000);
    peer_send(&A, &B, 0, total, 1);
    peer_recv(&B, 0, 0);
    nmif_loop_run(loop, 0);
    if ((it & 63) == 0) usleep(50);
  }
  CHECK_EQ(sb.v[NHAL_ST_TX_PKTS], total - 500);
  printf("after reconnect: %u more packets, exact\n", 1000);

  /* 3b. idle: the worker sleeps on the memif interrupts, armed only while it sleeps. Single
   * packets sent after a quiet spell wake it (counted), and arrive. */
  uint64_t wakeups0 = nhal_worker_stats(w)[NHAL_WS_IRQ_WAKEUPS];
  for (int k = 0; k < 20; k++) {
    for (int q = 0; q < 20; q++) nmif_loop_run(loop, 1);  /* ~20 ms quiet: the worker sleeps */
    total += 1;
    peer_send(&A, &B, 0, total, 0);
    for (int it = 0; B.rx_seq < total; it++) {
      CHECK(it < 5000);
      peer_recv(&B, 0, 0);
      usleep(100);
    }
  }
  uint64_t wakeups = nhal_worker_stats(w)[NHAL_WS_IRQ_WAKEUPS] - wakeups0;
  printf("idle: 20 single packets, %llu woke the worker by interrupt\n", (unsigned long long)wakeups);
  CHECK(wakeups >= 15);

  /* 3c. a slave may offer buffers of any length: B's peer shortens buffers it has posted (as
   * a hostile or unusual slave could); the bridge must fill each by its own length, chaining,
   * never by the usual 2048 bytes, and packets of up to 9000 bytes still arrive exactly. */
  CHECK_OK(nhal_worker_pause(w));
  nmif_ring_details_t rd;
  CHECK_OK(nmif_ring_details(B.peer, 0, 0, &rd));
  uint64_t region_size;
  uint8_t *base = nmif_region_base(B.peer, rd.region, &region_size);
  CHECK(base != NULL);
  struct wire_desc { uint16_t flags, region; uint32_t length, offset, metadata; };
  struct wire_desc *desc = (struct wire_desc *)(base + rd.offset + 128);  /* after the header */
  uint16_t shortened = 0;
  for (uint16_t sl = rd.tail; sl != rd.head && shortened < 128; sl++, shortened++)
    desc[sl & (rd.size - 1)].length = (sl & 1) ? 64 : 1000;
  CHECK(shortened >= 64);
  CHECK_OK(nhal_worker_resume(w));
  uint64_t too_big0 = sb.v[NHAL_ST_DROP_TOO_BIG], tx0 = sb.v[NHAL_ST_TX_PKTS];
  total += 200;
  for (int it = 0; B.rx_seq < total; it++) {
    CHECK(it < 2000000);
    peer_send(&A, &B, 0, total, 1);
    peer_recv(&B, 0, 0);  /* checks order and every byte */
    nmif_loop_run(loop, 0);
    if ((it & 63) == 0) usleep(50);
  }
  CHECK_EQ(sb.v[NHAL_ST_TX_PKTS] - tx0, 200);
  CHECK_EQ(sb.v[NHAL_ST_DROP_TOO_BIG], too_big0);
  printf("short offered buffers: %u of them, 200 packets chained into them exactly\n", shortened);

  /* 4. del path; teardown */
  CHECK_OK(nhal_worker_del_path(w, pA, pB));
  CHECK_EQ(nhal_worker_del_path(w, pA, pB), -ENOENT);
  CHECK_EQ(nhal_worker_stats(w)[NHAL_WS_PATHS], 1);
  nhal_worker_destroy(w);
  nhal_worker_destroy(w2);
  CHECK_OK(nhal_port_destroy(pA));
  CHECK_OK(nhal_port_destroy(pB));
  nmif_lease_unref(A.lease);
  nmif_lease_unref(B.lease);
  CHECK_EQ(nhal_dpdk_built() ? 0 : nhal_eal_init(0, NULL), nhal_dpdk_built() ? 0 : -ENOTSUP);
  nmif_loop_destroy(loop);  /* sockets leak on purpose: the process ends */
  unlink(pa);
  unlink(pb);
  printf("ok\n");
  return 0;
}
