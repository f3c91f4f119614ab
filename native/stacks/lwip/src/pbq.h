/* Internal: a socket's receive queue, a growable ring of pbufs (each a datagram, or a TCP
 * segment) with their sender. No allocation per entry; the ring doubles when full. */
#ifndef NLWIP_PBQ_H
#define NLWIP_PBQ_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/pbuf.h"
#include "nlwip.h"

typedef struct nlwip_pbq_entry {
  struct pbuf *p;
  nlwip_addr_t from;
} nlwip_pbq_entry_t;

typedef struct nlwip_pbq {
  nlwip_pbq_entry_t *v;
  uint32_t cap, head, count;
  uint32_t bytes;               /* payload bytes queued (not yet read) */
  uint32_t off;                 /* TCP: bytes of the first entry already read */
} nlwip_pbq_t;

/* Takes ownership of p; -ENOMEM (p untouched) when the ring cannot grow. */
int nlwip__pbq_push(nlwip_pbq_t *q, struct pbuf *p, const nlwip_addr_t *from);
static inline nlwip_pbq_entry_t *nlwip__pbq_head(nlwip_pbq_t *q) { return q->count ? &q->v[q->head] : NULL; }
/* Frees the first entry's pbuf and drops it. */
void nlwip__pbq_pop(nlwip_pbq_t *q);
/* Stream read: copies up to len bytes across entries, freeing those read whole. */
size_t nlwip__pbq_read(nlwip_pbq_t *q, void *buf, size_t len);
/* Frees every pbuf and the ring. Returns the payload bytes that were queued. */
uint32_t nlwip__pbq_clear(nlwip_pbq_t *q);

#endif
