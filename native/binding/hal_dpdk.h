// dpdk: EAL and ethdev control for the bridge (native/hal/include/nhal.h). Every function
// throws an errno-style error; without DPDK built in, `built` is false and calls throw ENOTSUP.
#ifndef NMEMIF_BINDING_HAL_DPDK_H
#define NMEMIF_BINDING_HAL_DPDK_H

#include <napi.h>

namespace nmemif {
namespace hal_dpdk {
Napi::Object Define(Napi::Env env);
}
}  // namespace nmemif

#endif
