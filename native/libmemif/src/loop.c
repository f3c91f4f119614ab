/* A minimal epoll loop so plain C programs can drive the library without their own loop, and
 * the mapping between epoll bits and the library's readiness bits. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

struct nmif_loop_s {
  int epfd;
  int wake_fd;
};

int nmif_loop_create(nmif_loop_t **out) {
  nmif_loop_t *l = calloc(1, sizeof(*l));
  if (!l)
    return NMIF_ENOMEM;
  l->epfd = epoll_create1(EPOLL_CLOEXEC);
  l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (l->epfd < 0 || l->wake_fd < 0) {
    int err = -errno;
    nmif_loop_destroy(l);
    return err;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wake_fd, &ev);
  *out = l;
  return 0;
}

void nmif_loop_destroy(nmif_loop_t *l) {
  if (!l)
    return;
  if (l->epfd >= 0)
    close(l->epfd);
  if (l->wake_fd >= 0)
    close(l->wake_fd);
  free(l);
}

uint32_t nmif_events_to_epoll(uint32_t ev) {
  return (ev & NMIF_EV_READ ? EPOLLIN : 0) | (ev & NMIF_EV_WRITE ? EPOLLOUT : 0);
}

uint32_t nmif_events_from_epoll(uint32_t ev) {
  return (ev & (EPOLLIN | EPOLLPRI) ? NMIF_EV_READ : 0) | (ev & EPOLLOUT ? NMIF_EV_WRITE : 0) |
         (ev & EPOLLERR ? NMIF_EV_ERROR : 0) | (ev & (EPOLLHUP | EPOLLRDHUP) ? NMIF_EV_HUP : 0);
}

int nmif_loop_fd_update(int fd, nmif_fd_op_t op, uint32_t events, void *token, void *ctx) {
  nmif_loop_t *l = ctx;
  struct epoll_event ev = {.events = nmif_events_to_epoll(events) | (events & NMIF_EV_EDGE ? EPOLLET : 0),
                           .data.ptr = token};
  int r = 0;
  if (op == NMIF_FD_ADD)
    r = epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
  else if (op == NMIF_FD_MOD)
    r = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
  else
    r = epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
  return r < 0 ? -errno : 0;
}

int nmif_loop_run(nmif_loop_t *l, int timeout_ms) {
  /* A batch is safe: tokens are pooled per socket, so one closed while handling an earlier
   * event of the batch still points at valid memory and reads as free (or spurious). */
  struct epoll_event evs[16];
  int n = epoll_wait(l->epfd, evs, 16, timeout_ms);
  if (n < 0)
    return errno == EINTR ? 0 : -errno;
  for (int k = 0; k < n; k++) {
    struct epoll_event *ev = &evs[k];
    if (ev->data.ptr == NULL) {
      uint64_t v;
      if (read(l->wake_fd, &v, sizeof(v)) < 0) { /* already drained */
      }
      continue;
    }
    nmif_fd_ready(ev->data.ptr, nmif_events_from_epoll(ev->events));
  }
  return n;
}

int nmif_loop_wake(nmif_loop_t *l) {
  uint64_t one = 1;
  return write(l->wake_fd, &one, sizeof(one)) < 0 ? -errno : 0;
}
