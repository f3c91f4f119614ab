#include "memif_socket.h"

#include <cstring>
#include <utility>

#include "burst_args.h"
#include "util.h"

namespace nmemif {

namespace {

// Errors from libmemif: code = its stable name ("EADDRINUSE"), message = its own text.
[[noreturn]] void ThrowNmif(Napi::Env env, int err, const char* what) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + nmif_strerror(err));
  e.Set("code", Napi::String::New(env, nmif_err_name(err)));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, what));
  throw e;
}


std::string OptString(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::string();
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string("\"") + key + "\" must be a string");
  return v.As<Napi::String>().Utf8Value();
}

bool OptBool(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  return !v.IsUndefined() && v.ToBoolean().Value();
}

uint16_t ArgU16(const Napi::CallbackInfo& info, size_t i, const char* name) {
  uint32_t v = ArgUint32(info, i, name);
  if (v > 0xffff) throw Napi::RangeError::New(info.Env(), std::string("\"") + name + "\" must be below 65536");
  return static_cast<uint16_t>(v);
}

Napi::Object StatsObject(Napi::Env env, const nmif_stats_t* s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("packets", static_cast<double>(s->packets));
  o.Set("bytes", static_cast<double>(s->bytes));
  o.Set("ringFull", static_cast<double>(s->ring_full));
  o.Set("dropBadDesc", static_cast<double>(s->drop_bad_desc));
  o.Set("dropTooBig", static_cast<double>(s->drop_too_big));
  o.Set("bursts", static_cast<double>(s->bursts));
  o.Set("irqSent", static_cast<double>(s->irq_sent));
  o.Set("irqReceived", static_cast<double>(s->irq_received));
  return o;
}

}  // namespace

// ---- MemifSocket ----------------------------------------------------------------------------

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

// Destroys the C socket and orphans its interfaces (shared queues are revoked first).
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
    self->fd_update_.Call({Napi::Number::New(env, fd), Napi::Number::New(env, op), Napi::Number::New(env, events),
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
    Napi::Array e = Napi::Array::New(env, 4);
    e.Set(0u, ev.kind);
    e.Set(1u, ev.iface);
    e.Set(2u, ev.qid);
    e.Set(3u, ev.reason);
    out.Set(k, e);
  }
  events_.clear();
  return out;
}

Napi::Value MemifSocket::FdReady(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = ArgUint32(info, 0, "token");
  uint32_t revents = ArgUint32(info, 1, "revents");
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

// ---- MemifInterface --------------------------------------------------------------------------

Napi::Function MemifInterface::Define(Napi::Env env) {
  return DefineClass(env, "MemifInterface",
                     {
                         InstanceMethod<&MemifInterface::RxBurst>("rxBurst"),
                         InstanceMethod<&MemifInterface::RxRelease>("rxRelease"),
                         InstanceMethod<&MemifInterface::TxAlloc>("txAlloc"),
                         InstanceMethod<&MemifInterface::TxBurst>("txBurst"),
                         InstanceMethod<&MemifInterface::TxSwap>("txSwap"),
                         InstanceMethod<&MemifInterface::TxCopy>("txCopy"),
                         InstanceMethod<&MemifInterface::Regions>("regions"),
                         InstanceMethod<&MemifInterface::Details>("details"),
                         InstanceMethod<&MemifInterface::RingDetails>("ringDetails"),
                         InstanceMethod<&MemifInterface::Stats>("stats"),
                         InstanceMethod<&MemifInterface::SetRxMode>("setRxMode"),
                         InstanceMethod<&MemifInterface::RxQueueFd>("rxQueueFd"),
                         InstanceMethod<&MemifInterface::Disconnect>("disconnect"),
                         InstanceMethod<&MemifInterface::Destroy>("destroy"),
                         InstanceMethod<&MemifInterface::ShareQueue>("shareQueue"),
                         InstanceMethod<&MemifInterface::UnshareQueue>("unshareQueue"),
                         InstanceAccessor<&MemifInterface::GetHandle>("handle"),
                         InstanceAccessor<&MemifInterface::GetConnected>("connected"),
                     });
}

MemifInterface::MemifInterface(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MemifInterface>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[1].IsObject()) throw Napi::TypeError::New(env, "expected (socket, options)");
  sock_ = MemifSocket::Unwrap(info[0].As<Napi::Object>());
  if (!sock_ || !sock_->sock_) throw Napi::Error::New(env, "socket is closed");
  Napi::Object o = info[1].As<Napi::Object>();
  std::string name = OptString(o, "name");
  std::string secret = OptString(o, "secret");
  nmif_if_args_t a{};
  a.id = OptUint32(o, "id", 0, 0xffffffffu);
  a.is_master = OptBool(o, "isMaster");
  a.mode = static_cast<uint8_t>(OptUint32(o, "mode", 0, 255));
  a.if_name = name.empty() ? nullptr : name.c_str();
  a.secret = secret.empty() ? nullptr : secret.c_str();
  a.rx_queues = static_cast<uint16_t>(OptUint32(o, "rxQueues", 1, 65535));
  a.tx_queues = static_cast<uint16_t>(OptUint32(o, "txQueues", 1, 65535));
  a.log2_ring_size = static_cast<uint8_t>(OptUint32(o, "log2RingSize", 10, 255));
  a.buffer_size = OptUint32(o, "bufferSize", 2048, 0xffffffffu);
  a.on_connect = &MemifInterface::OnConnect;
  a.on_disconnect = &MemifInterface::OnDisconnect;
  a.on_rx = OptBool(o, "interrupts") ? &MemifInterface::OnRx : nullptr;
  a.user = this;
  handle_ = sock_->next_iface_++;
  int r = nmif_if_create(sock_->sock_, &iface_, &a);
  sock_->RethrowPending(env);
  if (r < 0) ThrowNmif(env, r, "nmif_if_create");
  sock_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
  sock_->ifaces_.push_back(this);
  Ref();  // until destroy() or the socket's close()
}

// Only reached after destroy() or the socket's close(): a live interface references itself.
MemifInterface::~MemifInterface() = default;

void MemifInterface::UnshareAll() {
  for (auto& q : shared_) nmemif::UnshareQueue(q);
  shared_.clear();
}

void MemifInterface::Orphan() {
  UnshareAll();
  iface_ = nullptr;
  if (sock_ && sock_->EnvGone()) return;  // references die with the environment
  DetachRegions();
  sock_ref_.Reset();
  Unref();
}

void MemifInterface::DetachRegions() {
  for (auto& ref : regions_) {
    if (!ref.IsEmpty()) {
      Napi::ArrayBuffer ab = ref.Value();
      if (!ab.IsDetached()) ab.Detach();
    }
  }
  regions_.clear();
}

void MemifInterface::OnConnect(nmif_if_t*, void* user) {
  MemifInterface* self = static_cast<MemifInterface*>(user);
  for (auto& q : self->shared_) q->Publish();
  if (self->sock_) self->sock_->Push({kEventConnect, self->handle_, 0, std::string()});
}

void MemifInterface::OnDisconnect(nmif_if_t*, const char* reason, void* user) {
  MemifInterface* self = static_cast<MemifInterface*>(user);
  // Before libmemif unmaps: workers finish their burst and stop, views become empty.
  for (auto& q : self->shared_) q->Revoke();
  if (self->sock_ && self->sock_->EnvGone()) return;
  self->DetachRegions();
  if (self->sock_) self->sock_->Push({kEventDisconnect, self->handle_, 0, reason ? reason : ""});
}

void MemifInterface::OnRx(nmif_if_t*, uint16_t qid, void* user) {
  MemifInterface* self = static_cast<MemifInterface*>(user);
  if (self->sock_) self->sock_->Push({kEventRx, self->handle_, qid, std::string()});
}

nmif_if_t* MemifInterface::Live(Napi::Env env) {
  if (!iface_) throw Napi::Error::New(env, "interface is closed");
  return iface_;
}

Napi::Value MemifInterface::RxBurst(const Napi::CallbackInfo& info) {
  nmif_if_t* i = Live(info.Env());
  uint16_t qid = ArgU16(info, 0, "qid");
  uint16_t max = ArgU16(info, 2, "max");
  nmif_buf_t* b = ArgBatch(info, 1, max);
  return Napi::Number::New(info.Env(), nmif_rx_burst(i, qid, b, max));
}

Napi::Value MemifInterface::RxRelease(const Napi::CallbackInfo& info) {
  nmif_if_t* i = Live(info.Env());
  return Napi::Number::New(info.Env(), nmif_rx_release(i, ArgU16(info, 0, "qid"), ArgU16(info, 1, "count")));
}

Napi::Value MemifInterface::TxAlloc(const Napi::CallbackInfo& info) {
  nmif_if_t* i = Live(info.Env());
  uint16_t qid = ArgU16(info, 0, "qid");
  uint16_t max = ArgU16(info, 2, "max");
  nmif_buf_t* b = ArgBatch(info, 1, max);
  return Napi::Number::New(info.Env(), nmif_tx_alloc(i, qid, b, max));
}

Napi::Value MemifInterface::TxBurst(const Napi::CallbackInfo& info) {
  nmif_if_t* i = Live(info.Env());
  uint16_t qid = ArgU16(info, 0, "qid");
  uint16_t count = ArgU16(info, 2, "count");
  nmif_buf_t* b = ArgBatch(info, 1, count);
  return Napi::Number::New(info.Env(), nmif_tx_burst(i, qid, b, count));
}

Napi::Value MemifInterface::TxSwap(const Napi::CallbackInfo& info) {
  nmif_if_t* i = Live(info.Env());
  uint16_t rxq = ArgU16(info, 0, "rxQid");
  uint16_t txq = ArgU16(info, 1, "txQid");
  uint16_t count = ArgU16(info, 3, "count");
  nmif_buf_t* b = ArgBatch(info, 2, count);
  return Napi::Number::New(info.Env(), nmif_tx_swap(i, rxq, txq, b, count));
}

Napi::Value MemifInterface::TxCopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nmif_if_t* i = Live(env);
  uint16_t qid = ArgU16(info, 0, "qid");
  PacketList list = ArgPackets(info, 1);
  return Napi::Number::New(env, nmif_tx_copy(i, qid, list.ptrs, list.lens, list.count));
}

Napi::Value MemifInterface::Regions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nmif_if_t* i = Live(env);
  if (regions_.empty() && nmif_if_is_connected(i)) {
    for (uint16_t r = 0;; r++) {
      uint64_t size = 0;
      void* base = nmif_region_base(i, r, &size);
      if (!base) break;
      regions_.push_back(Napi::Persistent(Napi::ArrayBuffer::New(env, base, size)));
    }
  }
  Napi::Array out = Napi::Array::New(env, regions_.size());
  for (size_t k = 0; k < regions_.size(); k++) out.Set(k, regions_[k].Value());
  return out;
}

Napi::Value MemifInterface::Details(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nmif_details_t d;
  nmif_if_details(Live(env), &d);
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", d.id);
  o.Set("role", d.is_master ? "master" : "slave");
  o.Set("connected", d.connected != 0);
  o.Set("mode", d.mode);
  o.Set("log2RingSize", d.log2_ring_size);
  o.Set("rxQueues", d.rx_queues);
  o.Set("txQueues", d.tx_queues);
  o.Set("bufferSize", d.buffer_size);
  Napi::Array sizes = Napi::Array::New(env);
  for (uint32_t k = 0; k < d.regions && k < 4; k++) sizes.Set(k, static_cast<double>(d.region_size[k]));
  o.Set("regionSizes", sizes);
  o.Set("name", d.if_name);
  o.Set("peerName", d.peer_if_name);
  o.Set("peerAppName", d.peer_app_name);
  o.Set("socketPath", d.socket_path);
  o.Set("lastDisconnectReason", d.last_disconnect_reason);
  return o;
}

Napi::Value MemifInterface::RingDetails(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nmif_ring_details_t r;
  int err = nmif_ring_details(Live(env), info[0].ToBoolean().Value() ? 1 : 0, ArgU16(info, 1, "qid"), &r);
  if (err < 0) ThrowNmif(env, err, "nmif_ring_details");
  Napi::Object o = Napi::Object::New(env);
  o.Set("head", r.head);
  o.Set("tail", r.tail);
  o.Set("flags", r.flags);
  o.Set("size", r.size);
  o.Set("region", r.region);
  o.Set("offset", r.offset);
  o.Set("irqFd", r.irq_fd);
  return o;
}

Napi::Value MemifInterface::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nmif_if_t* i = Live(env);
  Napi::Object o = Napi::Object::New(env);
  for (int tx = 0; tx < 2; tx++) {
    Napi::Array a = Napi::Array::New(env);
    for (uint16_t q = 0;; q++) {
      const nmif_stats_t* s = nmif_stats(i, tx, q);
      if (!s) break;
      a.Set(q, StatsObject(env, s));
    }
    o.Set(tx ? "tx" : "rx", a);
  }
  return o;
}

Napi::Value MemifInterface::SetRxMode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int r = nmif_set_rx_mode(Live(env), ArgU16(info, 0, "qid"),
                           ArgUint32(info, 1, "mode") ? NMIF_RX_POLLING : NMIF_RX_INTERRUPT);
  sock_->RethrowPending(env);
  if (r < 0) ThrowNmif(env, r, "nmif_set_rx_mode");
  return env.Undefined();
}

Napi::Value MemifInterface::RxQueueFd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), nmif_rx_queue_fd(Live(info.Env()), ArgU16(info, 0, "qid")));
}

Napi::Value MemifInterface::Disconnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string reason = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "disconnected by application";
  int r = nmif_if_disconnect(Live(env), reason.c_str());
  sock_->RethrowPending(env);
  return Napi::Number::New(env, r);
}

Napi::Value MemifInterface::Destroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (iface_) {
    nmif_if_t* i = iface_;
    UnshareAll();
    iface_ = nullptr;
    sock_->Forget(this);
    nmif_if_destroy(i);  // may queue a disconnect event
    DetachRegions();
    MemifSocket* s = sock_;
    sock_ref_.Reset();  // s stays alive: JS still holds it while it emits the event
    Unref();
    s->RethrowPending(env);
  }
  return env.Undefined();
}

// Hands queue pair qid to another thread: returns the id a WorkerQueue attaches to. From now on
// the library no longer watches the queue's rx eventfd; the worker waits on its own dup.
Napi::Value MemifInterface::ShareQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nmif_if_t* i = Live(env);
  uint16_t qid = ArgU16(info, 0, "qid");
  for (auto& q : shared_)
    if (q->qid == qid) return Napi::Number::New(env, q->id);
  int r = nmif_set_rx_watch(i, qid, 0);
  if (r < 0) ThrowNmif(env, r, "nmif_set_rx_watch");
  auto q = nmemif::ShareQueue(i, qid);
  shared_.push_back(q);
  if (nmif_if_is_connected(i)) q->Publish();
  return Napi::Number::New(env, q->id);
}

// Takes queue pair qid back: the worker's WorkerQueue fails from now on.
Napi::Value MemifInterface::UnshareQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nmif_if_t* i = Live(env);
  uint16_t qid = ArgU16(info, 0, "qid");
  for (auto it = shared_.begin(); it != shared_.end(); ++it) {
    if ((*it)->qid == qid) {
      nmemif::UnshareQueue(*it);
      shared_.erase(it);
      nmif_set_rx_watch(i, qid, 1);
      sock_->RethrowPending(env);
      break;
    }
  }
  return env.Undefined();
}

Napi::Value MemifInterface::GetHandle(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), handle_); }

Napi::Value MemifInterface::GetConnected(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), iface_ && nmif_if_is_connected(iface_));
}

}  // namespace nmemif
