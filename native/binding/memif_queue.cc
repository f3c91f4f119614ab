#include "memif_queue.h"

#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "burst_args.h"
#include "memif_interface.h"
#include "memif_lease.h"
#include "util.h"

namespace nmemif {

struct MemifQueue::Mapping {
  void* base;
  uint64_t size;
  ~Mapping() { munmap(base, size); }
};

Napi::Function MemifQueue::Define(Napi::Env env) {
  return DefineClass(env, "MemifQueue",
                     {
                         InstanceMethod<&MemifQueue::RxBurst>("rxBurst"),
                         InstanceMethod<&MemifQueue::RxPending>("rxPending"),
                         InstanceMethod<&MemifQueue::TxRoom>("txRoom"),
                         InstanceMethod<&MemifQueue::RxRelease>("rxRelease"),
                         InstanceMethod<&MemifQueue::TxAlloc>("txAlloc"),
                         InstanceMethod<&MemifQueue::TxBurst>("txBurst"),
                         InstanceMethod<&MemifQueue::TxSwap>("txSwap"),
                         InstanceMethod<&MemifQueue::TxCopy>("txCopy"),
                         InstanceMethod<&MemifQueue::Regions>("regions"),
                         InstanceMethod<&MemifQueue::Reason>("reason"),
                         InstanceMethod<&MemifQueue::Sync>("sync"),
                         InstanceMethod<&MemifQueue::AckEvents>("ackEvents"),
                         InstanceMethod<&MemifQueue::AckRx>("ackRx"),
                         InstanceMethod<&MemifQueue::Close>("close"),
                         InstanceAccessor<&MemifQueue::GetEventFd>("eventFd"),
                         InstanceAccessor<&MemifQueue::GetRxFd>("rxFd"),
                         InstanceAccessor<&MemifQueue::GetQueue>("queue"),
                     });
}

MemifQueue::MemifQueue(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MemifQueue>(info) {
  Napi::Env env = info.Env();
  if (info[0].IsNumber()) {
    lease_ = TakeHandoff(info[0].As<Napi::Number>().DoubleValue());
    if (!lease_) throw Napi::Error::New(env, "no queue lease under this key (reclaimed, or never transferred)");
    qid_ = nmif_lease_qid(lease_);
    return;
  }
  owner_ = MemifInterface::From(env, info[0]);
  qid_ = ArgU16(info, 1, "qid");
  owner_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
}

MemifQueue::~MemifQueue() {
  maps_.clear();  // ArrayBuffers still referenced keep their mapping until collected
  if (rx_fd_ >= 0) close(rx_fd_);
  if (lease_) nmif_lease_unref(lease_);
}

template <typename Call>
int MemifQueue::Run(Napi::Env env, Call call) {
  int r;
  if (lease_) {
    int gen = nmif_lease_enter(lease_);
    if (gen < 0) {
      reason_ = LeaseReason();
      return gen;
    }
    if (gen != mapped_gen_) {  // a new connection since sync(): its memory is not mapped here
      nmif_lease_leave(lease_);
      return -ESTALE;
    }
    nmif_if_t* i = nmif_lease_iface(lease_);
    r = call(i);
    if (r == NMIF_EPROTO) {
      const char* why = nmif_if_violation(i);
      reason_ = why ? why : "the peer broke the protocol";
    }
    nmif_lease_leave(lease_);
    return r;
  }
  nmif_if_t* i = owner_ ? owner_->Raw() : nullptr;
  if (!i) throw Napi::Error::New(env, "queue is closed");
  r = call(i);
  if (r == NMIF_EPROTO) {
    const char* why = nmif_if_violation(i);
    reason_ = why ? why : "the peer broke the protocol";
    owner_->HandleViolation(env);  // the link goes down now, not at the loop's next turn
  }
  return r;
}

std::string MemifQueue::LeaseReason() {
  nmif_lease_state_t st;
  nmif_lease_state(lease_, &st);
  return st.reason;
}

Napi::Value MemifQueue::RxBurst(const Napi::CallbackInfo& info) {
  uint16_t max = ArgU16(info, 1, "max");
  nmif_buf_t* b = ArgBatch(info, 0, max);
  uint16_t q = qid_;
  int r = Run(info.Env(), [&](nmif_if_t* i) { return nmif_rx_burst(i, q, b, max); });
  return Napi::Number::New(info.Env(), r);
}

Napi::Value MemifQueue::RxPending(const Napi::CallbackInfo& info) {
  uint16_t q = qid_;
  int r = Run(info.Env(), [&](nmif_if_t* i) { return nmif_rx_pending(i, q); });
  return Napi::Number::New(info.Env(), r);
}

Napi::Value MemifQueue::TxRoom(const Napi::CallbackInfo& info) {
  uint16_t q = qid_;
  int r = Run(info.Env(), [&](nmif_if_t* i) { return nmif_tx_room(i, q); });
  return Napi::Number::New(info.Env(), r);
}

Napi::Value MemifQueue::RxRelease(const Napi::CallbackInfo& info) {
  uint16_t count = ArgU16(info, 0, "count");
  uint16_t q = qid_;
  int r = Run(info.Env(), [&](nmif_if_t* i) { return nmif_rx_release(i, q, count); });
  return Napi::Number::New(info.Env(), r);
}

Napi::Value MemifQueue::TxAlloc(const Napi::CallbackInfo& info) {
  uint16_t max = ArgU16(info, 1, "max");
  nmif_buf_t* b = ArgBatch(info, 0, max);
  uint16_t q = qid_;
  int r = Run(info.Env(), [&](nmif_if_t* i) { return nmif_tx_alloc(i, q, b, max); });
  return Napi::Number::New(info.Env(), r);
}

Napi::Value MemifQueue::TxBurst(const Napi::CallbackInfo& info) {
  uint16_t count = ArgU16(info, 1, "count");
  nmif_buf_t* b = ArgBatch(info, 0, count);
  uint16_t q = qid_;
  int r = Run(info.Env(), [&](nmif_if_t* i) { return nmif_tx_burst(i, q, b, count); });
  return Napi::Number::New(info.Env(), r);
}

// txSwap(batch, count[, txQid]): another tx queue only in the interface's own thread.
Napi::Value MemifQueue::TxSwap(const Napi::CallbackInfo& info) {
  uint16_t count = ArgU16(info, 1, "count");
  nmif_buf_t* b = ArgBatch(info, 0, count);
  uint16_t rq = qid_, tq = info[2].IsUndefined() ? qid_ : ArgU16(info, 2, "txQid");
  if (lease_ && tq != rq) throw Napi::RangeError::New(info.Env(), "a leased queue swaps into its own tx queue only");
  int r = Run(info.Env(), [&](nmif_if_t* i) { return nmif_tx_swap(i, rq, tq, b, count); });
  return Napi::Number::New(info.Env(), r);
}

Napi::Value MemifQueue::TxCopy(const Napi::CallbackInfo& info) {
  PacketList list = ArgPackets(info, 0);
  uint16_t q = qid_;
  int r = Run(info.Env(), [&](nmif_if_t* i) { return nmif_tx_copy(i, q, list.ptrs, list.lens, list.count); });
  return Napi::Number::New(info.Env(), r);
}

Napi::Value MemifQueue::Regions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (owner_) return owner_->RegionsArray(env);
  if (views_.empty()) {
    for (auto& m : maps_) {
      auto* hold = new std::shared_ptr<Mapping>(m);  // the mapping lives while the buffer does
      Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
          env, m->base, m->size, [](Napi::Env, void*, std::shared_ptr<Mapping>* h) { delete h; }, hold);
      views_.push_back(Napi::Persistent(ab));
    }
  }
  Napi::Array out = Napi::Array::New(env, views_.size());
  for (size_t k = 0; k < views_.size(); k++) out.Set(k, views_[k].Value());
  return out;
}

Napi::Value MemifQueue::Reason(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), reason_); }

// Detaches our views (stale ones read as empty) and lets the mappings go.
void MemifQueue::Unmap() {
  for (auto& ref : views_) {
    Napi::ArrayBuffer ab = ref.Value();
    if (!ab.IsDetached()) ab.Detach();
  }
  views_.clear();
  maps_.clear();
  if (rx_fd_ >= 0) close(rx_fd_);
  rx_fd_ = -1;
  mapped_gen_ = 0;
}

// Lessee: maps the current connection if it is new; the generation mapped, or -ENOTCONN.
Napi::Value MemifQueue::Sync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!lease_) return Napi::Number::New(env, owner_ && owner_->Raw() && nmif_if_is_connected(owner_->Raw()) ? 1 : NMIF_ENOTCONN);
  int gen = nmif_lease_enter(lease_);
  if (gen < 0) {
    reason_ = LeaseReason();
    if (mapped_gen_) Unmap();
    return Napi::Number::New(env, gen);
  }
  if (gen != mapped_gen_) {
    Unmap();
    for (uint16_t r = 0;; r++) {
      uint64_t size = 0;
      int fd = nmif_lease_region(lease_, r, &size);
      if (fd < 0) break;
      void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (p == MAP_FAILED) {
        int err = errno;
        maps_.clear();
        nmif_lease_leave(lease_);
        ThrowErrno(env, err, "mmap");
      }
      maps_.push_back(std::shared_ptr<Mapping>(new Mapping{p, size}));
    }
    int efd = nmif_lease_rx_fd(lease_);
    rx_fd_ = efd >= 0 ? dup(efd) : -1;
    mapped_gen_ = gen;
  }
  nmif_lease_leave(lease_);
  return Napi::Number::New(env, gen);
}

Napi::Value MemifQueue::AckEvents(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), lease_ && nmif_lease_ack(lease_) == 1);
}

Napi::Value MemifQueue::AckRx(const Napi::CallbackInfo& info) {
  uint64_t v;
  struct iovec iov = {&v, sizeof(v)};
  // RWF_NOWAIT: the peer may have made the shared eventfd blocking.
  ssize_t n = rx_fd_ >= 0 ? preadv2(rx_fd_, &iov, 1, -1, RWF_NOWAIT) : -1;
  return Napi::Boolean::New(info.Env(), n == static_cast<ssize_t>(sizeof(v)));
}

Napi::Value MemifQueue::Close(const Napi::CallbackInfo& info) {
  Unmap();
  if (lease_) nmif_lease_unref(lease_);
  lease_ = nullptr;
  owner_ = nullptr;
  owner_ref_.Reset();
  return info.Env().Undefined();
}

Napi::Value MemifQueue::GetEventFd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), lease_ ? nmif_lease_event_fd(lease_) : -1);
}

Napi::Value MemifQueue::GetRxFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), rx_fd_); }

Napi::Value MemifQueue::GetQueue(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), qid_); }

}  // namespace nmemif
