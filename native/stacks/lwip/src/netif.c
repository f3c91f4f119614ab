/* An lwIP Ethernet netif over an nhal port.
 *
 * Receive: a burst of frames is copied out of the port into pbufs, the port's buffers are
 * released, then each frame goes into lwIP on this thread (we hold the core lock), so the
 * ring is never held while lwIP runs. Transmit: linkoutput references the pbuf and queues it
 * as segments of a tx batch; one tx burst copies the batch into the port (see nlwip.h for
 * when). The port's interrupt is masked while frames keep coming and armed when idle. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "netif/ethernet.h"

#define ETH_HDR_LEN 14
#define VLAN_TAG_LEN 4
#define MTU_MIN 576
#define MTU_MAX 9000
#define LINK_UP_POLLS 64   /* frames that keep arriving while the interrupt is armed */

static void batch_reset(nhal_batch_t *b) {
  b->n_pkts = 0;
  b->n_segs = 0;
  b->first[0] = 0;
}

void nlwip__netif_flush(nlwip_netif_t *n) {
  nhal_batch_t *b = &n->tx;
  if (b->n_pkts == 0) return;
  nhal_port_tx_burst(n->port, b);   /* what it could not send, the port counts as drops */
  for (uint16_t i = 0; i < b->n_pkts; i++) pbuf_free(n->tx_pbufs[i]);
  n->stack->shared.tx_queued -= b->n_pkts;
  n->stack->counters[NLWIP_C_TX_BURSTS]++;
  batch_reset(b);
}

static err_t linkoutput(struct netif *nif, struct pbuf *p) {
  nlwip_netif_t *n = (nlwip_netif_t *)nif;
  nhal_batch_t *b = &n->tx;
  uint16_t segs = pbuf_clen(p);
  if (segs > NHAL_PKT_SEGS_MAX) return ERR_BUF;
  if (b->n_pkts == NHAL_BURST_MAX || b->n_segs + segs > NHAL_SEGS_MAX) nlwip__netif_flush(n);
  for (struct pbuf *q = p; q; q = q->next) {
    b->segs[b->n_segs].data = q->payload;
    b->segs[b->n_segs].len = q->len;
    b->n_segs++;
  }
  /* Referenced until sent: lwIP sees the reference and leaves a queued TCP segment alone. */
  pbuf_ref(p);
  n->tx_pbufs[b->n_pkts] = p;
  b->pkt_len[b->n_pkts] = p->tot_len;
  b->first[++b->n_pkts] = b->n_segs;
  n->stack->shared.tx_queued++;
  n->stack->counters[NLWIP_C_TX_FRAMES]++;
  /* Nobody will flush after lwIP's own thread: send its frames (and any queued) now. */
  if (!n->stack->in_call) nlwip__netif_flush(n);
  return ERR_OK;
}

static err_t init_netif(struct netif *nif) {
  const nlwip_netif_args_t *a = nif->state;
  nif->state = nif;   /* the args were only for this call */
  nif->name[0] = 'm';
  nif->name[1] = 'f';
  nif->output = etharp_output;
  nif->output_ip6 = ethip6_output;
  nif->linkoutput = linkoutput;
  nif->mtu = a->mtu;
  nif->hwaddr_len = 6;
  memcpy(nif->hwaddr, a->mac, 6);
  nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_IGMP | NETIF_FLAG_MLD6;
  return ERR_OK;
}

static int check_args(const nlwip_netif_args_t *a, nlwip_netif_args_t *out) {
  *out = *a;
  if (!a->port) return -EINVAL;
  if (out->mtu == 0) out->mtu = 1500;
  if (out->mtu < MTU_MIN || out->mtu > MTU_MAX) return -EINVAL;
  if (a->mac[0] & 1) return -EINVAL;   /* a multicast MAC cannot be an interface's */
  if (a->has_ip6) {
    if (a->ip6[0] == 0xff || (a->ip6[0] == 0xfe && (a->ip6[1] & 0xc0) == 0x80)) return -EINVAL;
  }
  return 0;
}

int nlwip_netif_add(nlwip_stack_t *s, nlwip_netif_t **out, const nlwip_netif_args_t *args) {
  nlwip_netif_args_t a;
  int r = check_args(args, &a);
  if (r < 0) return r;
  nlwip_netif_t *n = calloc(1, sizeof *n);
  if (!n) return -ENOMEM;
  n->stack = s;
  n->port = a.port;
  n->irq_fd = -1;
  batch_reset(&n->tx);
  batch_reset(&n->rx);
  ip4_addr_t ip, mask, gw;
  ip4_addr_set_zero(&ip);
  ip4_addr_set_zero(&mask);
  ip4_addr_set_zero(&gw);
  if (a.has_ip4) {
    memcpy(&ip.addr, a.ip4, 4);
    memcpy(&mask.addr, a.mask4, 4);
    memcpy(&gw.addr, a.gw4, 4);
  }
  nlwip__enter(s);
  if (!netif_add(&n->nif, &ip, &mask, &gw, &a, init_netif, netif_input)) {
    nlwip__leave(s, 0);
    free(n);
    return -ENOMEM;
  }
  if (!s->netifs) netif_set_default(&n->nif);
  /* No duplicate address detection: the link is a memif (or a port we own); addresses are
   * usable at once. */
  netif_create_ip6_linklocal_address(&n->nif, 1);
  netif_ip6_addr_set_state(&n->nif, 0, IP6_ADDR_PREFERRED);
  if (a.has_ip6) {
    ip6_addr_t ip6;
    s8_t idx = -1;
    memset(&ip6, 0, sizeof ip6);
    memcpy(ip6.addr, a.ip6, 16);
    if (netif_add_ip6_address(&n->nif, &ip6, &idx) == ERR_OK) netif_ip6_addr_set_state(&n->nif, idx, IP6_ADDR_PREFERRED);
    else r = -ENOSPC;
  }
  netif_set_up(&n->nif);
  snprintf(n->name, sizeof n->name, "%c%c%u", n->nif.name[0], n->nif.name[1], (unsigned)n->nif.num);
  nlwip_netif_t **tail = &s->netifs;
  while (*tail) tail = &(*tail)->next;
  *tail = n;
  nlwip__leave(s, 1);
  if (r < 0) {
    nlwip_netif_remove(n);
    return r;
  }
  *out = n;
  return 0;
}

/* Under the core lock. */
void nlwip__netif_remove(nlwip_netif_t *n) {
  nlwip_stack_t *s = n->stack;
  nlwip__netif_flush(n);
  netif_poll(&n->nif);   /* loopback frames still queued are delivered while the netif exists */
  netif_set_down(&n->nif);
  netif_remove(&n->nif);
  if (n->irq_fd >= 0) close(n->irq_fd);
  for (nlwip_netif_t **p = &s->netifs; *p; p = &(*p)->next) {
    if (*p == n) {
      *p = n->next;
      break;
    }
  }
  if (netif_default == NULL && s->netifs) netif_set_default(&s->netifs->nif);
  n->next = s->removed;
  s->removed = n;
}

void nlwip_netif_remove(nlwip_netif_t *n) {
  nlwip_stack_t *s = n->stack;
  nlwip__enter(s);
  nlwip__netif_remove(n);
  nlwip__leave(s, 1);
  nlwip__reap(s);
}

const char *nlwip_netif_name(const nlwip_netif_t *n) { return n->name; }

int nlwip_netif_ip6(const nlwip_netif_t *n, int idx, uint8_t out[16]) {
  nlwip__enter(n->stack);
  int r = -ENOENT;
  for (int i = 0, seen = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++) {
    if (!ip6_addr_isvalid(netif_ip6_addr_state(&n->nif, i))) continue;
    if (seen++ == idx) {
      memcpy(out, netif_ip6_addr(&n->nif, i)->addr, 16);
      r = 0;
      break;
    }
  }
  nlwip__leave(n->stack, 0);
  return r;
}

/* Copies a burst out of the port, releases it, then hands the frames to lwIP. */
static int take_burst(nlwip_netif_t *n, uint16_t max) {
  nhal_batch_t *b = &n->rx;
  struct pbuf *frames[NHAL_BURST_MAX];
  int got = nhal_port_rx_burst(n->port, b, max);
  if (got <= 0) return 0;
  const uint32_t longest = n->nif.mtu + ETH_HDR_LEN + VLAN_TAG_LEN;
  int syn_room = 0, syn_counted = 0;   /* half-open connections still allowed, once per burst */
  for (int i = 0; i < got; i++) {
    uint32_t len = b->pkt_len[i];
    frames[i] = NULL;
    if (len < ETH_HDR_LEN || len > longest) {
      n->stack->counters[NLWIP_C_RX_BAD_FRAMES]++;
      continue;
    }
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
    if (!p) {
      n->stack->counters[NLWIP_C_RX_NOMEM]++;
      continue;
    }
    uint8_t *w = p->payload;
    for (uint16_t k = b->first[i]; k < b->first[i + 1]; k++) {
      memcpy(w, b->segs[k].data, b->segs[k].len);
      w += b->segs[k].len;
    }
    if (nlwip__is_tcp_syn(p->payload, len)) {
      if (!syn_counted) {
        syn_room = NLWIP_HALF_OPEN_MAX - nlwip__half_open();
        syn_counted = 1;
      }
      if (syn_room-- <= 0) {
        n->stack->counters[NLWIP_C_RX_SYN_DROPS]++;
        pbuf_free(p);
        continue;
      }
    }
    frames[i] = p;
  }
  nhal_port_rx_done(n->port, b);
  for (int i = 0; i < got; i++) {
    if (!frames[i]) continue;
    n->stack->counters[NLWIP_C_RX_FRAMES]++;
    if (n->nif.input(frames[i], &n->nif) != ERR_OK) pbuf_free(frames[i]);
  }
  return got;
}

static int take_frames(nlwip_netif_t *n, uint32_t budget) {
  uint32_t total = 0;
  while (total < budget) {
    uint16_t max = budget - total > NHAL_BURST_MAX ? NHAL_BURST_MAX : (uint16_t)(budget - total);
    int got = take_burst(n, max);
    total += (uint32_t)got;
    if (got < max) break;
  }
  return (int)total;
}

int nlwip_netif_link_up(nlwip_netif_t *n) {
  nlwip_stack_t *s = n->stack;
  nlwip__enter(s);
  netif_set_link_up(&n->nif);
  int r = nhal_port_rx_irq(n->port, 1);
  for (int k = 0; r == -EAGAIN && k < LINK_UP_POLLS; k++) {
    take_frames(n, NHAL_BURST_MAX);
    r = nhal_port_rx_irq(n->port, 1);
  }
  if (r >= 0) {
    int fd = fcntl(r, F_DUPFD_CLOEXEC, 0);
    r = fd >= 0 ? fd : -errno;
    if (fd >= 0) {
      if (n->irq_fd >= 0) close(n->irq_fd);
      n->irq_fd = fd;
      n->armed = 1;
    }
  }
  nlwip__leave(s, 1);
  return r;
}

void nlwip_netif_link_down(nlwip_netif_t *n) {
  nlwip_stack_t *s = n->stack;
  nlwip__enter(s);
  netif_set_link_down(&n->nif);
  if (n->irq_fd >= 0) close(n->irq_fd);
  n->irq_fd = -1;
  n->armed = 0;
  nlwip__leave(s, 1);
}

int nlwip_netif_poll(nlwip_netif_t *n, uint32_t budget, int flags, int *more) {
  nlwip_stack_t *s = n->stack;
  nlwip__enter(s);
  if ((flags & NLWIP_POLL_IRQ) || n->armed) {
    nhal_port_rx_irq(n->port, 0);   /* masked while we poll; the eventfd is cleared */
    n->armed = 0;
  }
  int got = take_frames(n, budget ? budget : NHAL_BURST_MAX);
  *more = 1;
  if (got == 0 && !(flags & NLWIP_POLL_SPIN)) {
    int r = nhal_port_rx_irq(n->port, 1);
    n->armed = r >= 0 || r == -EAGAIN;
    *more = r == -EAGAIN;   /* frames raced in while arming */
  }
  nlwip__leave(s, 1);
  return got;
}
