/* Port bookkeeping shared by every backend. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "port.h"

const char *const nhal_stat_names[NHAL_ST_COUNT] = {
    [NHAL_ST_RX_PKTS] = "rx_packets",
    [NHAL_ST_RX_BYTES] = "rx_bytes",
    [NHAL_ST_RX_BURSTS] = "rx_bursts",
    [NHAL_ST_RX_ERRORS] = "rx_errors",
    [NHAL_ST_TX_PKTS] = "tx_packets",
    [NHAL_ST_TX_BYTES] = "tx_bytes",
    [NHAL_ST_DROP_LINK_DOWN] = "drop_link_down",
    [NHAL_ST_DROP_TX_FULL] = "drop_tx_full",
    [NHAL_ST_DROP_NO_MBUF] = "drop_no_mbuf",
    [NHAL_ST_DROP_TOO_BIG] = "drop_too_big",
    [NHAL_ST_DOWN_POLLS] = "down_polls",
};

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
