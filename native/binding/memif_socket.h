// MemifSocket: a thin wrapper over an nmif socket (native/libmemif/include/nmemif.h).
//
//   const s = new MemifSocket({ path, appName, ... }, (fd, op, epollEvents, token) => {...});
//   s.fdReady(token, epollRevents) -> events: [kind, ifaceHandle, qid, reason, cause][]
//     (a connect error: reason = strerror, cause = the errno)
//
// The library never runs JavaScript behind the caller's back except for the fd-update callback,
// which must reach the event loop synchronously (an fd is closed right after its DEL). Readiness
// bits cross as epoll bits; nmif_events_to_epoll/from_epoll translate them, in C, once. Link
// events are queued and returned by fdReady()/takeEvents(), so user code never runs inside the
// C library. A live socket holds a strong reference to itself until it is closed.
#ifndef NMEMIF_BINDING_MEMIF_SOCKET_H
#define NMEMIF_BINDING_MEMIF_SOCKET_H

#include <napi.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "nmemif.h"

namespace nmemif {

class MemifInterface;

// Kinds of queued link events (exported to JavaScript by abi.cc).
enum EventKind : uint32_t { kEventConnect = 1, kEventDisconnect = 2, kEventRx = 3, kEventConnectError = 4 };

struct LinkEvent {
  uint32_t kind;
  uint32_t iface;  // MemifInterface handle
  uint32_t qid;
  std::string reason;
  uint32_t cause;  // disconnect: enum nmif_down_cause; connect error: the errno (positive)
};

class MemifSocket : public Napi::ObjectWrap<MemifSocket> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit MemifSocket(const Napi::CallbackInfo& info);
  ~MemifSocket() override;

  nmif_socket_t* Raw() const { return sock_; }
  void Push(LinkEvent ev) { events_.push_back(std::move(ev)); }
  // True while the environment (thread) is being torn down: no JavaScript may run.
  bool EnvGone() const { return env_gone_; }
  uint32_t Adopt(MemifInterface* iface);  // returns the interface's handle
  void Forget(MemifInterface* iface);
  // Rethrows a JS exception raised inside the fd-update callback during the last C call.
  void RethrowPending(Napi::Env env);

 private:
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

}  // namespace nmemif

#endif  // NMEMIF_BINDING_MEMIF_SOCKET_H
