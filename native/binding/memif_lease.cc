#include "memif_lease.h"

#include <mutex>
#include <unordered_map>

#include "memif_interface.h"
#include "util.h"

namespace nmemif {

namespace {

// Leases offered to other threads, by key (process-wide: keys travel between threads).
struct Handoffs {
  std::mutex mu;
  std::unordered_map<double, nmif_lease_t*> by_key;
  double next_key = 1;
};

Handoffs& handoffs() {
  static Handoffs* h = new Handoffs();  // never destroyed: workers may outlive static teardown
  return *h;
}

double Offer(nmif_lease_t* lease) {
  Handoffs& h = handoffs();
  std::lock_guard<std::mutex> lock(h.mu);
  double key = h.next_key++;
  nmif_lease_ref(lease);
  h.by_key[key] = lease;
  return key;
}

void Withdraw(double key) {
  Handoffs& h = handoffs();
  nmif_lease_t* lease = nullptr;
  {
    std::lock_guard<std::mutex> lock(h.mu);
    auto it = h.by_key.find(key);
    if (it == h.by_key.end()) return;
    lease = it->second;
    h.by_key.erase(it);
  }
  nmif_lease_unref(lease);
}

// Marks MemifLease objects, so a lease argument is checked before it is unwrapped.
const napi_type_tag kLeaseTag = {0x6e6d656d69666c65ull, 0x617365deadbeef01ull};

}  // namespace

nmif_lease_t* TakeHandoff(double key) {
  Handoffs& h = handoffs();
  std::lock_guard<std::mutex> lock(h.mu);
  auto it = h.by_key.find(key);
  if (it == h.by_key.end()) return nullptr;
  nmif_lease_ref(it->second);
  return it->second;
}

Napi::Function MemifLease::Define(Napi::Env env) {
  return DefineClass(env, "MemifLease",
                     {
                         InstanceMethod<&MemifLease::Handoff>("handoff"),
                         InstanceMethod<&MemifLease::End>("end"),
                         InstanceAccessor<&MemifLease::GetQueue>("queue"),
                     });
}

// new MemifLease(memifInterface, qid, rxMode): rxMode 0 = the lessee sleeps on the rx eventfd
// (interrupts), 1 = it polls and arms interrupts itself before it sleeps.
MemifLease::MemifLease(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MemifLease>(info) {
  Napi::Env env = info.Env();
  MemifInterface* owner = MemifInterface::From(env, info[0]);
  nmif_if_t* i = owner->Raw();
  if (!i) throw Napi::Error::New(env, "interface is closed");
  nmif_lease_args_t a{};
  a.qid = ArgU16(info, 1, "qid");
  qid_ = a.qid;
  a.rx_mode = ArgUint32(info, 2, "rxMode") ? NMIF_RX_POLLING : NMIF_RX_INTERRUPT;
  int r = nmif_lease_create(i, &a, &lease_);
  owner->RethrowPending(env);
  if (r < 0) ThrowNmif(env, r, "nmif_lease_create");
  napi_type_tag_object(env, info.This(), &kLeaseTag);
}

MemifLease::~MemifLease() {
  if (key_ != 0) Withdraw(key_);
  if (lease_) nmif_lease_unref(lease_);
}

Napi::Value MemifLease::Handoff(const Napi::CallbackInfo& info) {
  if (!lease_) throw Napi::Error::New(info.Env(), "the queue lease has ended");
  if (key_ == 0) key_ = Offer(lease_);
  return Napi::Number::New(info.Env(), key_);
}

// Owner thread: the queue is the interface's again; a lessee's calls fail from now on.
Napi::Value MemifLease::End(const Napi::CallbackInfo& info) {
  if (key_ != 0) Withdraw(key_);
  key_ = 0;
  if (lease_) {
    // Our reference goes now (ports and workers keep their own): the lease's eventfd is not
    // left to the garbage collector.
    nmif_lease_end(lease_);
    nmif_lease_unref(lease_);
    lease_ = nullptr;
  }
  return info.Env().Undefined();
}

Napi::Value MemifLease::GetQueue(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), qid_);
}

nmif_lease_t* LeaseArg(Napi::Env env, Napi::Value value) {
  if (value.IsObject()) {
    Napi::Object o = value.As<Napi::Object>();
    bool ok = false;
    if (napi_check_object_type_tag(env, o, &kLeaseTag, &ok) == napi_ok && ok) {
      nmif_lease_t* l = MemifLease::Unwrap(o)->Raw();
      if (!l) throw Napi::Error::New(env, "the queue lease has ended");
      return l;
    }
  }
  throw Napi::TypeError::New(env, "expected a memif queue lease (MemifInterface.lease())");
}

}  // namespace nmemif
