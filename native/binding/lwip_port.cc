#include "lwip_port.h"

#include "hal_port.h"

namespace nmemif {

nhal_port_t* LwipQueuePort(Napi::Env env, Napi::Value value, Napi::Function hal_port_ctor) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(hal_port_ctor))
    throw Napi::TypeError::New(env, "\"port\" must be a HalPort");
  return HalPort::Unwrap(value.As<Napi::Object>())->Raw(env);
}

}  // namespace nmemif
