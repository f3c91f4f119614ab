// MemifSocket and MemifInterface: thin wrappers over libmemif (native/libmemif/include/nmemif.h).
//
//   const s = new MemifSocket({ path, appName, ... }, (fd, op, events, token) => {...});
//   s.fdReady(token, revents)   -> events: [kind, ifaceHandle, qid, reason][]
//   const i = new MemifInterface(s, { id, isMaster, ... })
//   i.rxBurst(qid, batch, max) / i.rxRelease(qid, n) / i.txAlloc / i.txBurst / i.txSwap / i.txCopy
//
// The library never runs JavaScript behind the caller's back except for the fd-update callback,
// which must reach the event loop synchronously (an fd is closed right after its DEL). Link
// events are queued and returned by fdReady()/takeEvents(), so user code never runs inside the
// C library. A batch is a Uint32Array of 6 words per buffer laid out as nmif_buf_t (data pointer
// [0..1], len [2], offset [3], region | flags << 16 [4], slot | qid << 16 [5]); its byteOffset
// must be a multiple of 8. Each region is one external ArrayBuffer over the mapping, detached
// when the link goes down (before the memory is unmapped), so a stale view reads as empty
// instead of crashing. A live socket or interface holds a strong reference to itself until it
// is closed, so garbage collection never unmaps memory that views may still point into.
#ifndef NMEMIF_BINDING_MEMIF_SOCKET_H
#define NMEMIF_BINDING_MEMIF_SOCKET_H

#include <napi.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "nmemif.h"
#include "worker_queue.h"

namespace nmemif {

class MemifInterface;

enum EventKind : uint32_t { kEventConnect = 1, kEventDisconnect = 2, kEventRx = 3 };

struct LinkEvent {
  uint32_t kind;
  uint32_t iface;  // MemifInterface handle
  uint32_t qid;
  std::string reason;
};

class MemifSocket : public Napi::ObjectWrap<MemifSocket> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit MemifSocket(const Napi::CallbackInfo& info);
  ~MemifSocket() override;

  void Push(LinkEvent ev) { events_.push_back(std::move(ev)); }
  // True while the environment (thread) is being torn down: no JavaScript may run.
  bool EnvGone() const { return env_gone_; }
  void Forget(MemifInterface* iface);
  // Rethrows a JS exception raised inside the fd-update callback during the last C call.
  void RethrowPending(Napi::Env env);

 private:
  friend class MemifInterface;
  static int OnFdUpdate(int fd, nmif_fd_op_t op, uint32_t events, void* token, void* ctx);
  // A worker terminated (or the thread ended) with this socket open: peers still get a
  // DISCONNECT, socket files are removed and every fd is closed, without running JS.
  static void OnEnvCleanup(void* arg);
  void Shutdown();

  Napi::Value FdReady(const Napi::CallbackInfo& info);
  Napi::Value TakeEvents(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetPath(const Napi::CallbackInfo& info);
  Napi::Value GetListenerFd(const Napi::CallbackInfo& info);
  Napi::Value EventsArray(Napi::Env env);

  nmif_socket_t* sock_ = nullptr;
  Napi::FunctionReference fd_update_;
  std::unordered_map<uint32_t, void*> tokens_;     // JS never sees C pointers
  std::unordered_map<void*, uint32_t> token_ids_;
  uint32_t next_token_ = 1;
  std::vector<LinkEvent> events_;
  std::vector<MemifInterface*> ifaces_;
  uint32_t next_iface_ = 1;
  Napi::Error pending_;
  bool has_pending_ = false;
  bool env_gone_ = false;
  napi_env env_ = nullptr;  // for removing the cleanup hook
};

class MemifInterface : public Napi::ObjectWrap<MemifInterface> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit MemifInterface(const Napi::CallbackInfo& info);
  ~MemifInterface() override;

  // Called by the socket on close: the C object is gone.
  void Orphan();
  nmif_if_t* Raw() const { return iface_; }

 private:
  static void OnConnect(nmif_if_t* i, void* user);
  static void OnDisconnect(nmif_if_t* i, const char* reason, void* user);
  static void OnRx(nmif_if_t* i, uint16_t qid, void* user);

  nmif_if_t* Live(Napi::Env env);
  void DetachRegions();
  void UnshareAll();

  Napi::Value RxBurst(const Napi::CallbackInfo& info);
  Napi::Value RxRelease(const Napi::CallbackInfo& info);
  Napi::Value TxAlloc(const Napi::CallbackInfo& info);
  Napi::Value TxBurst(const Napi::CallbackInfo& info);
  Napi::Value TxSwap(const Napi::CallbackInfo& info);
  Napi::Value TxCopy(const Napi::CallbackInfo& info);
  Napi::Value Regions(const Napi::CallbackInfo& info);
  Napi::Value Details(const Napi::CallbackInfo& info);
  Napi::Value RingDetails(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value SetRxMode(const Napi::CallbackInfo& info);
  Napi::Value RxQueueFd(const Napi::CallbackInfo& info);
  Napi::Value Disconnect(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  Napi::Value ShareQueue(const Napi::CallbackInfo& info);
  Napi::Value UnshareQueue(const Napi::CallbackInfo& info);
  Napi::Value GetHandle(const Napi::CallbackInfo& info);
  Napi::Value GetConnected(const Napi::CallbackInfo& info);

  friend class MemifSocket;
  nmif_if_t* iface_ = nullptr;
  MemifSocket* sock_ = nullptr;
  Napi::ObjectReference sock_ref_;  // keeps the socket alive while interfaces exist
  uint32_t handle_ = 0;
  std::vector<Napi::Reference<Napi::ArrayBuffer>> regions_;
  std::vector<std::shared_ptr<SharedQueue>> shared_;  // queues handed to other threads
};

}  // namespace nmemif

#endif  // NMEMIF_BINDING_MEMIF_SOCKET_H
