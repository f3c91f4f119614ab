// LwipStack: the process's lwIP stack (native/stacks/lwip/include/nlwip.h), one at a time.
//
//   const s = new LwipStack()          // code EBUSY while another one is open in this process
//   s.wakeFd                            // readable when lwIP's thread changed a socket
//   s.readiness                         // Uint32Array: EPOLL* bits by socket id, read without a call
//   s.shared                            // Uint32Array: [changed sockets, frames queued for tx]
//   s.takeChanged(out) -> pairs (id, bits) written into out
//   s.flush() -> frames sent;  s.counters() -> Float64Array (NLWIP_C_*);  s.close()
//   socket calls by id: socket, bind, connect, listen, accept, send, recv, recvBatch, shutdown,
//   closeSocket, sockname, sockError, getopt, setopt (lwip_stack_sockets.cc)
//
// Hot calls return -EAGAIN instead of throwing (accept, recv); other failures throw an
// ErrnoError whose code is the errno name. The readiness and shared arrays are detached when
// the stack closes. The environment's teardown (a worker ending) closes the stack too.
#ifndef NMEMIF_BINDING_LWIP_STACK_H
#define NMEMIF_BINDING_LWIP_STACK_H

#include <napi.h>

#include <vector>

#include "nlwip.h"

namespace nmemif {

class LwipNetif;

class LwipStack : public Napi::ObjectWrap<LwipStack> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit LwipStack(const Napi::CallbackInfo& info);
  ~LwipStack() override;

  nlwip_stack_t* Live(Napi::Env env) const;
  void Adopt(LwipNetif* n) { netifs_.push_back(n); }

 private:
  static void OnEnvCleanup(void* arg);
  void Destroy();

  Napi::Value GetWakeFd(const Napi::CallbackInfo& info);
  Napi::Value GetReadiness(const Napi::CallbackInfo& info);
  Napi::Value GetShared(const Napi::CallbackInfo& info);
  Napi::Value TakeChanged(const Napi::CallbackInfo& info);
  Napi::Value Flush(const Napi::CallbackInfo& info);
  Napi::Value Counters(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  // lwip_stack_sockets.cc
  Napi::Value Socket(const Napi::CallbackInfo& info);
  Napi::Value Bind(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Listen(const Napi::CallbackInfo& info);
  Napi::Value Accept(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Recv(const Napi::CallbackInfo& info);
  Napi::Value RecvBatch(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value CloseSocket(const Napi::CallbackInfo& info);
  Napi::Value SockName(const Napi::CallbackInfo& info);
  Napi::Value SockError(const Napi::CallbackInfo& info);
  Napi::Value GetOpt(const Napi::CallbackInfo& info);
  Napi::Value SetOpt(const Napi::CallbackInfo& info);

  nlwip_stack_t* stack_ = nullptr;
  napi_env env_ = nullptr;
  std::vector<LwipNetif*> netifs_;
  Napi::Reference<Napi::ArrayBuffer> readiness_;
  Napi::Reference<Napi::ArrayBuffer> shared_;
};

}  // namespace nmemif

#endif
