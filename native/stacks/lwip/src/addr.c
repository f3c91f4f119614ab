/* Addresses between nlwip_addr_t and lwIP's ip_addr_t, and lwIP errors as negative errno. */
#include <errno.h>
#include <string.h>

#include "internal.h"

nlwip_netif_t *nlwip__netif_by_index(nlwip_stack_t *s, uint8_t zone) {
  for (nlwip_netif_t *n = s->netifs; n; n = n->next)
    if (zone == 0 || netif_get_index(&n->nif) == zone) return n;
  return NULL;
}

int nlwip__to_ip(nlwip_stack_t *s, const nlwip_addr_t *a, ip_addr_t *out) {
  memset(out, 0, sizeof *out);
  if (a->family == 4) {
    IP_SET_TYPE_VAL(*out, IPADDR_TYPE_V4);
    memcpy(&ip_2_ip4(out)->addr, a->ip, 4);
    return 0;
  }
  if (a->family != 6) return -EAFNOSUPPORT;
  IP_SET_TYPE_VAL(*out, IPADDR_TYPE_V6);
  ip6_addr_t *ip6 = ip_2_ip6(out);
  memcpy(ip6->addr, a->ip, 16);
  ip6_addr_clear_zone(ip6);
  /* A link-local address means nothing without its link: the one named, else the first. */
  if (ip6_addr_has_scope(ip6, IP6_UNKNOWN)) {
    nlwip_netif_t *n = nlwip__netif_by_index(s, a->zone);
    if (!n && a->zone) return -ENXIO;
    if (n) ip6_addr_assign_zone(ip6, IP6_UNKNOWN, &n->nif);
  }
  return 0;
}

void nlwip__from_ip(const ip_addr_t *ip, uint16_t port, nlwip_addr_t *out) {
  memset(out, 0, sizeof *out);
  out->port = port;
  if (IP_IS_V6(ip)) {
    out->family = 6;
    memcpy(out->ip, ip_2_ip6(ip)->addr, 16);
    if (ip6_addr_has_zone(ip_2_ip6(ip))) out->zone = ip6_addr_zone(ip_2_ip6(ip));
  } else {
    out->family = 4;
    memcpy(out->ip, &ip_2_ip4(ip)->addr, 4);
  }
}

int nlwip__is_local(const ip_addr_t *ip) {
  if (ip_addr_isany(ip)) return 1;
  struct netif *n;
  NETIF_FOREACH(n) {
    if (IP_IS_V6(ip)) {
      if (netif_get_ip6_addr_match(n, ip_2_ip6(ip)) >= 0) return 1;
    } else if (ip4_addr_cmp(ip_2_ip4(ip), netif_ip4_addr(n))) {
      return 1;
    }
  }
  return 0;
}

int nlwip__err(err_t e) {
  switch (e) {
    case ERR_OK: return 0;
    case ERR_MEM: return -ENOMEM;
    case ERR_BUF: return -ENOBUFS;
    case ERR_TIMEOUT: return -ETIMEDOUT;
    case ERR_RTE: return -EHOSTUNREACH;
    case ERR_INPROGRESS: return -EINPROGRESS;
    case ERR_WOULDBLOCK: return -EAGAIN;
    case ERR_USE: return -EADDRINUSE;
    case ERR_ALREADY: return -EALREADY;
    case ERR_ISCONN: return -EISCONN;
    case ERR_CONN: return -ENOTCONN;
    case ERR_IF: return -ENETDOWN;
    case ERR_ABRT: return -ECONNABORTED;
    case ERR_RST: return -ECONNRESET;
    case ERR_CLSD: return -ENOTCONN;
    default: return -EINVAL;   /* ERR_VAL, ERR_ARG */
  }
}
