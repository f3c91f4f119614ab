/* The memif port on a queue lease, driven through its ops table without a worker: down until
 * the link is up (counted as down polls), then packets, a chain longer than a batch can hold
 * refused with a DISCONNECT that says so (not left blocking the ring), traffic again on the
 * next connection, and a port that outlives its interface stays down. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "loop_pair.h"
#include "nhal.h"
#include "port.h"

#define LONG_CHAIN (NHAL_SEGS_MAX + 76) /* legal: the ring has 2048 slots of 64 bytes */

static nmif_loop_t *loop;
static side_t bridge, peer;

static void peer_send_small(int count) {
  static uint8_t pkt[100];
  const void *ptrs[1] = {pkt};
  uint32_t lens[1] = {sizeof pkt};
  for (int k = 0; k < count; k++) {
    memset(pkt, k, sizeof pkt);
    RUN_UNTIL(loop, nmif_tx_copy(peer.iface, 0, ptrs, lens, 1) == 1, "room in the peer's ring");
  }
}

static int port_rx(nhal_port_t *p, nhal_batch_t *b) {
  int n = p->ops->rx_burst(p, b, 64);
  if (n > 0) p->ops->rx_done(p, b);
  return n;
}

int main(void) {
  pair_env_t env;
  pair_env_open(&env, "hal-port");
  loop = env.loop;
  nmif_if_args_t ia = {.id = 1, .is_master = 1, .log2_ring_size = 11, .buffer_size = 64,
                       .on_connect = side_on_connect, .on_disconnect = side_on_disconnect, .user = &bridge};
  CHECK_OK(nmif_if_create(env.ms, &bridge.iface, &ia));
  nmif_lease_t *lease;
  nmif_lease_args_t la = {.qid = 0, .rx_mode = NMIF_RX_POLLING};
  CHECK_OK(nmif_lease_create(bridge.iface, &la, &lease));
  static nhal_stats_t st;
  static nhal_batch_t b;
  nhal_port_t *p;
  CHECK_OK(nhal_memif_port_create(&p, "m0", lease, &st));
  nmif_lease_unref(lease); /* the port holds its own reference */

  /* Down: nothing to receive, counted. */
  CHECK_EQ(port_rx(p, &b), -ENOTCONN);
  CHECK_EQ(st.v[NHAL_ST_DOWN_POLLS], 1);

  ia.is_master = 0;
  ia.user = &peer;
  CHECK_OK(nmif_if_create(env.ss, &peer.iface, &ia));
  RUN_UNTIL(loop, bridge.connected && peer.connected, "the link");
  peer_send_small(10);
  int got = 0;
  RUN_UNTIL(loop, (got += port_rx(p, &b) > 0 ? b.n_pkts : 0) >= 10, "10 packets through the port");
  CHECK_EQ(got, 10);
  CHECK_EQ(st.v[NHAL_ST_RX_PKTS], 10);

  /* A legal chain of more buffers than a batch holds: refused, never left in the ring. */
  static nmif_buf_t tb[LONG_CHAIN];
  CHECK_EQ(nmif_tx_alloc(peer.iface, 0, tb, LONG_CHAIN), LONG_CHAIN);
  for (int k = 0; k < LONG_CHAIN; k++) {
    tb[k].len = 64;
    tb[k].flags = k < LONG_CHAIN - 1 ? NMIF_BUF_NEXT : 0;
  }
  CHECK_EQ(nmif_tx_burst(peer.iface, 0, tb, LONG_CHAIN), LONG_CHAIN);
  CHECK_EQ(port_rx(p, &b), -EPROTO);
  CHECK_EQ(st.v[NHAL_ST_RX_ERRORS], 1);
  RUN_UNTIL(loop, !bridge.connected && !peer.connected, "the refusal to take the link down");
  CHECK(strcmp(peer.reason, "chain longer than 1024 buffers on rx queue 0") == 0);
  printf("refused: \"%s\"\n", peer.reason);

  /* The next connection: the port follows the lease without being told. */
  RUN_UNTIL(loop, bridge.connected && peer.connected, "the next connection");
  peer_send_small(5);
  got = 0;
  RUN_UNTIL(loop, (got += port_rx(p, &b) > 0 ? b.n_pkts : 0) >= 5, "5 packets on the next connection");

  /* The interface goes away: the port stays down for good. */
  CHECK_OK(nmif_if_destroy(bridge.iface));
  uint64_t down = st.v[NHAL_ST_DOWN_POLLS];
  CHECK_EQ(port_rx(p, &b), -ENOTCONN);
  CHECK_EQ(st.v[NHAL_ST_DOWN_POLLS], down + 1);
  CHECK_OK(nhal_port_destroy(p)); /* drops the last reference to the lease */
  pair_env_close(&env);
  printf("ok\n");
  return 0;
}
