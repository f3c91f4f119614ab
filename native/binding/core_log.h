// coreLog: the C core's log level, set from the TypeScript log levels (NMEMIF_LOG, setLogLevel
// of module "memif"), and its lines written in the TypeScript default sink's format.
#ifndef NMEMIF_BINDING_CORE_LOG_H
#define NMEMIF_BINDING_CORE_LOG_H

#include <napi.h>

namespace nmemif {
namespace core_log {

// { setLevel(level) }: -1 silent, 0 error, 1 warn, 2 info, 3 debug. Process-wide, like the C
// core's logger: every thread's addon instance sets the same level.
Napi::Object Define(Napi::Env env);

}  // namespace core_log
}  // namespace nmemif

#endif  // NMEMIF_BINDING_CORE_LOG_H
