#include "hal_worker.h"

#include <string>

#include "hal_port.h"
#include "util.h"

namespace nmemif {


Napi::Function HalWorker::Define(Napi::Env env) {
  return DefineClass(env, "HalWorker",
                     {
                         InstanceMethod<&HalWorker::AddPath>("addPath"),
                         InstanceMethod<&HalWorker::DelPath>("delPath"),
                         InstanceMethod<&HalWorker::Pause>("pause"),
                         InstanceMethod<&HalWorker::Resume>("resume"),
                         InstanceMethod<&HalWorker::Stats>("stats"),
                         InstanceMethod<&HalWorker::StopJs>("stop"),
                     });
}

HalWorker::HalWorker(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HalWorker>(info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
  std::string name = o.Get("name").IsString() ? o.Get("name").As<Napi::String>().Utf8Value() : "nhal-worker";
  nhal_worker_args_t a{};
  a.name = name.c_str();
  a.burst = static_cast<uint16_t>(OptUint32(o, "burst", 64, NHAL_BURST_MAX));
  if (a.burst == 0) throw Napi::RangeError::New(env, "\"burst\" must be 1..256");
  Napi::Value cpu = o.Get("cpu");
  a.cpu = cpu.IsNumber() ? cpu.As<Napi::Number>().Int32Value() : -1;
  a.idle_sleep_us = OptUint32(o, "idleSleepUs", 0, 1000000);
  int r = nhal_worker_create(&w_, &a);
  if (r < 0) ThrowErrno(env, -r, "nhal_worker_create");
  env_ = env;
  napi_add_env_cleanup_hook(env, &HalWorker::OnEnvCleanup, this);
}

HalWorker::~HalWorker() {
  if (w_) {
    napi_remove_env_cleanup_hook(env_, &HalWorker::OnEnvCleanup, this);
    Stop();
  }
}

void HalWorker::OnEnvCleanup(void* arg) {
  HalWorker* self = static_cast<HalWorker*>(arg);
  if (self->w_) {
    nhal_worker_destroy(self->w_);  // join before anything it reads goes away
    self->w_ = nullptr;
  }
}

void HalWorker::Stop() {
  if (!w_) return;
  nhal_worker_destroy(w_);
  w_ = nullptr;
  paths_.clear();
}

Napi::Value HalWorker::AddPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!w_) throw Napi::Error::New(env, "worker is stopped");
  if (!info[0].IsObject() || !info[1].IsObject()) throw Napi::TypeError::New(env, "expected (srcPort, dstPort)");
  HalPort* s = HalPort::Unwrap(info[0].As<Napi::Object>());
  HalPort* d = HalPort::Unwrap(info[1].As<Napi::Object>());
  nhal_port_t* sp = s->Raw(env);
  nhal_port_t* dp = d->Raw(env);
  int r = nhal_worker_add_path(w_, sp, dp);
  if (r < 0) ThrowErrno(env, -r, "nhal_worker_add_path");
  paths_.push_back({sp, dp, Napi::Persistent(info[0].As<Napi::Object>()), Napi::Persistent(info[1].As<Napi::Object>())});
  return env.Undefined();
}

Napi::Value HalWorker::DelPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!w_) return env.Undefined();
  nhal_port_t* sp = HalPort::Unwrap(info[0].As<Napi::Object>())->Raw(env);
  nhal_port_t* dp = HalPort::Unwrap(info[1].As<Napi::Object>())->Raw(env);
  int r = nhal_worker_del_path(w_, sp, dp);
  if (r < 0) ThrowErrno(env, -r, "nhal_worker_del_path");
  for (auto it = paths_.begin(); it != paths_.end(); ++it) {
    if (it->src == sp && it->dst == dp) {
      paths_.erase(it);
      break;
    }
  }
  return env.Undefined();
}

Napi::Value HalWorker::Pause(const Napi::CallbackInfo& info) {
  if (w_) {
    int r = nhal_worker_pause(w_);
    if (r < 0) ThrowErrno(info.Env(), -r, "nhal_worker_pause");
  }
  return info.Env().Undefined();
}

Napi::Value HalWorker::Resume(const Napi::CallbackInfo& info) {
  if (w_) {
    int r = nhal_worker_resume(w_);
    if (r < 0) ThrowErrno(info.Env(), -r, "nhal_worker_resume");
  }
  return info.Env().Undefined();
}

Napi::Value HalWorker::Stats(const Napi::CallbackInfo& info) {
  Napi::Float64Array out = Napi::Float64Array::New(info.Env(), NHAL_WS_COUNT);
  if (w_) {
    const uint64_t* s = nhal_worker_stats(w_);
    for (int k = 0; k < NHAL_WS_COUNT; k++) out[k] = static_cast<double>(__atomic_load_n(&s[k], __ATOMIC_RELAXED));
  }
  return out;
}

Napi::Value HalWorker::StopJs(const Napi::CallbackInfo& info) {
  if (w_) {
    napi_remove_env_cleanup_hook(env_, &HalWorker::OnEnvCleanup, this);
    Stop();
  }
  return info.Env().Undefined();
}

}  // namespace nmemif
