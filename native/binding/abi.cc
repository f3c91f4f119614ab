#include "abi.h"

#include <cerrno>
#include <cstddef>
#include <string>

#include "memif_socket.h"
#include "nhal.h"
#include "nmemif.h"

namespace nmemif {
namespace abi {

namespace {

// The burst descriptor is read as 32-bit words; these are the facts that reading relies on.
static_assert(sizeof(nmif_buf_t) % 8 == 0, "nmif_buf_t is a whole number of 8-byte words");
static_assert(offsetof(nmif_buf_t, flags) == offsetof(nmif_buf_t, region) + 2, "region | flags << 16");
static_assert(offsetof(nmif_buf_t, qid) == offsetof(nmif_buf_t, slot) + 2, "slot | qid << 16");
static_assert(offsetof(nmif_buf_t, region) % 4 == 0 && offsetof(nmif_buf_t, slot) % 4 == 0, "word aligned");

void Set(Napi::Object o, const char* key, double v) { o.Set(key, Napi::Number::New(o.Env(), v)); }

Napi::Array Names(Napi::Env env, const char* const* names, size_t count) {
  Napi::Array a = Napi::Array::New(env);
  for (size_t k = 0; k < count && names[k]; k++) a.Set(static_cast<uint32_t>(k), names[k]);
  return a;
}

}  // namespace

Napi::Object Define(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);

  // libmemif's errors: name -> negative errno (every name nmif_err_name knows), plus the codes
  // the binding itself returns.
  Napi::Object errors = Napi::Object::New(env);
  for (int e = 1; e < 4096; e++) {
    const char* name = nmif_err_name(-e);
    if (std::string(name) != "UNKNOWN") Set(errors, name, -e);
  }
  Set(errors, "ESTALE", -ESTALE);  // MemifQueue: a new connection, sync() first
  Set(errors, "EPERM", -EPERM);
  o.Set("errors", errors);

  Napi::Object ev = Napi::Object::New(env);  // MemifSocket's queued link events
  Set(ev, "CONNECT", kEventConnect);
  Set(ev, "DISCONNECT", kEventDisconnect);
  Set(ev, "RX", kEventRx);
  Set(ev, "CONNECT_ERROR", kEventConnectError);
  o.Set("events", ev);

  Napi::Object fd = Napi::Object::New(env);
  Set(fd, "ADD", NMIF_FD_ADD);
  Set(fd, "MOD", NMIF_FD_MOD);
  Set(fd, "DEL", NMIF_FD_DEL);
  o.Set("fdOps", fd);

  Napi::Object rx = Napi::Object::New(env);
  Set(rx, "INTERRUPT", NMIF_RX_INTERRUPT);
  Set(rx, "POLLING", NMIF_RX_POLLING);
  o.Set("rxModes", rx);

  Napi::Object mode = Napi::Object::New(env);
  Set(mode, "ethernet", NMIF_MODE_ETHERNET);
  Set(mode, "ip", NMIF_MODE_IP);
  Set(mode, "punt-inject", NMIF_MODE_PUNT_INJECT);
  o.Set("modes", mode);

  Napi::Object down = Napi::Object::New(env);
  Set(down, "NONE", NMIF_DOWN_NONE);
  Set(down, "PEER", NMIF_DOWN_PEER);
  Set(down, "LOCAL", NMIF_DOWN_LOCAL);
  Set(down, "VIOLATION", NMIF_DOWN_VIOLATION);
  Set(down, "TIMEOUT", NMIF_DOWN_TIMEOUT);
  o.Set("downCauses", down);

  Napi::Object buf = Napi::Object::New(env);  // nmif_buf_t as u32 words
  Set(buf, "WORDS", sizeof(nmif_buf_t) / 4);
  Set(buf, "LEN", offsetof(nmif_buf_t, len) / 4);
  Set(buf, "OFFSET", offsetof(nmif_buf_t, offset) / 4);
  Set(buf, "REGION_FLAGS", offsetof(nmif_buf_t, region) / 4);
  Set(buf, "SLOT_QUEUE", offsetof(nmif_buf_t, slot) / 4);
  Set(buf, "NEXT", NMIF_BUF_NEXT);
  o.Set("buf", buf);

  Set(o, "MAX_LOG2_RING_SIZE", NMIF_MAX_LOG2_RING_SIZE);
  Set(o, "REASON_MAX", NMIF_REASON_MAX);

  o.Set("portStats", Names(env, nhal_stat_names, NHAL_ST_COUNT));
  o.Set("workerStats", Names(env, nhal_worker_stat_names, NHAL_WS_COUNT));
  return o;
}

}  // namespace abi
}  // namespace nmemif
