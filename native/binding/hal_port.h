// HalPort: one queue pair of a device as a bridge port (native/hal/include/nhal.h).
//
//   new HalPort({ kind: 'memif', lease })   // lease: a MemifLease (memif_lease.h), polling mode
//   new HalPort({ kind: 'dpdk', portId, queue })
//   port.stats   -> ArrayBuffer of NHAL_ST_COUNT u64 counters, read by JS without a call
//   port.close() -> frees the port (throws EBUSY while a worker path uses it)
//
// A memif port holds its own reference to the lease: libmemif closes the lease's gate before
// it unmaps anything, so the worker skips the port while the link is down and resumes on
// reconnect without any message.
#ifndef NMEMIF_BINDING_HAL_PORT_H
#define NMEMIF_BINDING_HAL_PORT_H

#include <napi.h>

#include <memory>

#include "nhal.h"

namespace nmemif {

class HalPort : public Napi::ObjectWrap<HalPort> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit HalPort(const Napi::CallbackInfo& info);
  ~HalPort() override;
  nhal_port_t* Raw(Napi::Env env) const;

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetStats(const Napi::CallbackInfo& info);
  Napi::Value GetName(const Napi::CallbackInfo& info);
  Napi::Value GetKind(const Napi::CallbackInfo& info);

  nhal_port_t* port_ = nullptr;
  std::shared_ptr<nhal_stats_t> stats_;   // also held by the ArrayBuffer over it
  Napi::Reference<Napi::ArrayBuffer> stats_ab_;
};

}  // namespace nmemif

#endif
