/*
 * The handshake as a list of steps, one message each, and a small language to spoil any step:
 * a mutation is {step, field, value}, optionally with `rel` (the value is relative to a size
 * the peer knows) and `n` (a slot index or a count), or `str` for a string field.
 *
 * A hostile slave's steps are the messages it sends (INIT, ADD_REGION, ADD_RING S2M, ADD_RING
 * M2S, CONNECT); a hostile master's are its replies (HELLO, ACK to INIT/ADD_REGION/ADD_RING,
 * CONNECTED). LIVE is after the link came up: a message sent on the live link and/or values
 * written into the shared rings.
 */
#ifndef NMIF_HOSTILE_FLOW_H
#define NMIF_HOSTILE_FLOW_H

#include <stdint.h>

#include "peer.h"

enum hp_step {
  /* the hostile slave sends */
  S_INIT,
  S_REGION,
  S_RING_S2M,
  S_RING_M2S,
  S_CONNECT,
  /* the hostile master sends */
  M_HELLO,
  M_ACK_INIT,
  M_ACK_REGION,
  M_ACK_RING,
  M_CONNECTED,
  /* either role, after the link is up */
  LIVE,
  HP_NSTEPS
};

enum hp_field {
  F_NONE = 0,
  /* message fields (host byte order, written at their wire offset) */
  F_TYPE,
  F_INIT_VERSION, F_INIT_ID, F_INIT_MODE, F_INIT_SECRET, F_INIT_NAME,
  F_REGION_INDEX, F_REGION_SIZE,
  F_RING_FLAGS, F_RING_INDEX, F_RING_REGION, F_RING_OFFSET, F_RING_LOG2, F_RING_PRIVHDR,
  F_HELLO_NAME, F_HELLO_MIN, F_HELLO_MAX, F_HELLO_MAX_REGION, F_HELLO_MAX_M2S,
  F_HELLO_MAX_S2M, F_HELLO_MAX_LOG2,
  F_CONN_NAME,
  F_DISC_CODE, F_DISC_STRING,
  F_BODY_PATTERN,     /* bytes 2..127 = value + k % 26 (no NUL anywhere) */
  /* the datagram around the message */
  F_LEN,              /* datagram length (bytes past 128 are zero) */
  F_NFDS,             /* keep only the first `value` fds */
  F_FD,               /* replace the fd with a fresh one of kind `value` (enum hp_fd_kind) */
  F_FD_MEMFD,         /* replace the fd with a sealed memfd of `value` bytes */
  F_ADD_FD,           /* attach `n` (default 1) more fresh fds of kind `value` */
  F_AS,               /* send the default message of step `value` instead (with its fds) */
  F_EMPTY,            /* send a zeroed message of type `value` instead, without fds */
  F_SKIP,             /* don't send this step's message at all */
  F_STOP,             /* send nothing more: the peer falls silent here */
  F_CLOSE,            /* close the socket right after sending this step */
  /* shared memory, as the peer sees it (written before the step's message goes out) */
  F_COOKIE_S2M, F_COOKIE_M2S,
  /* the ring our side receives on (the peer produces): slot = producer counter + n */
  F_RX_FLAGS, F_RX_REGION, F_RX_LEN, F_RX_OFFSET,
  F_RX_PUBLISH,       /* move the producer counter forward by `value` (may be negative) */
  F_RX_COUNTER,       /* set the producer counter to `value` */
  F_RX_CHAIN_ALL,     /* every slot of the ring: length `value`, flagged NEXT, all published */
  /* the ring our side transmits on (the peer consumes): slot = consumer counter + n */
  F_TX_REGION, F_TX_LEN, F_TX_OFFSET,
  F_TX_COUNTER,       /* set the peer's counter on that ring to `value` */
  HP_NFIELDS
};

/* What `value` is relative to (added to it). */
enum hp_rel {
  REL_ABS = 0,
  REL_RSIZE,          /* the hostile slave's region size */
  REL_RING_BYTES,     /* one ring of the hostile slave's log2 */
  REL_LOG2,           /* the hostile slave's log2 ring size */
  REL_N,              /* slots of the ring the field is about */
  REL_OTHER,          /* the other counter of the same ring (our side's) */
};

enum hp_fd_kind {
  FDK_EVENTFD = 1,
  FDK_PIPE,
  FDK_SOCKET,
  FDK_MEMFD,          /* 4096 bytes, sealed */
  FDK_UNSEALED_FILE,  /* a regular file as large as the hostile slave's region */
};

struct hp_mut {
  uint8_t step;
  uint8_t field;
  int64_t value;
  uint8_t rel;
  uint16_t n;
  const char *str;
};

/* One step's datagram, as built by default and then spoiled. */
struct hp_out {
  union {
    nmif_msg_t m;
    uint8_t raw[512];
  };
  size_t len;
  int fds[HP_MAX_FDS];
  int nfds;
  int skip;
  int stop;
  int close_after;
};

const char *hp_step_name(int step);

/* The hostile slave's own region: S2M ring 0 at 0, M2S ring 0 after it, then one buffer of
 * bsize per slot (S2M's, then M2S's), and one eventfd per ring. */
void hp_slave_build(struct hp_peer *p, uint8_t log2, uint32_t bsize);
nmif_ring_t *hp_slave_ring(struct hp_peer *p, int m2s);
/* As a master: ring k of the direction (0 S2M, 1 M2S) our slave announced, mapped. */
nmif_ring_t *hp_master_ring(struct hp_peer *p, int m2s, int k);

void hp_default(struct hp_peer *p, int step, struct hp_out *o);
/* Applies every mutation of `muts` (count n, or up to a zero field) aimed at `step`. */
void hp_apply(struct hp_peer *p, int step, const struct hp_mut *muts, int n, struct hp_out *o);

/* The handshake from the peer's side with the case's mutations at each step; reply timeout
 * per step. Returns enum hp_end. A slave builds its region first if not built yet. */
int hp_slave_flow(struct hp_peer *p, const struct hp_mut *muts, int n, int timeout_ms);
int hp_master_flow(struct hp_peer *p, const struct hp_mut *muts, int n, int timeout_ms);
/* The LIVE mutations on an established link. Returns HP_LEFT if it sent a DISCONNECT or
 * closed, else HP_UP. */
int hp_live(struct hp_peer *p, const struct hp_mut *muts, int n);

#endif
