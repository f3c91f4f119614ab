// MemifQueue: the data path of one queue pair (rx q + tx q), the one burst API of the binding.
//
//   new MemifQueue(memifInterface, q)   // in the interface's own thread: straight to libmemif
//   new MemifQueue(key)                 // in another thread: the lease offered under `key`
//                                       //   (MemifLease.handoff(), memif_lease.h)
//   q.rxBurst(batch, max) / q.rxRelease(n) / q.txAlloc(batch, max) / q.txBurst(batch, n)
//   q.txSwap(batch, n[, txQid]) / q.txCopy(packets) -> a count, or a negative errno
//   q.rxPending() / q.txRoom() -> what rx could take / tx could reserve now, or a negative errno
//   q.regions() -> ArrayBuffer[] the batch's offsets point into
//   q.reason()  -> why the last call failed (the violation it found, or why the link is down)
//
// A batch is a Uint32Array of 6 words per buffer laid out as nmif_buf_t (data pointer [0..1],
// len [2], offset [3], region | flags << 16 [4], slot | qid << 16 [5]); byteOffset a multiple
// of 8. Burst calls return numbers, never throw for link state: TypeScript turns them into
// errors (src/memif/queue.ts).
//
// A call that finds the peer breaking the protocol returns -EPROTO; in the interface's thread
// the link is then taken down before the call returns (events queued on the socket).
//
// Through a lease (another thread) every call enters the lease's gate, which libmemif closes
// before it unmaps anything. The thread maps the regions itself, per connection:
//   q.sync()    -> the generation now mapped (>= 1), or -ENOTCONN while down
//   q.eventFd   -> readable on every link change (the lease's; ackEvents() clears it)
//   q.rxFd      -> this thread's own dup of the rx eventfd (-1 while down); ackRx() clears it
// A burst on a newer connection than the one mapped returns -ESTALE: sync() first. Regions
// are external ArrayBuffers over this thread's own mappings, detached when a newer connection
// is mapped or the queue closes; a mapping is unmapped once no ArrayBuffer refers to it.
#ifndef NMEMIF_BINDING_MEMIF_QUEUE_H
#define NMEMIF_BINDING_MEMIF_QUEUE_H

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "nmemif.h"

namespace nmemif {

class MemifInterface;

class MemifQueue : public Napi::ObjectWrap<MemifQueue> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit MemifQueue(const Napi::CallbackInfo& info);
  ~MemifQueue() override;

 private:
  struct Mapping;  // one region mapped by this thread

  // Runs one data-path call on (iface, qid), through the gate for a lessee.
  template <typename Call>
  int Run(Napi::Env env, Call call);
  void Unmap();
  std::string LeaseReason();

  Napi::Value RxBurst(const Napi::CallbackInfo& info);
  Napi::Value RxPending(const Napi::CallbackInfo& info);
  Napi::Value TxRoom(const Napi::CallbackInfo& info);
  Napi::Value RxRelease(const Napi::CallbackInfo& info);
  Napi::Value TxAlloc(const Napi::CallbackInfo& info);
  Napi::Value TxBurst(const Napi::CallbackInfo& info);
  Napi::Value TxSwap(const Napi::CallbackInfo& info);
  Napi::Value TxCopy(const Napi::CallbackInfo& info);
  Napi::Value Regions(const Napi::CallbackInfo& info);
  Napi::Value Reason(const Napi::CallbackInfo& info);
  Napi::Value Sync(const Napi::CallbackInfo& info);
  Napi::Value AckEvents(const Napi::CallbackInfo& info);
  Napi::Value AckRx(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetEventFd(const Napi::CallbackInfo& info);
  Napi::Value GetRxFd(const Napi::CallbackInfo& info);
  Napi::Value GetQueue(const Napi::CallbackInfo& info);

  uint16_t qid_ = 0;
  std::string reason_;               // of the last failed call
  // In the interface's thread:
  MemifInterface* owner_ = nullptr;
  Napi::ObjectReference owner_ref_;
  // Through a lease:
  nmif_lease_t* lease_ = nullptr;
  int mapped_gen_ = 0;               // connection our mappings belong to (0 = none)
  std::vector<std::shared_ptr<Mapping>> maps_;
  std::vector<Napi::Reference<Napi::ArrayBuffer>> views_;
  int rx_fd_ = -1;                   // our own dup of the rx eventfd
};

}  // namespace nmemif

#endif  // NMEMIF_BINDING_MEMIF_QUEUE_H
