/* The thread question for the lwIP stack, measured: frames taken into lwIP by the thread that
 * polls the port, under lwIP's core lock (what nlwip does), against frames handed to lwIP's
 * own tcpip thread (tcpip_input: one mailbox message and a thread hop per frame, what a
 * dedicated stack thread fed by the poller would cost). lwIP alone, no memif, no Node: a netif
 * whose frames come from memory, a UDP pcb counting what arrives.
 *
 *   lwip_hop [N] [RUNS]   N datagrams per run (default 200000), RUNS rounds (default 5)
 *
 * Rounds interleave the two ways; prints each run and the medians (datagrams/s), and the
 * ratio direct/hop of the medians. */
#include <arpa/inet.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lwip/etharp.h"
#include "lwip/tcpip.h"
#include "lwip/udp.h"
#include "netif/ethernet.h"

static atomic_long received;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static err_t drop_output(struct netif *n, struct pbuf *p) { return ERR_OK; }

static err_t init(struct netif *n) {
  n->linkoutput = drop_output;
  n->output = etharp_output;
  n->mtu = 1500;
  n->hwaddr_len = 6;
  memcpy(n->hwaddr, "\x02\0\0\0\0\x01", 6);
  n->flags = NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_BROADCAST;
  return ERR_OK;
}

static void on_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *a, u16_t port) {
  pbuf_free(p);
  atomic_fetch_add_explicit(&received, 1, memory_order_relaxed);
}

/* Ethernet/IPv4/UDP, 64 bytes of payload, UDP checksum 0 (none). */
static size_t frame(uint8_t *f) {
  static const uint8_t hdr[14] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0};
  memcpy(f, hdr, 14);
  uint8_t *ip = f + 14;
  memset(ip, 0, 28);
  ip[0] = 0x45;
  ip[3] = 92;
  ip[8] = 64;
  ip[9] = 17;
  memcpy(ip + 12, (uint8_t[]){10, 91, 0, 2, 10, 91, 0, 1}, 8);
  uint32_t acc = 0;
  for (int k = 0; k < 20; k += 2) acc += (uint32_t)(ip[k] << 8 | ip[k + 1]);
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  ip[10] = (uint8_t)(~acc >> 8);
  ip[11] = (uint8_t)~acc;
  uint8_t *udp = ip + 20;
  udp[0] = 0x13, udp[1] = 0x88, udp[2] = 0x1b, udp[3] = 0x58, udp[5] = 72;
  memset(udp + 8, 0x5a, 64);
  return 14 + 20 + 8 + 64;
}

static struct pbuf *copy_in(const uint8_t *f, size_t len) {
  struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
  if (p) memcpy(p->payload, f, len);
  return p;
}

/* Returns datagrams/s; hop: through lwIP's thread, else under the lock, 64 per lock. */
static double run(struct netif *nif, const uint8_t *f, size_t len, long n, int hop) {
  atomic_store(&received, 0);
  double t0 = now_s();
  for (long i = 0; i < n; i += 64) {
    if (hop) {
      for (int k = 0; k < 64; k++) {
        struct pbuf *p = copy_in(f, len);
        while (tcpip_input(p, nif) != ERR_OK) sched_yield();   /* mailbox full: let it catch up */
      }
    } else {
      LOCK_TCPIP_CORE();
      for (int k = 0; k < 64; k++) netif_input(copy_in(f, len), nif);
      UNLOCK_TCPIP_CORE();
    }
  }
  while (atomic_load(&received) < n) sched_yield();   /* the last messages */
  return (double)n / (now_s() - t0);
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  int runs = argc > 2 ? atoi(argv[2]) : 5;
  if (n < 64 || runs < 1 || runs > 50) return 2;
  n -= n % 64;
  tcpip_init(NULL, NULL);
  static struct netif nif;
  ip4_addr_t ip, mask, gw;
  IP4_ADDR(&ip, 10, 91, 0, 1);
  IP4_ADDR(&mask, 255, 255, 255, 0);
  IP4_ADDR(&gw, 0, 0, 0, 0);
  LOCK_TCPIP_CORE();
  netif_add(&nif, &ip, &mask, &gw, NULL, init, netif_input);
  netif_set_up(&nif);
  netif_set_link_up(&nif);
  struct udp_pcb *u = udp_new();
  udp_bind(u, IP4_ADDR_ANY, 7000);
  udp_recv(u, on_recv, NULL);
  UNLOCK_TCPIP_CORE();
  uint8_t f[128];
  size_t len = frame(f);
  double direct[50], hop[50];
  for (int r = 0; r < runs; r++) {
    for (int k = 0; k < 2; k++) {
      int h = (r + k) % 2;   /* alternate which goes first */
      double v = run(&nif, f, len, n, h);
      (h ? hop : direct)[r] = v;
      printf("run %d %-6s %.0f datagrams/s\n", r + 1, h ? "hop" : "direct", v);
    }
  }
  qsort(direct, (size_t)runs, sizeof(double), cmp);
  qsort(hop, (size_t)runs, sizeof(double), cmp);
  double md = direct[runs / 2], mh = hop[runs / 2];
  printf("medians of %d: under the lock %.0f, through lwIP's thread %.0f datagrams/s; direct/hop %.2fx\n", runs, md, mh, md / mh);
  printf("{\"direct\":%.0f,\"hop\":%.0f,\"ratio\":%.3f}\n", md, mh, md / mh);
  return 0;
}
