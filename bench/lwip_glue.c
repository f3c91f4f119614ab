/* The lwIP glue's cost per datagram without Node, for callgrind (bench/lwip-callgrind.js):
 * one process, lwIP on the master side of a memif pair, a raw memif peer on the slave side.
 *   rx: the peer sends N UDP datagrams (SIZE bytes of payload) in bursts of 64; lwIP polls
 *       them in and a socket takes them with nlwip_recv_batch.
 *   tx: nlwip_send N datagrams to the peer, nlwip_flush every 64; the peer drains its ring.
 * Usage: lwip_glue rx|tx N [SIZE]. Prints what it moved; exit status 1 if anything was lost or
 * it gave up (no progress for a second, or a minute in all). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nlwip.h"

#define BURST 64

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Stops a loop that moves nothing for a second, or runs for a minute. */
static int stuck(long moved) {
  static long last = -1;
  static double since, start;
  double t = now_s();
  if (last < 0) start = t;
  if (moved != last) {
    last = moved;
    since = t;
  }
  return t - since > 1.0 || t - start > 60.0;
}

static nmif_loop_t *loop;
static nmif_if_t *master, *peer;
static int master_up, peer_up;
static nmif_lease_t *lease;   /* the master's queue 0, lent to the lwIP netif's port */

static void on_master_connect(nmif_if_t *i, void *u) { master_up = 1; }
static void on_master_disconnect(nmif_if_t *i, const char *r, void *u) { master_up = 0; }
static void on_peer_connect(nmif_if_t *i, void *u) { peer_up = 1; }
static void on_peer_disconnect(nmif_if_t *i, const char *r, void *u) { peer_up = 0; }

static uint16_t csum(const uint8_t *p, size_t len) {
  uint32_t acc = 0;
  for (size_t k = 0; k + 1 < len; k += 2) acc += (uint32_t)(p[k] << 8 | p[k + 1]);
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)~acc;
}

/* An Ethernet/IPv4/UDP frame from 10.90.0.2:5000 to 10.90.0.1:7000, with its UDP checksum
 * (lwIP verifies it, as it would for any real peer). */
static size_t frame(uint8_t *f, size_t payload) {
  static const uint8_t hdr[14] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0};
  memcpy(f, hdr, 14);
  uint8_t *ip = f + 14;
  memset(ip, 0, 20);
  ip[0] = 0x45;
  uint16_t tot = htons((uint16_t)(20 + 8 + payload));
  memcpy(ip + 2, &tot, 2);
  ip[8] = 64;
  ip[9] = 17;
  memcpy(ip + 12, (uint8_t[]){10, 90, 0, 2}, 4);
  memcpy(ip + 16, (uint8_t[]){10, 90, 0, 1}, 4);
  uint16_t c = htons(csum(ip, 20));
  memcpy(ip + 10, &c, 2);
  uint8_t *udp = ip + 20;
  uint16_t ports[4] = {htons(5000), htons(7000), htons((uint16_t)(8 + payload)), 0};
  memcpy(udp, ports, 8);
  memset(udp + 8, 0x5a, payload);
  uint32_t acc = 0;   /* pseudo header, then the datagram */
  for (int k = 12; k < 20; k += 2) acc += (uint32_t)(ip[k] << 8 | ip[k + 1]);
  acc += 17 + 8 + (uint32_t)payload;
  for (size_t k = 0; k < 8 + payload; k += 2) acc += (uint32_t)(udp[k] << 8 | (k + 1 < 8 + payload ? udp[k + 1] : 0));
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  uint16_t uc = htons((uint16_t)~acc);
  memcpy(udp + 6, &uc, 2);
  return 14 + 20 + 8 + payload;
}

int main(int argc, char **argv) {
  if (argc < 3 || !nlwip_built()) {
    fprintf(stderr, "usage: lwip_glue rx|tx N [SIZE] (needs lwIP: %s)\n", nlwip_unavailable_reason());
    return 2;
  }
  int rx = strcmp(argv[1], "rx") == 0;
  long n = atol(argv[2]);
  size_t size = argc > 3 ? (size_t)atol(argv[3]) : 64;
  char path[64];
  snprintf(path, sizeof path, "@nlwip-bench-%d", getpid());   /* abstract: no file to clean up */
  nmif_loop_create(&loop);
  nmif_socket_args_t sa = {.path = path, .fd_update = nmif_loop_fd_update, .fd_update_ctx = loop};
  nmif_socket_t *ms, *cs;
  nmif_socket_create(&ms, &sa);
  nmif_socket_create(&cs, &sa);
  nmif_if_args_t ma = {.id = 1, .is_master = 1, .on_connect = on_master_connect, .on_disconnect = on_master_disconnect};
  nmif_if_create(ms, &master, &ma);
  nmif_lease_args_t la = {.qid = 0, .rx_mode = NMIF_RX_POLLING};
  nmif_lease_create(master, &la, &lease);
  nmif_if_args_t sl = {.id = 1, .on_connect = on_peer_connect, .on_disconnect = on_peer_disconnect};
  nmif_if_create(cs, &peer, &sl);
  nmif_set_rx_mode(peer, 0, NMIF_RX_POLLING);
  for (int k = 0; k < 500 && !(master_up && peer_up); k++) nmif_loop_run(loop, 10);

  nlwip_stack_t *s;
  nlwip_netif_t *nif;
  static nhal_stats_t stats;
  nhal_port_t *port;
  nlwip_stack_create(&s);
  nhal_memif_port_create(&port, "lwip", lease, &stats);
  nlwip_netif_args_t na = {.port = port, .mac = {2, 0, 0, 0, 0, 1}, .has_ip4 = 1, .ip4 = {10, 90, 0, 1}, .mask4 = {255, 255, 255, 0}};
  nlwip_netif_add(s, &nif, &na);
  nlwip_netif_link_up(nif);
  int u = nlwip_socket(s, NLWIP_UDP, 4);
  nlwip_addr_t local = {.family = 4, .port = 7000, .ip = {10, 90, 0, 1}};
  nlwip_bind(s, u, &local);
  nlwip_setopt(s, u, NLWIP_OPT_RCVBUF, 16 << 20);

  static uint8_t frames[BURST][2048], data[BURST * 2048];
  const void *ptrs[BURST];
  uint32_t lens[BURST], offs[256], lengths[256], pending;
  static nlwip_addr_t from[256];
  for (int k = 0; k < BURST; k++) {
    lens[k] = (uint32_t)frame(frames[k], size);
    ptrs[k] = frames[k];
  }
  long moved = 0;
  int more, gave_up = 0;
  if (rx) {
    while (moved < n && !(gave_up = stuck(moved))) {
      int put = nmif_tx_copy(peer, 0, ptrs, lens, BURST);
      nlwip_netif_poll(nif, 256, NLWIP_POLL_SPIN, &more);
      int got;
      while ((got = nlwip_recv_batch(s, u, data, sizeof data, offs, lengths, from, 256, &pending)) > 0) moved += got;
      if (put <= 0) nmif_loop_run(loop, 0);
    }
  } else {
    nlwip_addr_t to = {.family = 4, .port = 5000, .ip = {10, 90, 0, 2}};
    /* lwIP learns the peer's MAC from its ARP request */
    static const uint8_t arp[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 8, 6, 0, 1, 8, 0, 6, 4, 0, 1,
                                    2, 0, 0, 0, 0, 2, 10, 90, 0, 2, 0, 0, 0, 0, 0, 0, 10, 90, 0, 1};
    const void *ap = arp;
    uint32_t al = sizeof arp;
    nmif_tx_copy(peer, 0, &ap, &al, 1);
    nlwip_netif_poll(nif, 256, NLWIP_POLL_SPIN, &more);
    nlwip_recv_batch(s, u, data, sizeof data, offs, lengths, from, 256, &pending);
    nmif_buf_t b[256];
    int r;
    while ((r = nmif_rx_burst(peer, 0, b, 256)) > 0) nmif_rx_release(peer, 0, (uint16_t)r);
    static uint8_t payload[2048];
    while (moved < n && !(gave_up = stuck(moved))) {
      for (int k = 0; k < BURST; k++) nlwip_send(s, u, payload, size, &to);
      nlwip_flush(s);
      while ((r = nmif_rx_burst(peer, 0, b, 256)) > 0) {
        moved += r;
        nmif_rx_release(peer, 0, (uint16_t)r);
      }
    }
  }
  uint64_t c[NLWIP_C_COUNT];
  nlwip_counters(s, c);
  printf("%s %ld datagrams of %zu bytes%s (lwIP rx frames %llu, tx frames %llu, udp drops %llu)\n", argv[1], moved, size,
         gave_up ? ", gave up" : "",
         (unsigned long long)c[NLWIP_C_RX_FRAMES], (unsigned long long)c[NLWIP_C_TX_FRAMES], (unsigned long long)c[NLWIP_C_UDP_RX_DROPS]);
  nlwip_stack_destroy(s);
  nhal_port_destroy(port);
  nmif_lease_unref(lease);
  nmif_socket_destroy(cs);
  nmif_socket_destroy(ms);
  nmif_loop_destroy(loop);
  return c[NLWIP_C_UDP_RX_DROPS] || gave_up ? 1 : 0;
}
