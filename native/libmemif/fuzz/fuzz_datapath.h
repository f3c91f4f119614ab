/*
 * Input format of the data-path fuzzer (fuzz_datapath.c), also written by the seed recorder:
 * a program of ops, each an opcode byte (modulo OP_COUNT) and its argument bytes (missing
 * bytes read as 0). "side" bit 0: 0 our master, 1 our slave; bit 1: queue 1, which does not
 * exist (one queue pair is configured), else queue 0.
 */
#ifndef NMIF_FUZZ_DATAPATH_H
#define NMIF_FUZZ_DATAPATH_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define FDP_LOG2 4               /* 16 slots: counters wrap and rings fill within a few ops */
#define FDP_BSIZE 256            /* chains are frequent */
#define FDP_MAX_OPS 1024

enum fdp_op {
  OP_POKE16,    /* sel, lo, hi: a ring word. sel bit 0 ring (0 S2M, 1 M2S); bits 1-2 word
                   (0 head, 1 tail, 2 flags, 3 cookie low half); bit 3: add to the current
                   value instead of storing it */
  OP_POKE_DESC, /* sel, slot, 4 value bytes: sel bit 0 ring; bits 1-3 field (0 flags, 1 region,
                   2 length, 3 offset, 4 metadata) */
  OP_RX,        /* side, max: nmif_rx_burst */
  OP_RELEASE,   /* side, count: nmif_rx_release */
  OP_ALLOC,     /* side, max: nmif_tx_alloc */
  OP_BURST,     /* side, count, then per buffer 2 bytes: length (0 = as allocated, 255 = 0,
                   else twice the byte), flags (bit 0 NEXT, bit 1 a wrong slot): nmif_tx_burst
                   over the side's last alloc or swap */
  OP_COPY,      /* side, n (1..4), then per packet 2 length bytes: nmif_tx_copy */
  OP_SWAP,      /* side, count: the side's last received buffers moved to tx (nmif_tx_swap;
                   a master is refused) */
  OP_ARM,       /* side, arm: nmif_rx_arm */
  OP_LOOP,      /* the control side runs: a violation found above tears the link down, and
                   interrupts reach on_rx */
  OP_IRQ_BLOCK, /* side: the peer clears O_NONBLOCK on that side's rx eventfd (it shares the
                   open file description) */
  OP_COUNT
};

/* Runs one input from a fresh connection. After each op, observe (if set) sees the op's bytes
 * and the two shared rings ([0] S2M, [1] M2S; NULL once unmapped): the seed recorder uses it. */
typedef void (*fdp_observer_fn)(void *ctx, const uint8_t *op, size_t len, nmif_ring_t *const *rings);
void fdp_run(const uint8_t *data, size_t size, fdp_observer_fn observe, void *ctx);

#endif
