// Handing one queue pair (rx q + tx q) of an interface to another thread (a worker_thread).
//
// The owning thread publishes a SharedQueue in a process-wide registry and gets a numeric id,
// which is posted to the worker; the worker attaches a WorkerQueue to it and from then on is
// the only one bursting on that queue pair. The worker maps the regions itself (from dup'ed
// fds), so its views never dangle, and waits on its own dup of the rx eventfd.
//
// Link changes are made safe with two atomics per queue, busy and revoked, used Dekker-style
// with sequentially consistent ordering: a worker burst sets busy then checks revoked; the
// owner, before libmemif unmaps anything on disconnect, sets revoked then waits for busy to
// clear. On reconnect the owner publishes the new regions and bumps the generation, which the
// worker sees on its next burst (and JS through a one-word view of the shared state).
#ifndef NMEMIF_BINDING_WORKER_QUEUE_H
#define NMEMIF_BINDING_WORKER_QUEUE_H

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "nmemif.h"

namespace nmemif {

struct SharedQueue {
  // Words JS reads directly (through an external ArrayBuffer): [0] generation, [1] revoked.
  std::atomic<uint32_t> state[2];
  std::atomic<int> busy{0};
  std::atomic<bool> closed{false};   // reclaimed or interface gone: never comes back
  uint32_t id = 0;
  nmif_if_t* iface = nullptr;        // valid while not revoked
  uint16_t qid = 0;
  std::mutex mu;                     // guards the fds below against publish/revoke
  std::vector<int> region_fds;       // dups owned by this struct
  std::vector<uint64_t> region_sizes;
  int irq_fd = -1;                   // dup of the rx eventfd

  SharedQueue() {
    state[0].store(0);
    state[1].store(1);
  }
  ~SharedQueue();

  // Owner thread, while connected: dup the current regions and eventfd, open the gate.
  void Publish();
  // Owner thread, before unmap: close the gate and wait for a running burst to finish.
  void Revoke();
  void CloseFds();
};

// Owner side: the registry.
std::shared_ptr<SharedQueue> ShareQueue(nmif_if_t* iface, uint16_t qid);
void UnshareQueue(const std::shared_ptr<SharedQueue>& q);
// A shared queue by id (nullptr if unknown), for native consumers such as the bridge's ports.
std::shared_ptr<SharedQueue> FindSharedQueue(uint32_t id);

class WorkerQueue : public Napi::ObjectWrap<WorkerQueue> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit WorkerQueue(const Napi::CallbackInfo& info);
  ~WorkerQueue() override;

 private:
  // Enter/Leave bracket every call into libmemif; Enter returns 0 or -ENOTCONN.
  int Enter();
  void Leave();
  void Unmap();

  Napi::Value RxBurst(const Napi::CallbackInfo& info);
  Napi::Value RxRelease(const Napi::CallbackInfo& info);
  Napi::Value TxAlloc(const Napi::CallbackInfo& info);
  Napi::Value TxBurst(const Napi::CallbackInfo& info);
  Napi::Value TxSwap(const Napi::CallbackInfo& info);
  Napi::Value TxCopy(const Napi::CallbackInfo& info);
  Napi::Value Regions(const Napi::CallbackInfo& info);
  Napi::Value Sync(const Napi::CallbackInfo& info);
  Napi::Value IrqFd(const Napi::CallbackInfo& info);
  Napi::Value AckIrq(const Napi::CallbackInfo& info);
  Napi::Value State(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  std::shared_ptr<SharedQueue> q_;
  uint32_t mapped_gen_ = 0;          // generation our mappings belong to (0 = none)
  std::vector<void*> bases_;
  std::vector<uint64_t> sizes_;
  int irq_fd_ = -1;                  // our own dup, for the worker's event loop
  std::vector<Napi::Reference<Napi::ArrayBuffer>> views_;
};

}  // namespace nmemif

#endif  // NMEMIF_BINDING_WORKER_QUEUE_H
