/* TCP sockets over lwIP's raw API. Received segments are queued as lwIP's pbufs and the
 * window reopens as the owner reads them; sends copy into lwIP's send buffer (tcp_write).
 * lwIP calls back on the thread that holds the core lock: the owner while it polls or sends,
 * or lwIP's own thread for timers. Either way the socket's readiness is recomputed. */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"
#include "lwip/tcp.h"

#define BACKLOG_MAX 4096

static void recved(struct tcp_pcb *pcb, size_t n) {
  while (n > 0) {
    u16_t c = n > 0xFFFF ? 0xFFFF : (u16_t)n;
    tcp_recved(pcb, c);
    n -= c;
  }
}

static void remember_local(nlwip_sock_t *k) {
  nlwip__from_ip(&k->pcb.tcp->local_ip, k->pcb.tcp->local_port, &k->local);
  k->flags |= SF_HAS_LOCAL;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
  nlwip_sock_t *k = arg;
  if (!p) {
    k->flags |= SF_RX_EOF;
    nlwip__sock_update(k, NLWIP_EV_IN | NLWIP_EV_RDHUP);
    return ERR_OK;
  }
  if (k->flags & SF_RD_SHUT) {   /* shut for reading: acknowledged and dropped */
    recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
  }
  /* ERR_MEM: lwIP keeps the data and offers it again later. */
  if (nlwip__pbq_push(&k->rx, p, NULL) < 0) return ERR_MEM;
  nlwip__sock_update(k, NLWIP_EV_IN);
  return ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len) {
  nlwip__sock_update(arg, 0);
  return ERR_OK;
}

/* lwIP has freed the pcb: a reset, a timeout, or the end of a connection closed both ways. */
static void on_err(void *arg, err_t err) {
  nlwip_sock_t *k = arg;
  if (!k) return;
  int connecting = (k->flags & SF_CONNECTING) != 0;
  k->pcb.tcp = NULL;
  k->flags = (k->flags & ~SF_CONNECTING) | SF_DEAD;
  if (err == ERR_RST) k->err = connecting ? -ECONNREFUSED : -ECONNRESET;
  else if (err == ERR_ABRT) k->err = -ETIMEDOUT;   /* we never abort an attached pcb ourselves */
  else if (err != ERR_CLSD) k->err = nlwip__err(err);
  nlwip__sock_update(k, NLWIP_EV_IN | NLWIP_EV_OUT | NLWIP_EV_ERR | NLWIP_EV_HUP | NLWIP_EV_RDHUP);
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err) {
  nlwip_sock_t *k = arg;
  k->flags = (k->flags & ~SF_CONNECTING) | SF_CONNECTED;
  remember_local(k);
  nlwip__sock_update(k, NLWIP_EV_OUT);
  return ERR_OK;
}

static void attach(nlwip_sock_t *k, struct tcp_pcb *pcb) {
  k->pcb.tcp = pcb;
  tcp_arg(pcb, k);
  tcp_recv(pcb, on_recv);
  tcp_sent(pcb, on_sent);
  tcp_err(pcb, on_err);
}

static void detach(struct tcp_pcb *pcb) {
  tcp_arg(pcb, NULL);
  tcp_recv(pcb, NULL);   /* lwIP's own handler then acknowledges and drops late data */
  tcp_sent(pcb, NULL);
  tcp_err(pcb, NULL);
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err) {
  nlwip_sock_t *l = arg;
  if (!l || err != ERR_OK || !pcb) return ERR_VAL;
  /* Any error makes lwIP abort the new connection: the peer sees a reset. */
  if (l->acc_count >= l->backlog) return ERR_MEM;
  nlwip_sock_t *c = nlwip__sock_new(l->stack, SK_TCP, l->family);
  if (!c) return ERR_MEM;
  attach(c, pcb);
  c->flags = SF_CONNECTED | SF_HAS_PEER;
  nlwip__from_ip(&pcb->remote_ip, pcb->remote_port, &c->peer);
  remember_local(c);
  c->listener = l->id + 1;
  l->acceptq[(l->acc_head + l->acc_count) % l->backlog] = c->id;
  l->acc_count++;
  nlwip__sock_update(c, 0);
  nlwip__sock_update(l, NLWIP_EV_IN);
  return ERR_OK;
}

int nlwip__tcp_open(nlwip_sock_t *k) {
  struct tcp_pcb *pcb = tcp_new_ip_type(k->family == 6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
  if (!pcb) return -ENOMEM;
  attach(k, pcb);
  return 0;
}

int nlwip__tcp_connect(nlwip_sock_t *k, const ip_addr_t *ip, uint16_t port) {
  if (k->flags & SF_CONNECTING) return -EALREADY;
  if (k->flags & (SF_CONNECTED | SF_DEAD)) return -EISCONN;
  err_t e = tcp_connect(k->pcb.tcp, ip, port, on_connected);
  if (e == ERR_RTE) return -ENETUNREACH;
  if (e != ERR_OK) return nlwip__err(e);
  k->flags |= SF_CONNECTING | SF_HAS_PEER;
  nlwip__from_ip(ip, port, &k->peer);
  return 0;
}

int nlwip__tcp_listen(nlwip_sock_t *k, int backlog) {
  if (k->flags & (SF_CONNECTING | SF_CONNECTED | SF_DEAD)) return -EINVAL;
  struct tcp_pcb *pcb = k->pcb.tcp;
  /* Listening without bind() takes an ephemeral port, as on Linux. */
  if (pcb->local_port == 0) {
    err_t e = tcp_bind(pcb, k->family == 6 ? IP6_ADDR_ANY : IP4_ADDR_ANY, 0);
    if (e != ERR_OK) return nlwip__err(e);
  }
  uint16_t n = backlog < 1 ? 1 : backlog > BACKLOG_MAX ? BACKLOG_MAX : (uint16_t)backlog;
  uint32_t *q = malloc(sizeof *q * n);
  if (!q) return -ENOMEM;
  err_t e = ERR_OK;
  /* lwIP frees the pcb and returns a smaller listening one (its backlog argument is unused
   * in this build: the limit is enforced in on_accept). */
  struct tcp_pcb *lpcb = tcp_listen_with_backlog_and_err(pcb, 0xFF, &e);
  if (!lpcb) {
    free(q);
    return nlwip__err(e);
  }
  k->pcb.tcp = lpcb;
  k->kind = SK_LISTEN;
  k->acceptq = q;
  k->backlog = n;
  tcp_arg(lpcb, k);
  tcp_accept(lpcb, on_accept);
  return 0;
}

int nlwip__tcp_accept(nlwip_sock_t *l, nlwip_addr_t *peer) {
  if (l->acc_count == 0) return -EAGAIN;
  uint32_t id = l->acceptq[l->acc_head];
  l->acc_head = (uint16_t)((l->acc_head + 1) % l->backlog);
  l->acc_count--;
  nlwip_sock_t *c = l->stack->socks[id];
  c->listener = 0;
  if (peer) *peer = c->peer;
  return (int)id;
}

uint32_t nlwip__tcp_events(const nlwip_sock_t *k) {
  uint32_t f = k->flags;
  if (f & SF_DEAD) return NLWIP_EV_IN | NLWIP_EV_OUT | NLWIP_EV_HUP | NLWIP_EV_RDHUP;
  if (!(f & SF_CONNECTED)) return 0;   /* new or connecting: nothing to report yet */
  uint32_t ev = 0;
  if (k->rx.count || (f & (SF_RX_EOF | SF_RD_SHUT))) ev |= NLWIP_EV_IN;
  if (f & SF_RX_EOF) ev |= NLWIP_EV_RDHUP;
  if ((f & SF_RX_EOF) && (f & SF_WR_SHUT)) ev |= NLWIP_EV_HUP;
  /* Writable as lwIP's own socket layer defines it (room above the low-water marks);
   * after shutdown(write) a send fails at once, so it counts as ready too. */
  const struct tcp_pcb *pcb = k->pcb.tcp;
  if ((f & SF_WR_SHUT) ||
      (tcp_sndbuf(pcb) > TCP_SNDLOWAT && tcp_sndqueuelen(pcb) < TCP_SNDQUEUELOWAT))
    ev |= NLWIP_EV_OUT;
  return ev;
}

int nlwip__tcp_send(nlwip_sock_t *k, const void *data, size_t len) {
  if (k->flags & SF_WR_SHUT) return -EPIPE;
  if (k->flags & SF_DEAD) return k->err ? k->err : -EPIPE;
  if (k->flags & SF_CONNECTING) return 0;   /* EPOLLOUT once connected */
  if (!(k->flags & SF_CONNECTED)) return -ENOTCONN;
  struct tcp_pcb *pcb = k->pcb.tcp;
  size_t done = 0;
  while (done < len) {
    size_t room = tcp_sndqueuelen(pcb) < TCP_SND_QUEUELEN ? tcp_sndbuf(pcb) : 0;
    size_t chunk = len - done < room ? len - done : room;
    if (chunk == 0) break;
    err_t e;
    /* ERR_MEM: the segment queue is full for this size; a smaller write may still fit. */
    while ((e = tcp_write(pcb, (const uint8_t *)data + done, (u16_t)chunk,
                          TCP_WRITE_FLAG_COPY | (done + chunk < len ? TCP_WRITE_FLAG_MORE : 0))) == ERR_MEM &&
           chunk > TCP_MSS)
      chunk /= 2;
    if (e != ERR_OK) break;
    done += chunk;
  }
  if (done > 0) tcp_output(pcb);
  return (int)done;
}

int nlwip__tcp_recv(nlwip_sock_t *k, void *buf, size_t len) {
  if (k->rx.count) {
    size_t n = nlwip__pbq_read(&k->rx, buf, len);
    if (k->pcb.tcp) recved(k->pcb.tcp, n);
    return (int)n;
  }
  if (k->flags & (SF_RD_SHUT | SF_RX_EOF)) return 0;
  if (k->flags & SF_DEAD) {
    int e = k->err;   /* the error once, like Linux, then the end of the stream */
    k->err = 0;
    return e;
  }
  if (k->flags & (SF_CONNECTED | SF_CONNECTING)) return -EAGAIN;
  return -ENOTCONN;
}

int nlwip__tcp_shutdown(nlwip_sock_t *k, int how) {
  if (!(k->flags & SF_CONNECTED) || (k->flags & SF_DEAD)) return -ENOTCONN;
  if (how & NLWIP_SHUT_RD) {
    k->flags |= SF_RD_SHUT;
    recved(k->pcb.tcp, nlwip__pbq_clear(&k->rx));
  }
  if ((how & NLWIP_SHUT_WR) && !(k->flags & SF_WR_SHUT)) {
    err_t e = tcp_shutdown(k->pcb.tcp, 0, 1);   /* sends our FIN after the queued data */
    if (e != ERR_OK) return nlwip__err(e);
    k->flags |= SF_WR_SHUT;
  }
  return 0;
}

void nlwip__tcp_close(nlwip_sock_t *k, int abort) {
  struct tcp_pcb *pcb = k->pcb.tcp;
  k->pcb.tcp = NULL;
  if (k->kind == SK_LISTEN) {
    /* Connections nobody accepted are reset. */
    for (; k->acc_count; k->acc_count--, k->acc_head = (uint16_t)((k->acc_head + 1) % k->backlog)) {
      nlwip_sock_t *c = k->stack->socks[k->acceptq[k->acc_head]];
      if (!c || c->listener != k->id + 1) continue;
      nlwip__tcp_close(c, 1);
      nlwip__sock_free(c);
    }
    if (pcb) {
      tcp_arg(pcb, NULL);
      tcp_accept(pcb, NULL);
      tcp_close(pcb);   /* cannot fail for a listening pcb */
    }
    return;
  }
  if (!pcb) return;
  detach(pcb);
  /* lwIP resets instead of closing when data we never read is left, as Linux does. */
  if (abort || tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
}
