/* Our slave against a hostile master: HELLO and the replies to each handshake message. Odd
 * HELLO limits are clamped (the row says what our slave must announce), never trusted. */
#include "harness.h"

#define CLAMPED(name, rings, log2, ...)                                                          \
  {name, OURS_SLAVE, O_TOLERATE, BOUND, .mut = {__VA_ARGS__}, .clamp = {1, rings, log2}}

static const struct mcase cases[] = {
    SLAVE("hello: version 0x0100..0x0100", O_REJECT_BOUND,
          {M_HELLO, F_HELLO_MIN, 0x0100}, {M_HELLO, F_HELLO_MAX, 0x0100}),
    SLAVE("hello: version 0x0201..0x0300", O_REJECT_BOUND,
          {M_HELLO, F_HELLO_MIN, 0x0201}, {M_HELLO, F_HELLO_MAX, 0x0300}),
    SLAVE("hello: version 0x0300..0x0100", O_REJECT_BOUND,
          {M_HELLO, F_HELLO_MIN, 0x0300}, {M_HELLO, F_HELLO_MAX, 0x0100}),
    SLAVE("hello: type 0", O_REJECT_BOUND, {M_HELLO, F_TYPE, 0}),
    SLAVE("hello: type 9", O_REJECT_BOUND, {M_HELLO, F_TYPE, 9}),
    SLAVE("hello: 127 bytes", O_REJECT_BOUND, {M_HELLO, F_LEN, 127}),
    SLAVE("hello: 129 bytes", O_REJECT_BOUND, {M_HELLO, F_LEN, 129}),
    SLAVE("ACK before HELLO", O_REJECT_BOUND, {M_HELLO, F_EMPTY, NMIF_MSG_ACK}),
    SLAVE("CONNECTED before HELLO", O_REJECT_BOUND, {M_HELLO, F_AS, M_CONNECTED}),
    SLAVE("INIT from master", O_REJECT_BOUND,
          {M_HELLO, F_EMPTY, NMIF_MSG_INIT}, {M_HELLO, F_INIT_VERSION, 0x0200}),
    SLAVE("HELLO twice", O_REJECT_BOUND, {M_ACK_INIT, F_AS, M_HELLO}),
    SLAVE("CONNECTED instead of ACK", O_REJECT_BOUND, {M_ACK_INIT, F_AS, M_CONNECTED}),
    SLAVE("ACK instead of CONNECTED", O_REJECT_BOUND, {M_CONNECTED, F_EMPTY, NMIF_MSG_ACK}),
    SLAVE("type 9 during config", O_REJECT_BOUND, {M_ACK_RING, F_TYPE, 9}),
    SLAVE("1-byte ACK", O_REJECT_BOUND, {M_ACK_INIT, F_LEN, 1}),
    SLAVE("ADD_REGION to the slave (+memfd)", O_REJECT_BOUND,
          {M_ACK_INIT, F_EMPTY, NMIF_MSG_ADD_REGION}, {M_ACK_INIT, F_REGION_SIZE, 4096},
          {M_ACK_INIT, F_FD, FDK_MEMFD}),
    /* the master overwrites the cookie our slave wrote, then says CONNECTED */
    SLAVE("cookie overwritten before CONNECTED", O_REJECT_BOUND,
          {M_CONNECTED, F_COOKIE_M2S, 0x12345678}),

    /* ---- fds where none belong ---- */
    SLAVE("HELLO with a memfd", O_FD_CLOSED, {M_HELLO, F_ADD_FD, FDK_MEMFD}),
    SLAVE("ACK with eventfd+pipe", O_FD_CLOSED,
          {M_ACK_REGION, F_ADD_FD, FDK_EVENTFD}, {M_ACK_REGION, F_ADD_FD, FDK_PIPE}),
    SLAVE("CONNECTED with an eventfd", O_FD_CLOSED, {M_CONNECTED, F_ADD_FD, FDK_EVENTFD}),
    SLAVE("3 memfds on every message", O_FD_CLOSED, {M_HELLO, F_ADD_FD, FDK_MEMFD, .n = 3},
          {M_ACK_INIT, F_ADD_FD, FDK_MEMFD, .n = 3}, {M_ACK_REGION, F_ADD_FD, FDK_MEMFD, .n = 3},
          {M_ACK_RING, F_ADD_FD, FDK_MEMFD, .n = 3}, {M_CONNECTED, F_ADD_FD, FDK_MEMFD, .n = 3}),

    /* ---- odd but harmless HELLO values: 2 queues and log2 6 configured ---- */
    CLAMPED("hello: max_log2 15", 2, SLAVE_LOG2, {M_HELLO, F_HELLO_MAX_LOG2, 15}),
    CLAMPED("hello: max_log2 255", 2, SLAVE_LOG2, {M_HELLO, F_HELLO_MAX_LOG2, 255}),
    CLAMPED("hello: max_log2 0", 2, 0, {M_HELLO, F_HELLO_MAX_LOG2, 0}),
    /* highest index 0: one ring each way */
    CLAMPED("hello: max rings index 0 (clamp 2->1)", 1, SLAVE_LOG2,
            {M_HELLO, F_HELLO_MAX_S2M, 0}, {M_HELLO, F_HELLO_MAX_M2S, 0}),
    CLAMPED("hello: max indices 0xffff", 2, SLAVE_LOG2, {M_HELLO, F_HELLO_MAX_S2M, 0xffff},
            {M_HELLO, F_HELLO_MAX_M2S, 0xffff}, {M_HELLO, F_HELLO_MAX_REGION, 0xffff}),
    CLAMPED("hello: name unterminated", 2, SLAVE_LOG2, {M_HELLO, F_HELLO_NAME, 'H'}),
    /* if_name without NUL, and every byte after it non-zero */
    SLAVE("CONNECTED with garbage everywhere", O_TOLERATE, {M_CONNECTED, F_BODY_PATTERN, 0x41}),

    /* ---- silence and vanishing ---- */
    {"silent master: no HELLO", OURS_SLAVE, O_REJECT_BOUND, BOUND | SHORT, .mut = {{M_HELLO, F_STOP}}},
    {"silent master after INIT", OURS_SLAVE, O_REJECT_BOUND, BOUND | SHORT,
     .mut = {{M_ACK_INIT, F_STOP}}},
    /* INIT would hit a closed socket: SIGPIPE unless the library sends with MSG_NOSIGNAL */
    SLAVE("HELLO, master closes at once", O_PEER_LEFT, {M_HELLO, F_CLOSE}),
};

const struct case_table slave_control_cases = TABLE("slave control", cases);
