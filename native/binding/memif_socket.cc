#include "memif_socket.h"

#include <sys/epoll.h>

#include <cstring>
#include <utility>

#include "memif_interface.h"
#include "util.h"

namespace nmemif {

Napi::Function MemifSocket::Define(Napi::Env env) {
  return DefineClass(env, "MemifSocket",
                     {
                         InstanceMethod<&MemifSocket::FdReady>("fdReady"),
                         InstanceMethod<&MemifSocket::TakeEvents>("takeEvents"),
                         InstanceMethod<&MemifSocket::Close>("close"),
                         InstanceAccessor<&MemifSocket::GetPath>("path"),
                         InstanceAccessor<&MemifSocket::GetListenerFd>("listenerFd"),
                     });
}

MemifSocket::MemifSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MemifSocket>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  fd_update_ = Napi::Persistent(ArgFunction(info, 1, "fdUpdate"));
  std::string path = OptString(o, "path");
  std::string app = OptString(o, "appName");
  nmif_socket_args_t a{};
  a.path = path.c_str();
  a.app_name = app.empty() ? nullptr : app.c_str();
  a.fd_update = &MemifSocket::OnFdUpdate;
  a.fd_update_ctx = this;
  a.reconnect_min_ms = OptUint32(o, "reconnectMinMs", 0, 3600000);
  a.reconnect_max_ms = OptUint32(o, "reconnectMaxMs", 0, 3600000);
  a.handshake_timeout_ms = OptUint32(o, "handshakeTimeoutMs", 0, 3600000);
  a.allow_unsealed_regions = OptBool(o, "allowUnsealedRegions");
  // The engine's epoll watches rx eventfds edge-triggered (OnFdUpdate): an interrupt then costs
  // no read of the eventfd.
  a.irq_edge_triggered = 1;
  int r = nmif_socket_create(&sock_, &a);
  RethrowPending(env);
  if (r < 0) ThrowNmif(env, r, "nmif_socket_create");
  env_ = env;
  napi_add_env_cleanup_hook(env, &MemifSocket::OnEnvCleanup, this);
  Ref();  // until close()
}

void MemifSocket::OnEnvCleanup(void* arg) {
  MemifSocket* self = static_cast<MemifSocket*>(arg);
  self->env_gone_ = true;
  self->Shutdown();
}

// Destroys the C socket (its leases close first) and orphans its interfaces.
void MemifSocket::Shutdown() {
  nmif_socket_t* s = sock_;
  sock_ = nullptr;
  std::vector<MemifInterface*> orphans;
  orphans.swap(ifaces_);
  if (s) nmif_socket_destroy(s);
  for (MemifInterface* i : orphans) i->Orphan();
}

// Only reached after close(): a live socket references itself.
MemifSocket::~MemifSocket() = default;

int MemifSocket::OnFdUpdate(int fd, nmif_fd_op_t op, uint32_t events, void* token, void* ctx) {
  MemifSocket* self = static_cast<MemifSocket*>(ctx);
  uint32_t id;
  if (op == NMIF_FD_ADD) {
    id = self->next_token_++;
    if (self->next_token_ == 0) self->next_token_ = 1;
    self->tokens_[id] = token;
    self->token_ids_[token] = id;
  } else {
    auto it = self->token_ids_.find(token);
    if (it == self->token_ids_.end()) return -ENOENT;
    id = it->second;
    if (op == NMIF_FD_DEL) {
      self->token_ids_.erase(it);
      self->tokens_.erase(id);
    }
  }
  if (self->env_gone_ || self->fd_update_.IsEmpty()) return 0;  // no JS any more: nothing to tell
  Napi::Env env = self->fd_update_.Env();
  try {
    Napi::HandleScope scope(env);
    self->fd_update_.Call({Napi::Number::New(env, fd), Napi::Number::New(env, op),
                           Napi::Number::New(env, nmif_events_to_epoll(events) | (events & NMIF_EV_EDGE ? EPOLLET : 0u)),
                           Napi::Number::New(env, id)});
  } catch (const Napi::Error& e) {
    // Never unwind through C frames: keep the first error and rethrow after the C call.
    if (!self->has_pending_) {
      self->pending_ = e;
      self->has_pending_ = true;
    }
    return -EIO;
  }
  return 0;
}

void MemifSocket::RethrowPending(Napi::Env env) {
  if (!has_pending_) return;
  has_pending_ = false;
  Napi::Error e = std::move(pending_);
  throw e;
}

uint32_t MemifSocket::Adopt(MemifInterface* iface) {
  ifaces_.push_back(iface);
  return next_iface_++;
}

void MemifSocket::Forget(MemifInterface* iface) {
  for (auto it = ifaces_.begin(); it != ifaces_.end(); ++it) {
    if (*it == iface) {
      ifaces_.erase(it);
      return;
    }
  }
}

Napi::Value MemifSocket::EventsArray(Napi::Env env) {
  Napi::Array out = Napi::Array::New(env, events_.size());
  for (size_t k = 0; k < events_.size(); k++) {
    const LinkEvent& ev = events_[k];
    Napi::Array e = Napi::Array::New(env, 5);
    e.Set(0u, ev.kind);
    e.Set(1u, ev.iface);
    e.Set(2u, ev.qid);
    e.Set(3u, ev.reason);
    e.Set(4u, ev.cause);
    out.Set(k, e);
  }
  events_.clear();
  return out;
}

Napi::Value MemifSocket::FdReady(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = ArgUint32(info, 0, "token");
  uint32_t revents = nmif_events_from_epoll(ArgUint32(info, 1, "revents"));
  if (sock_) {
    auto it = tokens_.find(id);
    if (it != tokens_.end()) nmif_fd_ready(it->second, revents);  // stale tokens are ignored
    RethrowPending(env);
  }
  return EventsArray(env);
}

Napi::Value MemifSocket::TakeEvents(const Napi::CallbackInfo& info) { return EventsArray(info.Env()); }

Napi::Value MemifSocket::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (sock_) {
    // Interfaces go down (events queued, regions detached), then lose their C object.
    napi_remove_env_cleanup_hook(env_, &MemifSocket::OnEnvCleanup, this);
    Shutdown();
    Unref();
    RethrowPending(env);
  }
  return EventsArray(env);
}

Napi::Value MemifSocket::GetPath(const Napi::CallbackInfo& info) {
  return sock_ ? Napi::String::New(info.Env(), nmif_socket_path(sock_)) : info.Env().Null();
}

Napi::Value MemifSocket::GetListenerFd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), sock_ ? nmif_socket_listener_fd(sock_) : -1);
}

}  // namespace nmemif
