#include "worker_queue.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <unordered_map>

#include "burst_args.h"
#include "util.h"

namespace nmemif {

namespace {

std::mutex registry_mu;
std::unordered_map<uint32_t, std::shared_ptr<SharedQueue>> registry;
uint32_t next_id = 1;

std::shared_ptr<SharedQueue> Find(uint32_t id) {
  std::lock_guard<std::mutex> lock(registry_mu);
  auto it = registry.find(id);
  return it == registry.end() ? nullptr : it->second;
}

}  // namespace

// ---- owner side --------------------------------------------------------------------------------

SharedQueue::~SharedQueue() { CloseFds(); }

void SharedQueue::CloseFds() {
  for (int fd : region_fds) close(fd);
  region_fds.clear();
  region_sizes.clear();
  if (irq_fd >= 0) close(irq_fd);
  irq_fd = -1;
}

void SharedQueue::Publish() {
  if (closed.load()) return;
  {
    std::lock_guard<std::mutex> lock(mu);
    CloseFds();
    for (uint16_t r = 0;; r++) {
      int fd = nmif_region_fd(iface, r);
      if (fd < 0) break;
      uint64_t size = 0;
      nmif_region_base(iface, r, &size);
      region_fds.push_back(dup(fd));
      region_sizes.push_back(size);
    }
    int efd = nmif_rx_queue_fd(iface, qid);
    irq_fd = efd >= 0 ? dup(efd) : -1;
    if (efd < 0) return;  // the peer gave this interface fewer queues: stays revoked
  }
  state[0].fetch_add(1);
  state[1].store(0, std::memory_order_seq_cst);  // open the gate
}

void SharedQueue::Revoke() {
  state[1].store(1, std::memory_order_seq_cst);
  while (busy.load(std::memory_order_seq_cst)) sched_yield();  // a burst in flight finishes
  std::lock_guard<std::mutex> lock(mu);
  CloseFds();
}

std::shared_ptr<SharedQueue> ShareQueue(nmif_if_t* iface, uint16_t qid) {
  auto q = std::make_shared<SharedQueue>();
  q->iface = iface;
  q->qid = qid;
  std::lock_guard<std::mutex> lock(registry_mu);
  q->id = next_id++;
  registry[q->id] = q;
  return q;
}

void UnshareQueue(const std::shared_ptr<SharedQueue>& q) {
  q->closed.store(true);
  q->Revoke();
  std::lock_guard<std::mutex> lock(registry_mu);
  registry.erase(q->id);
}

std::shared_ptr<SharedQueue> FindSharedQueue(uint32_t id) { return Find(id); }

// ---- worker side --------------------------------------------------------------------------------

Napi::Function WorkerQueue::Define(Napi::Env env) {
  return DefineClass(env, "WorkerQueue",
                     {
                         InstanceMethod<&WorkerQueue::RxBurst>("rxBurst"),
                         InstanceMethod<&WorkerQueue::RxRelease>("rxRelease"),
                         InstanceMethod<&WorkerQueue::TxAlloc>("txAlloc"),
                         InstanceMethod<&WorkerQueue::TxBurst>("txBurst"),
                         InstanceMethod<&WorkerQueue::TxSwap>("txSwap"),
                         InstanceMethod<&WorkerQueue::TxCopy>("txCopy"),
                         InstanceMethod<&WorkerQueue::Regions>("regions"),
                         InstanceMethod<&WorkerQueue::Sync>("sync"),
                         InstanceMethod<&WorkerQueue::IrqFd>("irqFd"),
                         InstanceMethod<&WorkerQueue::AckIrq>("ackIrq"),
                         InstanceMethod<&WorkerQueue::State>("state"),
                         InstanceMethod<&WorkerQueue::Close>("close"),
                     });
}

WorkerQueue::WorkerQueue(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WorkerQueue>(info) {
  q_ = Find(ArgUint32(info, 0, "id"));
  if (!q_ || q_->closed.load()) throw Napi::Error::New(info.Env(), "no shared queue with this id (reclaimed or never shared)");
}

WorkerQueue::~WorkerQueue() {
  for (size_t k = 0; k < bases_.size(); k++) munmap(bases_[k], sizes_[k]);
  if (irq_fd_ >= 0) close(irq_fd_);
}

void WorkerQueue::Unmap() {
  for (auto& ref : views_) {
    Napi::ArrayBuffer ab = ref.Value();
    if (!ab.IsDetached()) ab.Detach();  // stale views read as empty
  }
  views_.clear();
  for (size_t k = 0; k < bases_.size(); k++) munmap(bases_[k], sizes_[k]);
  bases_.clear();
  sizes_.clear();
  if (irq_fd_ >= 0) close(irq_fd_);
  irq_fd_ = -1;
  mapped_gen_ = 0;
}

int WorkerQueue::Enter() {
  if (!q_) return -ENOTCONN;
  q_->busy.store(1, std::memory_order_seq_cst);
  if (q_->state[1].load(std::memory_order_seq_cst) || q_->closed.load()) {
    q_->busy.store(0, std::memory_order_release);
    return -ENOTCONN;
  }
  uint32_t gen = q_->state[0].load();
  if (gen != mapped_gen_) {
    // A new connection: map its regions ourselves. The owner cannot close the fds meanwhile
    // (it waits for busy to clear before it does).
    Unmap();
    std::lock_guard<std::mutex> lock(q_->mu);
    for (size_t k = 0; k < q_->region_fds.size(); k++) {
      void* p = mmap(nullptr, q_->region_sizes[k], PROT_READ | PROT_WRITE, MAP_SHARED, q_->region_fds[k], 0);
      if (p == MAP_FAILED) {
        q_->busy.store(0, std::memory_order_release);
        return -ENOTCONN;
      }
      bases_.push_back(p);
      sizes_.push_back(q_->region_sizes[k]);
    }
    irq_fd_ = q_->irq_fd >= 0 ? dup(q_->irq_fd) : -1;
    mapped_gen_ = gen;
  }
  return 0;
}

void WorkerQueue::Leave() { q_->busy.store(0, std::memory_order_release); }

namespace {
uint16_t U16(const Napi::CallbackInfo& info, size_t i, const char* name) {
  uint32_t v = ArgUint32(info, i, name);
  if (v > 0xffff) throw Napi::RangeError::New(info.Env(), std::string("\"") + name + "\" must be below 65536");
  return static_cast<uint16_t>(v);
}
}  // namespace

Napi::Value WorkerQueue::RxBurst(const Napi::CallbackInfo& info) {
  uint16_t max = U16(info, 1, "max");
  nmif_buf_t* b = ArgBatch(info, 0, max);
  int r = Enter();
  if (r == 0) {
    r = nmif_rx_burst(q_->iface, q_->qid, b, max);
    Leave();
  }
  return Napi::Number::New(info.Env(), r);
}

Napi::Value WorkerQueue::RxRelease(const Napi::CallbackInfo& info) {
  uint16_t count = U16(info, 0, "count");
  int r = Enter();
  if (r == 0) {
    r = nmif_rx_release(q_->iface, q_->qid, count);
    Leave();
  }
  return Napi::Number::New(info.Env(), r);
}

Napi::Value WorkerQueue::TxAlloc(const Napi::CallbackInfo& info) {
  uint16_t max = U16(info, 1, "max");
  nmif_buf_t* b = ArgBatch(info, 0, max);
  int r = Enter();
  if (r == 0) {
    r = nmif_tx_alloc(q_->iface, q_->qid, b, max);
    Leave();
  }
  return Napi::Number::New(info.Env(), r);
}

Napi::Value WorkerQueue::TxBurst(const Napi::CallbackInfo& info) {
  uint16_t count = U16(info, 1, "count");
  nmif_buf_t* b = ArgBatch(info, 0, count);
  int r = Enter();
  if (r == 0) {
    r = nmif_tx_burst(q_->iface, q_->qid, b, count);
    Leave();
  }
  return Napi::Number::New(info.Env(), r);
}

Napi::Value WorkerQueue::TxSwap(const Napi::CallbackInfo& info) {
  uint16_t count = U16(info, 1, "count");
  nmif_buf_t* b = ArgBatch(info, 0, count);
  int r = Enter();
  if (r == 0) {
    r = nmif_tx_swap(q_->iface, q_->qid, q_->qid, b, count);
    Leave();
  }
  return Napi::Number::New(info.Env(), r);
}

Napi::Value WorkerQueue::TxCopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PacketList list = ArgPackets(info, 0);
  int r = Enter();
  if (r == 0) {
    r = nmif_tx_copy(q_->iface, q_->qid, list.ptrs, list.lens, list.count);
    Leave();
  }
  return Napi::Number::New(env, r);
}

Napi::Value WorkerQueue::Regions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (views_.empty()) {
    for (size_t k = 0; k < bases_.size(); k++) views_.push_back(Napi::Persistent(Napi::ArrayBuffer::New(env, bases_[k], sizes_[k])));
  }
  Napi::Array out = Napi::Array::New(env, views_.size());
  for (size_t k = 0; k < views_.size(); k++) out.Set(k, views_[k].Value());
  return out;
}

// Maps the current connection's regions if they changed; 0 or -ENOTCONN.
Napi::Value WorkerQueue::Sync(const Napi::CallbackInfo& info) {
  int r = Enter();
  if (r == 0) Leave();
  return Napi::Number::New(info.Env(), r);
}

Napi::Value WorkerQueue::IrqFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), irq_fd_); }

Napi::Value WorkerQueue::AckIrq(const Napi::CallbackInfo& info) {
  uint64_t v;
  struct iovec iov = {&v, sizeof(v)};
  // RWF_NOWAIT: the peer may have made the shared eventfd blocking.
  ssize_t n = irq_fd_ >= 0 ? preadv2(irq_fd_, &iov, 1, -1, RWF_NOWAIT) : -1;
  return Napi::Boolean::New(info.Env(), n == static_cast<ssize_t>(sizeof(v)));
}

// [generation, revoked] as a Uint32Array that JS reads with Atomics.load, no call per burst.
Napi::Value WorkerQueue::State(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* keep = new std::shared_ptr<SharedQueue>(q_);
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
      env, static_cast<void*>(q_->state), sizeof(q_->state),
      [](Napi::Env, void*, std::shared_ptr<SharedQueue>* k) { delete k; }, keep);
  return Napi::Uint32Array::New(env, 2, ab, 0);
}

Napi::Value WorkerQueue::Close(const Napi::CallbackInfo& info) {
  Unmap();
  q_.reset();
  return info.Env().Undefined();
}

}  // namespace nmemif
