// sys: thin Linux primitives for the event engine and its tests (eventfd, timerfd,
// socketpair, non-blocking read/write, poll(2), epoll). Errors throw ErrnoError (code =
// errno name) except read/write, which return -errno so hot loops need no try/catch.
#ifndef NMEMIF_BINDING_SYS_H
#define NMEMIF_BINDING_SYS_H

#include <napi.h>

namespace nmemif {
namespace sys {

Napi::Object Define(Napi::Env env);
// Numeric constants the TypeScript side checks its own copies against.
Napi::Object DefineConstants(Napi::Env env);

}  // namespace sys
}  // namespace nmemif

#endif  // NMEMIF_BINDING_SYS_H
