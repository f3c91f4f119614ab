// LwipStack's socket calls: argument checks and one nlwip call each (see lwip_stack.h).
#include <string>

#include "lwip_addr.h"
#include "lwip_stack.h"
#include "util.h"

namespace nmemif {

namespace {

int ArgId(const Napi::CallbackInfo& info) {
  uint32_t id = ArgUint32(info, 0, "id");
  if (id >= NLWIP_MAX_SOCKETS) throw Napi::RangeError::New(info.Env(), "socket id out of range");
  return static_cast<int>(id);
}

// r < 0 throws (except -EAGAIN for the calls that return it); otherwise r as a number.
Napi::Value Result(Napi::Env env, int r, const char* what, bool again_ok = false) {
  if (r < 0 && !(again_ok && r == -EAGAIN)) ThrowErrno(env, -r, what);
  return Napi::Number::New(env, r);
}

}  // namespace

Napi::Value LwipStack::Socket(const Napi::CallbackInfo& info) {
  nlwip_stack_t* s = Live(info.Env());
  int proto = static_cast<int>(ArgUint32(info, 0, "protocol"));
  int family = static_cast<int>(ArgUint32(info, 1, "family"));
  return Result(info.Env(), nlwip_socket(s, proto, family), "socket");
}

Napi::Value LwipStack::Bind(const Napi::CallbackInfo& info) {
  nlwip_stack_t* s = Live(info.Env());
  nlwip_addr_t a = ArgLwipAddr(info, 1);
  return Result(info.Env(), nlwip_bind(s, ArgId(info), &a), "bind");
}

Napi::Value LwipStack::Connect(const Napi::CallbackInfo& info) {
  nlwip_stack_t* s = Live(info.Env());
  nlwip_addr_t a = ArgLwipAddr(info, 1);
  return Result(info.Env(), nlwip_connect(s, ArgId(info), &a), "connect");
}

Napi::Value LwipStack::Listen(const Napi::CallbackInfo& info) {
  nlwip_stack_t* s = Live(info.Env());
  return Result(info.Env(), nlwip_listen(s, ArgId(info), static_cast<int>(ArgUint32(info, 1, "backlog"))), "listen");
}

// accept(id, peerOut) -> new id, or -EAGAIN.
Napi::Value LwipStack::Accept(const Napi::CallbackInfo& info) {
  nlwip_stack_t* s = Live(info.Env());
  nlwip_addr_t* peer = ArgLwipAddrOut(info, 1);
  return Result(info.Env(), nlwip_accept(s, ArgId(info), peer), "accept", true);
}

// send(id, data[, address, port]) -> bytes taken.
Napi::Value LwipStack::Send(const Napi::CallbackInfo& info) {
  nlwip_stack_t* s = Live(info.Env());
  ByteSpan data = ArgBytes(info, 1, "data");
  int r;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    nlwip_addr_t to = ArgLwipAddr(info, 2);
    r = nlwip_send(s, ArgId(info), data.data, data.length, &to);
  } else {
    r = nlwip_send(s, ArgId(info), data.data, data.length, nullptr);
  }
  return Result(info.Env(), r, "send");
}

// recv(id, into, fromOut) -> bytes (TCP: 0 = end of stream), or -EAGAIN.
Napi::Value LwipStack::Recv(const Napi::CallbackInfo& info) {
  nlwip_stack_t* s = Live(info.Env());
  ByteSpan into = ArgBytes(info, 1, "into");
  nlwip_addr_t* from = ArgLwipAddrOut(info, 2);
  return Result(info.Env(), nlwip_recv(s, ArgId(info), into.data, into.length, from), "recv", true);
}

// recvBatch(id, data, offsets, lengths, addrsOut, max, pendingOut) -> datagrams.
Napi::Value LwipStack::RecvBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nlwip_stack_t* s = Live(env);
  ByteSpan data = ArgBytes(info, 1, "data");
  for (size_t k : {2, 3, 6}) {
    if (!info[k].IsTypedArray() || info[k].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
      throw Napi::TypeError::New(env, "offsets, lengths and pending must be Uint32Arrays");
  }
  Napi::Uint32Array offsets = info[2].As<Napi::Uint32Array>();
  Napi::Uint32Array lengths = info[3].As<Napi::Uint32Array>();
  Napi::Uint32Array pending = info[6].As<Napi::Uint32Array>();
  uint32_t max = ArgUint32(info, 5, "max");
  if (max > offsets.ElementLength() || max > lengths.ElementLength() || pending.ElementLength() < 1)
    throw Napi::RangeError::New(env, "\"max\" is larger than the lists");
  nlwip_addr_t* from = ArgLwipAddrOut(info, 4, max);
  int r = nlwip_recv_batch(s, ArgId(info), data.data, data.length, offsets.Data(), lengths.Data(), from, max,
                           pending.Data());
  return Result(env, r, "recvBatch");
}

Napi::Value LwipStack::Shutdown(const Napi::CallbackInfo& info) {
  nlwip_stack_t* s = Live(info.Env());
  return Result(info.Env(), nlwip_shutdown(s, ArgId(info), static_cast<int>(ArgUint32(info, 1, "how"))), "shutdown");
}

Napi::Value LwipStack::CloseSocket(const Napi::CallbackInfo& info) {
  nlwip_stack_t* s = Live(info.Env());
  return Result(info.Env(), nlwip_close(s, ArgId(info)), "close");
}

// sockname(id, peer, out)
Napi::Value LwipStack::SockName(const Napi::CallbackInfo& info) {
  nlwip_stack_t* s = Live(info.Env());
  bool peer = info[1].ToBoolean().Value();
  nlwip_addr_t* out = ArgLwipAddrOut(info, 2);
  return Result(info.Env(), nlwip_sockname(s, ArgId(info), peer ? 1 : 0, out), peer ? "getpeername" : "getsockname");
}

// sockError(id) -> the pending error's errno name, or 0; reading clears it.
Napi::Value LwipStack::SockError(const Napi::CallbackInfo& info) {
  nlwip_stack_t* s = Live(info.Env());
  int r = nlwip_sock_error(s, ArgId(info));
  if (r == -EBADF) ThrowErrno(info.Env(), EBADF, "getsockopt");
  if (r == 0) return Napi::Number::New(info.Env(), 0);
  return Napi::String::New(info.Env(), ErrnoName(-r));
}

Napi::Value LwipStack::GetOpt(const Napi::CallbackInfo& info) {
  nlwip_stack_t* s = Live(info.Env());
  return Result(info.Env(), nlwip_getopt(s, ArgId(info), static_cast<int>(ArgUint32(info, 1, "option"))), "getsockopt");
}

Napi::Value LwipStack::SetOpt(const Napi::CallbackInfo& info) {
  nlwip_stack_t* s = Live(info.Env());
  int r = nlwip_setopt(s, ArgId(info), static_cast<int>(ArgUint32(info, 1, "option")),
                       ArgInt32Or(info, 2, "value", 0));
  return Result(info.Env(), r, "setsockopt");
}

}  // namespace nmemif
