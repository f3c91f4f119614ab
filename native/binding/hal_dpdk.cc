#include "hal_dpdk.h"

#include <string>
#include <vector>

#include "nhal.h"
#include "util.h"

namespace nmemif {
namespace hal_dpdk {

namespace {

void Check(Napi::Env env, int r, const char* what) {
  if (r >= 0) return;
  Napi::Error e = ErrnoError(env, -r, what);
  if (std::string(what) == "rte_eal_init" && nhal_eal_last_error()[0]) e.Set("detail", nhal_eal_last_error());
  throw e;
}

uint16_t PortArg(const Napi::CallbackInfo& info) {
  uint32_t v = ArgUint32(info, 0, "portId");
  if (v > 0xffff) throw Napi::RangeError::New(info.Env(), "\"portId\" must be below 65536");
  return static_cast<uint16_t>(v);
}

Napi::Value Built(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), nhal_dpdk_built() != 0); }
Napi::Value Initialized(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), nhal_eal_initialized() != 0);
}

// ealInit(args: string[]): args exclude the program name and are validated in TS first.
Napi::Value EalInit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "args must be an array of strings");
  Napi::Array a = info[0].As<Napi::Array>();
  std::vector<std::string> args;
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    if (!v.IsString()) throw Napi::TypeError::New(env, "args must be an array of strings");
    args.push_back(v.As<Napi::String>().Utf8Value());
  }
  std::vector<const char*> argv;
  for (auto& s : args) argv.push_back(s.c_str());
  Check(env, nhal_eal_init(static_cast<int>(argv.size()), argv.data()), "rte_eal_init");
  return env.Undefined();
}

Napi::Value EalCleanup(const Napi::CallbackInfo& info) {
  Check(info.Env(), nhal_eal_cleanup(), "rte_eal_cleanup");
  return info.Env().Undefined();
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Check(info.Env(), nhal_dpdk_probe(ArgString(info, 0, "devargs").c_str()), "rte_dev_probe");
  return info.Env().Undefined();
}

// find(name) -> port id, or -1 when no such device.
Napi::Value Find(const Napi::CallbackInfo& info) {
  int r = nhal_dpdk_find(ArgString(info, 0, "name").c_str());
  if (r == -ENODEV) return Napi::Number::New(info.Env(), -1);
  Check(info.Env(), r, "rte_eth_dev_get_port_by_name");
  return Napi::Number::New(info.Env(), r);
}

Napi::Value Ports(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  if (!nhal_eal_initialized()) return out;
  uint32_t n = 0;
  for (uint32_t id = 0; id < 1024; id++) {
    char name[128];
    if (nhal_dpdk_name(static_cast<uint16_t>(id), name, sizeof name) == 0) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("portId", id);
      o.Set("name", name);
      out.Set(n++, o);
    }
  }
  return out;
}

Napi::Value DevStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nhal_dpdk_setup_t s{};
  s.promiscuous = 1;
  if (info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    auto get = [&](const char* k) -> uint32_t {
      Napi::Value v = o.Get(k);
      return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : 0;
    };
    s.queues = static_cast<uint16_t>(get("queues"));
    s.rx_desc = static_cast<uint16_t>(get("rxDesc"));
    s.tx_desc = static_cast<uint16_t>(get("txDesc"));
    s.mbufs = get("mbufs");
    if (o.Get("promiscuous").IsBoolean()) s.promiscuous = o.Get("promiscuous").ToBoolean() ? 1 : -1;
  }
  Check(env, nhal_dpdk_dev_start(PortArg(info), &s), "rte_eth_dev_start");
  return env.Undefined();
}

Napi::Value DevStop(const Napi::CallbackInfo& info) {
  Check(info.Env(), nhal_dpdk_dev_stop(PortArg(info)), "rte_eth_dev_stop");
  return info.Env().Undefined();
}

Napi::Value Link(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nhal_dpdk_link_t l;
  Check(env, nhal_dpdk_link(PortArg(info), &l), "rte_eth_link_get_nowait");
  Napi::Object o = Napi::Object::New(env);
  o.Set("up", l.up != 0);
  o.Set("speedMbps", l.speed_mbps);
  o.Set("fullDuplex", l.full_duplex != 0);
  char mac[18];
  snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", l.mac[0], l.mac[1], l.mac[2], l.mac[3], l.mac[4], l.mac[5]);
  o.Set("mac", mac);
  o.Set("driver", l.driver);
  return o;
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nhal_dpdk_xstats_t s;
  Check(env, nhal_dpdk_stats(PortArg(info), &s), "rte_eth_stats_get");
  Napi::Object o = Napi::Object::New(env);
  o.Set("ipackets", static_cast<double>(s.ipackets));
  o.Set("opackets", static_cast<double>(s.opackets));
  o.Set("ibytes", static_cast<double>(s.ibytes));
  o.Set("obytes", static_cast<double>(s.obytes));
  o.Set("imissed", static_cast<double>(s.imissed));
  o.Set("ierrors", static_cast<double>(s.ierrors));
  o.Set("oerrors", static_cast<double>(s.oerrors));
  o.Set("rxNombuf", static_cast<double>(s.rx_nombuf));
  return o;
}

}  // namespace

Napi::Object Define(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("built", Napi::Function::New<Built>(env, "built"));
  o.Set("initialized", Napi::Function::New<Initialized>(env, "initialized"));
  o.Set("ealInit", Napi::Function::New<EalInit>(env, "ealInit"));
  o.Set("ealCleanup", Napi::Function::New<EalCleanup>(env, "ealCleanup"));
  o.Set("probe", Napi::Function::New<Probe>(env, "probe"));
  o.Set("find", Napi::Function::New<Find>(env, "find"));
  o.Set("ports", Napi::Function::New<Ports>(env, "ports"));
  o.Set("devStart", Napi::Function::New<DevStart>(env, "devStart"));
  o.Set("devStop", Napi::Function::New<DevStop>(env, "devStop"));
  o.Set("link", Napi::Function::New<Link>(env, "link"));
  o.Set("stats", Napi::Function::New<Stats>(env, "stats"));
  o.Set("STATS_WORDS", static_cast<uint32_t>(NHAL_ST_COUNT));
  return o;
}

}  // namespace hal_dpdk
}  // namespace nmemif
