#include "core_log.h"

#include <nmemif.h>

#include <cstdio>
#include <ctime>

#include "util.h"

namespace nmemif {
namespace core_log {
namespace {

// One line per message on stderr, shaped like src/nstack/log.ts's default sink. Called on
// whichever thread logs (the Node thread, bridge workers): no JavaScript here.
void WriteLine(int level, const char* msg, void*) {
  static const char* const kNames[] = {"ERROR", "WARN", "INFO", "DEBUG"};
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc;
  gmtime_r(&now.tv_sec, &utc);
  char when[24];
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &utc);
  fprintf(stderr, "%s.%03ldZ nmemif:memif %s %s\n", when, now.tv_nsec / 1000000L, kNames[level & 3], msg);
}

Napi::Value SetLevel(const Napi::CallbackInfo& info) {
  int32_t level = ArgInt32Or(info, 0, "level", NMIF_LOG_WARN);
  if (level < -1 || level > NMIF_LOG_DEBUG) throw Napi::RangeError::New(info.Env(), "\"level\" must be -1 (silent) to 3 (debug)");
  nmif_set_log(WriteLine, nullptr);
  nmif_set_log_level(level);
  return info.Env().Undefined();
}

}  // namespace

Napi::Object Define(Napi::Env env) {
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("setLevel", Napi::Function::New(env, SetLevel, "setLevel"));
  return obj;
}

}  // namespace core_log
}  // namespace nmemif
