/*
 * nlwip: lwIP 2.1 as a protocol stack in this process, one lwIP netif per nhal port (a memif
 * queue pair, or a DPDK queue), run to completion by the thread that owns it (FD.io DMM's
 * deploy type 1). Built only when pkg-config finds lwIP; otherwise every call fails with
 * -ENOTSUP and nlwip_built() is 0.
 *
 * Conventions (as in nmemif.h and nhal.h): 0 or a count on success, a negative errno on
 * failure; one prefix. This header needs no lwIP header: addresses cross it as nlwip_addr_t.
 *
 * Threads. lwIP keeps global state: one stack per process. lwIP's own tcpip thread runs only
 * its timers (retransmissions, delayed ACKs, ARP and ND ageing). The owner thread does all the
 * rest under lwIP's core lock: it polls the netifs (frames go from the port into lwIP without
 * a thread hop), opens and uses sockets, and sends. When lwIP's thread changes a socket's
 * readiness (a timeout, a reset, an ACK that frees send space), the socket goes on the changed
 * list and the owner is woken through an eventfd, written only when the list goes from empty
 * to non-empty. Every function below is for the owner thread.
 *
 * Readiness. Each socket's EPOLL* bits are a word of an array the owner reads without a call
 * (nlwip_readiness()); sockets whose bits rose, or that received data, are listed for
 * nlwip_take_changed().
 *
 * Transmission. Frames lwIP emits are queued per netif (the pbuf is referenced, not copied)
 * and copied to the port by one tx burst: at the end of each poll, at nlwip_flush(), when a
 * queue is full, and at once when lwIP's own thread emits them. Calls other than poll leave
 * their frames queued: the owner calls nlwip_flush() once it has made its calls for now
 * (nlwip_shared_t.tx_queued says whether anything waits).
 */
#ifndef NLWIP_H
#define NLWIP_H

#include <stddef.h>
#include <stdint.h>

#include "nhal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when built with lwIP. */
int nlwip_built(void);
/* Why the stack is unavailable ("" when it is available). */
const char *nlwip_unavailable_reason(void);

#define NLWIP_MAX_SOCKETS 65536

/* Readiness bits: Linux's EPOLL* values. */
#define NLWIP_EV_IN 0x001u
#define NLWIP_EV_OUT 0x004u
#define NLWIP_EV_ERR 0x008u
#define NLWIP_EV_HUP 0x010u
#define NLWIP_EV_RDHUP 0x2000u

/* An address with a port. IPv4 in ip[0..3]; network byte order. zone: for IPv6 link-local
 * addresses, the netif index + 1 (0 = none: the first netif is used). Layout is ABI (20
 * bytes): JavaScript reads arrays of it. */
typedef struct nlwip_addr {
  uint8_t family;   /* 4 or 6 */
  uint8_t zone;
  uint16_t port;    /* host order */
  uint8_t ip[16];
} nlwip_addr_t;

typedef struct nlwip_stack nlwip_stack_t;
typedef struct nlwip_netif nlwip_netif_t;

/* Words the owner reads directly (written under the core lock). */
typedef struct nlwip_shared {
  uint32_t changed;    /* sockets waiting on the changed list */
  uint32_t tx_queued;  /* frames queued for transmission, all netifs */
} nlwip_shared_t;

enum nlwip_counter {
  NLWIP_C_RX_FRAMES = 0,      /* frames handed to lwIP */
  NLWIP_C_RX_BAD_FRAMES,      /* shorter than an Ethernet header or longer than the MTU allows */
  NLWIP_C_RX_NOMEM,           /* no pbuf for a received frame */
  NLWIP_C_TX_FRAMES,          /* frames lwIP emitted (queued for the port) */
  NLWIP_C_TX_BURSTS,
  NLWIP_C_UDP_RX_DROPS,       /* datagrams dropped: receive queue full */
  NLWIP_C_WAKEUPS,            /* eventfd writes (lwIP's thread changed a socket) */
  NLWIP_C_RX_SYN_DROPS,       /* TCP SYNs dropped: too many half-open connections */
  NLWIP_C_COUNT
};

/* Starts lwIP on first use (its tcpip thread lives as long as the process) and creates the
 * stack. -EBUSY while another stack of this process is open. */
int nlwip_stack_create(nlwip_stack_t **out);
/* Aborts every socket (connected peers get a reset), removes every netif (ports stay the
 * caller's), closes the eventfd. */
void nlwip_stack_destroy(nlwip_stack_t *s);
/* Readable when the changed list went non-empty from lwIP's thread. */
int nlwip_wake_fd(const nlwip_stack_t *s);
/* NLWIP_MAX_SOCKETS words indexed by socket id: its EPOLL* bits (0 for a free id). */
const uint32_t *nlwip_readiness(const nlwip_stack_t *s);
const nlwip_shared_t *nlwip_shared(const nlwip_stack_t *s);
/* Moves up to max changed sockets into out as pairs (id, EPOLL* bits that rose or were
 * renewed); returns the number of pairs. Clears the wake eventfd. */
int nlwip_take_changed(nlwip_stack_t *s, uint32_t *out, uint32_t max);
/* Sends every queued frame. Returns the frames handed to the ports. */
int nlwip_flush(nlwip_stack_t *s);
void nlwip_counters(const nlwip_stack_t *s, uint64_t out[NLWIP_C_COUNT]);

/* ---- netifs ----------------------------------------------------------------------------- */

typedef struct nlwip_netif_args {
  nhal_port_t *port;      /* must outlive the netif; used under the core lock only */
  uint8_t mac[6];
  uint16_t mtu;           /* 576..9000, default 1500 */
  int has_ip4;
  uint8_t ip4[4], mask4[4], gw4[4];
  int has_ip6;            /* a global or unique-local address; its /64 is on-link */
  uint8_t ip6[16];
} nlwip_netif_args_t;

/* Adds a netif (link down until nlwip_netif_link_up). The first netif is lwIP's default
 * route. IPv6 link-local is always configured; addresses are usable at once (no DAD). */
int nlwip_netif_add(nlwip_stack_t *s, nlwip_netif_t **out, const nlwip_netif_args_t *args);
/* Flushes and removes the netif; sockets bound to its addresses stay (their sends fail). */
void nlwip_netif_remove(nlwip_netif_t *n);
/* lwIP's name ("mf0"). */
const char *nlwip_netif_name(const nlwip_netif_t *n);
/* IPv6 address number idx (0 = link-local); -ENOENT past the last one. */
int nlwip_netif_ip6(const nlwip_netif_t *n, int idx, uint8_t out[16]);
/* The link came up: lwIP announces itself (gratuitous ARP, MLD) and the port's interrupt is
 * armed. Returns an fd that becomes readable when frames arrive (a dup the netif owns: valid
 * until link_down or remove, so stop watching it first), -ENOTSUP if the port cannot signal
 * (poll it), or another negative errno. */
int nlwip_netif_link_up(nlwip_netif_t *n);
void nlwip_netif_link_down(nlwip_netif_t *n);
/* Takes up to budget frames into lwIP and sends what lwIP answered. Flags: NLWIP_POLL_IRQ,
 * called because the interrupt fd was readable (it is cleared); NLWIP_POLL_SPIN, leave the
 * interrupt masked even if nothing came (the caller polls again soon: busy polling).
 * *more = 1: poll again soon (frames may be waiting and the interrupt stays masked); 0: the
 * interrupt is armed. Returns the frames. */
#define NLWIP_POLL_IRQ 1
#define NLWIP_POLL_SPIN 2
int nlwip_netif_poll(nlwip_netif_t *n, uint32_t budget, int flags, int *more);

/* ---- sockets ---------------------------------------------------------------------------- */

enum nlwip_proto { NLWIP_UDP = 17, NLWIP_TCP = 6 };
enum nlwip_shut { NLWIP_SHUT_RD = 1, NLWIP_SHUT_WR = 2, NLWIP_SHUT_RDWR = 3 };
enum nlwip_opt {
  NLWIP_OPT_REUSEADDR = 1,
  NLWIP_OPT_NODELAY,
  NLWIP_OPT_KEEPALIVE,
  NLWIP_OPT_BROADCAST,
  NLWIP_OPT_RCVBUF,
  NLWIP_OPT_SNDBUF,
  NLWIP_OPT_TTL,
};

/* A socket id (0..NLWIP_MAX_SOCKETS-1), or -EMFILE, -ENOMEM, -EAFNOSUPPORT. */
int nlwip_socket(nlwip_stack_t *s, int proto, int family);
int nlwip_bind(nlwip_stack_t *s, int id, const nlwip_addr_t *a);
/* UDP: sets the default destination. TCP: starts connecting (EPOLLOUT when connected,
 * EPOLLERR with the error in nlwip_sock_error otherwise). */
int nlwip_connect(nlwip_stack_t *s, int id, const nlwip_addr_t *a);
int nlwip_listen(nlwip_stack_t *s, int id, int backlog);
/* A connected socket's id, or -EAGAIN. */
int nlwip_accept(nlwip_stack_t *s, int id, nlwip_addr_t *peer);
/* UDP: one datagram (to may be NULL when connected); returns len, or 0 while its IPv4 next
 * hop is unresolved and already has as many datagrams waiting for ARP as lwIP keeps (EPOLLOUT
 * follows once they went out or ARP gave up). TCP: bytes taken (0 when the send buffer is
 * full: EPOLLOUT follows). */
int nlwip_send(nlwip_stack_t *s, int id, const void *data, size_t len, const nlwip_addr_t *to);
/* UDP: one datagram, truncated to len. TCP: bytes read, 0 at the end of the stream.
 * -EAGAIN when nothing waits; a TCP error is returned once, then 0. */
int nlwip_recv(nlwip_stack_t *s, int id, void *buf, size_t len, nlwip_addr_t *from);
/* UDP: whole datagrams back to back into data[0..cap), up to max; a first datagram longer
 * than cap is truncated, a later one that does not fit stays queued. *pending = datagrams
 * still queued. Returns the count (0 when none). */
int nlwip_recv_batch(nlwip_stack_t *s, int id, uint8_t *data, size_t cap, uint32_t *offsets,
                     uint32_t *lengths, nlwip_addr_t *from, uint32_t max, uint32_t *pending);
int nlwip_shutdown(nlwip_stack_t *s, int id, int how);
/* Releases the socket: UDP pcbs go at once; TCP closes gracefully (lwIP finishes sending and
 * the FIN handshake on its own) or resets when unread data is left, as Linux does. */
int nlwip_close(nlwip_stack_t *s, int id);
/* peer = 0: local address; 1: remote (-ENOTCONN if none). */
int nlwip_sockname(nlwip_stack_t *s, int id, int peer, nlwip_addr_t *out);
/* The pending error (negative errno) or 0; reading clears it. */
int nlwip_sock_error(nlwip_stack_t *s, int id);
/* Option value (>= 0) or a negative errno. */
int nlwip_getopt(nlwip_stack_t *s, int id, int opt);
int nlwip_setopt(nlwip_stack_t *s, int id, int opt, int value);

#ifdef __cplusplus
}
#endif
#endif /* NLWIP_H */
