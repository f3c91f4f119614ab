// Arguments of the burst calls (MemifQueue).
#ifndef NMEMIF_BINDING_BURST_ARGS_H
#define NMEMIF_BINDING_BURST_ARGS_H

#include <napi.h>

#include <cstdint>

#include "nmemif.h"

namespace nmemif {

// A Uint32Array used as nmif_buf_t[]: byteOffset multiple of 8, room for `count` entries.
nmif_buf_t* ArgBatch(const Napi::CallbackInfo& info, size_t i, uint32_t count);

// An array of at most 256 Uint8Arrays, as pointer/length lists for nmif_tx_copy.
struct PacketList {
  const void* ptrs[256];
  uint32_t lens[256];
  uint16_t count;
};
PacketList ArgPackets(const Napi::CallbackInfo& info, size_t i);

}  // namespace nmemif

#endif
