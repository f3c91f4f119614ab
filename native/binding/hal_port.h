// HalPort: one queue pair of a device as a bridge port (native/hal/include/nhal.h).
//
//   new HalPort({ kind: 'memif', queueId })   // queueId from MemifInterface.shareQueue(q)
//   new HalPort({ kind: 'dpdk', portId, queue })
//   port.stats   -> ArrayBuffer of NHAL_ST_COUNT u64 counters, read by JS without a call
//   port.close() -> frees the port (throws EBUSY while a worker path uses it)
//
// A memif port uses the shared queue's gate (busy/revoked atomics): the interface's owner
// revokes it from on_disconnect before the memory is unmapped, so the worker skips the port
// while the link is down and resumes on reconnect without any message.
#ifndef NMEMIF_BINDING_HAL_PORT_H
#define NMEMIF_BINDING_HAL_PORT_H

#include <napi.h>

#include <memory>

#include "nhal.h"
#include "worker_queue.h"

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
  std::shared_ptr<SharedQueue> queue_;    // memif: keeps the gate alive
  Napi::Reference<Napi::ArrayBuffer> stats_ab_;
};

}  // namespace nmemif

#endif
