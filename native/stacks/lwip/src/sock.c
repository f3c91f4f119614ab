/* The socket calls: each takes the core lock, checks the socket, and hands the protocol part
 * to udp.c or tcp.c. Readiness is recomputed before the lock is released. */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"

#define UDP_RCVBUF_DEFAULT (256u * 1024u)
#define UDP_RCVBUF_MAX (64u * 1024u * 1024u)

/* Enters the lock and finds socket id (not one still waiting in a listener's queue). */
static nlwip_sock_t *enter_sock(nlwip_stack_t *s, int id) {
  nlwip__enter(s);
  nlwip_sock_t *k = nlwip__sock_get(s, id);
  return k && !k->listener ? k : NULL;
}

/* Recomputes readiness and leaves with `r`. */
static int done(nlwip_stack_t *s, nlwip_sock_t *k, int r) {
  if (k) nlwip__sock_update(k, 0);
  nlwip__leave(s, 0);
  return r;
}

int nlwip_socket(nlwip_stack_t *s, int proto, int family) {
  if (family != 4 && family != 6) return -EAFNOSUPPORT;
  if (proto != NLWIP_UDP && proto != NLWIP_TCP) return -EPROTONOSUPPORT;
  nlwip__enter(s);
  nlwip_sock_t *k = nlwip__sock_new(s, proto == NLWIP_UDP ? SK_UDP : SK_TCP, family);
  int r = k ? 0 : (s->next_id >= NLWIP_MAX_SOCKETS ? -EMFILE : -ENOMEM);
  if (k) {
    k->rcvbuf = UDP_RCVBUF_DEFAULT;
    r = proto == NLWIP_UDP ? nlwip__udp_open(k) : nlwip__tcp_open(k);
    if (r < 0) {
      nlwip__sock_free(k);
    } else {
      r = (int)k->id;
      /* Its first readiness is no change to report: an EventPoll reads it when adding. */
      nlwip__sock_refresh(k);
    }
  }
  return done(s, NULL, r);
}

/* The address for a socket of this family, checked. */
static int sock_ip(nlwip_sock_t *k, const nlwip_addr_t *a, ip_addr_t *ip) {
  if (!a) return -EINVAL;
  if (a->family != k->family) return -EAFNOSUPPORT;
  return nlwip__to_ip(k->stack, a, ip);
}

int nlwip_bind(nlwip_stack_t *s, int id, const nlwip_addr_t *a) {
  nlwip_sock_t *k = enter_sock(s, id);
  if (!k) return done(s, NULL, -EBADF);
  ip_addr_t ip;
  int r = sock_ip(k, a, &ip);
  if (r == 0 && !nlwip__is_local(&ip)) r = -EADDRNOTAVAIL;
  if (r == 0 && k->kind == SK_LISTEN) r = -EINVAL;
  if (r == 0) {
    err_t e = k->kind == SK_UDP ? udp_bind(k->pcb.udp, &ip, a->port)
                                : (k->pcb.tcp ? tcp_bind(k->pcb.tcp, &ip, a->port) : ERR_CLSD);
    /* lwIP says ERR_VAL for a second bind; Linux says EINVAL too. */
    r = nlwip__err(e);
  }
  return done(s, k, r);
}

int nlwip_connect(nlwip_stack_t *s, int id, const nlwip_addr_t *a) {
  nlwip_sock_t *k = enter_sock(s, id);
  if (!k) return done(s, NULL, -EBADF);
  ip_addr_t ip;
  int r = sock_ip(k, a, &ip);
  if (r == 0) {
    if (k->kind == SK_UDP) {
      r = nlwip__err(udp_connect(k->pcb.udp, &ip, a->port));
      if (r == 0) {
        k->flags |= SF_UDP_CONNECTED | SF_HAS_PEER;
        k->peer = *a;
      }
    } else if (k->kind == SK_LISTEN) {
      r = -EINVAL;
    } else {
      r = nlwip__tcp_connect(k, &ip, a->port);
    }
  }
  return done(s, k, r);
}

int nlwip_listen(nlwip_stack_t *s, int id, int backlog) {
  nlwip_sock_t *k = enter_sock(s, id);
  if (!k) return done(s, NULL, -EBADF);
  int r = k->kind == SK_UDP ? -EOPNOTSUPP : k->kind == SK_LISTEN ? 0 : nlwip__tcp_listen(k, backlog);
  return done(s, k, r);
}

int nlwip_accept(nlwip_stack_t *s, int id, nlwip_addr_t *peer) {
  nlwip_sock_t *k = enter_sock(s, id);
  if (!k) return done(s, NULL, -EBADF);
  int r = k->kind == SK_LISTEN ? nlwip__tcp_accept(k, peer) : -EINVAL;
  return done(s, k, r);
}

int nlwip_send(nlwip_stack_t *s, int id, const void *data, size_t len, const nlwip_addr_t *to) {
  nlwip_sock_t *k = enter_sock(s, id);
  if (!k) return done(s, NULL, -EBADF);
  int r;
  if (k->kind == SK_UDP) {
    ip_addr_t ip;
    if (k->flags & SF_WR_SHUT) r = -EPIPE;
    else if (to) r = sock_ip(k, to, &ip);
    else r = k->flags & SF_UDP_CONNECTED ? 0 : -EDESTADDRREQ;
    if (r == 0) r = nlwip__udp_send(k, data, len, to ? &ip : NULL, to ? to->port : 0);
  } else if (k->kind == SK_TCP) {
    r = nlwip__tcp_send(k, data, len);
  } else {
    r = -ENOTCONN;
  }
  return done(s, k, r);
}

/* UDP: copies the first datagram (truncated) and drops it. */
static int udp_take(nlwip_sock_t *k, void *buf, size_t len, nlwip_addr_t *from) {
  nlwip_pbq_entry_t *e = nlwip__pbq_head(&k->rx);
  if (!e) return -EAGAIN;
  u16_t n = e->p->tot_len < len ? e->p->tot_len : (u16_t)len;
  pbuf_copy_partial(e->p, buf, n, 0);
  if (from) *from = e->from;
  nlwip__pbq_pop(&k->rx);
  return n;
}

int nlwip_recv(nlwip_stack_t *s, int id, void *buf, size_t len, nlwip_addr_t *from) {
  nlwip_sock_t *k = enter_sock(s, id);
  if (!k) return done(s, NULL, -EBADF);
  int r;
  if (k->kind == SK_UDP) {
    r = udp_take(k, buf, len, from);
  } else if (k->kind == SK_TCP) {
    r = nlwip__tcp_recv(k, buf, len);
    if (from) *from = k->peer;
  } else {
    r = -ENOTCONN;
  }
  return done(s, k, r);
}

int nlwip_recv_batch(nlwip_stack_t *s, int id, uint8_t *data, size_t cap, uint32_t *offsets,
                     uint32_t *lengths, nlwip_addr_t *from, uint32_t max, uint32_t *pending) {
  nlwip_sock_t *k = enter_sock(s, id);
  if (!k) return done(s, NULL, -EBADF);
  if (k->kind != SK_UDP) return done(s, k, -EOPNOTSUPP);
  uint32_t n = 0;
  size_t used = 0;
  nlwip_pbq_entry_t *e;
  while (n < max && (e = nlwip__pbq_head(&k->rx)) != NULL) {
    size_t len = e->p->tot_len;
    if (len > cap - used) {
      if (n > 0) break;   /* stays queued for the next batch */
      len = cap;          /* alone and too long: truncated, as recv() would */
    }
    pbuf_copy_partial(e->p, data + used, (u16_t)len, 0);
    offsets[n] = (uint32_t)used;
    lengths[n] = (uint32_t)len;
    from[n] = e->from;
    used += len;
    n++;
    nlwip__pbq_pop(&k->rx);
  }
  *pending = k->rx.count;
  return done(s, k, (int)n);
}

int nlwip_shutdown(nlwip_stack_t *s, int id, int how) {
  nlwip_sock_t *k = enter_sock(s, id);
  if (!k) return done(s, NULL, -EBADF);
  int r = 0;
  if (how < NLWIP_SHUT_RD || how > NLWIP_SHUT_RDWR) r = -EINVAL;
  else if (k->kind == SK_TCP) r = nlwip__tcp_shutdown(k, how);
  else if (k->kind == SK_LISTEN) r = -ENOTCONN;
  else {
    /* UDP: reads see nothing new, writes fail; the pcb stays bound, as on Linux. */
    if (how & NLWIP_SHUT_RD) {
      k->flags |= SF_RD_SHUT;
      nlwip__pbq_clear(&k->rx);
    }
    if (how & NLWIP_SHUT_WR) k->flags |= SF_WR_SHUT;
  }
  return done(s, k, r);
}

int nlwip_close(nlwip_stack_t *s, int id) {
  nlwip_sock_t *k = enter_sock(s, id);
  if (!k) return done(s, NULL, -EBADF);
  if (k->kind == SK_UDP) nlwip__udp_close(k);
  else nlwip__tcp_close(k, 0);
  nlwip__sock_free(k);
  return done(s, NULL, 0);
}

int nlwip_sockname(nlwip_stack_t *s, int id, int peer, nlwip_addr_t *out) {
  nlwip_sock_t *k = enter_sock(s, id);
  if (!k) return done(s, NULL, -EBADF);
  int r = 0;
  if (peer) {
    if (k->flags & SF_HAS_PEER) *out = k->peer;
    else r = -ENOTCONN;
  } else if (k->kind == SK_UDP) {
    nlwip__from_ip(&k->pcb.udp->local_ip, k->pcb.udp->local_port, out);
  } else if (k->pcb.tcp) {
    nlwip__from_ip(&k->pcb.tcp->local_ip, k->pcb.tcp->local_port, out);
  } else if (k->flags & SF_HAS_LOCAL) {
    *out = k->local;
  } else {
    r = -EINVAL;
  }
  /* An unbound socket of family 6 reports "::" like Linux, not lwIP's any-type address. */
  if (r == 0 && !peer) out->family = k->family;
  return done(s, NULL, r);
}

int nlwip_sock_error(nlwip_stack_t *s, int id) {
  nlwip_sock_t *k = enter_sock(s, id);
  if (!k) return done(s, NULL, -EBADF);
  int r = k->err;
  k->err = 0;
  return done(s, k, r);
}

/* The pcb's ip_pcb fields are common to udp and tcp pcbs. */
static struct ip_pcb *ip_pcb_of(nlwip_sock_t *k) {
  if (k->kind == SK_UDP) return (struct ip_pcb *)k->pcb.udp;
  return (struct ip_pcb *)k->pcb.tcp;
}

int nlwip_getopt(nlwip_stack_t *s, int id, int opt) {
  nlwip_sock_t *k = enter_sock(s, id);
  if (!k) return done(s, NULL, -EBADF);
  struct ip_pcb *ip = ip_pcb_of(k);
  struct tcp_pcb *tcp = k->kind == SK_TCP ? k->pcb.tcp : NULL;
  int r;
  switch (opt) {
    case NLWIP_OPT_REUSEADDR: r = ip ? !!ip_get_option(ip, SOF_REUSEADDR) : 0; break;
    case NLWIP_OPT_KEEPALIVE: r = ip ? !!ip_get_option(ip, SOF_KEEPALIVE) : 0; break;
    case NLWIP_OPT_BROADCAST: r = ip ? !!ip_get_option(ip, SOF_BROADCAST) : 0; break;
    case NLWIP_OPT_NODELAY: r = k->kind == SK_UDP ? -ENOPROTOOPT : tcp ? !!tcp_nagle_disabled(tcp) : 0; break;
    case NLWIP_OPT_TTL: r = ip ? ip->ttl : -ENOTCONN; break;
    case NLWIP_OPT_RCVBUF: r = k->kind == SK_UDP ? (int)k->rcvbuf : (int)TCP_WND; break;
    case NLWIP_OPT_SNDBUF: r = k->kind == SK_UDP ? 65535 : (int)TCP_SND_BUF; break;
    default: r = -ENOPROTOOPT;
  }
  return done(s, NULL, r);
}

int nlwip_setopt(nlwip_stack_t *s, int id, int opt, int value) {
  nlwip_sock_t *k = enter_sock(s, id);
  if (!k) return done(s, NULL, -EBADF);
  struct ip_pcb *ip = ip_pcb_of(k);
  struct tcp_pcb *tcp = k->kind == SK_TCP ? k->pcb.tcp : NULL;
  int r = 0;
  if (!ip && opt != NLWIP_OPT_RCVBUF && opt != NLWIP_OPT_SNDBUF) return done(s, NULL, -ECONNRESET);
  switch (opt) {
    case NLWIP_OPT_REUSEADDR:
      if (value) ip_set_option(ip, SOF_REUSEADDR);
      else ip_reset_option(ip, SOF_REUSEADDR);
      break;
    case NLWIP_OPT_KEEPALIVE:
      if (value) ip_set_option(ip, SOF_KEEPALIVE);
      else ip_reset_option(ip, SOF_KEEPALIVE);
      break;
    case NLWIP_OPT_BROADCAST:
      if (value) ip_set_option(ip, SOF_BROADCAST);
      else ip_reset_option(ip, SOF_BROADCAST);
      break;
    case NLWIP_OPT_NODELAY:
      if (k->kind == SK_UDP) r = -ENOPROTOOPT;
      else if (tcp && value) tcp_nagle_disable(tcp);
      else if (tcp) tcp_nagle_enable(tcp);
      break;
    case NLWIP_OPT_TTL:
      if (value < 1 || value > 255) r = -EINVAL;
      else ip->ttl = (u8_t)value;
      break;
    case NLWIP_OPT_RCVBUF:
      /* UDP's queue is ours to size; TCP's window is fixed when lwIP is built. */
      if (k->kind != SK_UDP) r = -ENOPROTOOPT;
      else if (value < 2048 || (uint32_t)value > UDP_RCVBUF_MAX) r = -EINVAL;
      else k->rcvbuf = (uint32_t)value;
      break;
    default:
      r = -ENOPROTOOPT;   /* SNDBUF: lwIP's send buffer is fixed when it is built */
  }
  return done(s, NULL, r);
}
