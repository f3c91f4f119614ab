#include "burst_args.h"

namespace nmemif {

nmif_buf_t* ArgBatch(const Napi::CallbackInfo& info, size_t i, uint32_t count) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw Napi::TypeError::New(info.Env(), "batch must be a Uint32Array");
  Napi::Uint32Array a = info[i].As<Napi::Uint32Array>();
  if (a.ByteOffset() % 8 != 0) throw Napi::RangeError::New(info.Env(), "batch byteOffset must be a multiple of 8");
  if (static_cast<size_t>(count) * sizeof(nmif_buf_t) > a.ByteLength())
    throw Napi::RangeError::New(info.Env(), "batch too small for the requested count");
  return reinterpret_cast<nmif_buf_t*>(static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset());
}

PacketList ArgPackets(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  if (!info[i].IsArray()) throw Napi::TypeError::New(env, "packets must be an array of Uint8Array");
  Napi::Array arr = info[i].As<Napi::Array>();
  PacketList list;
  uint32_t n = arr.Length();
  if (n > 256) throw Napi::RangeError::New(env, "at most 256 packets per call");
  for (uint32_t k = 0; k < n; k++) {
    Napi::Value v = arr.Get(k);
    if (!v.IsTypedArray()) throw Napi::TypeError::New(env, "packets must be an array of Uint8Array");
    Napi::TypedArray t = v.As<Napi::TypedArray>();
    list.ptrs[k] = static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
    list.lens[k] = static_cast<uint32_t>(t.ByteLength());
  }
  list.count = static_cast<uint16_t>(n);
  return list;
}

}  // namespace nmemif
