/* Internal: the port ops table and the common port header every backend embeds first. */
#ifndef NHAL_PORT_H
#define NHAL_PORT_H

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "nhal.h"

typedef struct nhal_port_ops {
  const char *kind;
  /* Receives up to max packets into b; returns b->n_pkts, 0, or a negative errno (-ENOTCONN
   * while down). After a return > 0, rx_done must follow on the same thread. */
  int (*rx_burst)(nhal_port_t *p, nhal_batch_t *b, uint16_t max);
  /* Gives the packets of the last rx_burst back to their owner (memif ring, mempool). */
  void (*rx_done)(nhal_port_t *p, nhal_batch_t *b);
  /* Copies and sends b's packets; returns how many were sent. The port counts every packet
   * not sent as a drop, by reason. */
  int (*tx_burst)(nhal_port_t *p, const nhal_batch_t *b);
  /* Interrupts for an idle worker, optional (NULL: poll only). arm = 1: returns an fd that
   * becomes readable when packets arrive, or -EAGAIN if some are already waiting (do not
   * sleep), or another negative errno (down). arm = 0: back to polling, the fd drained. */
  int (*rx_irq)(nhal_port_t *p, int arm);
  void (*destroy)(nhal_port_t *p);
} nhal_port_ops_t;

struct nhal_port {
  const nhal_port_ops_t *ops;
  nhal_stats_t *stats;     /* caller's memory; written only by the owning worker */
  _Atomic(void *) owner;   /* the worker whose paths use this port, or NULL */
  atomic_int users;        /* paths referring to the port */
  char name[NHAL_NAME_MAX];
};

static inline void nhal__port_init(nhal_port_t *p, const nhal_port_ops_t *ops, const char *name,
                                   nhal_stats_t *stats) {
  p->ops = ops;
  p->stats = stats;
  atomic_init(&p->owner, NULL);
  atomic_init(&p->users, 0);
  snprintf(p->name, sizeof p->name, "%s", name ? name : ops->kind);
  memset(stats, 0, sizeof *stats);
}

/* Appends packet bookkeeping to a batch being built. */
static inline void nhal__batch_reset(nhal_batch_t *b) {
  b->n_pkts = 0;
  b->n_segs = 0;
  b->first[0] = 0;
}

#endif
