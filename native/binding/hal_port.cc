#include "hal_port.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "memif_lease.h"
#include "util.h"

namespace nmemif {

namespace {

[[noreturn]] void ThrowHal(Napi::Env env, int err, const char* what) { ThrowErrno(env, -err, what); }

}  // namespace

Napi::Function HalPort::Define(Napi::Env env) {
  return DefineClass(env, "HalPort",
                     {
                         InstanceMethod<&HalPort::Close>("close"),
                         InstanceAccessor<&HalPort::GetStats>("stats"),
                         InstanceAccessor<&HalPort::GetName>("name"),
                         InstanceAccessor<&HalPort::GetKind>("kind"),
                     });
}

HalPort::HalPort(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HalPort>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  std::string kind = o.Get("kind").ToString().Utf8Value();
  std::string name = o.Get("name").IsString() ? o.Get("name").As<Napi::String>().Utf8Value() : std::string();
  stats_ = std::make_shared<nhal_stats_t>();
  std::memset(stats_.get(), 0, sizeof(nhal_stats_t));
  int r;
  if (kind == "memif") {
    nmif_lease_t* lease = LeaseArg(env, o.Get("lease"));
    r = nhal_memif_port_create(&port_, name.empty() ? nullptr : name.c_str(), lease, stats_.get());
    if (r < 0) ThrowHal(env, r, "nhal_memif_port_create");
  } else if (kind == "dpdk") {
    r = nhal_dpdk_port_create(&port_, static_cast<uint16_t>(ReqUint32(o, "portId", 65535)),
                              static_cast<uint16_t>(ReqUint32(o, "queue", 65535)), stats_.get());
    if (r < 0) ThrowHal(env, r, "nhal_dpdk_port_create");
  } else {
    throw Napi::TypeError::New(env, "\"kind\" must be \"memif\" or \"dpdk\"");
  }
  // The counters outlive the port as long as JS holds the buffer.
  auto* hold = new std::shared_ptr<nhal_stats_t>(stats_);
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
      env, stats_.get(), sizeof(nhal_stats_t),
      [](Napi::Env, void*, std::shared_ptr<nhal_stats_t>* h) { delete h; }, hold);
  stats_ab_ = Napi::Persistent(ab);
}

HalPort::~HalPort() {
  // Garbage collection only reaches us when no worker references the port (HalWorker holds
  // JS references to the ports of its paths), so the destroy cannot fail here.
  if (port_) nhal_port_destroy(port_);
}

nhal_port_t* HalPort::Raw(Napi::Env env) const {
  if (!port_) throw Napi::Error::New(env, "port is closed");
  return port_;
}

Napi::Value HalPort::Close(const Napi::CallbackInfo& info) {
  if (port_) {
    int r = nhal_port_destroy(port_);
    if (r < 0) ThrowHal(info.Env(), r, "nhal_port_destroy");
    port_ = nullptr;
  }
  return info.Env().Undefined();
}

Napi::Value HalPort::GetStats(const Napi::CallbackInfo& info) { return stats_ab_.Value(); }
Napi::Value HalPort::GetName(const Napi::CallbackInfo& info) {
  return port_ ? Napi::String::New(info.Env(), nhal_port_name(port_)) : info.Env().Null();
}
Napi::Value HalPort::GetKind(const Napi::CallbackInfo& info) {
  return port_ ? Napi::String::New(info.Env(), nhal_port_kind(port_)) : info.Env().Null();
}

}  // namespace nmemif
