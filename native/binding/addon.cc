// Entry point of nmemif.node: one Napi::Addon instance per environment (main thread and each
// worker thread), so the addon loads in worker_threads and keeps no process-wide state.
// Each JS class lives in its own file and is registered here.
#include <napi.h>

#include "abi.h"
#include "core_log.h"
#include "fd_watch.h"
#include "hal_dpdk.h"
#include "hal_port.h"
#include "hal_worker.h"
#include "lwip_netif.h"
#include "lwip_stack.h"
#include "memif_interface.h"
#include "memif_lease.h"
#include "memif_queue.h"
#include "memif_socket.h"
#include "sys.h"

namespace nmemif {

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    Napi::Function hal_port = HalPort::Define(env);
    DefineAddon(exports, {
                             InstanceValue("FdWatch", FdWatch::Define(env), napi_enumerable),
                             InstanceValue("sys", sys::Define(env), napi_enumerable),
                             InstanceValue("MemifSocket", MemifSocket::Define(env), napi_enumerable),
                             InstanceValue("MemifInterface", MemifInterface::Define(env), napi_enumerable),
                             InstanceValue("MemifLease", MemifLease::Define(env), napi_enumerable),
                             InstanceValue("MemifQueue", MemifQueue::Define(env), napi_enumerable),
                             InstanceValue("abi", abi::Define(env), napi_enumerable),
                             InstanceValue("constants", sys::DefineConstants(env), napi_enumerable),
                             InstanceValue("HalPort", hal_port, napi_enumerable),
                             InstanceValue("HalWorker", HalWorker::Define(env), napi_enumerable),
                             InstanceValue("dpdk", hal_dpdk::Define(env), napi_enumerable),
                             InstanceValue("coreLog", core_log::Define(env), napi_enumerable),
                             InstanceValue("LwipStack", LwipStack::Define(env), napi_enumerable),
                             InstanceValue("LwipNetif", LwipNetif::Define(env, hal_port), napi_enumerable),
                         });
  }
};

}  // namespace nmemif

// The macro pastes the class name into identifiers: it needs an unqualified name.
using NmemifAddon = nmemif::Addon;
NODE_API_ADDON(NmemifAddon)
