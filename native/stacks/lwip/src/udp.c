/* UDP sockets over lwIP's raw API: datagrams are queued as the pbufs lwIP delivered. */
#include <errno.h>

#include "internal.h"
#include "lwip/udp.h"

static void on_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port) {
  nlwip_sock_t *k = arg;
  nlwip_addr_t from;
  if ((k->flags & SF_RD_SHUT) || k->rx.bytes + p->tot_len > k->rcvbuf) {
    k->stack->counters[NLWIP_C_UDP_RX_DROPS]++;
    pbuf_free(p);
    return;
  }
  nlwip__from_ip(addr, port, &from);   /* addr points into the packet being processed */
  if (nlwip__pbq_push(&k->rx, p, &from) < 0) {
    k->stack->counters[NLWIP_C_UDP_RX_DROPS]++;
    pbuf_free(p);
    return;
  }
  nlwip__sock_update(k, NLWIP_EV_IN);
}

int nlwip__udp_open(nlwip_sock_t *k) {
  k->pcb.udp = udp_new_ip_type(k->family == 6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
  if (!k->pcb.udp) return -ENOMEM;
  udp_recv(k->pcb.udp, on_recv, k);
  return 0;
}

int nlwip__udp_send(nlwip_sock_t *k, const void *data, size_t len, const ip_addr_t *to, uint16_t port) {
  if (len > 0xFFFF - 8 - (k->family == 6 ? 40 : 20)) return -EMSGSIZE;
  /* To a neighbour ARP has not resolved: a pbuf of ours, or wait (neigh.c). */
  struct pbuf *p;
  int r = nlwip__neigh_pbuf(k, len, to, &p);
  if (r == -EAGAIN) return 0;
  if (r < 0) return r;
  /* PBUF_TRANSPORT leaves room for every header in front: one pbuf, one copy. */
  if (!p) p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
  if (!p) return -ENOMEM;
  pbuf_take(p, data, (u16_t)len);
  err_t e = to ? udp_sendto(k->pcb.udp, p, to, port) : udp_send(k->pcb.udp, p);
  pbuf_free(p);
  if (e == ERR_MEM) return -ENOBUFS;   /* no memory for headers or ARP's queue, as Linux says */
  return e == ERR_OK ? (int)len : nlwip__err(e);
}

void nlwip__udp_close(nlwip_sock_t *k) {
  if (!k->pcb.udp) return;
  udp_recv(k->pcb.udp, NULL, NULL);
  udp_remove(k->pcb.udp);
  k->pcb.udp = NULL;
}
