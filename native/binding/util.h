// Small helpers shared by every binding file: errno errors and argument checks.
//
// Every check throws a JS TypeError/RangeError (C++ exceptions are on), so methods read
// straight through: `int fd = ArgFd(info, 0, "fd");`.
#ifndef NMEMIF_BINDING_UTIL_H
#define NMEMIF_BINDING_UTIL_H

#include <napi.h>

#include <cstdint>
#include <string>

namespace nmemif {

// "EBADF" for EBADF; "E<n>" for numbers the C library has no name for.
const char* ErrnoName(int err);

// A JS Error shaped like Node's system errors: message "EBADF: Bad file descriptor, close",
// code "EBADF", errno -9, syscall "close". `err` is a positive errno value.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall);
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall);

int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* name);
uint32_t ArgUint32(const Napi::CallbackInfo& info, size_t i, const char* name);
uint32_t ArgUint32Or(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t dflt);
int32_t ArgInt32Or(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t dflt);
// A non-negative integer number or bigint that fits in 64 bits.
uint64_t ArgUint64Or(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t dflt);
// Option `key` of an options object: an integer in 0..max, or `dflt` when undefined.
uint32_t OptUint32(Napi::Object o, const char* key, uint32_t dflt, uint32_t max);
// Option `key` that must be present: an integer in 0..max.
uint32_t ReqUint32(Napi::Object o, const char* key, uint32_t max);
// An integer argument in 0..65535 (queue ids, counts).
uint16_t ArgU16(const Napi::CallbackInfo& info, size_t i, const char* name);
// Option `key`: a string, or "" when undefined or null.
std::string OptString(Napi::Object o, const char* key);
// Option `key`: truthy, false when undefined.
bool OptBool(Napi::Object o, const char* key);
// An error from libmemif: code = its stable name ("EADDRINUSE"), message = its own text,
// errno = the negative value, syscall = the call.
[[noreturn]] void ThrowNmif(Napi::Env env, int err, const char* what);
Napi::Function ArgFunction(const Napi::CallbackInfo& info, size_t i, const char* name);
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);
// Bytes of a Uint8Array (or any ArrayBufferView) argument.
struct ByteSpan {
  uint8_t* data;
  size_t length;
};
ByteSpan ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name);

}  // namespace nmemif

#endif  // NMEMIF_BINDING_UTIL_H
