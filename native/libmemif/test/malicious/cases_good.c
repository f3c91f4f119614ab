/* Well-behaved peers on the same sockets, after every attack: the library still serves them. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* The hand-written slave, done right: link up, one packet each way, then a clean DISCONNECT. */
static void good_slave(struct hp_peer *p) {
  HP_EXPECT_EQ(hp_slave_flow(p, NULL, 0, REPLY_TIMEOUT_MS), HP_UP);
  if (!pump_until(master_up, REPLY_TIMEOUT_MS))
    HP_FAIL("our master is not connected after CONNECTED");
  good_packet_to_master(p);
  /* the peer offers M2S buffers, our master sends into them */
  hp_rx_offer(p);
  const void *pkts[1] = {"from the master"};
  uint32_t lens[1] = {15};
  HP_EXPECT_EQ(nmif_tx_copy(T.master.iface, 0, pkts, lens, 1), 1);
  uint8_t buf[64];
  uint64_t len = 0;
  HP_EXPECT_EQ(hp_rx_frame(p, buf, sizeof(buf), &len, NULL), 1);
  HP_EXPECT_EQ(len, 15);
  HP_EXPECT(memcmp(buf, "from the master", 15) == 0);
  hp_send_disconnect(p, "done");
}

/* The hand-written master, done right. */
static void good_master(struct hp_peer *p) {
  hostile_master_up(p);
  good_packet_to_slave(p);
  /* our slave sends on S2M */
  const void *pkts[1] = {"from the slave"};
  uint32_t lens[1] = {14};
  HP_EXPECT_EQ(nmif_tx_copy(T.slave.iface, 0, pkts, lens, 1), 1);
  uint8_t buf[64];
  uint64_t len = 0;
  HP_EXPECT_EQ(hp_rx_frame(p, buf, sizeof(buf), &len, NULL), 1);
  HP_EXPECT_EQ(len, 14);
  HP_EXPECT(memcmp(buf, "from the slave", 14) == 0);
  hp_send_disconnect(p, "done");
}

static const struct mcase cases[] = {
    MASTER_RUN("good slave (hand-written)", O_PEER_LEFT, BOUND, good_slave),
    SLAVE_RUN("good master (hand-written)", O_PEER_LEFT, 0, good_master),
};

const struct case_table good_cases = TABLE("good peers", cases);
