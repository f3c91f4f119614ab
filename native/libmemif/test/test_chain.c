/* Chains longer than the caller's array, in both roles (slave -> master on S2M, master -> slave
 * on M2S): a legal 300-buffer chain gives -ENOBUFS to a 64-entry array without being taken, and
 * comes whole with room for it; a chain that never ends (every published descriptor flagged
 * NEXT) is a violation at once, even for a small array: the link goes down with "incomplete
 * chain" and the next connection works. A receiver that cannot take a legal chain refuses it
 * with nmif_rx_refuse() instead of leaving it in the ring. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "loop_pair.h"
#include "nmemif.h"
#include "wire.h"

#define CHAIN 300
#define BSIZE 128

static nmif_loop_t *loop;

static side_t master, slave;

static uint8_t pattern(int k, int j) { return (uint8_t)(k * 7 + j * 13 + 1); }

/* One 60-byte packet, then a chain of CHAIN full buffers, in one tx burst. */
static void send_chain(nmif_if_t *tx) {
  static nmif_buf_t b[CHAIN + 1];
  CHECK_EQ(nmif_tx_alloc(tx, 0, b, CHAIN + 1), CHAIN + 1);
  memset(b[0].data, 0xee, 60);
  b[0].len = 60;
  b[0].flags = 0;
  for (int k = 1; k <= CHAIN; k++) {
    CHECK_EQ(b[k].len, BSIZE);
    for (int j = 0; j < BSIZE; j++)
      ((uint8_t *)b[k].data)[j] = pattern(k, j);
    b[k].flags = k < CHAIN ? NMIF_BUF_NEXT : 0;
  }
  CHECK_EQ(nmif_tx_burst(tx, 0, b, CHAIN + 1), CHAIN + 1);
}

static void receive_chain(nmif_if_t *rx) {
  static nmif_buf_t b[1024];
  int n;
  RUN_UNTIL(loop, (n = nmif_rx_burst(rx, 0, b, 64)) != 0, "the packets");
  CHECK_EQ(n, 1); /* the packet before the chain; the chain waits */
  CHECK_EQ(b[0].len, 60);
  CHECK_EQ(nmif_rx_release(rx, 0, 1), 1);
  CHECK_EQ(nmif_rx_burst(rx, 0, b, 64), NMIF_ENOBUFS); /* complete, but longer than 64 */
  CHECK_EQ(nmif_rx_burst(rx, 0, b, 64), NMIF_ENOBUFS); /* nothing was taken */
  CHECK_EQ(nmif_rx_burst(rx, 0, b, 1024), CHAIN);
  for (int k = 0; k < CHAIN; k++) {
    CHECK_EQ(b[k].len, BSIZE);
    CHECK_EQ(b[k].flags, k < CHAIN - 1 ? NMIF_BUF_NEXT : 0);
    for (int j = 0; j < BSIZE; j++)
      CHECK_EQ(((uint8_t *)b[k].data)[j], pattern(k + 1, j));
  }
  CHECK_EQ(nmif_rx_release(rx, 0, CHAIN), CHAIN);
  CHECK(nmif_if_is_connected(rx));
}

/* The producer side of ring `is_tx` of `who` writes N descriptors flagged NEXT and publishes
 * them all, as a hostile peer would: a chain that never ends. */
static void publish_endless_chain(nmif_if_t *who, int producer_is_master) {
  nmif_ring_details_t d;
  CHECK_OK(nmif_ring_details(who, 1, 0, &d));
  uint64_t size;
  uint8_t *base = nmif_region_base(who, d.region, &size);
  nmif_ring_t *r = (nmif_ring_t *)(base + d.offset);
  uint16_t from = producer_is_master ? d.tail : d.head;
  for (uint16_t k = 0; k < d.size; k++) {
    nmif_desc_t *desc = &r->desc[(uint16_t)(from + k) & (d.size - 1)];
    desc->length = 64;
    desc->flags = NMIF_DESC_NEXT;
  }
  __atomic_store_n(producer_is_master ? &r->tail : &r->head, (uint16_t)(from + d.size),
                   __ATOMIC_RELEASE);
}

static void expect_violation(side_t *victim, side_t *peer, const char *want) {
  static nmif_buf_t b[64];
  CHECK_EQ(nmif_rx_burst(victim->iface, 0, b, 64), NMIF_EPROTO);
  CHECK(!nmif_if_is_connected(victim->iface));
  CHECK(strcmp(nmif_if_violation(victim->iface), want) == 0);
  CHECK_EQ(nmif_if_handle_violation(victim->iface), 1); /* at once, not at the next wake-up */
  CHECK_EQ(nmif_rx_burst(victim->iface, 0, b, 64), NMIF_ENOTCONN);
  CHECK(strcmp(victim->reason, want) == 0);
  nmif_details_t d;
  CHECK_OK(nmif_if_details(victim->iface, &d));
  CHECK_EQ(d.last_down_cause, NMIF_DOWN_VIOLATION);
  RUN_UNTIL(loop, !peer->connected, "the DISCONNECT at the peer");
  CHECK(strcmp(peer->reason, want) == 0);
  RUN_UNTIL(loop, master.connected && slave.connected, "the next connection");
}

int main(void) {
  pair_env_t env;
  pair_env_open(&env, "chain");
  loop = env.loop;
  nmif_socket_t *ms = env.ms, *ss = env.ss;
  nmif_if_args_t ia = {.id = 1, .is_master = 1, .log2_ring_size = 10, .buffer_size = BSIZE,
                       .on_connect = side_on_connect, .on_disconnect = side_on_disconnect, .user = &master};
  CHECK_OK(nmif_if_create(ms, &master.iface, &ia));
  ia.is_master = 0;
  ia.user = &slave;
  CHECK_OK(nmif_if_create(ss, &slave.iface, &ia));
  RUN_UNTIL(loop, master.connected && slave.connected, "the link");

  send_chain(slave.iface);
  receive_chain(master.iface);
  send_chain(master.iface);
  receive_chain(slave.iface);
  printf("a %d-buffer chain: -ENOBUFS for 64 entries, whole for 1024, both roles\n", CHAIN);

  publish_endless_chain(slave.iface, 0);
  expect_violation(&master, &slave, "incomplete chain on rx queue 0");
  publish_endless_chain(master.iface, 1);
  expect_violation(&slave, &master, "incomplete chain on rx queue 0");
  printf("an endless chain: a violation for a 64-entry array, both roles; reconnected\n");

  /* Legal traffic on the new connection, then a refused legal chain. */
  send_chain(slave.iface);
  receive_chain(master.iface);
  send_chain(master.iface);
  static nmif_buf_t b[64];
  RUN_UNTIL(loop, nmif_rx_burst(slave.iface, 0, b, 64) == 1, "the single packet");
  nmif_rx_release(slave.iface, 0, 1);
  CHECK_EQ(nmif_rx_burst(slave.iface, 0, b, 64), NMIF_ENOBUFS);
  CHECK_OK(nmif_rx_refuse(slave.iface, 0, "chain longer than 64 buffers"));
  CHECK_EQ(nmif_rx_burst(slave.iface, 0, b, 64), NMIF_EPROTO);
  RUN_UNTIL(loop, !master.connected && !slave.connected, "the refusal to take the link down");
  CHECK(strcmp(master.reason, "chain longer than 64 buffers on rx queue 0") == 0);
  RUN_UNTIL(loop, master.connected && slave.connected, "the connection after the refusal");
  printf("a refused chain: \"%s\"\n", master.reason);

  pair_env_close(&env);
  printf("chain: ok\n");
  return 0;
}
