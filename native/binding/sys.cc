#include "sys.h"

#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "fd_watch.h"
#include "util.h"

namespace nmemif {
namespace sys {
namespace {

// Bits accepted by poll/epoll calls; values are the kernel's (identical for poll and epoll).
constexpr uint32_t kEpollInterest =
    EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDHUP | EPOLLET | EPOLLONESHOT;

Napi::Value EventfdCreate(const Napi::CallbackInfo& info) {
  uint32_t initval = ArgUint32Or(info, 0, "initval", 0);
  int flags = EFD_NONBLOCK | EFD_CLOEXEC;
  if (info[1].ToBoolean()) flags |= EFD_SEMAPHORE;
  int fd = eventfd(initval, flags);
  if (fd < 0) ThrowErrno(info.Env(), errno, "eventfd");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value EventfdWrite(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  uint64_t value = ArgUint64Or(info, 1, "value", 1);
  ssize_t n;
  do {
    n = ::write(fd, &value, sizeof value);
  } while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(info.Env(), errno, "write");
  if (n != sizeof value) ThrowErrno(info.Env(), EIO, "write");
  return info.Env().Undefined();
}

// Reads the 8-byte counter of an eventfd or timerfd; 0n when there is nothing (EAGAIN).
Napi::Value ReadCounter(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  uint64_t value = 0;
  ssize_t n;
  do {
    n = ::read(fd, &value, sizeof value);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN) return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(0));
    ThrowErrno(info.Env(), errno, "read");
  }
  if (n != sizeof value) ThrowErrno(info.Env(), EIO, "read");
  return Napi::BigInt::New(info.Env(), value);
}

Napi::Value TimerfdCreate(const Napi::CallbackInfo& info) {
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) ThrowErrno(info.Env(), errno, "timerfd_create");
  return Napi::Number::New(info.Env(), fd);
}

timespec MsToTimespec(uint32_t ms) {
  timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = static_cast<long>(ms % 1000) * 1000000L;
  return ts;
}

// timerfdSet(fd, initialMs, intervalMs = 0): initialMs 0 disarms.
Napi::Value TimerfdSet(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  uint32_t initial = ArgUint32(info, 1, "initialMs");
  uint32_t interval = ArgUint32Or(info, 2, "intervalMs", 0);
  itimerspec spec;
  spec.it_value = MsToTimespec(initial);
  spec.it_interval = MsToTimespec(interval);
  if (timerfd_settime(fd, 0, &spec, nullptr) < 0) ThrowErrno(info.Env(), errno, "timerfd_settime");
  return info.Env().Undefined();
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  // Linux releases the fd even when close() reports EINTR: never retry.
  if (::close(fd) < 0 && errno != EINTR) ThrowErrno(info.Env(), errno, "close");
  return info.Env().Undefined();
}

Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string type = info[0].IsUndefined() ? "stream" : ArgString(info, 0, "type");
  int socktype;
  if (type == "stream") {
    socktype = SOCK_STREAM;
  } else if (type == "seqpacket") {
    socktype = SOCK_SEQPACKET;
  } else if (type == "dgram") {
    socktype = SOCK_DGRAM;
  } else {
    throw Napi::RangeError::New(env, "\"type\" must be 'stream', 'seqpacket' or 'dgram'");
  }
  int sv[2];
  if (socketpair(AF_UNIX, socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
    ThrowErrno(env, errno, "socketpair");
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, sv[0]));
  out.Set(1u, Napi::Number::New(env, sv[1]));
  return out;
}

Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "fd");
  std::string how = ArgString(info, 1, "how");
  int h;
  if (how == "rd") {
    h = SHUT_RD;
  } else if (how == "wr") {
    h = SHUT_WR;
  } else if (how == "rdwr") {
    h = SHUT_RDWR;
  } else {
    throw Napi::RangeError::New(env, "\"how\" must be 'rd', 'wr' or 'rdwr'");
  }
  if (::shutdown(fd, h) < 0) ThrowErrno(env, errno, "shutdown");
  return env.Undefined();
}

// write(fd, bytes) -> bytes written, or -errno (never throws for I/O errors).
Napi::Value Write(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  ByteSpan span = ArgBytes(info, 1, "data");
  ssize_t n;
  do {
    n = ::write(fd, span.data, span.length);
  } while (n < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), n < 0 ? -errno : static_cast<double>(n));
}

// read(fd, buffer) -> bytes read (0 = end of stream), or -errno.
Napi::Value Read(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  ByteSpan span = ArgBytes(info, 1, "buffer");
  ssize_t n;
  do {
    n = ::read(fd, span.data, span.length);
  } while (n < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), n < 0 ? -errno : static_cast<double>(n));
}

// poll(fd, events) -> current revents (zero-timeout poll(2)); POLLNVAL (0x20) for a bad fd.
Napi::Value Poll(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  uint32_t events = ArgUint32(info, 1, "events");
  pollfd p;
  p.fd = fd;
  p.events = static_cast<short>(events & (POLLIN | POLLPRI | POLLOUT | POLLRDHUP));
  p.revents = 0;
  int rc;
  do {
    rc = ::poll(&p, 1, 0);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) ThrowErrno(info.Env(), errno, "poll");
  return Napi::Number::New(info.Env(), static_cast<uint16_t>(p.revents));
}

Napi::Value EpollCreate(const Napi::CallbackInfo& info) {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) ThrowErrno(info.Env(), errno, "epoll_create1");
  return Napi::Number::New(info.Env(), fd);
}

// epollCtl(epfd, 'add'|'mod'|'del', fd, events = 0, data = fd)
Napi::Value EpollCtl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int epfd = ArgFd(info, 0, "epfd");
  std::string opname = ArgString(info, 1, "op");
  int fd = ArgFd(info, 2, "fd");
  uint32_t events = ArgUint32Or(info, 3, "events", 0);
  uint32_t data = ArgUint32Or(info, 4, "data", static_cast<uint32_t>(fd));
  int op;
  if (opname == "add") {
    op = EPOLL_CTL_ADD;
  } else if (opname == "mod") {
    op = EPOLL_CTL_MOD;
  } else if (opname == "del") {
    op = EPOLL_CTL_DEL;
  } else {
    throw Napi::RangeError::New(env, "\"op\" must be 'add', 'mod' or 'del'");
  }
  if (events & ~kEpollInterest) throw Napi::RangeError::New(env, "\"events\" has unsupported bits");
  epoll_event ev;
  std::memset(&ev, 0, sizeof ev);
  ev.events = events;
  ev.data.u64 = data;
  if (epoll_ctl(epfd, op, fd, &ev) < 0) ThrowErrno(env, errno, "epoll_ctl");
  return env.Undefined();
}

int WaitInto(Napi::Env env, int epfd, epoll_event* events, int max, int timeout) {
  int n;
  do {
    n = epoll_wait(epfd, events, max, timeout);
  } while (n < 0 && errno == EINTR && timeout == 0);
  if (n < 0) ThrowErrno(env, errno, "epoll_wait");
  return n;
}

constexpr int kMaxBatch = 1024;

// epollWait(epfd, maxEvents, timeoutMs = 0) -> [[data, events], ...]. A timeout other than 0
// blocks the calling thread: for worker threads only.
Napi::Value EpollWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int epfd = ArgFd(info, 0, "epfd");
  uint32_t max = ArgUint32(info, 1, "maxEvents");
  int32_t timeout = ArgInt32Or(info, 2, "timeoutMs", 0);
  if (max < 1 || max > kMaxBatch) throw Napi::RangeError::New(env, "\"maxEvents\" must be in [1, 1024]");
  epoll_event events[kMaxBatch];
  int n = WaitInto(env, epfd, events, static_cast<int>(max), timeout);
  Napi::Array out = Napi::Array::New(env, n);
  for (int i = 0; i < n; i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::Number::New(env, static_cast<uint32_t>(events[i].data.u64)));
    pair.Set(1u, Napi::Number::New(env, events[i].events));
    out.Set(static_cast<uint32_t>(i), pair);
  }
  return out;
}

// epollWaitInto(epfd, out: Int32Array | Uint32Array, timeoutMs = 0, maxEvents = out.length / 2)
// -> count. Writes out[2i] = data, out[2i + 1] = events. No allocation.
Napi::Value EpollWaitInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int epfd = ArgFd(info, 0, "epfd");
  if (!info[1].IsTypedArray()) throw Napi::TypeError::New(env, "\"out\" must be an Int32Array or Uint32Array");
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  napi_typedarray_type type = ta.TypedArrayType();
  if (type != napi_int32_array && type != napi_uint32_array) {
    throw Napi::TypeError::New(env, "\"out\" must be an Int32Array or Uint32Array");
  }
  int32_t timeout = ArgInt32Or(info, 2, "timeoutMs", 0);
  size_t max = ta.ElementLength() / 2;
  if (max < 1) throw Napi::RangeError::New(env, "\"out\" must hold at least one pair");
  uint32_t asked = ArgUint32Or(info, 3, "maxEvents", static_cast<uint32_t>(max));
  if (asked < 1) throw Napi::RangeError::New(env, "\"maxEvents\" must be at least 1");
  if (asked < max) max = asked;
  if (max > kMaxBatch) max = kMaxBatch;
  uint32_t* words = reinterpret_cast<uint32_t*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
  epoll_event events[kMaxBatch];
  int n = WaitInto(env, epfd, events, static_cast<int>(max), timeout);
  for (int i = 0; i < n; i++) {
    words[2 * i] = static_cast<uint32_t>(events[i].data.u64);
    words[2 * i + 1] = events[i].events;
  }
  return Napi::Number::New(env, n);
}

void SetFn(Napi::Env env, Napi::Object obj, const char* name, Napi::Function::Callback cb) {
  obj.Set(name, Napi::Function::New(env, cb, name));
}

void SetNum(Napi::Env env, Napi::Object obj, const char* name, double value) {
  obj.Set(name, Napi::Number::New(env, value));
}

}  // namespace

Napi::Object Define(Napi::Env env) {
  Napi::Object sys = Napi::Object::New(env);
  SetFn(env, sys, "eventfd", EventfdCreate);
  SetFn(env, sys, "eventfdWrite", EventfdWrite);
  SetFn(env, sys, "eventfdRead", ReadCounter);
  SetFn(env, sys, "timerfd", TimerfdCreate);
  SetFn(env, sys, "timerfdSet", TimerfdSet);
  SetFn(env, sys, "timerfdRead", ReadCounter);
  SetFn(env, sys, "close", Close);
  SetFn(env, sys, "socketpair", Socketpair);
  SetFn(env, sys, "shutdown", Shutdown);
  SetFn(env, sys, "write", Write);
  SetFn(env, sys, "read", Read);
  SetFn(env, sys, "poll", Poll);
  SetFn(env, sys, "epollCreate", EpollCreate);
  SetFn(env, sys, "epollCtl", EpollCtl);
  SetFn(env, sys, "epollWait", EpollWait);
  SetFn(env, sys, "epollWaitInto", EpollWaitInto);
  return sys;
}

Napi::Object DefineConstants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  SetNum(env, c, "EPOLLIN", EPOLLIN);
  SetNum(env, c, "EPOLLPRI", EPOLLPRI);
  SetNum(env, c, "EPOLLOUT", EPOLLOUT);
  SetNum(env, c, "EPOLLERR", EPOLLERR);
  SetNum(env, c, "EPOLLHUP", EPOLLHUP);
  SetNum(env, c, "EPOLLRDHUP", EPOLLRDHUP);
  SetNum(env, c, "EPOLLET", static_cast<uint32_t>(EPOLLET));
  SetNum(env, c, "EPOLLONESHOT", EPOLLONESHOT);
  SetNum(env, c, "POLLIN", POLLIN);
  SetNum(env, c, "POLLPRI", POLLPRI);
  SetNum(env, c, "POLLOUT", POLLOUT);
  SetNum(env, c, "POLLERR", POLLERR);
  SetNum(env, c, "POLLHUP", POLLHUP);
  SetNum(env, c, "POLLNVAL", POLLNVAL);
  SetNum(env, c, "POLLRDHUP", POLLRDHUP);
  SetNum(env, c, "EAGAIN", EAGAIN);
  SetNum(env, c, "FDWATCH_OWN_FD", FdWatch::kOwnFd);
  return c;
}

}  // namespace sys
}  // namespace nmemif
