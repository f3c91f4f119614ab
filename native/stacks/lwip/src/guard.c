/* What a peer can make lwIP allocate before any socket of ours is involved: half-open TCP
 * connections. lwIP as Debian builds it has no listen backlog (TCP_LISTEN_BACKLOG is off) and
 * allocates with malloc, so every SYN to a listening port would hold a pcb until it times out;
 * a SYN flood over memif could exhaust memory. The netif drops SYNs while NLWIP_HALF_OPEN_MAX
 * connections are half-open, as Linux drops SYNs with a full SYN queue. */
#include "internal.h"
#include "lwip/priv/tcp_priv.h"

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* The TCP header of an IPv6 packet at ip (len bytes), past the usual extension headers. */
static const uint8_t *tcp6(const uint8_t *ip, uint32_t len) {
  if (len < 40) return NULL;
  uint8_t next = ip[6];
  uint32_t off = 40;
  for (int k = 0; k < 8; k++) {
    if (next == 6) return off + 14 <= len ? ip + off : NULL;
    if (next == 0 || next == 43 || next == 60) {   /* hop-by-hop, routing, destination */
      if (off + 8 > len) return NULL;
      next = ip[off];
      off += 8u + 8u * ip[off + 1];
    } else if (next == 44) {                       /* fragment: only a first fragment has it */
      if (off + 8 > len || (be16(ip + off + 2) & 0xfff8) != 0) return NULL;
      next = ip[off];
      off += 8;
    } else {
      return NULL;
    }
  }
  return NULL;
}

int nlwip__is_tcp_syn(const uint8_t *f, uint32_t len) {
  if (len < 14) return 0;
  const uint8_t *ip = f + 14;
  uint32_t iplen = len - 14;
  const uint8_t *tcp = NULL;
  uint16_t type = be16(f + 12);
  if (type == 0x0800) {
    if (iplen < 20 || ip[9] != 6 || (be16(ip + 6) & 0x1fff) != 0) return 0;
    uint32_t ihl = (ip[0] & 0x0fu) * 4u;
    if (ihl < 20 || ihl + 14 > iplen) return 0;
    tcp = ip + ihl;
  } else if (type == 0x86dd) {
    tcp = tcp6(ip, iplen);
  }
  return tcp && (tcp[13] & 0x12) == 0x02;   /* SYN without ACK */
}

int nlwip__half_open(void) {
  int n = 0;
  for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next)
    if (p->state == SYN_RCVD) n++;
  return n;
}
