// FdWatch: a libuv poll handle on a kernel fd, for JavaScript.
//
//   const w = new FdWatch(fd, (status, revents) => {...}, flags = 0);
//   w.start(EPOLLIN | EPOLLOUT);  w.stop();  w.close();  w.ref();  w.unref();
//
// Event bits use the Linux epoll/poll values (EPOLLIN 0x1, EPOLLPRI 0x2, EPOLLOUT 0x4,
// EPOLLRDHUP 0x2000), mapped to UV_READABLE, UV_PRIORITIZED, UV_WRITABLE, UV_DISCONNECT.
// libuv folds hang-ups into IN/OUT; on EPOLLERR it stops the handle and reports status
// -EBADF (the callback gets a negative errno status and revents 0).
// flags: FdWatch.OWN_FD (1) = the watch owns the fd and closes it together with the handle
// (on close(), on garbage collection, and when the environment is torn down).
//
// Lifetime: the uv_poll_t lives in a heap block that outlives the JS object until libuv's
// close callback. Each block registers an async cleanup hook so that a terminated worker
// closes its handles while the addon is still loaded; the close callback removes the hook.
#ifndef NMEMIF_BINDING_FD_WATCH_H
#define NMEMIF_BINDING_FD_WATCH_H

#include <napi.h>
#include <uv.h>

#include <memory>

namespace nmemif {

class FdWatch : public Napi::ObjectWrap<FdWatch> {
 public:
  static constexpr uint32_t kOwnFd = 1;

  static Napi::Function Define(Napi::Env env);

  explicit FdWatch(const Napi::CallbackInfo& info);
  ~FdWatch() override;

 private:
  struct Handle;

  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value HasRef(const Napi::CallbackInfo& info);
  Napi::Value GetFd(const Napi::CallbackInfo& info);
  Napi::Value GetActive(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  Handle* Live(Napi::Env env, const char* what);
  void Pin();
  void Unpin();

  static void OnPoll(uv_poll_t* poll, int status, int events);
  static void OnEnvCleanup(napi_async_cleanup_hook_handle hook, void* arg);
  static void OnClosed(uv_handle_t* handle);
  static void BeginClose(Handle* h);

  Handle* handle_ = nullptr;  // null once closing
  int fd_ = -1;
  bool pinned_ = false;       // strong reference held while polling
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> async_;
};

}  // namespace nmemif

#endif  // NMEMIF_BINDING_FD_WATCH_H
