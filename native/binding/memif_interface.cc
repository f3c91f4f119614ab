#include "memif_interface.h"

#include <string>

#include "util.h"

namespace nmemif {

namespace {

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

const napi_type_tag kInterfaceTag = {0x6e6d656d69666966ull, 0x61636500deadbeefull};

}  // namespace

Napi::Function MemifInterface::Define(Napi::Env env) {
  return DefineClass(env, "MemifInterface",
                     {
                         InstanceMethod<&MemifInterface::Regions>("regions"),
                         InstanceMethod<&MemifInterface::Details>("details"),
                         InstanceMethod<&MemifInterface::RingDetails>("ringDetails"),
                         InstanceMethod<&MemifInterface::Stats>("stats"),
                         InstanceMethod<&MemifInterface::SetRxMode>("setRxMode"),
                         InstanceMethod<&MemifInterface::Disconnect>("disconnect"),
                         InstanceMethod<&MemifInterface::Destroy>("destroy"),
                         InstanceAccessor<&MemifInterface::GetHandle>("handle"),
                         InstanceAccessor<&MemifInterface::GetConnected>("connected"),
                     });
}

MemifInterface::MemifInterface(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MemifInterface>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[1].IsObject()) throw Napi::TypeError::New(env, "expected (socket, options)");
  sock_ = MemifSocket::Unwrap(info[0].As<Napi::Object>());
  if (!sock_ || !sock_->Raw()) throw Napi::Error::New(env, "socket is closed");
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
  a.on_connect_error = &MemifInterface::OnConnectError;
  a.user = this;
  int r = nmif_if_create(sock_->Raw(), &iface_, &a);
  sock_->RethrowPending(env);
  if (r < 0) ThrowNmif(env, r, "nmif_if_create");
  sock_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
  handle_ = sock_->Adopt(this);
  napi_type_tag_object(env, info.This(), &kInterfaceTag);
  Ref();  // until destroy() or the socket's close()
}

// Only reached after destroy() or the socket's close(): a live interface references itself.
MemifInterface::~MemifInterface() = default;

void MemifInterface::Orphan() {
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
  if (self->sock_) self->sock_->Push({kEventConnect, self->handle_, 0, std::string(), 0});
}

void MemifInterface::OnDisconnect(nmif_if_t* i, const char* reason, void* user) {
  MemifInterface* self = static_cast<MemifInterface*>(user);
  // Before libmemif unmaps (its leases are closed already): views become empty.
  if (self->sock_ && self->sock_->EnvGone()) return;
  self->DetachRegions();
  nmif_details_t d;
  nmif_if_details(i, &d);
  if (self->sock_) self->sock_->Push({kEventDisconnect, self->handle_, 0, reason ? reason : "", d.last_down_cause});
}

void MemifInterface::OnRx(nmif_if_t*, uint16_t qid, void* user) {
  MemifInterface* self = static_cast<MemifInterface*>(user);
  if (self->sock_) self->sock_->Push({kEventRx, self->handle_, qid, std::string(), 0});
}

void MemifInterface::OnConnectError(nmif_if_t*, int err, void* user) {
  MemifInterface* self = static_cast<MemifInterface*>(user);
  if (self->sock_) self->sock_->Push({kEventConnectError, self->handle_, 0, nmif_strerror(err), static_cast<uint32_t>(-err)});
}

nmif_if_t* MemifInterface::Live(Napi::Env env) {
  if (!iface_) throw Napi::Error::New(env, "interface is closed");
  return iface_;
}

Napi::Value MemifInterface::Regions(const Napi::CallbackInfo& info) {
  Live(info.Env());
  return RegionsArray(info.Env());
}

Napi::Array MemifInterface::RegionsArray(Napi::Env env) {
  nmif_if_t* i = iface_;
  if (regions_.empty() && i && nmif_if_is_connected(i)) {
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
  o.Set("lastDownCause", d.last_down_cause);
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

// The MemifInterface behind a JS value (checked by its type tag), for the classes built on one.
MemifInterface* MemifInterface::From(Napi::Env env, Napi::Value v) {
  bool ok = false;
  if (v.IsObject() && napi_check_object_type_tag(env, v, &kInterfaceTag, &ok) == napi_ok && ok)
    return MemifInterface::Unwrap(v.As<Napi::Object>());
  throw Napi::TypeError::New(env, "expected a MemifInterface");
}

void MemifInterface::RethrowPending(Napi::Env env) {
  if (sock_) sock_->RethrowPending(env);
}

void MemifInterface::HandleViolation(Napi::Env env) {
  if (!iface_) return;
  nmif_if_handle_violation(iface_);
  sock_->RethrowPending(env);
}

Napi::Value MemifInterface::GetHandle(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), handle_); }

Napi::Value MemifInterface::GetConnected(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), iface_ && nmif_if_is_connected(iface_));
}

}  // namespace nmemif
