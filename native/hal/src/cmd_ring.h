/* Internal: a single-producer single-consumer ring of commands (control thread -> worker).
 * The producer writes a slot, then publishes it with a release store of tail; the consumer
 * reads tail with acquire, reads the slot, then frees it with a release store of head (which
 * the producer reads with acquire before reusing the slot). Indexes are free-running. */
#ifndef NHAL_CMD_RING_H
#define NHAL_CMD_RING_H

#include <stdint.h>

#define NHAL_CMD_RING_SIZE 64  /* power of two */

typedef struct nhal_cmd {
  uint32_t op;
  uint32_t seq;
  void *a, *b;
} nhal_cmd_t;

typedef struct nhal_cmd_ring {
  uint32_t head;  /* consumer's position: written by the worker */
  char pad1[60];
  uint32_t tail;  /* producer's position: written by the control thread */
  char pad2[60];
  nhal_cmd_t slot[NHAL_CMD_RING_SIZE];
} nhal_cmd_ring_t;

static inline int nhal__cmd_push(nhal_cmd_ring_t *r, const nhal_cmd_t *c) {
  uint32_t tail = r->tail;  /* only we write it */
  uint32_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);  /* pairs with pop's release */
  if (tail - head >= NHAL_CMD_RING_SIZE) return -1;
  r->slot[tail & (NHAL_CMD_RING_SIZE - 1)] = *c;
  __atomic_store_n(&r->tail, tail + 1, __ATOMIC_RELEASE);  /* pairs with pop's acquire */
  return 0;
}

static inline int nhal__cmd_pop(nhal_cmd_ring_t *r, nhal_cmd_t *c) {
  uint32_t head = r->head;  /* only we write it */
  uint32_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);  /* pairs with push's release */
  if (head == tail) return -1;
  *c = r->slot[head & (NHAL_CMD_RING_SIZE - 1)];
  __atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);  /* pairs with push's acquire */
  return 0;
}

#endif
