/* Port bookkeeping shared by every backend. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "port.h"

int nhal_port_destroy(nhal_port_t *p) {
  if (!p) return 0;
  if (atomic_load(&p->users) > 0) return -EBUSY;
  p->ops->destroy(p);
  return 0;
}

const char *nhal_port_name(const nhal_port_t *p) { return p->name; }
const char *nhal_port_kind(const nhal_port_t *p) { return p->ops->kind; }
