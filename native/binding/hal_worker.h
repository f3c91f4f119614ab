// HalWorker: a native forwarding thread (nhal_worker_t). Paths are added and removed through
// the worker's command ring; each call returns once the worker has applied it.
//
//   const w = new HalWorker({ name, burst, cpu, idleSleepUs });
//   w.addPath(srcPort, dstPort); w.delPath(srcPort, dstPort); w.pause(); w.resume();
//   w.stats() -> Float64Array of NHAL_WS_COUNT counters; w.stop() joins the thread.
//
// The worker holds JS references to the ports of its paths, so they cannot be collected
// while it runs; the thread is joined on stop() and when the environment is torn down.
#ifndef NMEMIF_BINDING_HAL_WORKER_H
#define NMEMIF_BINDING_HAL_WORKER_H

#include <napi.h>

#include <vector>

#include "nhal.h"

namespace nmemif {

class HalWorker : public Napi::ObjectWrap<HalWorker> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit HalWorker(const Napi::CallbackInfo& info);
  ~HalWorker() override;

 private:
  static void OnEnvCleanup(void* arg);
  void Stop();
  Napi::Value AddPath(const Napi::CallbackInfo& info);
  Napi::Value DelPath(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value StopJs(const Napi::CallbackInfo& info);

  struct PathRef {
    nhal_port_t* src;
    nhal_port_t* dst;
    Napi::ObjectReference src_ref, dst_ref;
  };
  nhal_worker_t* w_ = nullptr;
  std::vector<PathRef> paths_;
  napi_env env_ = nullptr;
};

}  // namespace nmemif

#endif
