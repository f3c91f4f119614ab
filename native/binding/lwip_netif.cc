#include "lwip_netif.h"

#include <cstring>

#include "lwip_port.h"
#include "lwip_stack.h"
#include "util.h"

namespace nmemif {

namespace {

// Option `key`: a Uint8Array of exactly n bytes copied to out; false when absent.
bool OptBytes(Napi::Object o, const char* key, uint8_t* out, size_t n) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return false;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      v.As<Napi::Uint8Array>().ElementLength() != n)
    throw Napi::TypeError::New(o.Env(), std::string("\"") + key + "\" must be a Uint8Array of " + std::to_string(n) + " bytes");
  std::memcpy(out, v.As<Napi::Uint8Array>().Data(), n);
  return true;
}

}  // namespace

Napi::Function LwipNetif::Define(Napi::Env env, Napi::Function hal_port_ctor) {
  // The HalPort class travels as the class's data; freed with the environment.
  auto* ctor = new Napi::FunctionReference(Napi::Persistent(hal_port_ctor));
  env.AddCleanupHook([ctor]() { delete ctor; });
  return DefineClass(env, "LwipNetif",
                     {
                         InstanceAccessor<&LwipNetif::GetName>("name"),
                         InstanceMethod<&LwipNetif::Ip6>("ip6"),
                         InstanceMethod<&LwipNetif::LinkUp>("linkUp"),
                         InstanceMethod<&LwipNetif::LinkDown>("linkDown"),
                         InstanceMethod<&LwipNetif::Poll>("poll"),
                     },
                     ctor);
}

LwipNetif::LwipNetif(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LwipNetif>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[2].IsObject()) throw Napi::TypeError::New(env, "expected (stack, port, options)");
  LwipStack* stack = LwipStack::Unwrap(info[0].As<Napi::Object>());
  nlwip_stack_t* s = stack->Live(env);
  auto* hal_port_ctor = static_cast<Napi::FunctionReference*>(info.Data());
  nlwip_netif_args_t a{};
  a.port = LwipQueuePort(env, info[1], hal_port_ctor->Value());
  Napi::Object o = info[2].As<Napi::Object>();
  if (!OptBytes(o, "mac", a.mac, 6)) throw Napi::TypeError::New(env, "\"mac\" is required");
  a.mtu = static_cast<uint16_t>(OptUint32(o, "mtu", 1500, 9000));
  uint8_t ip4[12];
  if (OptBytes(o, "ip4", ip4, sizeof ip4)) {  // address, mask, gateway
    a.has_ip4 = 1;
    std::memcpy(a.ip4, ip4, 4);
    std::memcpy(a.mask4, ip4 + 4, 4);
    std::memcpy(a.gw4, ip4 + 8, 4);
  }
  a.has_ip6 = OptBytes(o, "ip6", a.ip6, 16);
  int r = nlwip_netif_add(s, &netif_, &a);
  if (r < 0) ThrowErrno(env, -r, "nlwip_netif_add");
  stack_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
  port_ref_ = Napi::Persistent(info[1].As<Napi::Object>());
  stack->Adopt(this);
  Ref();  // until the stack's close()
}

LwipNetif::~LwipNetif() = default;  // a live netif references itself

void LwipNetif::Orphan(bool env_gone) {
  if (netif_ == nullptr) return;
  netif_ = nullptr;  // freed by nlwip_stack_destroy
  if (env_gone) return;
  // Drop what kept the stack, the port and ourselves alive.
  stack_ref_.Reset();
  port_ref_.Reset();
  Unref();
}

nlwip_netif_t* LwipNetif::Live(Napi::Env env) const {
  if (!netif_) throw Napi::Error::New(env, "the lwIP netif is closed");
  return netif_;
}

Napi::Value LwipNetif::GetName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), nlwip_netif_name(Live(info.Env())));
}

Napi::Value LwipNetif::Ip6(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nlwip_netif_t* n = Live(env);
  Napi::Array out = Napi::Array::New(env);
  uint8_t a[16];
  for (int k = 0; nlwip_netif_ip6(n, k, a) == 0; k++) {
    Napi::Uint8Array bytes = Napi::Uint8Array::New(env, 16);
    std::memcpy(bytes.Data(), a, 16);
    out.Set(static_cast<uint32_t>(k), bytes);
  }
  return out;
}

Napi::Value LwipNetif::LinkUp(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), nlwip_netif_link_up(Live(info.Env())));
}

Napi::Value LwipNetif::LinkDown(const Napi::CallbackInfo& info) {
  nlwip_netif_link_down(Live(info.Env()));
  return info.Env().Undefined();
}

Napi::Value LwipNetif::Poll(const Napi::CallbackInfo& info) {
  nlwip_netif_t* n = Live(info.Env());
  int more = 0;
  int got = nlwip_netif_poll(n, ArgUint32(info, 0, "budget"), static_cast<int>(ArgUint32(info, 1, "flags")), &more);
  return Napi::Number::New(info.Env(), got * 2 + more);
}

}  // namespace nmemif
