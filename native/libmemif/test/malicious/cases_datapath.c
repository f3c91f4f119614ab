/* The rings, once the link is up: descriptors and counters the peer writes on the ring we
 * receive on (F_RX_*: slot = the peer's counter + n) and on the ring we transmit on (F_TX_*). */
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define RX(name, ...) MASTER(name, O_RX_EPROTO, BOUND, __VA_ARGS__)
#define TX(name, ...) MASTER(name, O_TX_EPROTO, BOUND, __VA_ARGS__)

/* Tolerated: the master rewrites region/offset of a filled M2S descriptor. Our slave must use
 * its own record of the buffer it offered, not the rewritten place. */
static void rewritten_offset_ignored(struct hp_peer *p) {
  hostile_master_up(p);
  nmif_ring_t *r = hp_master_ring(p, 1, 0);
  uint16_t mask = (uint16_t)((1u << p->ring[1][0].log2) - 1);
  uint16_t slot = r->tail & mask;
  nmif_desc_t orig = r->desc[slot];
  printf("    slot %u: our buffer at region %u offset %u (len %u); peer rewrites it to 0/0\n", slot,
         orig.region, orig.offset, orig.length);
  HP_EXPECT_EQ(hp_tx_frame(p, "shadowed", 8, 0), 1);
  r->desc[slot].region = 0;
  r->desc[slot].offset = 0; /* would point at the S2M ring header */
  hp_tx_publish(p);
  nmif_buf_t b[4];
  int n = nmif_rx_burst(T.slave.iface, 0, b, 4);
  HP_EXPECT_EQ(n, 1);
  HP_EXPECT_EQ(b[0].offset, orig.offset);
  HP_EXPECT_EQ(b[0].region, orig.region);
  HP_EXPECT(memcmp(b[0].data, "shadowed", 8) == 0);
  HP_EXPECT_EQ(nmif_rx_release(T.slave.iface, 0, 1), 1);
  /* the refilled slot carries our offset again, not the peer's */
  HP_EXPECT_EQ(r->desc[slot].offset, orig.offset);
}

static const struct mcase cases[] = {
    /* ---- our master receiving on S2M ---- */
    RX("rx: desc offset+len past region end", {LIVE, F_RX_OFFSET, -10, REL_RSIZE},
       {LIVE, F_RX_LEN, 100}, {LIVE, F_RX_FLAGS, 0}, {LIVE, F_RX_PUBLISH, 1}),
    RX("rx: desc offset beyond region", {LIVE, F_RX_OFFSET, 4096, REL_RSIZE}, {LIVE, F_RX_LEN, 1},
       {LIVE, F_RX_PUBLISH, 1}),
    /* offset + length wraps to a small number in 32 bits */
    RX("rx: desc offset+len wraps u32", {LIVE, F_RX_OFFSET, 0xFFFFFFF0}, {LIVE, F_RX_LEN, 0x20},
       {LIVE, F_RX_PUBLISH, 1}),
    RX("rx: desc length 2^32-1", {LIVE, F_RX_OFFSET, 0}, {LIVE, F_RX_LEN, 0xFFFFFFFF},
       {LIVE, F_RX_PUBLISH, 1}),
    RX("rx: desc region 1 (missing)", {LIVE, F_RX_REGION, 1}, {LIVE, F_RX_LEN, 64},
       {LIVE, F_RX_PUBLISH, 1}),
    RX("rx: desc region 0xffff", {LIVE, F_RX_REGION, 0xffff}, {LIVE, F_RX_LEN, 64},
       {LIVE, F_RX_PUBLISH, 1}),
    /* the second segment starts at the end of the region */
    RX("rx: chain segment outside region", {LIVE, F_RX_LEN, 64},
       {LIVE, F_RX_FLAGS, NMIF_DESC_NEXT}, {LIVE, F_RX_OFFSET, 0, REL_RSIZE, .n = 1},
       {LIVE, F_RX_LEN, 64, .n = 1}, {LIVE, F_RX_FLAGS, 0, .n = 1}, {LIVE, F_RX_PUBLISH, 2}),
    RX("rx: head ahead by N+1", {LIVE, F_RX_PUBLISH, 1, REL_N}),
    RX("rx: head ahead by 30000", {LIVE, F_RX_PUBLISH, 30000}),
    RX("rx: head moves backwards", {LIVE, F_RX_PUBLISH, -1}),
    /* the last published slot says "more follows" */
    RX("rx: incomplete chain", {LIVE, F_RX_LEN, 64}, {LIVE, F_RX_FLAGS, 0},
       {LIVE, F_RX_LEN, 64, .n = 1}, {LIVE, F_RX_FLAGS, NMIF_DESC_NEXT, .n = 1},
       {LIVE, F_RX_PUBLISH, 2}),
    RX("rx: chain never ends (N slots)", {LIVE, F_RX_CHAIN_ALL, 64}),

    /* ---- our master transmitting into the buffers the slave offers on M2S ---- */
    TX("tx: offered buffer past region", {LIVE, F_TX_OFFSET, 0, REL_RSIZE},
       {LIVE, F_TX_LEN, PEER_BSIZE}, {LIVE, F_TX_COUNTER, 1}),
    TX("tx: offered buffer in region 7", {LIVE, F_TX_REGION, 7}, {LIVE, F_TX_COUNTER, 1}),
    TX("tx: offered capacity 2^32-16", {LIVE, F_TX_OFFSET, 0}, {LIVE, F_TX_LEN, 0xFFFFFFF0},
       {LIVE, F_TX_COUNTER, 1}),
    TX("tx: M2S head ahead by N+1", {LIVE, F_TX_COUNTER, 1, REL_N}),
    TX("tx: offered capacity 0", {LIVE, F_TX_LEN, 0}, {LIVE, F_TX_COUNTER, 1}),

    /* ---- our slave receiving on M2S ---- */
    SLAVE("rx: M2S tail past offered head", O_RX_EPROTO, {LIVE, F_RX_COUNTER, 1, REL_OTHER}),
    SLAVE("rx: M2S tail ahead by 20000", O_RX_EPROTO, {LIVE, F_RX_PUBLISH, 20000}),
    SLAVE("rx: M2S tail moves backwards", O_RX_EPROTO, {LIVE, F_RX_PUBLISH, -1}),
    SLAVE("rx: M2S length > offered capacity", O_RX_EPROTO, {LIVE, F_RX_LEN, SLAVE_BSIZE + 1},
          {LIVE, F_RX_FLAGS, 0}, {LIVE, F_RX_PUBLISH, 1}),
    SLAVE("rx: M2S length 2^32-1", O_RX_EPROTO, {LIVE, F_RX_LEN, 0xFFFFFFFF},
          {LIVE, F_RX_FLAGS, 0}, {LIVE, F_RX_PUBLISH, 1}),
    SLAVE("rx: M2S incomplete chain", O_RX_EPROTO, {LIVE, F_RX_LEN, 1},
          {LIVE, F_RX_FLAGS, NMIF_DESC_NEXT}, {LIVE, F_RX_PUBLISH, 1}),
    SLAVE("rx: M2S chain never ends (N slots)", O_RX_EPROTO, {LIVE, F_RX_CHAIN_ALL, 64}),
    SLAVE_RUN("rx: M2S region/offset rewritten", O_GOOD, 0, rewritten_offset_ignored),

    /* ---- our slave transmitting on S2M: the master moves tail past what was published ---- */
    SLAVE("tx: S2M tail past head", O_TX_EPROTO, {LIVE, F_TX_COUNTER, 5}),
};

const struct case_table datapath_cases = TABLE("data path", cases);
