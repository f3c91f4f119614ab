/* Socket receive queues: a ring of pbufs, grown by doubling. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pbq.h"

#define PBQ_MIN_CAP 16

static int grow(nlwip_pbq_t *q) {
  uint32_t cap = q->cap ? q->cap * 2 : PBQ_MIN_CAP;
  nlwip_pbq_entry_t *v = malloc(sizeof *v * cap);
  if (!v) return -ENOMEM;
  for (uint32_t k = 0; k < q->count; k++) v[k] = q->v[(q->head + k) % q->cap];
  free(q->v);
  q->v = v;
  q->cap = cap;
  q->head = 0;
  return 0;
}

int nlwip__pbq_push(nlwip_pbq_t *q, struct pbuf *p, const nlwip_addr_t *from) {
  if (q->count == q->cap && grow(q) < 0) return -ENOMEM;
  nlwip_pbq_entry_t *e = &q->v[(q->head + q->count) % q->cap];
  e->p = p;
  if (from) e->from = *from;
  q->count++;
  q->bytes += p->tot_len;
  return 0;
}

void nlwip__pbq_pop(nlwip_pbq_t *q) {
  nlwip_pbq_entry_t *e = &q->v[q->head];
  q->bytes -= e->p->tot_len - q->off;
  pbuf_free(e->p);
  e->p = NULL;
  q->off = 0;
  q->head = (q->head + 1) % q->cap;
  q->count--;
}

size_t nlwip__pbq_read(nlwip_pbq_t *q, void *buf, size_t len) {
  size_t done = 0;
  while (done < len && q->count) {
    struct pbuf *p = q->v[q->head].p;
    size_t left = p->tot_len - q->off;
    size_t want = len - done < left ? len - done : left;
    pbuf_copy_partial(p, (uint8_t *)buf + done, (u16_t)want, (u16_t)q->off);
    done += want;
    if (want == left) {
      nlwip__pbq_pop(q);
    } else {
      q->off += (uint32_t)want;
      q->bytes -= (uint32_t)want;
    }
  }
  return done;
}

uint32_t nlwip__pbq_clear(nlwip_pbq_t *q) {
  uint32_t bytes = q->bytes;
  while (q->count) nlwip__pbq_pop(q);
  free(q->v);
  memset(q, 0, sizeof *q);
  return bytes;
}
