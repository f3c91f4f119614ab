#include "lwip_stack.h"

#include "lwip_netif.h"
#include "util.h"

namespace nmemif {

Napi::Function LwipStack::Define(Napi::Env env) {
  return DefineClass(env, "LwipStack",
                     {
                         InstanceAccessor<&LwipStack::GetWakeFd>("wakeFd"),
                         InstanceAccessor<&LwipStack::GetReadiness>("readiness"),
                         InstanceAccessor<&LwipStack::GetShared>("shared"),
                         InstanceMethod<&LwipStack::TakeChanged>("takeChanged"),
                         InstanceMethod<&LwipStack::Flush>("flush"),
                         InstanceMethod<&LwipStack::Counters>("counters"),
                         InstanceMethod<&LwipStack::Close>("close"),
                         InstanceMethod<&LwipStack::Socket>("socket"),
                         InstanceMethod<&LwipStack::Bind>("bind"),
                         InstanceMethod<&LwipStack::Connect>("connect"),
                         InstanceMethod<&LwipStack::Listen>("listen"),
                         InstanceMethod<&LwipStack::Accept>("accept"),
                         InstanceMethod<&LwipStack::Send>("send"),
                         InstanceMethod<&LwipStack::Recv>("recv"),
                         InstanceMethod<&LwipStack::RecvBatch>("recvBatch"),
                         InstanceMethod<&LwipStack::Shutdown>("shutdown"),
                         InstanceMethod<&LwipStack::CloseSocket>("closeSocket"),
                         InstanceMethod<&LwipStack::SockName>("sockname"),
                         InstanceMethod<&LwipStack::SockError>("sockError"),
                         InstanceMethod<&LwipStack::GetOpt>("getopt"),
                         InstanceMethod<&LwipStack::SetOpt>("setopt"),
                         StaticValue("built", Napi::Boolean::New(env, nlwip_built() != 0), napi_enumerable),
                         StaticValue("unavailableReason", Napi::String::New(env, nlwip_unavailable_reason()), napi_enumerable),
                         StaticValue("MAX_SOCKETS", Napi::Number::New(env, NLWIP_MAX_SOCKETS), napi_enumerable),
                     });
}

LwipStack::LwipStack(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LwipStack>(info) {
  Napi::Env env = info.Env();
  int r = nlwip_stack_create(&stack_);
  if (r < 0) ThrowErrno(env, -r, "nlwip_stack_create");
  // Views over C memory: detached before it is freed.
  readiness_ = Napi::Persistent(Napi::ArrayBuffer::New(env, const_cast<uint32_t*>(nlwip_readiness(stack_)),
                                                       NLWIP_MAX_SOCKETS * sizeof(uint32_t)));
  shared_ = Napi::Persistent(Napi::ArrayBuffer::New(env, const_cast<nlwip_shared_t*>(nlwip_shared(stack_)),
                                                    sizeof(nlwip_shared_t)));
  env_ = env;
  napi_add_env_cleanup_hook(env, &LwipStack::OnEnvCleanup, this);
  Ref();  // until close()
}

LwipStack::~LwipStack() = default;  // only reached after close(): a live stack references itself

void LwipStack::OnEnvCleanup(void* arg) {
  LwipStack* self = static_cast<LwipStack*>(arg);
  self->env_ = nullptr;  // no JavaScript any more: the views die with the environment
  self->Destroy();
}

// Orphans the netifs (their C objects go with the stack) and frees the stack.
void LwipStack::Destroy() {
  if (!stack_) return;
  std::vector<LwipNetif*> orphans;
  orphans.swap(netifs_);
  for (LwipNetif* n : orphans) n->Orphan(env_ == nullptr);
  if (env_ != nullptr) {
    for (auto* ref : {&readiness_, &shared_}) {
      Napi::ArrayBuffer ab = ref->Value();
      if (!ab.IsDetached()) ab.Detach();
      ref->Reset();
    }
  }
  nlwip_stack_destroy(stack_);
  stack_ = nullptr;
}

nlwip_stack_t* LwipStack::Live(Napi::Env env) const {
  if (!stack_) throw Napi::Error::New(env, "the lwIP stack is closed");
  return stack_;
}

Napi::Value LwipStack::GetWakeFd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), stack_ ? nlwip_wake_fd(stack_) : -1);
}

Napi::Value LwipStack::GetReadiness(const Napi::CallbackInfo& info) {
  Live(info.Env());
  return Napi::Uint32Array::New(info.Env(), NLWIP_MAX_SOCKETS, readiness_.Value(), 0);
}

Napi::Value LwipStack::GetShared(const Napi::CallbackInfo& info) {
  Live(info.Env());
  return Napi::Uint32Array::New(info.Env(), sizeof(nlwip_shared_t) / sizeof(uint32_t), shared_.Value(), 0);
}

Napi::Value LwipStack::TakeChanged(const Napi::CallbackInfo& info) {
  nlwip_stack_t* s = Live(info.Env());
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw Napi::TypeError::New(info.Env(), "\"out\" must be a Uint32Array");
  Napi::Uint32Array out = info[0].As<Napi::Uint32Array>();
  return Napi::Number::New(info.Env(), nlwip_take_changed(s, out.Data(), static_cast<uint32_t>(out.ElementLength() / 2)));
}

Napi::Value LwipStack::Flush(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), nlwip_flush(Live(info.Env())));
}

Napi::Value LwipStack::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t c[NLWIP_C_COUNT];
  nlwip_counters(Live(env), c);
  Napi::Float64Array out = Napi::Float64Array::New(env, NLWIP_C_COUNT);
  for (size_t k = 0; k < NLWIP_C_COUNT; k++) out[k] = static_cast<double>(c[k]);
  return out;
}

Napi::Value LwipStack::Close(const Napi::CallbackInfo& info) {
  if (stack_) {
    napi_remove_env_cleanup_hook(env_, &LwipStack::OnEnvCleanup, this);
    Destroy();
    Unref();
  }
  return info.Env().Undefined();
}

}  // namespace nmemif
