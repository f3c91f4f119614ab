/* What a receiver and a blocked sender can look at without taking anything, in both roles:
 * nmif_rx_pending() counts what the peer published and nmif_rx_burst() has not taken (a part
 * taken leaves the rest counted; looking takes nothing), and nmif_tx_room() counts the slots
 * nmif_tx_alloc() could reserve: 0 once the ring is full, back when the peer releases.
 * Both say -ENOTCONN while the link is down and -ERANGE for a queue out of range. */
#include <string.h>

#include "check.h"
#include "loop_pair.h"
#include "nmemif.h"

#define LOG2_RING 6
#define RING (1 << LOG2_RING)

static pair_env_t env;
static side_t master, slave;

static void open_pair(void) {
  pair_env_open(&env, "readiness");
  nmif_if_args_t ia = {.id = 1, .is_master = 1, .log2_ring_size = LOG2_RING, .buffer_size = 256,
                       .on_connect = side_on_connect, .on_disconnect = side_on_disconnect,
                       .user = &master};
  CHECK_OK(nmif_if_create(env.ms, &master.iface, &ia));
  ia.is_master = 0;
  ia.user = &slave;
  CHECK_OK(nmif_if_create(env.ss, &slave.iface, &ia));
  RUN_UNTIL(env.loop, master.connected && slave.connected, "the link");
  /* Polling on both sides: nothing here depends on interrupts. */
  CHECK_OK(nmif_set_rx_mode(master.iface, 0, NMIF_RX_POLLING));
  CHECK_OK(nmif_set_rx_mode(slave.iface, 0, NMIF_RX_POLLING));
}

/* Sends n 60-byte packets from tx; returns how many the ring took. */
static int send_some(nmif_if_t *tx, int n) {
  static uint8_t pkt[60];
  const void *ptrs[RING * 2];
  uint32_t lens[RING * 2];
  for (int k = 0; k < n; k++) {
    ptrs[k] = pkt;
    lens[k] = sizeof(pkt);
  }
  return nmif_tx_copy(tx, 0, ptrs, lens, (uint16_t)n);
}

/* tx sends, rx looks, takes part, looks again, takes the rest. */
static void check_rx_pending(nmif_if_t *tx, nmif_if_t *rx) {
  nmif_buf_t b[RING];
  CHECK_EQ(nmif_rx_pending(rx, 0), 0);
  CHECK_EQ(send_some(tx, 10), 10);
  RUN_UNTIL(env.loop, nmif_rx_pending(rx, 0) == 10, "10 pending");
  CHECK_EQ(nmif_rx_pending(rx, 0), 10); /* looking took nothing */
  CHECK_EQ(nmif_rx_burst(rx, 0, b, 4), 4);
  CHECK_EQ(nmif_rx_pending(rx, 0), 6);
  CHECK_EQ(nmif_rx_release(rx, 0, 4), 4);
  CHECK_EQ(nmif_rx_pending(rx, 0), 6); /* releasing is not receiving */
  CHECK_EQ(nmif_rx_burst(rx, 0, b, RING), 6);
  CHECK_EQ(nmif_rx_pending(rx, 0), 0);
  CHECK_EQ(nmif_rx_release(rx, 0, 6), 6);
  CHECK_EQ(nmif_rx_pending(rx, 1), NMIF_ERANGE);
}

/* tx fills its ring; room is 0 until rx releases, then back. */
static void check_tx_room(nmif_if_t *tx, nmif_if_t *rx) {
  nmif_buf_t b[RING];
  int room = nmif_tx_room(tx, 0);
  CHECK(room > 0 && room <= RING);
  CHECK_EQ(send_some(tx, room + 5), room); /* the ring took what the room said, no more */
  CHECK_EQ(nmif_tx_room(tx, 0), 0);
  CHECK_EQ(send_some(tx, 1), 0);
  RUN_UNTIL(env.loop, nmif_rx_pending(rx, 0) == room, "the full ring at the receiver");
  CHECK_EQ(nmif_tx_room(tx, 0), 0); /* received is not released */
  CHECK_EQ(nmif_rx_burst(rx, 0, b, RING), room);
  CHECK_EQ(nmif_tx_room(tx, 0), 0);
  CHECK_EQ(nmif_rx_release(rx, 0, 16), 16);
  RUN_UNTIL(env.loop, nmif_tx_room(tx, 0) == 16, "room for 16");
  CHECK_EQ(nmif_rx_release(rx, 0, (uint16_t)(room - 16)), room - 16);
  RUN_UNTIL(env.loop, nmif_tx_room(tx, 0) == room, "the whole room back");
  CHECK_EQ(nmif_tx_room(tx, 1), NMIF_ERANGE);
}

int main(void) {
  nmif_set_log_level(-1);
  open_pair();
  check_rx_pending(slave.iface, master.iface); /* S2M */
  check_rx_pending(master.iface, slave.iface); /* M2S */
  check_tx_room(slave.iface, master.iface);
  check_tx_room(master.iface, slave.iface);
  printf("rx pending and tx room, both roles: ok\n");

  CHECK_OK(nmif_if_disconnect(master.iface, "test"));
  RUN_UNTIL(env.loop, !master.connected && !slave.connected, "the link down");
  CHECK_EQ(nmif_rx_pending(master.iface, 0), NMIF_ENOTCONN);
  CHECK_EQ(nmif_tx_room(master.iface, 0), NMIF_ENOTCONN);
  CHECK_EQ(nmif_rx_pending(slave.iface, 0), NMIF_ENOTCONN);
  CHECK_EQ(nmif_tx_room(slave.iface, 0), NMIF_ENOTCONN);
  printf("down: ok\n");

  CHECK_OK(nmif_if_destroy(slave.iface));
  CHECK_OK(nmif_if_destroy(master.iface));
  pair_env_close(&env);
  return 0;
}
