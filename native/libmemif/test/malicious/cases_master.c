/* Our master against a hostile slave: every message the slave sends during the handshake, the
 * datagrams and fds around them, and the order they come in. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* While a good link is up, a second connection claims the same id: it must be turned away and
 * the live link must not be disturbed. */
static void hijack_live_link(struct hp_peer *p) {
  HP_EXPECT_EQ(hp_slave_flow(p, NULL, 0, REPLY_TIMEOUT_MS), HP_UP);
  if (!pump_until(master_up, REPLY_TIMEOUT_MS))
    HP_FAIL("link not up");
  static struct hp_peer q;
  peer_setup(&q, HP_SLAVE);
  peer_connect(&q, T.mpath);
  struct hp_out o;
  hp_default(&q, S_INIT, &o);
  hp_send(&q, &o.m, NULL, 0);
  const char *r = hp_expect_disconnect(&q, REPLY_TIMEOUT_MS);
  printf("    hijacker got DISCONNECT \"%s\"\n", r);
  HP_EXPECT(r[0] != '\0');
  hp_release(&q);
  pump(5);
  HP_EXPECT(nmif_if_is_connected(T.master.iface));
  good_packet_to_master(p); /* the live link still carries packets */
  hp_send_disconnect(p, "done");
}

static const struct mcase cases[] = {
    /* ---- INIT ---- */
    MASTER("init: version 0x0100", O_REJECT, 0, {S_INIT, F_INIT_VERSION, 0x0100}),
    MASTER("init: version 0x0201", O_REJECT, 0, {S_INIT, F_INIT_VERSION, 0x0201}),
    MASTER("init: version 0xffff", O_REJECT, 0, {S_INIT, F_INIT_VERSION, 0xffff}),
    MASTER("init: unknown id", O_REJECT, 0, {S_INIT, F_INIT_ID, 99}),
    MASTER("init: wrong secret", O_REJECT, 0, {S_INIT, F_INIT_SECRET, .str = "wrong"}),
    MASTER("init: missing secret", O_REJECT, 0, {S_INIT, F_INIT_SECRET, .str = ""}),
    MASTER("init: secret is a prefix", O_REJECT, 0, {S_INIT, F_INIT_SECRET, .str = "sesam"}),
    MASTER("init: secret longer", O_REJECT, 0, {S_INIT, F_INIT_SECRET, .str = "sesame2"}),
    MASTER("init: secret+name unterminated", O_REJECT, 0, /* 24 and 32 bytes, no NUL */
           {S_INIT, F_INIT_SECRET, 'S'}, {S_INIT, F_INIT_NAME, 'N'}),
    MASTER("init: mode 200", O_REJECT, 0, {S_INIT, F_INIT_MODE, 200}),

    /* ---- framing and types ---- */
    MASTER("type 0 as first message", O_REJECT, 0, {S_INIT, F_TYPE, 0}),
    MASTER("type 9 as first message", O_REJECT, 0, {S_INIT, F_TYPE, 9}),
    MASTER("type 0xffff during config", O_REJECT_BOUND, BOUND,
           {S_REGION, F_TYPE, 0xffff}, {S_REGION, F_NFDS, 0}),
    MASTER("type 0 during config", O_REJECT_BOUND, BOUND,
           {S_RING_S2M, F_TYPE, 0}, {S_RING_S2M, F_NFDS, 0}),
    MASTER("127-byte INIT", O_REJECT, 0, {S_INIT, F_LEN, 127}),
    MASTER("129-byte INIT", O_REJECT, 0, {S_INIT, F_LEN, 129}),
    MASTER("1-byte message during config", O_REJECT_BOUND, BOUND,
           {S_REGION, F_LEN, 1}, {S_REGION, F_NFDS, 0}),
    MASTER("129-byte ADD_REGION with fd", O_REJECT_BOUND, BOUND, {S_REGION, F_LEN, 129}),
    MASTER("127-byte ADD_RING with fd", O_REJECT_BOUND, BOUND, {S_RING_S2M, F_LEN, 127}),
    MASTER("256-byte CONNECT", O_REJECT_BOUND, BOUND, {S_CONNECT, F_LEN, 256}),

    /* ---- ADD_REGION ---- */
    MASTER("region: no fd", O_REJECT_BOUND, BOUND, {S_REGION, F_NFDS, 0}),
    MASTER("region: 2 fds", O_REJECT_BOUND, BOUND, {S_REGION, F_ADD_FD, FDK_MEMFD}),
    MASTER("region: 12 fds (MSG_CTRUNC)", O_REJECT_BOUND, BOUND, /* more than any receiver expects */
           {S_REGION, F_ADD_FD, FDK_EVENTFD, .n = 11}),
    MASTER("region: index 1 first (sequence)", O_REJECT_BOUND, BOUND, {S_REGION, F_REGION_INDEX, 1}),
    MASTER("region: index 256", O_REJECT_BOUND, BOUND, {S_REGION, F_REGION_INDEX, 256}),
    MASTER("region: index 0xffff", O_REJECT_BOUND, BOUND, {S_REGION, F_REGION_INDEX, 0xffff}),
    MASTER("region: index 0 twice", O_REJECT_BOUND, BOUND, {S_RING_S2M, F_AS, S_REGION}),
    MASTER("region: size 0", O_REJECT_BOUND, BOUND, {S_REGION, F_REGION_SIZE, 0}),
    MASTER("region: size 2^64-1", O_REJECT_BOUND, BOUND, {S_REGION, F_REGION_SIZE, -1}),
    MASTER("region: fd smaller than size", O_REJECT_BOUND, BOUND, {S_REGION, F_FD_MEMFD, 4096}),
    MASTER("region: fd is a pipe", O_REJECT_BOUND, BOUND, {S_REGION, F_FD, FDK_PIPE}),
    MASTER("region: fd is an eventfd", O_REJECT_BOUND, BOUND, {S_REGION, F_FD, FDK_EVENTFD}),
    MASTER("region: fd is a socket", O_REJECT_BOUND, BOUND, {S_REGION, F_FD, FDK_SOCKET}),
    MASTER("region: unsealed regular file", O_REJECT_BOUND, BOUND,
           {S_REGION, F_FD, FDK_UNSEALED_FILE}),

    /* ---- ADD_RING ---- */
    MASTER("ring: no fd", O_REJECT_BOUND, BOUND, {S_RING_S2M, F_NFDS, 0}),
    MASTER("ring: 2 fds", O_REJECT_BOUND, BOUND, {S_RING_S2M, F_ADD_FD, FDK_EVENTFD}),
    MASTER("ring: S2M index 1 first (sequence)", O_REJECT_BOUND, BOUND, {S_RING_S2M, F_RING_INDEX, 1}),
    MASTER("ring: M2S index 1 first (sequence)", O_REJECT_BOUND, BOUND, {S_RING_M2S, F_RING_INDEX, 1}),
    /* in sequence, but beyond the one queue per direction our master accepts */
    MASTER("ring: 2nd S2M ring, 1 configured", O_REJECT_BOUND, BOUND,
           {S_RING_M2S, F_RING_FLAGS, NMIF_RING_FLAG_S2M}, {S_RING_M2S, F_RING_INDEX, 1}),
    MASTER("ring: 2nd M2S ring, 1 configured", O_REJECT_BOUND, BOUND,
           {S_CONNECT, F_AS, S_RING_M2S}, {S_CONNECT, F_RING_INDEX, 1},
           {S_CONNECT, F_FD, FDK_EVENTFD}),
    MASTER("ring: index 0xffff", O_REJECT_BOUND, BOUND, {S_RING_S2M, F_RING_INDEX, 0xffff}),
    MASTER("ring: S2M ring 0 twice", O_REJECT_BOUND, BOUND,
           {S_RING_M2S, F_RING_FLAGS, NMIF_RING_FLAG_S2M}, {S_RING_M2S, F_RING_OFFSET, 0}),
    MASTER("ring: missing region 1", O_REJECT_BOUND, BOUND, {S_RING_S2M, F_RING_REGION, 1}),
    MASTER("ring: region 0xffff", O_REJECT_BOUND, BOUND, {S_RING_M2S, F_RING_REGION, 0xffff}),
    /* the header fits but not the descriptors */
    MASTER("ring: descriptors past region end", O_REJECT_BOUND, BOUND,
           {S_RING_M2S, F_RING_OFFSET, -NMIF_RING_HDR_SIZE, REL_RSIZE}),
    MASTER("ring: offset+size wraps u32", O_REJECT_BOUND, BOUND,
           {S_RING_S2M, F_RING_OFFSET, 0xFFFFFFC0}),
    /* the region is announced (and is) smaller than one ring */
    MASTER("ring: region too small for rings", O_REJECT_BOUND, BOUND,
           {S_REGION, F_FD_MEMFD, -128, REL_RING_BYTES},
           {S_REGION, F_REGION_SIZE, -128, REL_RING_BYTES}),
    /* head/tail would be misaligned for atomics */
    MASTER("ring: misaligned offset 4", O_REJECT_BOUND, BOUND, {S_RING_S2M, F_RING_OFFSET, 4}),
    MASTER("ring: log2 15", O_REJECT_BOUND, BOUND, {S_RING_S2M, F_RING_LOG2, 15}),
    MASTER("ring: log2 255", O_REJECT_BOUND, BOUND, {S_RING_S2M, F_RING_LOG2, 255}),
    /* fits in the region, differs from the S2M ring */
    MASTER("ring: log2 differs between rings", O_REJECT_BOUND, BOUND,
           {S_RING_M2S, F_RING_LOG2, -1, REL_LOG2}),
    MASTER("ring: private_hdr_size 1", O_REJECT_BOUND, BOUND, {S_RING_S2M, F_RING_PRIVHDR, 1}),
    MASTER("ring: private_hdr_size 0xffff", O_REJECT_BOUND, BOUND,
           {S_RING_M2S, F_RING_PRIVHDR, 0xffff}),
    MASTER("ring: flags 0x8001", O_REJECT_BOUND, BOUND, {S_RING_S2M, F_RING_FLAGS, 0x8001}),
    MASTER("ring: flags 0x0002", O_REJECT_BOUND, BOUND, {S_RING_M2S, F_RING_FLAGS, 0x0002}),
    MASTER("ring: irq fd is a pipe", O_REJECT_BOUND, BOUND, {S_RING_S2M, F_FD, FDK_PIPE}),
    MASTER("ring: irq fd is a memfd", O_REJECT_BOUND, BOUND, {S_RING_M2S, F_FD, FDK_MEMFD}),

    /* ---- CONNECT ---- */
    MASTER("connect: wrong cookie M2S", O_REJECT_BOUND, BOUND,
           {S_CONNECT, F_COOKIE_M2S, 0xDEADBEEF}),
    MASTER("connect: zero cookie S2M", O_REJECT_BOUND, BOUND, {S_CONNECT, F_COOKIE_S2M, 0}),
    MASTER("connect: no rings", O_REJECT_BOUND, BOUND, {S_RING_S2M, F_SKIP}, {S_RING_M2S, F_SKIP}),
    MASTER("connect: no M2S ring", O_REJECT_BOUND, BOUND, {S_RING_M2S, F_SKIP}),
    MASTER("ring before any region", O_REJECT_BOUND, BOUND, {S_REGION, F_SKIP}),

    /* ---- the state machine ---- */
    MASTER("ADD_RING before INIT (+eventfd)", O_REJECT, 0, {S_INIT, F_AS, S_RING_S2M}),
    MASTER("ADD_REGION before INIT (+memfd)", O_REJECT, 0, {S_INIT, F_AS, S_REGION}),
    MASTER("CONNECT before INIT", O_REJECT, 0, {S_INIT, F_AS, S_CONNECT}),
    MASTER("ACK from slave before INIT (+fd)", O_REJECT, 0,
           {S_INIT, F_EMPTY, NMIF_MSG_ACK}, {S_INIT, F_ADD_FD, FDK_EVENTFD}),
    MASTER("ACK from slave during config", O_REJECT_BOUND, BOUND, {S_REGION, F_EMPTY, NMIF_MSG_ACK}),
    MASTER("HELLO from slave", O_REJECT, 0, {S_INIT, F_EMPTY, NMIF_MSG_HELLO}),
    MASTER("CONNECTED from slave", O_REJECT_BOUND, BOUND, {S_CONNECT, F_TYPE, NMIF_MSG_CONNECTED}),
    MASTER("INIT twice", O_REJECT_BOUND, BOUND, {S_REGION, F_AS, S_INIT}),
    MASTER("INIT after connect", O_REJECT_BOUND, BOUND, {LIVE, F_AS, S_INIT}),
    MASTER("ADD_REGION after connect (+memfd)", O_REJECT_BOUND, BOUND,
           {LIVE, F_AS, S_REGION}, {LIVE, F_REGION_INDEX, 1}, {LIVE, F_FD_MEMFD, 8192},
           {LIVE, F_REGION_SIZE, 8192}),
    MASTER("CONNECT after connect", O_REJECT_BOUND, BOUND, {LIVE, F_AS, S_CONNECT}),
    MASTER("type 9 after connect (+fd)", O_REJECT_BOUND, BOUND,
           {LIVE, F_EMPTY, 9}, {LIVE, F_ADD_FD, FDK_EVENTFD}),
    MASTER("129 bytes after connect", O_REJECT_BOUND, BOUND,
           {LIVE, F_EMPTY, NMIF_MSG_ACK}, {LIVE, F_LEN, 129}),
    MASTER("silent slave: no INIT", O_REJECT, SHORT, {S_INIT, F_STOP}),
    MASTER("silent slave after INIT", O_REJECT_BOUND, BOUND | SHORT, {S_REGION, F_STOP}),

    /* ---- fds where none belong ---- */
    MASTER("INIT with a memfd", O_FD_CLOSED, BOUND, {S_INIT, F_ADD_FD, FDK_MEMFD}),
    MASTER("CONNECT with eventfd+pipe", O_FD_CLOSED, BOUND,
           {S_CONNECT, F_ADD_FD, FDK_EVENTFD}, {S_CONNECT, F_ADD_FD, FDK_PIPE}),
    MASTER("3 memfds on every message that carries none", O_FD_CLOSED, BOUND,
           {S_INIT, F_ADD_FD, FDK_MEMFD, .n = 3}, {S_CONNECT, F_ADD_FD, FDK_MEMFD, .n = 3}),
    /* the peer gives up at once (no DISCONNECT back is due), with an fd attached */
    MASTER("DISCONNECT before INIT (+memfd)", O_PEER_LEFT, 0,
           {S_INIT, F_EMPTY, NMIF_MSG_DISCONNECT}, {S_INIT, F_DISC_STRING, .str = "bye"},
           {S_INIT, F_ADD_FD, FDK_MEMFD}),

    /* ---- peers that vanish ---- */
    /* our DISCONNECT hits a closed socket: SIGPIPE unless the library sends with MSG_NOSIGNAL */
    MASTER("bad INIT, peer closes at once", O_PEER_LEFT, 0,
           {S_INIT, F_INIT_VERSION, 0x0100}, {S_INIT, F_CLOSE}),
    MASTER("peer closes mid-handshake", O_PEER_LEFT, BOUND, {S_REGION, F_CLOSE}),
    MASTER("peer DISCONNECT, 96-byte reason (+fd)", O_PEER_LEFT, BOUND,
           {LIVE, F_EMPTY, NMIF_MSG_DISCONNECT}, {LIVE, F_DISC_STRING, 'R'},
           {LIVE, F_DISC_CODE, 0xffffffff}, {LIVE, F_ADD_FD, FDK_EVENTFD}),
    MASTER_RUN("second connection claims the live id", O_PEER_LEFT, BOUND, hijack_live_link),
};

const struct case_table master_control_cases = TABLE("master control", cases);
