/* Built instead of dpdk_port.c when DPDK is absent (or WITH_DPDK=OFF): every DPDK entry
 * point fails with -ENOTSUP, and worker thread hooks do nothing. */
#include <errno.h>

#include "nhal.h"

int nhal_dpdk_built(void) { return 0; }
int nhal_eal_init(int argc, const char *const *argv) { return -ENOTSUP; }
int nhal_eal_cleanup(void) { return -ENOTSUP; }
int nhal_eal_initialized(void) { return 0; }
const char *nhal_eal_last_error(void) { return "built without DPDK"; }
int nhal_dpdk_probe(const char *devargs) { return -ENOTSUP; }
int nhal_dpdk_find(const char *name) { return -ENOTSUP; }
int nhal_dpdk_count(void) { return 0; }
int nhal_dpdk_name(uint16_t port_id, char *buf, size_t len) { return -ENOTSUP; }
int nhal_dpdk_dev_start(uint16_t port_id, const nhal_dpdk_setup_t *setup) { return -ENOTSUP; }
int nhal_dpdk_dev_stop(uint16_t port_id) { return -ENOTSUP; }
int nhal_dpdk_link(uint16_t port_id, nhal_dpdk_link_t *out) { return -ENOTSUP; }
int nhal_dpdk_stats(uint16_t port_id, nhal_dpdk_xstats_t *out) { return -ENOTSUP; }
int nhal_dpdk_port_create(nhal_port_t **out, uint16_t port_id, uint16_t qid, nhal_stats_t *stats) {
  return -ENOTSUP;
}
void nhal_dpdk_thread_register(void) {}
void nhal_dpdk_thread_unregister(void) {}
