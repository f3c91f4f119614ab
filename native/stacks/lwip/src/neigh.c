/* UDP datagrams to an IPv4 neighbour whose MAC is not known yet.
 *
 * lwIP queues at most ARP_QUEUE_LEN packets per unresolved neighbour and, when one more
 * comes, frees the oldest while udp_sendto still returns ERR_OK: a sender that blasts to a
 * fresh neighbour would see every send succeed and nearly all of them vanish. So a datagram
 * for an unresolved neighbour is built in a pbuf of ours, counted while lwIP holds it (its
 * free function tells us when lwIP sent or dropped it), and once ARP_QUEUE_LEN of ours wait
 * on that neighbour the socket's send would block: EPOLLOUT drops until the neighbour's queue
 * shrinks (resolved and sent, or given up by ARP), and the nSocket keeps the datagram. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lwip/etharp.h"
#include "lwip/ip4.h"
#include "lwip/udp.h"

struct neigh_pbuf {
  struct pbuf_custom pc;   /* first: lwIP frees it as a struct pbuf */
  nlwip_stack_t *stack;
  nlwip_neigh_t *slot;
  uint8_t mem[];
};

/* Every socket waiting for room on some neighbour retries (rare: only while ARP resolves). */
static void wake_waiters(nlwip_stack_t *s) {
  s->neigh_waiters = 0;
  for (uint32_t id = 0; id < s->next_id; id++) {
    nlwip_sock_t *k = s->socks[id];
    if (!k || !(k->flags & SF_NEIGH_WAIT)) continue;
    k->flags &= ~SF_NEIGH_WAIT;
    nlwip__sock_update(k, 0);
  }
}

/* lwIP let go of one of our datagrams: sent, or dropped with its ARP entry. */
static void neigh_free(struct pbuf *p) {
  struct neigh_pbuf *np = (struct neigh_pbuf *)p;
  nlwip_stack_t *s = np->stack;
  np->slot->queued--;
  free(np);
  if (s->neigh_waiters) wake_waiters(s);
}

/* The next hop of an IPv4 datagram leaving through nif, or NULL when ARP is not involved
 * (broadcast, multicast, our own address, loopback, no gateway: lwIP decides alone). */
static const ip4_addr_t *next_hop(struct netif *nif, const ip4_addr_t *dst) {
  if (ip4_addr_isbroadcast(dst, nif) || ip4_addr_ismulticast(dst) || ip4_addr_isloopback(dst)) return NULL;
  if (ip4_addr_cmp(dst, netif_ip4_addr(nif))) return NULL;
  if (ip4_addr_netcmp(dst, netif_ip4_addr(nif), netif_ip4_netmask(nif)) || ip4_addr_islinklocal(dst)) return dst;
  return ip4_addr_isany_val(*netif_ip4_gw(nif)) ? NULL : netif_ip4_gw(nif);
}

/* The slot counting our datagrams queued on (nif, hop), a free one, or NULL when all are busy. */
static nlwip_neigh_t *slot_for(nlwip_stack_t *s, struct netif *nif, const ip4_addr_t *hop) {
  nlwip_neigh_t *free_slot = NULL;
  for (int i = 0; i < NLWIP_NEIGH_SLOTS; i++) {
    nlwip_neigh_t *e = &s->neigh[i];
    if (e->queued && e->nif == nif && ip4_addr_cmp(&e->ip, hop)) return e;
    if (!e->queued && !free_slot) free_slot = e;
  }
  if (free_slot) {
    free_slot->nif = nif;
    ip4_addr_copy(free_slot->ip, *hop);
  }
  return free_slot;
}

int nlwip__neigh_pbuf(nlwip_sock_t *k, size_t len, const ip_addr_t *to, struct pbuf **out) {
  *out = NULL;
  const ip_addr_t *dst = to ? to : &k->pcb.udp->remote_ip;
  if (k->family != 4 || !IP_IS_V4(dst)) return 0;
  struct netif *nif = ip4_route(ip_2_ip4(dst));
  if (!nif || !(nif->flags & NETIF_FLAG_ETHARP)) return 0;
  const ip4_addr_t *hop = next_hop(nif, ip_2_ip4(dst));
  struct eth_addr *eth;
  const ip4_addr_t *found;
  if (!hop || etharp_find_addr(nif, hop, &eth, &found) >= 0) return 0;
  nlwip_stack_t *s = k->stack;
  nlwip_neigh_t *slot = slot_for(s, nif, hop);
  if (!slot || slot->queued >= ARP_QUEUE_LEN) {
    if (!(k->flags & SF_NEIGH_WAIT)) s->neigh_waiters++;
    k->flags |= SF_NEIGH_WAIT;
    return -EAGAIN;
  }
  /* Room for the headers in front when the size allows (a custom pbuf is at most 64 KiB);
   * otherwise lwIP chains a header pbuf in front of ours, which it then holds the same way. */
  pbuf_layer layer = LWIP_MEM_ALIGN_SIZE(PBUF_TRANSPORT) + len <= 0xFFFF ? PBUF_TRANSPORT : PBUF_RAW;
  size_t room = LWIP_MEM_ALIGN_SIZE(layer) + len;
  struct neigh_pbuf *np = malloc(sizeof *np + room);
  if (!np) return -ENOMEM;
  np->pc.custom_free_function = neigh_free;
  np->stack = s;
  np->slot = slot;
  struct pbuf *p = pbuf_alloced_custom(layer, (u16_t)len, PBUF_RAM, &np->pc, np->mem, (u16_t)room);
  if (!p) {
    free(np);
    return -ENOMEM;
  }
  slot->queued++;
  *out = p;
  return 0;
}

void nlwip__neigh_forget(nlwip_sock_t *k) {
  if (!(k->flags & SF_NEIGH_WAIT)) return;
  k->flags &= ~SF_NEIGH_WAIT;
  k->stack->neigh_waiters--;
}
