// LwipNetif: one lwIP netif of the LwipStack over an nhal port (lwip_port.h says which).
//
//   const n = new LwipNetif(stack, port, { mac, mtu, ip4: [ip, mask, gw], ip6 })  // byte arrays
//   n.name / n.ip6() -> 16-byte Uint8Arrays (link-local first)
//   n.linkUp() -> the port's interrupt fd (the netif's: unwatch before linkDown/close), or -ENOTSUP
//   n.linkDown()
//   n.poll(budget, flags) -> frames * 2 + more (flags: 1 the fd fired, 2 stay masked when idle;
//                            more: poll again soon, the interrupt is masked)
//
// The netif holds the stack and the port objects; closing the stack removes it and orphans
// this object.
#ifndef NMEMIF_BINDING_LWIP_NETIF_H
#define NMEMIF_BINDING_LWIP_NETIF_H

#include <napi.h>

#include "nlwip.h"

namespace nmemif {

class LwipStack;

class LwipNetif : public Napi::ObjectWrap<LwipNetif> {
 public:
  // hal_port_ctor: the HalPort class, whose instances the constructor accepts as ports.
  static Napi::Function Define(Napi::Env env, Napi::Function hal_port_ctor);
  explicit LwipNetif(const Napi::CallbackInfo& info);
  ~LwipNetif() override;

  // The stack closed: the C netif is gone. env_gone: during the environment's teardown,
  // when no reference may be touched.
  void Orphan(bool env_gone);

 private:
  nlwip_netif_t* Live(Napi::Env env) const;

  Napi::Value GetName(const Napi::CallbackInfo& info);
  Napi::Value Ip6(const Napi::CallbackInfo& info);
  Napi::Value LinkUp(const Napi::CallbackInfo& info);
  Napi::Value LinkDown(const Napi::CallbackInfo& info);
  Napi::Value Poll(const Napi::CallbackInfo& info);

  nlwip_netif_t* netif_ = nullptr;
  Napi::ObjectReference stack_ref_;
  Napi::ObjectReference port_ref_;
};

}  // namespace nmemif

#endif
