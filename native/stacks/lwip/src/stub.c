/* Built instead of the lwIP glue when pkg-config finds no lwIP: every entry point fails with
 * -ENOTSUP and says why. */
#include <errno.h>

#include "nlwip.h"

int nlwip_built(void) { return 0; }
const char *nlwip_unavailable_reason(void) {
  return "built without lwIP (pkg-config lwip found nothing; install liblwip-dev and rebuild)";
}
int nlwip_stack_create(nlwip_stack_t **out) { return -ENOTSUP; }
void nlwip_stack_destroy(nlwip_stack_t *s) {}
int nlwip_wake_fd(const nlwip_stack_t *s) { return -ENOTSUP; }
const uint32_t *nlwip_readiness(const nlwip_stack_t *s) { return 0; }
const nlwip_shared_t *nlwip_shared(const nlwip_stack_t *s) { return 0; }
int nlwip_take_changed(nlwip_stack_t *s, uint32_t *out, uint32_t max) { return -ENOTSUP; }
int nlwip_flush(nlwip_stack_t *s) { return -ENOTSUP; }
void nlwip_counters(const nlwip_stack_t *s, uint64_t out[NLWIP_C_COUNT]) {}
int nlwip_netif_add(nlwip_stack_t *s, nlwip_netif_t **out, const nlwip_netif_args_t *args) { return -ENOTSUP; }
void nlwip_netif_remove(nlwip_netif_t *n) {}
const char *nlwip_netif_name(const nlwip_netif_t *n) { return ""; }
int nlwip_netif_ip6(const nlwip_netif_t *n, int idx, uint8_t out[16]) { return -ENOTSUP; }
int nlwip_netif_link_up(nlwip_netif_t *n) { return -ENOTSUP; }
void nlwip_netif_link_down(nlwip_netif_t *n) {}
int nlwip_netif_poll(nlwip_netif_t *n, uint32_t budget, int flags, int *more) { return -ENOTSUP; }
int nlwip_socket(nlwip_stack_t *s, int proto, int family) { return -ENOTSUP; }
int nlwip_bind(nlwip_stack_t *s, int id, const nlwip_addr_t *a) { return -ENOTSUP; }
int nlwip_connect(nlwip_stack_t *s, int id, const nlwip_addr_t *a) { return -ENOTSUP; }
int nlwip_listen(nlwip_stack_t *s, int id, int backlog) { return -ENOTSUP; }
int nlwip_accept(nlwip_stack_t *s, int id, nlwip_addr_t *peer) { return -ENOTSUP; }
int nlwip_send(nlwip_stack_t *s, int id, const void *data, size_t len, const nlwip_addr_t *to) { return -ENOTSUP; }
int nlwip_recv(nlwip_stack_t *s, int id, void *buf, size_t len, nlwip_addr_t *from) { return -ENOTSUP; }
int nlwip_recv_batch(nlwip_stack_t *s, int id, uint8_t *data, size_t cap, uint32_t *offsets,
                     uint32_t *lengths, nlwip_addr_t *from, uint32_t max, uint32_t *pending) {
  return -ENOTSUP;
}
int nlwip_shutdown(nlwip_stack_t *s, int id, int how) { return -ENOTSUP; }
int nlwip_close(nlwip_stack_t *s, int id) { return -ENOTSUP; }
int nlwip_sockname(nlwip_stack_t *s, int id, int peer, nlwip_addr_t *out) { return -ENOTSUP; }
int nlwip_sock_error(nlwip_stack_t *s, int id) { return -ENOTSUP; }
int nlwip_getopt(nlwip_stack_t *s, int id, int opt) { return -ENOTSUP; }
int nlwip_setopt(nlwip_stack_t *s, int id, int opt, int value) { return -ENOTSUP; }
