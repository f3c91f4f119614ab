/* The lwIP glue against a raw memif peer, in one process.
 *
 * lwIP's netif sits on an nhal port over the master side of a memif link; the test plays the
 * slave side with hand-made Ethernet frames and checks what lwIP answers:
 *  - an ARP request is answered with lwIP's MAC, an ICMP echo request with an exact reply;
 *  - the interrupt fd from link_up becomes readable when a frame arrives;
 *  - a UDP datagram reaches a bound socket (readiness, changed list, recv_batch with its
 *    sender) and the answer leaves with the right addresses, ports and payload;
 *  - a TCP connect emits a SYN; lwIP's own thread retransmits it while the owner makes no
 *    call (frames from that thread are sent at once); a reset from the peer makes the socket
 *    report ECONNREFUSED;
 *  - a SYN flood holds at most 1024 half-open connections, later SYNs are dropped;
 *  - datagrams to a neighbour ARP has not resolved: as many as lwIP queues are taken, then
 *    the socket loses EPOLLOUT instead of lwIP dropping its oldest; the ARP reply sends every
 *    one taken and brings EPOLLOUT back;
 *  - a datagram to our own address is delivered by lwIP's thread, which wakes the owner
 *    through the eventfd;
 *  - destroying the stack resets what is left and a new stack can be created. */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "nlwip.h"

static const uint8_t LWIP_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t PEER_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
static const uint8_t LWIP_IP[4] = {10, 9, 0, 1};
static const uint8_t PEER_IP[4] = {10, 9, 0, 2};

static nmif_loop_t *loop;
static nmif_if_t *master, *peer;
static int master_up, peer_up;
static nmif_lease_t *lease;   /* the master's queue 0, lent to the lwIP netif's port */

/* The lease's gate is libmemif's business: nothing to open or close here. */
static void on_master_connect(nmif_if_t *i, void *u) { master_up = 1; }
static void on_master_disconnect(nmif_if_t *i, const char *r, void *u) { master_up = 0; }
static void on_peer_connect(nmif_if_t *i, void *u) { peer_up = 1; }
static void on_peer_disconnect(nmif_if_t *i, const char *r, void *u) { peer_up = 0; }

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- frames --------------------------------------------------------------------------------- */

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t acc) {
  for (size_t k = 0; k + 1 < len; k += 2) acc += (uint32_t)(p[k] << 8 | p[k + 1]);
  if (len & 1) acc += (uint32_t)(p[len - 1] << 8);
  return acc;
}

static uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)~acc;
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static size_t eth(uint8_t *f, const uint8_t *dst, uint16_t type) {
  memcpy(f, dst, 6);
  memcpy(f + 6, PEER_MAC, 6);
  put16(f + 12, type);
  return 14;
}

/* An IPv4 header from the peer to `dst` (l4 bytes follow); returns the header length. */
static size_t ip4(uint8_t *p, uint8_t proto, const uint8_t *dst, size_t l4) {
  memset(p, 0, 20);
  p[0] = 0x45;
  put16(p + 2, (uint16_t)(20 + l4));
  p[8] = 64;
  p[9] = proto;
  memcpy(p + 12, PEER_IP, 4);
  memcpy(p + 16, dst, 4);
  put16(p + 10, fold(sum16(p, 20, 0)));
  return 20;
}

/* Transport checksum over the pseudo header of the IPv4 header at ip. */
static uint16_t l4sum(const uint8_t *ip, const uint8_t *l4, size_t len) {
  uint32_t acc = sum16(ip + 12, 8, 0) + ip[9] + (uint32_t)len;
  return fold(sum16(l4, len, acc));
}

static void peer_send(const uint8_t *f, size_t len) {
  const void *ptr = f;
  uint32_t l = (uint32_t)len;
  CHECK_EQ(nmif_tx_copy(peer, 0, &ptr, &l, 1), 1);
}

/* The next frame lwIP sent to the peer, waiting up to ms (the owner polls meanwhile if
 * `poll_lwip`). Returns its length, 0 on timeout. */
static nlwip_netif_t *nif;
static size_t peer_recv(uint8_t *f, size_t cap, int ms, int poll_lwip) {
  double end = now_ms() + ms;
  do {
    nmif_loop_run(loop, 0);
    if (poll_lwip) {
      int more;
      nlwip_netif_poll(nif, 64, 0, &more);
    }
    nmif_buf_t b[8];
    int n = nmif_rx_burst(peer, 0, b, 1);
    if (n > 0) {
      size_t len = b[0].len < cap ? b[0].len : cap;
      memcpy(f, b[0].data, len);
      nmif_rx_release(peer, 0, (uint16_t)n);
      return len;
    }
    usleep(200);
  } while (now_ms() < end);
  return 0;
}

/* The next frame of EtherType `type` (and IP protocol `proto` if non-zero), skipping others
 * (router solicitations, MLD and gratuitous ARP go out when the link comes up). */
static size_t peer_expect(uint8_t *f, size_t cap, uint16_t type, uint8_t proto, int ms, int poll_lwip) {
  double end = now_ms() + ms;
  while (now_ms() < end) {
    size_t n = peer_recv(f, cap, (int)(end - now_ms()) + 1, poll_lwip);
    if (n >= 14 && get16(f + 12) == type && (!proto || (n >= 34 && f[23] == proto))) return n;
  }
  return 0;
}

/* ---- setup ---------------------------------------------------------------------------------- */

static void make_link(const char *path) {
  nmif_socket_args_t sa = {.path = path, .fd_update = nmif_loop_fd_update, .fd_update_ctx = loop,
                           .reconnect_min_ms = 20, .reconnect_max_ms = 50};
  nmif_socket_t *ms, *cs;
  CHECK_OK(nmif_socket_create(&ms, &sa));
  CHECK_OK(nmif_socket_create(&cs, &sa));
  nmif_if_args_t ma = {.id = 1, .is_master = 1, .on_connect = on_master_connect, .on_disconnect = on_master_disconnect};
  CHECK_OK(nmif_if_create(ms, &master, &ma));
  nmif_if_args_t sl = {.id = 1, .is_master = 0, .on_connect = on_peer_connect, .on_disconnect = on_peer_disconnect};
  CHECK_OK(nmif_if_create(cs, &peer, &sl));
  CHECK_OK(nmif_set_rx_mode(peer, 0, NMIF_RX_POLLING));
  /* Lent to the lwIP side, which polls and waits on the eventfd itself (not the loop). */
  nmif_lease_args_t la = {.qid = 0, .rx_mode = NMIF_RX_POLLING};
  CHECK_OK(nmif_lease_create(master, &la, &lease));
  for (int k = 0; k < 500 && !(master_up && peer_up); k++) nmif_loop_run(loop, 10);
  CHECK(master_up && peer_up);
}

static nlwip_addr_t addr4(const uint8_t *ip, uint16_t port) {
  nlwip_addr_t a;
  memset(&a, 0, sizeof a);
  a.family = 4;
  a.port = port;
  memcpy(a.ip, ip, 4);
  return a;
}

int main(void) {
  if (!nlwip_built()) SKIP(nlwip_unavailable_reason());
  char path[64];
  snprintf(path, sizeof path, "@nlwip-glue-%d", getpid());   /* abstract: no file left if a check fails */
  CHECK_OK(nmif_loop_create(&loop));
  make_link(path);

  nlwip_stack_t *s;
  CHECK_OK(nlwip_stack_create(&s));
  nlwip_stack_t *second;
  CHECK_EQ(nlwip_stack_create(&second), -EBUSY);   /* lwIP is per process */

  static nhal_stats_t stats;
  nhal_port_t *port;
  CHECK_OK(nhal_memif_port_create(&port, "lwip0", lease, &stats));
  nlwip_netif_args_t na = {.port = port, .mtu = 1500, .has_ip4 = 1};
  memcpy(na.mac, LWIP_MAC, 6);
  memcpy(na.ip4, LWIP_IP, 4);
  memcpy(na.mask4, (uint8_t[]){255, 255, 255, 0}, 4);
  CHECK_OK(nlwip_netif_add(s, &nif, &na));
  CHECK(strcmp(nlwip_netif_name(nif), "mf0") == 0);
  uint8_t ll[16];
  CHECK_OK(nlwip_netif_ip6(nif, 0, ll));
  CHECK(ll[0] == 0xfe && ll[1] == 0x80 && ll[8] == (0x02 ^ 0x02) && ll[11] == 0xff && ll[15] == 0x01);
  CHECK_EQ(nlwip_netif_ip6(nif, 1, ll), -ENOENT);
  int irq = nlwip_netif_link_up(nif);
  CHECK_OK(irq);

  uint8_t f[2048], r[2048];
  size_t n;

  /* ARP: who has 10.9.0.1? The interrupt fd signals the request; the reply has lwIP's MAC. */
  static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  n = eth(f, bcast, 0x0806);
  memcpy(f + n, (uint8_t[]){0, 1, 8, 0, 6, 4, 0, 1}, 8);
  memcpy(f + n + 8, PEER_MAC, 6);
  memcpy(f + n + 14, PEER_IP, 4);
  memset(f + n + 18, 0, 6);
  memcpy(f + n + 24, LWIP_IP, 4);
  n += 28;
  peer_send(f, n);
  struct pollfd pfd = {.fd = irq, .events = POLLIN};
  CHECK_EQ(poll(&pfd, 1, 5000), 1);
  int more = 0;
  CHECK(nlwip_netif_poll(nif, 64, NLWIP_POLL_IRQ, &more) >= 1);
  CHECK_EQ(poll(&pfd, 1, 0), 0);   /* the poll cleared it */
  do n = peer_expect(r, sizeof r, 0x0806, 0, 2000, 1);
  while (n >= 42 && get16(r + 20) != 2);   /* lwIP's gratuitous ARP is a request */
  CHECK(n >= 42);
  CHECK(memcmp(r, PEER_MAC, 6) == 0 && memcmp(r + 22, LWIP_MAC, 6) == 0);
  CHECK(memcmp(r + 28, LWIP_IP, 4) == 0 && memcmp(r + 38, PEER_IP, 4) == 0);

  /* ICMP echo: the reply carries the same identifier, sequence and payload. */
  n = eth(f, LWIP_MAC, 0x0800);
  uint8_t *icmp = f + n + 20;
  memset(icmp, 0, 8);
  icmp[0] = 8;
  put16(icmp + 4, 0x1234);
  put16(icmp + 6, 7);
  for (int k = 0; k < 56; k++) icmp[8 + k] = (uint8_t)(k * 3);
  put16(icmp + 2, fold(sum16(icmp, 64, 0)));
  n += ip4(f + n, 1, LWIP_IP, 64) + 64;
  peer_send(f, n);
  n = peer_expect(r, sizeof r, 0x0800, 1, 2000, 1);
  CHECK_EQ(n, 14 + 20 + 64);
  CHECK(memcmp(r + 26, LWIP_IP, 4) == 0 && memcmp(r + 30, PEER_IP, 4) == 0);
  CHECK_EQ(r[34], 0);
  CHECK_EQ(get16(r + 38), 0x1234);
  CHECK_EQ(get16(r + 40), 7);
  CHECK(memcmp(r + 42, icmp + 8, 56) == 0);
  CHECK_EQ(fold(sum16(r + 34, 64, 0)), 0);

  /* UDP in: readiness and the changed list, then recv_batch with the sender. */
  int u = nlwip_socket(s, NLWIP_UDP, 4);
  CHECK_OK(u);
  nlwip_addr_t la = addr4(LWIP_IP, 7000);
  CHECK_OK(nlwip_bind(s, u, &la));
  nlwip_addr_t elsewhere = addr4(PEER_IP, 7001);
  CHECK_EQ(nlwip_bind(s, nlwip_socket(s, NLWIP_UDP, 4), &elsewhere), -EADDRNOTAVAIL);
  const uint32_t *ready = nlwip_readiness(s);
  CHECK_EQ(ready[u], NLWIP_EV_OUT);
  n = eth(f, LWIP_MAC, 0x0800);
  uint8_t *udp = f + n + 20;
  put16(udp, 5000);
  put16(udp + 2, 7000);
  put16(udp + 4, 8 + 100);
  put16(udp + 6, 0);
  for (int k = 0; k < 100; k++) udp[8 + k] = (uint8_t)(255 - k);
  n += ip4(f + n, 17, LWIP_IP, 108);
  put16(udp + 6, l4sum(f + 14, udp, 108));
  n += 108;
  peer_send(f, n);
  double end = now_ms() + 2000;
  while (!(ready[u] & NLWIP_EV_IN) && now_ms() < end) nlwip_netif_poll(nif, 64, 0, &more);
  CHECK_EQ(ready[u], NLWIP_EV_OUT | NLWIP_EV_IN);
  CHECK(nlwip_shared(s)->changed >= 1);
  uint32_t pairs[16];
  int np = nlwip_take_changed(s, pairs, 8);
  int seen = 0;
  for (int k = 0; k < np; k++) if ((int)pairs[2 * k] == u && (pairs[2 * k + 1] & NLWIP_EV_IN)) seen = 1;
  CHECK(seen);
  CHECK_EQ(nlwip_shared(s)->changed, 0);
  uint8_t data[4096];
  uint32_t offs[4], lens[4], pending = 99;
  nlwip_addr_t from[4];
  CHECK_EQ(nlwip_recv_batch(s, u, data, sizeof data, offs, lens, from, 4, &pending), 1);
  CHECK_EQ(pending, 0);
  CHECK_EQ(lens[0], 100);
  CHECK(memcmp(data + offs[0], udp + 8, 100) == 0);
  CHECK_EQ(from[0].family, 4);
  CHECK_EQ(from[0].port, 5000);
  CHECK(memcmp(from[0].ip, PEER_IP, 4) == 0);
  CHECK_EQ(ready[u], NLWIP_EV_OUT);

  /* UDP out: queued until the flush, then one frame with our ports and payload. */
  CHECK_EQ(nlwip_send(s, u, "hello lwip", 10, &from[0]), 10);
  CHECK_EQ(nlwip_shared(s)->tx_queued, 1);
  CHECK_EQ(nlwip_flush(s), 1);
  CHECK_EQ(nlwip_shared(s)->tx_queued, 0);
  n = peer_expect(r, sizeof r, 0x0800, 17, 2000, 0);
  CHECK_EQ(n, 14 + 20 + 8 + 10);
  CHECK_EQ(get16(r + 34), 7000);
  CHECK_EQ(get16(r + 36), 5000);
  CHECK(memcmp(r + 42, "hello lwip", 10) == 0);
  CHECK_EQ(l4sum(r + 14, r + 34, 18), 0);

  /* TCP: the SYN goes out; lwIP's thread retransmits it with no call from us; a reset from
   * the peer refuses the connection. */
  int t = nlwip_socket(s, NLWIP_TCP, 4);
  CHECK_OK(t);
  nlwip_addr_t pa = addr4(PEER_IP, 80);
  CHECK_OK(nlwip_connect(s, t, &pa));
  CHECK_EQ(nlwip_connect(s, t, &pa), -EALREADY);
  CHECK_EQ(ready[t], 0);
  nlwip_flush(s);
  n = peer_expect(r, sizeof r, 0x0800, 6, 2000, 0);
  CHECK(n >= 54 && (r[47] & 0x02));   /* SYN */
  uint32_t iss;
  memcpy(&iss, r + 38, 4);
  uint16_t sport = get16(r + 34);
  n = peer_expect(r, sizeof r, 0x0800, 6, 10000, 0);   /* no lwIP call while waiting */
  CHECK(n >= 54 && (r[47] & 0x02));
  CHECK(memcmp(r + 38, &iss, 4) == 0);
  n = eth(f, LWIP_MAC, 0x0800);
  uint8_t *tcp = f + n + 20;
  memset(tcp, 0, 20);
  put16(tcp, 80);
  put16(tcp + 2, sport);
  uint32_t ack = htonl(ntohl(iss) + 1);
  memcpy(tcp + 8, &ack, 4);
  tcp[12] = 5 << 4;
  tcp[13] = 0x14;   /* RST, ACK */
  n += ip4(f + n, 6, LWIP_IP, 20);
  put16(tcp + 16, l4sum(f + 14, tcp, 20));
  n += 20;
  peer_send(f, n);
  end = now_ms() + 2000;
  while (!(ready[t] & NLWIP_EV_HUP) && now_ms() < end) nlwip_netif_poll(nif, 64, 0, &more);
  CHECK_EQ(ready[t], NLWIP_EV_IN | NLWIP_EV_OUT | NLWIP_EV_ERR | NLWIP_EV_HUP | NLWIP_EV_RDHUP);
  CHECK_EQ(nlwip_sock_error(s, t), -ECONNREFUSED);
  CHECK_EQ(nlwip_sock_error(s, t), 0);
  CHECK_OK(nlwip_close(s, t));
  CHECK_EQ(ready[t], 0);

  /* A SYN flood: half-open connections stop at NLWIP_HALF_OPEN_MAX (1024), later SYNs are
   * dropped and counted; every SYN taken is answered by a SYN-ACK. */
  int l = nlwip_socket(s, NLWIP_TCP, 4);
  nlwip_addr_t la80 = addr4(LWIP_IP, 80);
  CHECK_OK(nlwip_bind(s, l, &la80));
  CHECK_OK(nlwip_listen(s, l, 16));
  static uint8_t synack_seen[1100];
  int synacks = 0;
  for (int base = 0; base < 1100; base += 50) {
    for (int k = base; k < base + 50 && k < 1100; k++) {
      n = eth(f, LWIP_MAC, 0x0800);
      tcp = f + n + 20;
      memset(tcp, 0, 20);
      put16(tcp, (uint16_t)(10000 + k));
      put16(tcp + 2, 80);
      uint32_t seq = htonl(0x1000 + (uint32_t)k);
      memcpy(tcp + 4, &seq, 4);
      tcp[12] = 5 << 4;
      tcp[13] = 0x02;   /* SYN */
      put16(tcp + 14, 8192);
      n += ip4(f + n, 6, LWIP_IP, 20);
      put16(tcp + 16, l4sum(f + 14, tcp, 20));
      n += 20;
      peer_send(f, n);
    }
    nlwip_netif_poll(nif, 64, 0, &more);
    while ((n = peer_recv(r, sizeof r, 50, 1)) > 0) {
      if (n >= 54 && get16(r + 12) == 0x0800 && r[23] == 6 && (r[47] & 0x12) == 0x12) {
        int k = get16(r + 36) - 10000;
        if (k >= 0 && k < 1100 && !synack_seen[k]) synack_seen[k] = 1, synacks++;
      }
    }
  }
  uint64_t counters[NLWIP_C_COUNT];
  nlwip_counters(s, counters);
  CHECK_EQ(synacks, 1024);
  CHECK_EQ(counters[NLWIP_C_RX_SYN_DROPS], 1100 - 1024);
  CHECK_OK(nlwip_close(s, l));

  /* UDP to a neighbour ARP has not resolved: the sends lwIP can queue succeed, the next one
   * would block (no EPOLLOUT) instead of pushing the oldest out of lwIP's queue; the ARP
   * reply brings EPOLLOUT back and every datagram that was taken goes out. */
  static const uint8_t NEW_IP[4] = {10, 9, 0, 3};
  nlwip_addr_t na3 = addr4(NEW_IP, 9000);
  nlwip_take_changed(s, pairs, 8);
  int taken = 0;
  for (int k = 0; k < 1000; k++) {
    int w = nlwip_send(s, u, "wait for arp", 12, &na3);
    if (w == 0) break;
    CHECK_EQ(w, 12);
    taken++;
  }
  CHECK(taken >= 1 && taken < 1000);
  CHECK_EQ(ready[u], 0);
  CHECK_EQ(nlwip_send(s, u, "wait for arp", 12, &na3), 0);   /* still waiting */
  nlwip_flush(s);
  do n = peer_expect(r, sizeof r, 0x0806, 0, 2000, 0);
  while (n >= 42 && memcmp(r + 38, NEW_IP, 4) != 0);
  CHECK(n >= 42 && get16(r + 20) == 1);   /* who has 10.9.0.3? */
  n = eth(f, LWIP_MAC, 0x0806);
  memcpy(f + n, (uint8_t[]){0, 1, 8, 0, 6, 4, 0, 2}, 8);
  memcpy(f + n + 8, PEER_MAC, 6);
  memcpy(f + n + 14, NEW_IP, 4);
  memcpy(f + n + 18, LWIP_MAC, 6);
  memcpy(f + n + 24, LWIP_IP, 4);
  n += 28;
  peer_send(f, n);
  end = now_ms() + 2000;
  while (!(ready[u] & NLWIP_EV_OUT) && now_ms() < end) nlwip_netif_poll(nif, 64, 0, &more);
  CHECK_EQ(ready[u], NLWIP_EV_OUT);
  np = nlwip_take_changed(s, pairs, 8);
  seen = 0;
  for (int k = 0; k < np; k++) if ((int)pairs[2 * k] == u && (pairs[2 * k + 1] & NLWIP_EV_OUT)) seen = 1;
  CHECK(seen);
  int arrived = 0;
  while ((n = peer_recv(r, sizeof r, 500, 1)) > 0) {
    if (n == 14 + 20 + 8 + 12 && get16(r + 12) == 0x0800 && r[23] == 17 && memcmp(r + 30, NEW_IP, 4) == 0) arrived++;
  }
  CHECK_EQ(arrived, taken);
  CHECK_EQ(nlwip_send(s, u, "wait for arp", 12, &na3), 12);   /* resolved: straight out */
  nlwip_flush(s);

  /* A datagram to ourselves is delivered by lwIP's thread: the eventfd wakes us. */
  nlwip_take_changed(s, pairs, 8);
  CHECK_EQ(nlwip_send(s, u, "loop", 4, &la), 4);
  struct pollfd wfd = {.fd = nlwip_wake_fd(s), .events = POLLIN};
  CHECK_EQ(poll(&wfd, 1, 5000), 1);
  np = nlwip_take_changed(s, pairs, 8);
  CHECK_EQ(np, 1);
  CHECK_EQ((int)pairs[0], u);
  CHECK_EQ(poll(&wfd, 1, 0), 0);   /* take_changed cleared it */
  nlwip_addr_t src;
  CHECK_EQ(nlwip_recv(s, u, data, sizeof data, &src), 4);
  CHECK(memcmp(data, "loop", 4) == 0 && src.port == 7000);
  CHECK_EQ(nlwip_recv(s, u, data, sizeof data, &src), -EAGAIN);

  /* Destroy with sockets open (the netif owns the irq fd); a new stack takes lwIP over. */
  nlwip_stack_destroy(s);
  CHECK_OK(nlwip_stack_create(&s));
  CHECK_OK(nlwip_netif_add(s, &nif, &na));
  nlwip_stack_destroy(s);
  nhal_port_destroy(port);
  nmif_lease_unref(lease);
  nmif_loop_destroy(loop);
  printf("ok\n");
  return 0;
}
