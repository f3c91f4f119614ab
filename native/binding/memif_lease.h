// MemifLease: a queue pair of a MemifInterface lent to another thread (nmif_lease_t, nmemif.h).
//
//   const lease = new MemifLease(iface, q, rxMode);   // owner thread (rxMode 0 interrupt, 1 polling)
//   new HalPort({ kind: 'memif', lease })   // a native worker takes it directly
//   const key = lease.handoff();            // or a worker_thread: post the key, then
//   new MemifQueue(key)                     //   in the worker (memif_queue.h)
//   lease.end()                             // owner thread: the queue is the interface's again
//
// The gate, the generation and the link-change eventfd are libmemif's; this object only holds
// one reference. A key is the one thing that must cross threads by value (JavaScript cannot
// post a native object), so the hand-over table maps keys to leases offered to other threads;
// an entry holds its own reference and goes with end() or the object's collection.
#ifndef NMEMIF_BINDING_MEMIF_LEASE_H
#define NMEMIF_BINDING_MEMIF_LEASE_H

#include <napi.h>

#include "nmemif.h"

namespace nmemif {

class MemifLease : public Napi::ObjectWrap<MemifLease> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit MemifLease(const Napi::CallbackInfo& info);
  ~MemifLease() override;

  nmif_lease_t* Raw() const { return lease_; }

 private:
  Napi::Value Handoff(const Napi::CallbackInfo& info);
  Napi::Value End(const Napi::CallbackInfo& info);
  Napi::Value GetQueue(const Napi::CallbackInfo& info);

  nmif_lease_t* lease_ = nullptr;  // our reference; dropped by end(), so nothing waits for GC
  uint16_t qid_ = 0;
  double key_ = 0;  // hand-over key, 0 = not offered
};

// The lease of a MemifLease object (borrowed: ref it to keep it); throws a TypeError for
// anything else, an Error for a lease that has ended. The one way native consumers (bridge ports, stacks) take a queue from
// JavaScript.
nmif_lease_t* LeaseArg(Napi::Env env, Napi::Value value);

// Takes a reference to the lease offered under `key`, or nullptr if none is (any thread).
nmif_lease_t* TakeHandoff(double key);

}  // namespace nmemif

#endif  // NMEMIF_BINDING_MEMIF_LEASE_H
