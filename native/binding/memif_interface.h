// MemifInterface: one nmif interface on a MemifSocket (native/libmemif/include/nmemif.h).
//
//   const i = new MemifInterface(socket, { id, isMaster, ... })
//   i.regions() / i.details() / i.ringDetails(isTx, q) / i.stats() / i.setRxMode(q, mode)
//   i.disconnect(reason) / i.destroy()
//
// The data path is MemifQueue's (memif_queue.h), built from this object in its own thread;
// MemifLease (memif_lease.h) lends a queue pair to another thread.
// Each region is one external ArrayBuffer over the mapping, detached when the link goes down
// (before the memory is unmapped), so a stale view reads as empty instead of crashing. A live
// interface holds a strong reference to itself until it is closed, so garbage collection never
// unmaps memory that views may still point into.
#ifndef NMEMIF_BINDING_MEMIF_INTERFACE_H
#define NMEMIF_BINDING_MEMIF_INTERFACE_H

#include <napi.h>

#include <vector>

#include "memif_socket.h"
#include "nmemif.h"

namespace nmemif {

class MemifInterface : public Napi::ObjectWrap<MemifInterface> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit MemifInterface(const Napi::CallbackInfo& info);
  ~MemifInterface() override;

  // The MemifInterface behind a JS value; throws a TypeError for anything else.
  static MemifInterface* From(Napi::Env env, Napi::Value v);
  // Rethrows a JS exception raised by the fd-update callback during the last C call.
  void RethrowPending(Napi::Env env);
  // Called by the socket on close: the C object is gone.
  void Orphan();
  // The C interface, or nullptr once closed.
  nmif_if_t* Raw() const { return iface_; }
  // The regions of the current connection as ArrayBuffers (empty while down).
  Napi::Array RegionsArray(Napi::Env env);
  // After a data-path call found a violation: the link goes down now (events queued).
  void HandleViolation(Napi::Env env);

 private:
  static void OnConnect(nmif_if_t* i, void* user);
  static void OnDisconnect(nmif_if_t* i, const char* reason, void* user);
  static void OnRx(nmif_if_t* i, uint16_t qid, void* user);
  static void OnConnectError(nmif_if_t* i, int err, void* user);

  nmif_if_t* Live(Napi::Env env);
  void DetachRegions();

  Napi::Value Regions(const Napi::CallbackInfo& info);
  Napi::Value Details(const Napi::CallbackInfo& info);
  Napi::Value RingDetails(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value SetRxMode(const Napi::CallbackInfo& info);
  Napi::Value Disconnect(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  Napi::Value GetHandle(const Napi::CallbackInfo& info);
  Napi::Value GetConnected(const Napi::CallbackInfo& info);

  nmif_if_t* iface_ = nullptr;
  MemifSocket* sock_ = nullptr;
  Napi::ObjectReference sock_ref_;  // keeps the socket alive while interfaces exist
  uint32_t handle_ = 0;
  std::vector<Napi::Reference<Napi::ArrayBuffer>> regions_;
};

}  // namespace nmemif

#endif  // NMEMIF_BINDING_MEMIF_INTERFACE_H
