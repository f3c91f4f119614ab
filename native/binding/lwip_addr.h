// Socket addresses between JavaScript and nlwip (native/stacks/lwip/include/nlwip.h).
//
// In: an address string as Node writes it ("10.0.0.1", "fd00::1", "fe80::1%mf0" or with a
// numeric zone, lwIP's netif index) and a port. Out: the 20-byte nlwip_addr_t, copied into a
// Uint8Array the caller reuses; src/nstack/stacks/lwip/addr.ts turns it into a string.
#ifndef NMEMIF_BINDING_LWIP_ADDR_H
#define NMEMIF_BINDING_LWIP_ADDR_H

#include <napi.h>

#include "nlwip.h"

namespace nmemif {

// info[i] an address string, info[i + 1] a port; throws TypeError/RangeError otherwise.
nlwip_addr_t ArgLwipAddr(const Napi::CallbackInfo& info, size_t i);
// info[i] a Uint8Array of at least sizeof(nlwip_addr_t) bytes to write addresses into.
nlwip_addr_t* ArgLwipAddrOut(const Napi::CallbackInfo& info, size_t i, size_t count = 1);

}  // namespace nmemif

#endif
