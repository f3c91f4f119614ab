#include "util.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "nmemif.h"

namespace nmemif {

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);  // glibc >= 2.32
  if (name != nullptr) return name;
  static thread_local char buf[16];
  std::snprintf(buf, sizeof buf, "E%d", err);
  return buf;
}

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall) {
  const char* code = ErrnoName(err);
  char text[128];
  const char* desc = strerror_r(err, text, sizeof text);  // GNU variant returns the string
  std::string message = std::string(code) + ": " + desc + ", " + syscall;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall) {
  throw ErrnoError(env, err, syscall);
}

namespace {

[[noreturn]] void ThrowType(Napi::Env env, const char* name, const char* what) {
  throw Napi::TypeError::New(env, std::string("\"") + name + "\" must be " + what);
}

[[noreturn]] void ThrowRange(Napi::Env env, const char* name, const char* what) {
  throw Napi::RangeError::New(env, std::string("\"") + name + "\" must be " + what);
}

double ArgInteger(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) ThrowType(info.Env(), name, "a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || std::trunc(v) != v) ThrowRange(info.Env(), name, "an integer");
  return v;
}

}  // namespace

int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* name) {
  double v = ArgInteger(info, i, name);
  if (v < 0 || v > INT32_MAX) ThrowRange(info.Env(), name, "a file descriptor (integer >= 0)");
  return static_cast<int>(v);
}

uint32_t ArgUint32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  double v = ArgInteger(info, i, name);
  // Bit masks built with `|` in JS come out negative when bit 31 is set: accept int32 too.
  if (v < INT32_MIN || v > UINT32_MAX) ThrowRange(info.Env(), name, "a 32-bit integer");
  return static_cast<uint32_t>(static_cast<int64_t>(v));
}

uint32_t ArgUint32Or(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t dflt) {
  if (info[i].IsUndefined()) return dflt;
  return ArgUint32(info, i, name);
}

int32_t ArgInt32Or(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t dflt) {
  if (info[i].IsUndefined()) return dflt;
  double v = ArgInteger(info, i, name);
  if (v < INT32_MIN || v > INT32_MAX) ThrowRange(info.Env(), name, "a 32-bit signed integer");
  return static_cast<int32_t>(v);
}

uint64_t ArgUint64Or(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t dflt) {
  if (info[i].IsUndefined()) return dflt;
  if (info[i].IsBigInt()) {
    bool lossless = false;
    uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) ThrowRange(info.Env(), name, "a bigint in [0, 2^64)");
    return v;
  }
  double v = ArgInteger(info, i, name);
  if (v < 0 || v > 9007199254740991.0) ThrowRange(info.Env(), name, "a safe integer >= 0");
  return static_cast<uint64_t>(v);
}

Napi::Function ArgFunction(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsFunction()) ThrowType(info.Env(), name, "a function");
  return info[i].As<Napi::Function>();
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsString()) ThrowType(info.Env(), name, "a string");
  return info[i].As<Napi::String>().Utf8Value();
}

ByteSpan ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsTypedArray() && !info[i].IsDataView()) {
    ThrowType(info.Env(), name, "a Uint8Array or another ArrayBufferView");
  }
  napi_env env = info.Env();
  void* data = nullptr;
  size_t length = 0;
  if (info[i].IsTypedArray()) {
    Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
    data = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    length = ta.ByteLength();
  } else {
    napi_status st = napi_get_dataview_info(env, info[i], &length, &data, nullptr, nullptr);
    NAPI_THROW_IF_FAILED(env, st, ByteSpan{});
  }
  return ByteSpan{static_cast<uint8_t*>(data), length};
}

}  // namespace nmemif

namespace nmemif {

uint32_t ReqUint32(Napi::Object o, const char* key, uint32_t max) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("\"") + key + "\" must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= max) || d != static_cast<double>(static_cast<uint64_t>(d)))
    throw Napi::RangeError::New(o.Env(), std::string("\"") + key + "\" must be an integer in 0.." + std::to_string(max));
  return static_cast<uint32_t>(d);
}

uint32_t OptUint32(Napi::Object o, const char* key, uint32_t dflt, uint32_t max) {
  return o.Get(key).IsUndefined() ? dflt : ReqUint32(o, key, max);
}

uint16_t ArgU16(const Napi::CallbackInfo& info, size_t i, const char* name) {
  uint32_t v = ArgUint32(info, i, name);
  if (v > 0xffff) ThrowRange(info.Env(), name, "below 65536");
  return static_cast<uint16_t>(v);
}

std::string OptString(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::string();
  if (!v.IsString()) ThrowType(o.Env(), key, "a string");
  return v.As<Napi::String>().Utf8Value();
}

bool OptBool(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  return !v.IsUndefined() && v.ToBoolean().Value();
}

void ThrowNmif(Napi::Env env, int err, const char* what) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + nmif_strerror(err));
  e.Set("code", Napi::String::New(env, nmif_err_name(err)));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, what));
  throw e;
}

}  // namespace nmemif
