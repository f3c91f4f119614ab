// abi: what the C headers and the TypeScript side share, read from the headers at build time
// (errno names and values, event kinds, rx modes, fd ops, down causes, the burst descriptor
// layout, the bridge's counter names in order). src/abi.ts takes its values from here and
// checks the few it must also spell out itself (for types and hot loops) at load.
#ifndef NMEMIF_BINDING_ABI_H
#define NMEMIF_BINDING_ABI_H

#include <napi.h>

namespace nmemif {
namespace abi {

Napi::Object Define(Napi::Env env);

}  // namespace abi
}  // namespace nmemif

#endif  // NMEMIF_BINDING_ABI_H
