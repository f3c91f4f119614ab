/* Port bookkeeping shared by every backend, and the ready-made gate for plain C programs. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "port.h"

int nhal_port_destroy(nhal_port_t *p) {
  if (!p) return 0;
  if (atomic_load(&p->users) > 0) return -EBUSY;
  p->ops->destroy(p);
  return 0;
}

int nhal_port_rx_burst(nhal_port_t *p, nhal_batch_t *b, uint16_t max) { return p->ops->rx_burst(p, b, max); }
void nhal_port_rx_done(nhal_port_t *p, nhal_batch_t *b) { p->ops->rx_done(p, b); }
int nhal_port_tx_burst(nhal_port_t *p, const nhal_batch_t *b) { return p->ops->tx_burst(p, b); }
int nhal_port_rx_irq(nhal_port_t *p, int arm) { return p->ops->rx_irq ? p->ops->rx_irq(p, arm) : -ENOTSUP; }

const char *nhal_port_name(const nhal_port_t *p) { return p->name; }
const char *nhal_port_kind(const nhal_port_t *p) { return p->ops->kind; }

/* ---- nhal_gate_t: Dekker-style pair of flags, sequentially consistent ------------------------
 * The worker sets busy, then reads closed; the owner sets closed, then reads busy. With both
 * stores and loads seq_cst, at least one of them sees the other's store: either the worker
 * backs off, or the owner waits for it to leave. */

static int gate_enter(void *ctx) {
  nhal_gate_t *g = ctx;
  __atomic_store_n(&g->busy, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&g->closed, __ATOMIC_SEQ_CST)) {
    __atomic_store_n(&g->busy, 0, __ATOMIC_RELEASE);
    return -ENOTCONN;
  }
  return 0;
}

static void gate_leave(void *ctx) {
  nhal_gate_t *g = ctx;
  __atomic_store_n(&g->busy, 0, __ATOMIC_RELEASE);  /* pairs with the acquire in close */
}

const nhal_gate_ops_t nhal_gate_ops = {gate_enter, gate_leave};

void nhal_gate_init(nhal_gate_t *g) {
  g->busy = 0;
  g->closed = 1;
}

void nhal_gate_close(nhal_gate_t *g) {
  __atomic_store_n(&g->closed, 1, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&g->busy, __ATOMIC_SEQ_CST)) sched_yield();  /* a burst finishes */
}

void nhal_gate_open(nhal_gate_t *g) { __atomic_store_n(&g->closed, 0, __ATOMIC_SEQ_CST); }
