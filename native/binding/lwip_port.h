// The one place that knows how JavaScript hands a queue to the lwIP glue: today a HalPort
// (hal_port.h) made over a memif queue that the interface transferred. A change in how queues
// are leased to native consumers changes this function and nothing else in lwip_*.cc.
#ifndef NMEMIF_BINDING_LWIP_PORT_H
#define NMEMIF_BINDING_LWIP_PORT_H

#include <napi.h>

#include "nhal.h"

namespace nmemif {

// The nhal port behind `value`, which must be an open instance of `hal_port_ctor` (throws
// TypeError otherwise). The caller keeps a reference to `value` while it uses the port.
nhal_port_t* LwipQueuePort(Napi::Env env, Napi::Value value, Napi::Function hal_port_ctor);

}  // namespace nmemif

#endif
