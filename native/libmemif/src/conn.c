/* Control connections: the SOCK_SEQPACKET I/O with fds attached, connection objects, accepting
 * (master) and connecting (slave), and ending a connection that failed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "msg.h"

/* ---- I/O ----------------------------------------------------------------------------------- */

int nmif__conn_send(nmif__conn_t *c, const nmif_msg_t *m, int fd) {
  struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof(*m)};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl;
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    memset(&ctl, 0, sizeof(ctl));
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
  }
  ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n != (ssize_t)sizeof(*m))
    return n < 0 ? -errno : -EIO;
  NMIF_DBG("fd %d: sent %s", c->fd, nmif__msg_type_name(m->type));
  return 0;
}

/* Receives one datagram with its fds. Returns bytes (0 = EOF) or -errno; *msg_flags set. */
ssize_t nmif__conn_recv(int sockfd, uint8_t *buf, size_t cap, int *fds, int *nfds, int *flags) {
  struct iovec iov = {.iov_base = buf, .iov_len = cap};
  union {
    char buf[CMSG_SPACE(sizeof(int) * NMIF_MAX_FDS_PER_MSG) + CMSG_SPACE(sizeof(struct ucred))];
    struct cmsghdr align;
  } ctl;
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                      .msg_controllen = sizeof(ctl.buf)};
  *nfds = 0;
  ssize_t n = recvmsg(sockfd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0)
    return -errno;
  *flags = mh.msg_flags;
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
      continue; /* SCM_CREDENTIALS: not enforced */
    size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t j = 0; j < k; j++) {
      int fd;
      memcpy(&fd, CMSG_DATA(cm) + j * sizeof(int), sizeof(int));
      if (*nfds < NMIF_MAX_FDS_PER_MSG)
        fds[(*nfds)++] = fd;
      else
        close(fd);
    }
  }
  return n;
}

void nmif__close_fds(int *fds, int n) {
  for (int k = 0; k < n; k++)
    if (fds[k] >= 0)
      close(fds[k]);
}

/* ---- connection objects ---------------------------------------------------------------- */

static nmif__conn_t *conn_new(struct nmif_socket_s *s, int fd, int state) {
  nmif__conn_t *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->sock = s;
  c->fd = fd;
  c->state = state;
  c->deadline_ms = nmif__now_ms() + s->handshake_timeout_ms;
  if (nmif__watch(s, fd, NMIF_FDK_CONN, c, 0, &c->ent) < 0) {
    free(c);
    return NULL;
  }
  return c;
}

void nmif__conn_close(nmif__conn_t *c) {
  nmif__unwatch(c->sock, &c->ent);
  close(c->fd);
  free(c);
}

void nmif__conn_unlink_pending(nmif__conn_t *c) {
  struct nmif_socket_s *s = c->sock;
  for (nmif__conn_t **pp = &s->pending; *pp; pp = &(*pp)->next) {
    if (*pp == c) {
      *pp = c->next;
      s->num_pending--;
      return;
    }
  }
}

void nmif__conn_free_unbound(nmif__conn_t *c) {
  nmif__conn_unlink_pending(c);
  nmif__conn_close(c);
}

/* Rejects a connection not bound to an interface: DISCONNECT, close. */
void nmif__conn_reject(nmif__conn_t *c, const char *reason) {
  nmif_msg_t m;
  NMIF_WARN("%s: rejecting connection: %s", c->sock->path, reason);
  nmif__msg_disconnect(&m, 0, reason);
  nmif__conn_send(c, &m, -1);
  struct nmif_socket_s *s = c->sock;
  nmif__conn_free_unbound(c);
  nmif__timer_rearm(s);
}

int nmif__conn_accept(struct nmif_socket_s *s) {
  int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0)
    return -errno;
  if (s->num_pending >= NMIF_MAX_PENDING_CONNS) {
    NMIF_WARN("%s: too many connections in handshake; dropping one", s->path);
    close(fd);
    return NMIF_EBUSY;
  }
  nmif__conn_t *c = conn_new(s, fd, NMIF_CS_M_WAIT_INIT);
  if (!c) {
    close(fd);
    return NMIF_ENOMEM;
  }
  c->next = s->pending;
  s->pending = c;
  s->num_pending++;
  nmif_msg_t m;
  nmif__msg_hello(&m, s->app_name);
  if (nmif__conn_send(c, &m, -1) < 0) {
    nmif__conn_free_unbound(c);
    return -EIO;
  }
  nmif__timer_rearm(s);
  return 0;
}

int nmif__conn_connect(struct nmif_if_s *i) {
  struct nmif_socket_s *s = i->sock;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  if (connect(fd, (struct sockaddr *)&s->addr, s->addr_len) < 0) {
    int err = -errno;
    close(fd);
    return err;
  }
  nmif__conn_t *c = conn_new(s, fd, NMIF_CS_S_WAIT_HELLO);
  if (!c) {
    close(fd);
    return NMIF_ENOMEM;
  }
  c->iface = i;
  i->conn = c;
  i->retry_at_ms = 0;
  nmif__timer_rearm(s);
  return 0;
}


void nmif__conn_fail(nmif__conn_t *c, int cause, const char *reason) {
  if (c->iface)
    nmif__if_teardown(c->iface, cause, reason);
  else if (cause != NMIF_DOWN_PEER)
    nmif__conn_reject(c, reason);
  else
    nmif__conn_free_unbound(c);
}
