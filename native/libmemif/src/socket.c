/* Socket objects: the address, the listener (with stale-file handling), the fd registry that
 * feeds the application's event loop, the timer and the dispatch entry point. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

uint64_t nmif__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- fd registry ---------------------------------------------------------------------------- */

int nmif__watch(struct nmif_socket_s *s, int fd, int kind, void *ptr, uint16_t qid,
                nmif__fdent_t **out) {
  nmif__fdent_t *e = s->free_ents;
  if (e) {
    s->free_ents = e->next_free;
  } else {
    e = calloc(1, sizeof(*e));
    if (!e)
      return NMIF_ENOMEM;
    e->sock = s;
    e->next_all = s->all_ents;
    s->all_ents = e;
  }
  e->fd = fd;
  e->kind = (uint8_t)kind;
  e->ptr = ptr;
  e->qid = qid;
  e->next_free = NULL;
  uint32_t ev = NMIF_EV_READ | (kind == NMIF_FDK_IRQ && s->irq_edge ? NMIF_EV_EDGE : 0);
  int r = s->fd_update(fd, NMIF_FD_ADD, ev, e, s->fd_update_ctx);
  if (r < 0) {
    e->kind = NMIF_FDK_FREE;
    e->next_free = s->free_ents;
    s->free_ents = e;
    return r;
  }
  *out = e;
  return 0;
}

void nmif__unwatch(struct nmif_socket_s *s, nmif__fdent_t **entp) {
  nmif__fdent_t *e = *entp;
  if (!e)
    return;
  s->fd_update(e->fd, NMIF_FD_DEL, 0, e, s->fd_update_ctx);
  e->kind = NMIF_FDK_FREE;
  e->ptr = NULL;
  e->fd = -1;
  e->next_free = s->free_ents;
  s->free_ents = e;
  *entp = NULL;
}

/* ---- timer: slave reconnects and handshake deadlines share one timerfd -------------------- */

void nmif__timer_rearm(struct nmif_socket_s *s) {
  uint64_t next = 0;
  for (struct nmif_if_s *i = s->ifaces; i; i = i->next)
    if (i->retry_at_ms && (!next || i->retry_at_ms < next))
      next = i->retry_at_ms;
  for (nmif__conn_t *c = s->pending; c; c = c->next)
    if (!next || c->deadline_ms < next)
      next = c->deadline_ms;
  for (struct nmif_if_s *i = s->ifaces; i; i = i->next)
    if (i->conn && i->conn->state != NMIF_CS_CONNECTED &&
        (!next || i->conn->deadline_ms < next))
      next = i->conn->deadline_ms;

  struct itimerspec its;
  memset(&its, 0, sizeof(its));
  if (next) {
    its.it_value.tv_sec = (time_t)(next / 1000);
    its.it_value.tv_nsec = (long)(next % 1000) * 1000000L;
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
      its.it_value.tv_nsec = 1; /* zero would disarm */
  }
  timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* ---- address and listener ------------------------------------------------------------------- */

static int set_address(struct nmif_socket_s *s, const char *path) {
  size_t len = strlen(path);
  memset(&s->addr, 0, sizeof(s->addr));
  s->addr.sun_family = AF_UNIX;
  if (len == 0)
    return NMIF_EINVAL;
  if (path[0] == '@') {
    /* Abstract: NUL then the name, and the address length counts no trailing NULs, so the
     * name matches what VPP, libmemif and DPDK bind. */
    if (len - 1 == 0 || len - 1 > sizeof(s->addr.sun_path) - 1)
      return len - 1 == 0 ? NMIF_EINVAL : NMIF_ENAMETOOLONG;
    memcpy(s->addr.sun_path + 1, path + 1, len - 1);
    s->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    s->abstract = 1;
  } else {
    if (len >= sizeof(s->addr.sun_path))
      return NMIF_ENAMETOOLONG;
    memcpy(s->addr.sun_path, path, len);
    s->addr_len = sizeof(s->addr);
  }
  memcpy(s->path, path, len + 1);
  return 0;
}

/* Is someone accepting connections at our address? 1 yes, 0 no (stale), <0 error. */
static int probe_live_listener(struct nmif_socket_s *s) {
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -errno;
  int r = connect(fd, (struct sockaddr *)&s->addr, s->addr_len);
  int err = errno;
  close(fd);
  if (r == 0 || err == EAGAIN || err == EINPROGRESS || err == EPROTOTYPE)
    return 1;
  if (err == ECONNREFUSED)
    return 0;
  return -err;
}

/* Failures here are returned to the caller, who reports them: logged at debug level only. */
static int check_dir(struct nmif_socket_s *s) {
  char dir[NMIF_PATH_MAX + 1];
  memcpy(dir, s->path, sizeof(dir));
  struct stat st;
  if (stat(dirname(dir), &st) < 0) {
    int err = errno;
    NMIF_DBG("socket directory of %s: %s", s->path, strerror(err));
    return -err;
  }
  return S_ISDIR(st.st_mode) ? 0 : NMIF_ENOTDIR;
}

static int check_path_for_bind(struct nmif_socket_s *s) {
  struct stat st;
  int r = check_dir(s);
  if (r < 0)
    return r;
  if (lstat(s->path, &st) < 0)
    return errno == ENOENT ? 0 : -errno;
  if (!S_ISSOCK(st.st_mode)) {
    NMIF_DBG("%s exists and is not a socket; refusing to replace it", s->path);
    return NMIF_ENOTSOCK;
  }
  int live = probe_live_listener(s);
  if (live < 0)
    return live;
  if (live) {
    NMIF_DBG("%s: a live listener already owns this socket", s->path);
    return NMIF_EADDRINUSE;
  }
  NMIF_INFO("%s: removing stale socket file (nobody listening)", s->path);
  if (unlink(s->path) < 0 && errno != ENOENT)
    return -errno;
  return 0;
}

int nmif__listen(struct nmif_socket_s *s) {
  if (s->listen_fd >= 0)
    return 0;
  int r;
  if (!s->abstract && (r = check_path_for_bind(s)) < 0)
    return r;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *)&s->addr, s->addr_len) < 0) {
    r = -errno;
    if (r == -EADDRINUSE)
      NMIF_DBG("%s: address in use (a live listener owns it)", s->path);
    close(fd);
    return r;
  }
  if (listen(fd, 16) < 0) {
    r = -errno;
    close(fd);
    return r;
  }
  if (!s->abstract) {
    struct stat st;
    if (stat(s->path, &st) == 0) {
      s->created_file = 1;
      s->file_ino = st.st_ino;
      s->file_dev = st.st_dev;
    }
  }
  s->listen_fd = fd;
  r = nmif__watch(s, fd, NMIF_FDK_LISTENER, NULL, 0, &s->listen_ent);
  if (r < 0) {
    close(fd);
    s->listen_fd = -1;
    return r;
  }
  return 0;
}

static void unlink_own_file(struct nmif_socket_s *s) {
  struct stat st;
  if (!s->created_file)
    return;
  /* Only if the file is still the one we bound (someone may have replaced it). */
  if (stat(s->path, &st) == 0 && st.st_ino == s->file_ino && st.st_dev == s->file_dev)
    unlink(s->path);
  s->created_file = 0;
}

static void bury_destroyed(struct nmif_socket_s *s) {
  while (s->graveyard) {
    struct nmif_if_s *i = s->graveyard;
    s->graveyard = i->next_dead;
    nmif__if_free(i);
  }
}

/* ---- public ------------------------------------------------------------------------------ */

int nmif_socket_create(nmif_socket_t **out, const nmif_socket_args_t *a) {
  if (!out || !a || !a->path || !a->fd_update)
    return NMIF_EINVAL;
  if (a->app_name && strlen(a->app_name) >= NMIF_NAME_MAX)
    return NMIF_EINVAL;
  struct nmif_socket_s *s = calloc(1, sizeof(*s));
  if (!s)
    return NMIF_ENOMEM;
  s->listen_fd = s->timer_fd = s->wake_fd = -1;
  int r = set_address(s, a->path);
  /* Either role needs the directory: a master binds there, a slave connects there. */
  if (r == 0 && !s->abstract)
    r = check_dir(s);
  if (r < 0) {
    free(s);
    return r;
  }
  snprintf(s->app_name, sizeof(s->app_name), "%s", a->app_name ? a->app_name : "nmemif");
  s->fd_update = a->fd_update;
  s->fd_update_ctx = a->fd_update_ctx;
  s->reconnect_min_ms = a->reconnect_min_ms ? a->reconnect_min_ms : 100;
  s->reconnect_max_ms = a->reconnect_max_ms ? a->reconnect_max_ms : 2000;
  if (s->reconnect_max_ms < s->reconnect_min_ms)
    s->reconnect_max_ms = s->reconnect_min_ms;
  s->handshake_timeout_ms = a->handshake_timeout_ms ? a->handshake_timeout_ms : 3000;
  s->allow_unsealed = a->allow_unsealed_regions;
  s->irq_edge = a->irq_edge_triggered != 0;

  s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s->timer_fd < 0 || s->wake_fd < 0) {
    r = -errno;
    goto fail;
  }
  if ((r = nmif__watch(s, s->timer_fd, NMIF_FDK_TIMER, NULL, 0, &s->timer_ent)) < 0 ||
      (r = nmif__watch(s, s->wake_fd, NMIF_FDK_WAKE, NULL, 0, &s->wake_ent)) < 0)
    goto fail;
  *out = s;
  return 0;
fail:
  nmif__unwatch(s, &s->timer_ent);
  nmif__unwatch(s, &s->wake_ent);
  if (s->timer_fd >= 0)
    close(s->timer_fd);
  if (s->wake_fd >= 0)
    close(s->wake_fd);
  while (s->all_ents) {
    nmif__fdent_t *e = s->all_ents;
    s->all_ents = e->next_all;
    free(e);
  }
  free(s);
  return r;
}

int nmif_socket_destroy(nmif_socket_t *s) {
  if (!s)
    return NMIF_EINVAL;
  if (s->dispatch_depth > 0)
    return NMIF_EBUSY;
  while (s->ifaces) {
    struct nmif_if_s *i = s->ifaces;
    if (i->connected || i->conn)
      nmif__if_teardown(i, NMIF_DOWN_LOCAL, "socket closed");
    s->ifaces = i->next;
    nmif__if_free(i);
  }
  while (s->pending)
    nmif__conn_free_unbound(s->pending);
  bury_destroyed(s);
  if (s->listen_fd >= 0) {
    nmif__unwatch(s, &s->listen_ent);
    close(s->listen_fd);
    s->listen_fd = -1;
  }
  unlink_own_file(s);
  nmif__unwatch(s, &s->timer_ent);
  nmif__unwatch(s, &s->wake_ent);
  close(s->timer_fd);
  close(s->wake_fd);
  while (s->all_ents) {
    nmif__fdent_t *e = s->all_ents;
    s->all_ents = e->next_all;
    free(e);
  }
  free(s);
  return 0;
}

const char *nmif_socket_path(const nmif_socket_t *s) { return s->path; }
int nmif_socket_listener_fd(const nmif_socket_t *s) { return s->listen_fd; }

/* ---- dispatch -------------------------------------------------------------------------- */

int nmif_fd_ready(void *token, uint32_t revents) {
  nmif__fdent_t *e = token;
  if (!e)
    return NMIF_EINVAL;
  struct nmif_socket_s *s = e->sock;
  uint64_t v;
  s->dispatch_depth++;
  switch (e->kind) {
  case NMIF_FDK_LISTENER:
    nmif__conn_accept(s);
    break;
  case NMIF_FDK_CONN:
    nmif__conn_readable(e->ptr, revents);
    break;
  case NMIF_FDK_TIMER:
    if (read(s->timer_fd, &v, sizeof(v)) < 0) { /* spurious */
    }
    nmif__timers_expire(s);
    break;
  case NMIF_FDK_WAKE:
    if (read(s->wake_fd, &v, sizeof(v)) < 0) { /* spurious */
    }
    nmif__if_check_violations(s);
    break;
  case NMIF_FDK_IRQ: {
    struct nmif_if_s *i = e->ptr;
    uint16_t qid = e->qid;
    /* Edge-triggered: each write of the peer is one event and the counter needs no emptying
     * (a peer that saturates it only stops its own wake-ups, as one that never signals). */
    if ((s->irq_edge || nmif__irq_read(e->fd) == 1) && i->connected && !i->destroyed) {
      nmif__rxq(i, qid)->stats->irq_received++;
      if (i->on_rx)
        i->on_rx(i, qid, i->user);
    }
    break;
  }
  default:
    break; /* stale token: the fd was closed while its event was queued */
  }
  if (--s->dispatch_depth == 0)
    bury_destroyed(s);
  return 0;
}
