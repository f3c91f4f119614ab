/* Internal: the stack, netif and socket structs shared by the files of src/. Everything here
 * is touched only under lwIP's core lock. */
#ifndef NLWIP_INTERNAL_H
#define NLWIP_INTERNAL_H

#include <stdint.h>

#include "lwip/etharp.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/tcpip.h"
#include "nlwip.h"
#include "pbq.h"

struct nlwip_netif {
  struct netif nif;             /* first: lwIP hands us &nif */
  nlwip_stack_t *stack;
  nhal_port_t *port;
  nlwip_netif_t *next;
  int armed;                    /* the port's interrupt is armed (the peer may signal) */
  int irq_fd;                   /* our dup of the interrupt fd, -1 when down */
  char name[8];                 /* lwIP's name and number, "mf0" */
  struct pbuf *tx_pbufs[NHAL_BURST_MAX];   /* referenced until their burst is sent */
  nhal_batch_t tx;              /* frames waiting, as segments of tx_pbufs */
  nhal_batch_t rx;
};

enum sock_kind { SK_UDP = 1, SK_TCP, SK_LISTEN };

enum sock_flag {
  SF_CONNECTING = 1u << 0,
  SF_CONNECTED = 1u << 1,
  SF_RX_EOF = 1u << 2,          /* TCP: the peer's FIN arrived */
  SF_RD_SHUT = 1u << 3,
  SF_WR_SHUT = 1u << 4,
  SF_DEAD = 1u << 5,            /* TCP: lwIP freed the pcb (reset, timeout) */
  SF_UDP_CONNECTED = 1u << 6,
  SF_HAS_PEER = 1u << 7,        /* peer holds the remote address */
  SF_HAS_LOCAL = 1u << 8,       /* local holds the address of a dead pcb */
  SF_ERR_GIVEN = 1u << 9,       /* TCP: recv already returned the error once */
  SF_NEIGH_WAIT = 1u << 10,     /* UDP: a send waits for room on an unresolved neighbour */
};

typedef struct nlwip_sock {
  nlwip_stack_t *stack;
  uint32_t id;
  uint8_t kind;
  uint8_t family;
  uint8_t queued;               /* on the changed list */
  uint32_t flags;
  uint32_t notify;              /* bits to report with the next take_changed */
  int err;                      /* pending error, negative errno */
  union {
    struct udp_pcb *udp;
    struct tcp_pcb *tcp;
  } pcb;
  nlwip_pbq_t rx;
  uint32_t rcvbuf;              /* UDP: queue limit in bytes */
  uint32_t listener;            /* a connection not accepted yet: its listener's id + 1 */
  uint32_t *acceptq;            /* listener: ids of connections to accept (a ring) */
  uint16_t acc_head, acc_count, backlog;
  nlwip_addr_t peer, local;     /* kept for getpeername/getsockname after the pcb is gone */
} nlwip_sock_t;

/* Our UDP datagrams lwIP holds for one unresolved IPv4 neighbour (neigh.c). */
#define NLWIP_NEIGH_SLOTS ARP_TABLE_SIZE
typedef struct nlwip_neigh {
  struct netif *nif;
  ip4_addr_t ip;
  uint32_t queued;              /* 0: the slot is free */
} nlwip_neigh_t;

struct nlwip_stack {
  int wake_fd;
  int wake_written;             /* the eventfd holds a count not read yet */
  int in_call;                  /* the owner holds the core lock through nlwip__enter */
  nlwip_netif_t *netifs;
  nlwip_netif_t *removed;       /* out of lwIP, freed by nlwip__reap once lwIP's thread is past them */
  nlwip_shared_t shared;
  uint64_t counters[NLWIP_C_COUNT];
  uint32_t n_changed;
  uint32_t free_top;            /* ids free for reuse: free_ids[0..free_top) */
  uint32_t next_id;             /* ids never used: next_id.. */
  uint32_t *changed;            /* ids, NLWIP_MAX_SOCKETS */
  uint32_t *free_ids;
  uint32_t *ready;              /* EPOLL* bits by id */
  nlwip_sock_t **socks;         /* by id */
  nlwip_neigh_t neigh[NLWIP_NEIGH_SLOTS];
  uint32_t neigh_waiters;       /* sockets with SF_NEIGH_WAIT */
};

/* The owner's bracket around every call into lwIP. */
void nlwip__enter(nlwip_stack_t *s);
/* flush: send queued frames before unlocking (poll); otherwise they wait for nlwip_flush. */
void nlwip__leave(nlwip_stack_t *s, int flush);

/* Recomputes a socket's readiness; reports the bits that rose plus `renew` (a new arrival
 * that an edge-triggered waiter must see even if the bit was already set). */
void nlwip__sock_update(nlwip_sock_t *k, uint32_t renew);
/* Sets the readiness word without reporting anything. */
void nlwip__sock_refresh(nlwip_sock_t *k);
nlwip_sock_t *nlwip__sock_new(nlwip_stack_t *s, int kind, int family);
void nlwip__sock_free(nlwip_sock_t *k);
nlwip_sock_t *nlwip__sock_get(nlwip_stack_t *s, int id);

/* netif.c */
void nlwip__netif_flush(nlwip_netif_t *n);
void nlwip__netif_remove(nlwip_netif_t *n);   /* under the lock; the memory goes in nlwip__reap */
/* Without the lock: frees removed netifs once lwIP's thread has run every callback queued
 * before (a loopback netif_poll may still point at one). */
void nlwip__reap(nlwip_stack_t *s);
nlwip_netif_t *nlwip__netif_by_index(nlwip_stack_t *s, uint8_t zone);

/* guard.c: half-open TCP connections a peer may create before we drop its SYNs. */
#define NLWIP_HALF_OPEN_MAX 1024
int nlwip__is_tcp_syn(const uint8_t *frame, uint32_t len);
int nlwip__half_open(void);

/* addr.c */
int nlwip__to_ip(nlwip_stack_t *s, const nlwip_addr_t *a, ip_addr_t *out);
void nlwip__from_ip(const ip_addr_t *ip, uint16_t port, nlwip_addr_t *out);
int nlwip__is_local(const ip_addr_t *ip);
int nlwip__err(err_t e);

/* neigh.c: *out = a pbuf for a datagram of len bytes to an unresolved IPv4 neighbour, or
 * NULL when ARP is not in the way; -EAGAIN: the neighbour's queue is full, the socket waits
 * (no EPOLLOUT) until it shrinks. */
int nlwip__neigh_pbuf(nlwip_sock_t *k, size_t len, const ip_addr_t *to, struct pbuf **out);
/* The socket no longer waits (it is being freed). */
void nlwip__neigh_forget(nlwip_sock_t *k);

/* udp.c / tcp.c: the protocol halves of the socket calls. */
int nlwip__udp_open(nlwip_sock_t *k);
int nlwip__udp_send(nlwip_sock_t *k, const void *data, size_t len, const ip_addr_t *to, uint16_t port);
void nlwip__udp_close(nlwip_sock_t *k);
int nlwip__tcp_open(nlwip_sock_t *k);
int nlwip__tcp_connect(nlwip_sock_t *k, const ip_addr_t *ip, uint16_t port);
int nlwip__tcp_listen(nlwip_sock_t *k, int backlog);
int nlwip__tcp_accept(nlwip_sock_t *k, nlwip_addr_t *peer);
int nlwip__tcp_send(nlwip_sock_t *k, const void *data, size_t len);
int nlwip__tcp_recv(nlwip_sock_t *k, void *buf, size_t len);
int nlwip__tcp_shutdown(nlwip_sock_t *k, int how);
void nlwip__tcp_close(nlwip_sock_t *k, int abort);
uint32_t nlwip__tcp_events(const nlwip_sock_t *k);

#endif
