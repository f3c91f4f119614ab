#include "fd_watch.h"

#include <sys/epoll.h>
#include <unistd.h>

#include "util.h"

namespace nmemif {

struct FdWatch::Handle {
  uv_poll_t poll;
  napi_env env = nullptr;
  napi_async_cleanup_hook_handle hook = nullptr;
  FdWatch* owner = nullptr;  // null once the JS side let go (close, GC, env teardown)
  int fd = -1;
  bool own_fd = false;
  bool closing = false;
};

namespace {

constexpr uint32_t kKnownEvents = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDHUP;

int ToUv(uint32_t events) {
  int uv = 0;
  if (events & EPOLLIN) uv |= UV_READABLE;
  if (events & EPOLLOUT) uv |= UV_WRITABLE;
  if (events & EPOLLRDHUP) uv |= UV_DISCONNECT;
  if (events & EPOLLPRI) uv |= UV_PRIORITIZED;
  return uv;
}

uint32_t FromUv(int uv) {
  uint32_t events = 0;
  if (uv & UV_READABLE) events |= EPOLLIN;
  if (uv & UV_WRITABLE) events |= EPOLLOUT;
  if (uv & UV_DISCONNECT) events |= EPOLLRDHUP;
  if (uv & UV_PRIORITIZED) events |= EPOLLPRI;
  return events;
}

}  // namespace

Napi::Function FdWatch::Define(Napi::Env env) {
  return DefineClass(env, "FdWatch",
                     {
                         InstanceMethod<&FdWatch::Start>("start"),
                         InstanceMethod<&FdWatch::Stop>("stop"),
                         InstanceMethod<&FdWatch::Close>("close"),
                         InstanceMethod<&FdWatch::Ref>("ref"),
                         InstanceMethod<&FdWatch::Unref>("unref"),
                         InstanceMethod<&FdWatch::HasRef>("hasRef"),
                         InstanceAccessor<&FdWatch::GetFd>("fd"),
                         InstanceAccessor<&FdWatch::GetActive>("active"),
                         InstanceAccessor<&FdWatch::GetClosed>("closed"),
                         StaticValue("OWN_FD", Napi::Number::New(env, kOwnFd), napi_enumerable),
                     });
}

FdWatch::FdWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdWatch>(info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "fd");
  Napi::Function callback = ArgFunction(info, 1, "callback");
  uint32_t flags = ArgUint32Or(info, 2, "flags", 0);
  if (flags & ~kOwnFd) throw Napi::RangeError::New(env, "\"flags\" has unknown bits");

  uv_loop_t* loop = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_get_uv_event_loop(env, &loop));

  auto h = std::make_unique<Handle>();
  int rc = uv_poll_init(loop, &h->poll, fd);
  if (rc < 0) ThrowErrno(env, -rc, "uv_poll_init");
  // From here on the handle belongs to the loop: it can only be released through uv_close.
  h->poll.data = h.get();
  h->env = env;
  h->owner = this;
  h->fd = fd;
  h->own_fd = (flags & kOwnFd) != 0;
  napi_status st = napi_add_async_cleanup_hook(env, OnEnvCleanup, h.get(), &h->hook);
  if (st != napi_ok) {
    h->hook = nullptr;
    h->own_fd = false;  // the caller still owns the fd when construction fails
    Handle* raw = h.release();
    raw->owner = nullptr;
    BeginClose(raw);
    NAPI_THROW_IF_FAILED_VOID(env, st);
  }
  handle_ = h.release();
  fd_ = fd;
  callback_ = Napi::Persistent(callback);
  async_ = std::make_unique<Napi::AsyncContext>(env, "nmemif:FdWatch", info.This().As<Napi::Object>());
}

FdWatch::~FdWatch() {
  // Garbage-collected while open (possible only when stopped: an active watch is pinned).
  if (handle_ != nullptr) {
    Handle* h = handle_;
    handle_ = nullptr;
    h->owner = nullptr;
    BeginClose(h);
  }
}

FdWatch::Handle* FdWatch::Live(Napi::Env env, const char* what) {
  if (handle_ == nullptr) {
    Napi::Error e = Napi::Error::New(env, std::string("FdWatch is closed (") + what + ")");
    e.Set("code", Napi::String::New(env, "EBADF"));
    throw e;
  }
  return handle_;
}

void FdWatch::Pin() {
  if (!pinned_) {
    Napi::ObjectWrap<FdWatch>::Ref();
    pinned_ = true;
  }
}

void FdWatch::Unpin() {
  if (pinned_) {
    pinned_ = false;
    Napi::ObjectWrap<FdWatch>::Unref();
  }
}

Napi::Value FdWatch::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Handle* h = Live(env, "start");
  uint32_t events = ArgUint32(info, 0, "events");
  if (events & ~kKnownEvents) {
    throw Napi::RangeError::New(env, "\"events\" may only hold EPOLLIN, EPOLLPRI, EPOLLOUT, EPOLLRDHUP");
  }
  int uv = ToUv(events);
  if (uv == 0) {
    uv_poll_stop(&h->poll);
    Unpin();
    return env.Undefined();
  }
  int rc = uv_poll_start(&h->poll, uv, OnPoll);
  if (rc < 0) ThrowErrno(env, -rc, "uv_poll_start");
  Pin();
  return env.Undefined();
}

Napi::Value FdWatch::Stop(const Napi::CallbackInfo& info) {
  if (handle_ != nullptr) uv_poll_stop(&handle_->poll);
  Unpin();
  return info.Env().Undefined();
}

Napi::Value FdWatch::Close(const Napi::CallbackInfo& info) {
  if (handle_ != nullptr) {
    Handle* h = handle_;
    handle_ = nullptr;
    h->owner = nullptr;
    BeginClose(h);
  }
  Unpin();
  return info.Env().Undefined();
}

Napi::Value FdWatch::Ref(const Napi::CallbackInfo& info) {
  uv_ref(reinterpret_cast<uv_handle_t*>(&Live(info.Env(), "ref")->poll));
  return info.Env().Undefined();
}

Napi::Value FdWatch::Unref(const Napi::CallbackInfo& info) {
  uv_unref(reinterpret_cast<uv_handle_t*>(&Live(info.Env(), "unref")->poll));
  return info.Env().Undefined();
}

Napi::Value FdWatch::HasRef(const Napi::CallbackInfo& info) {
  bool has = handle_ != nullptr && uv_has_ref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
  return Napi::Boolean::New(info.Env(), has);
}

Napi::Value FdWatch::GetFd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), fd_);
}

Napi::Value FdWatch::GetActive(const Napi::CallbackInfo& info) {
  bool active = handle_ != nullptr && uv_is_active(reinterpret_cast<uv_handle_t*>(&handle_->poll));
  return Napi::Boolean::New(info.Env(), active);
}

Napi::Value FdWatch::GetClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), handle_ == nullptr);
}

void FdWatch::OnPoll(uv_poll_t* poll, int status, int events) {
  Handle* h = static_cast<Handle*>(poll->data);
  FdWatch* self = h->owner;
  if (self == nullptr || h->closing) return;
  // Plain Node-API calls, checked by hand: while a worker is being terminated, libuv can still
  // deliver an event but JS cannot run, and Node-API 8 reports that as napi_pending_exception
  // with no exception to fetch. node-addon-api would turn that into a fatal error.
  napi_env env = h->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value recv, fn, argv[2], result;
  uint32_t revents = status < 0 ? 0 : FromUv(events);
  if (napi_get_reference_value(env, static_cast<napi_ref>(static_cast<const Napi::Reference<Napi::Object>&>(*self)), &recv) == napi_ok && recv != nullptr &&
      napi_get_reference_value(env, self->callback_, &fn) == napi_ok && fn != nullptr &&
      napi_create_int32(env, status, &argv[0]) == napi_ok && napi_create_uint32(env, revents, &argv[1]) == napi_ok) {
    napi_status st = napi_make_callback(env, *self->async_, recv, fn, 2, argv, &result);
    if (st != napi_ok) {
      bool pending = false;
      napi_value exception;
      if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
          napi_get_and_clear_last_exception(env, &exception) == napi_ok) {
        napi_fatal_exception(env, exception);  // -> process 'uncaughtException'
      }
    }
  }
  napi_close_handle_scope(env, scope);
  // libuv stops the handle by itself on EPOLLERR; drop the pin unless the callback restarted it.
  if (h->owner == self && !uv_is_active(reinterpret_cast<uv_handle_t*>(poll))) self->Unpin();
}

void FdWatch::BeginClose(Handle* h) {
  if (h->closing) return;
  h->closing = true;
  uv_poll_stop(&h->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&h->poll), OnClosed);
  // libuv no longer looks at the fd once uv_close has returned; the close callback only
  // frees memory. Closing the fd here makes FdWatch.close() release it synchronously.
  if (h->own_fd && h->fd >= 0) {
    ::close(h->fd);
    h->fd = -1;
  }
}

void FdWatch::OnEnvCleanup(napi_async_cleanup_hook_handle hook, void* arg) {
  // The environment is going away (worker terminated, process exiting). The JS object may be
  // finalized later or never; detach it and close the handle while the addon is mapped.
  Handle* h = static_cast<Handle*>(arg);
  if (h->owner != nullptr) {
    h->owner->handle_ = nullptr;
    h->owner->pinned_ = false;  // the reference dies with the environment
    h->owner = nullptr;
  }
  BeginClose(h);
}

void FdWatch::OnClosed(uv_handle_t* handle) {
  Handle* h = static_cast<Handle*>(handle->data);
  // Tells Node this handle's cleanup is done (or, outside teardown, unregisters the hook).
  if (h->hook != nullptr) napi_remove_async_cleanup_hook(h->hook);
  delete h;
}

}  // namespace nmemif
