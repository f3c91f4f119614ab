/* Interrupt eventfds: telling one from other fds, and reading/writing them safely although the
 * peer shares them down to the open file description (see irq.h). */
#include "irq.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int nmif__fd_is_eventfd(int fd) {
  char path[64], line[128];
  snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
  FILE *f = fopen(path, "re");
  if (!f)
    return 0;
  int found = 0;
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, "eventfd-count:", 14) == 0) {
      found = 1;
      break;
    }
  }
  fclose(f);
  return found;
}

int nmif__irq_read(int fd) {
  uint64_t v;
  struct iovec iov = {.iov_base = &v, .iov_len = sizeof(v)};
  ssize_t n = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
  if (n < 0 && errno == EOPNOTSUPP) { /* kernels without NOWAIT reads on eventfd */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
      return 0;
    n = read(fd, &v, sizeof(v));
  }
  if (n == (ssize_t)sizeof(v))
    return 1;
  return n < 0 && errno != EAGAIN ? -errno : 0;
}

int nmif__irq_write(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0)
    return -errno;
  if (!(fl & O_NONBLOCK)) {
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    return -EPERM;
  }
  uint64_t one = 1;
  return write(fd, &one, sizeof(one)) == (ssize_t)sizeof(one) ? 0 : -errno;
}

void nmif__efd_signal(int fd) {
  uint64_t one = 1;
  if (write(fd, &one, sizeof(one)) < 0) { /* EAGAIN: the counter is saturated, a wake-up is pending */
  }
}
