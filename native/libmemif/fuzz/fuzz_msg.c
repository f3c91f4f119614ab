/*
 * Fuzzes the control channel: every datagram of the input goes to our master (the input plays
 * a slave) or to our slave (it plays a master) over a real socket, with fds attached or not,
 * and the library's loop handles it (decoder, state machine, every handler). The format is in
 * fuzz_msg.h.
 *
 * After each input the connection is closed, and: our interface must be down, and the process
 * must hold exactly the fds it held before (every fd the input passed was closed or kept only
 * while the link was up). ASan/UBSan catch memory and undefined-behaviour errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "fuzz_msg.h"
#include "peer.h"
#include "wire.h"

static struct {
  int ready;
  nmif_loop_t *loop;
  char mpath[64];            /* our master listens here */
  char lpath[64];            /* the input's master listens here, our slave connects */
  nmif_socket_t *msock, *ssock;
  nmif_if_t *master;
  int listen_fd;
  int fd[FDSEL_COUNT];       /* one prepared fd per selector (the second of REGION_AND_EVENTFD
                                is fd[FDSEL_EVENTFD]) */
  int pipe_rd, sock_peer;
  uint32_t *region;          /* our view of the region memfd, refilled with cookies per input */
  int baseline_fds;
  int baseline_entries;
} H;

/* The callbacks run whatever the input does. */
static void on_connect(nmif_if_t *i, void *user) { FUZZ_CHECK(nmif_if_is_connected(i)); }

static int memfd(const char *name, size_t size, int sealable) {
  int fd = memfd_create(name, MFD_CLOEXEC | (sealable ? MFD_ALLOW_SEALING : 0));
  FUZZ_CHECK(fd >= 0 && ftruncate(fd, (off_t)size) == 0);
  if (sealable)
    FUZZ_CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0);
  return fd;
}

static void setup(void) {
  fuzz_quiet_log();
  FUZZ_CHECK(nmif_loop_create(&H.loop) == 0);
  snprintf(H.mpath, sizeof(H.mpath), "@nmif-fuzz-msg-m-%d", (int)getpid());
  snprintf(H.lpath, sizeof(H.lpath), "@nmif-fuzz-msg-s-%d", (int)getpid());
  H.msock = fuzz_socket(H.loop, H.mpath);
  nmif_if_args_t a;
  memset(&a, 0, sizeof(a));
  a.id = FUZZ_MSG_ID;
  a.is_master = 1;
  a.secret = FUZZ_MSG_SECRET;
  a.rx_queues = FUZZ_MSG_QUEUES;
  a.tx_queues = FUZZ_MSG_QUEUES;
  a.on_connect = on_connect;
  a.on_disconnect = fuzz_on_disconnect;
  FUZZ_CHECK(nmif_if_create(H.msock, &H.master, &a) == 0);

  H.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa;
  socklen_t len = hp_sockaddr(&sa, H.lpath);
  FUZZ_CHECK(H.listen_fd >= 0 && bind(H.listen_fd, (struct sockaddr *)&sa, len) == 0 &&
             listen(H.listen_fd, 4) == 0);
  H.ssock = fuzz_socket(H.loop, H.lpath);

  H.fd[FDSEL_REGION] = memfd("nmif-fuzz-region", FUZZ_MSG_REGION_SIZE, 1);
  H.region = mmap(NULL, FUZZ_MSG_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                  H.fd[FDSEL_REGION], 0);
  FUZZ_CHECK(H.region != MAP_FAILED);
  H.fd[FDSEL_EVENTFD] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int pp[2];
  FUZZ_CHECK(pipe2(pp, O_CLOEXEC) == 0);
  H.pipe_rd = pp[0];
  H.fd[FDSEL_PIPE] = pp[1];
  fuzz_fd_watch_pipe(pp[1]);
  H.fd[FDSEL_SMALL_MEMFD] = memfd("nmif-fuzz-small", 4096, 1);
  H.fd[FDSEL_UNSEALED_MEMFD] = memfd("nmif-fuzz-unsealed", FUZZ_MSG_REGION_SIZE, 0);
  int sv[2];
  FUZZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
  H.fd[FDSEL_SOCKET] = sv[0];
  H.sock_peer = sv[1];
  H.baseline_fds = fuzz_fd_count();
  H.baseline_entries = fuzz_fd_entries();
  H.ready = 1;
}

/* Every aligned word of the region is a ring cookie, so any ring placement an input picks
 * passes the cookie check and the link can come up; rewritten per input (the library writes
 * ring counters into it). */
static void refill_region(void) {
  for (size_t k = 0; k < FUZZ_MSG_REGION_SIZE / 4; k++)
    H.region[k] = NMIF_COOKIE;
}

static void send_record(int c, const uint8_t *rec, size_t avail) {
  uint8_t buf[256];
  memset(buf, 0, sizeof(buf));
  memcpy(buf, rec + 2, avail > 2 ? (avail - 2 < 128 ? avail - 2 : 128) : 0);
  size_t len = fuzz_msg_len(avail > 1 ? rec[1] : 0);
  int fds[2], nfds = 0;
  switch (rec[0] % FDSEL_COUNT) {
  case FDSEL_NONE:
    break;
  case FDSEL_REGION_AND_EVENTFD:
    fds[nfds++] = H.fd[FDSEL_REGION];
    fds[nfds++] = H.fd[FDSEL_EVENTFD];
    break;
  default:
    fds[nfds++] = H.fd[rec[0] % FDSEL_COUNT];
    break;
  }
  (void)hp_sendmsg(c, buf, len, fds, nfds, MSG_DONTWAIT); /* our side may have closed */
}

/* Reads what our side sent (closing the fds it passed). 0 once the connection is closed. */
static int drain(int c) {
  for (;;) {
    uint8_t buf[256];
    int fds[HP_MAX_FDS], nfds;
    ssize_t n = hp_recvmsg(c, buf, sizeof(buf), fds, HP_MAX_FDS, &nfds, MSG_DONTWAIT);
    for (int k = 0; k < nfds; k++)
      close(fds[k]);
    if (n < 0)
      return n == -EAGAIN || n == -EWOULDBLOCK;
    if (n == 0)
      return 0;
    FUZZ_CHECK(n == NMIF_MSG_SIZE); /* our side only ever sends whole messages */
  }
}

/* The input plays a slave: connect to our master, which greets with HELLO. */
static int open_as_slave(void) {
  int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa;
  socklen_t len = hp_sockaddr(&sa, H.mpath);
  FUZZ_CHECK(c >= 0 && connect(c, (struct sockaddr *)&sa, len) == 0);
  fuzz_pump(H.loop);
  return c;
}

/* The input plays a master: our slave connects to the input's listener. */
static int open_as_master(nmif_if_t **slave) {
  nmif_if_args_t a;
  memset(&a, 0, sizeof(a));
  a.id = FUZZ_MSG_ID;
  a.secret = FUZZ_MSG_SECRET;
  a.rx_queues = FUZZ_MSG_QUEUES;
  a.tx_queues = FUZZ_MSG_QUEUES;
  a.log2_ring_size = FUZZ_MSG_SLAVE_LOG2;
  a.buffer_size = FUZZ_MSG_SLAVE_BSIZE;
  a.on_connect = on_connect;
  a.on_disconnect = fuzz_on_disconnect;
  FUZZ_CHECK(nmif_if_create(H.ssock, slave, &a) == 0);
  int c = accept4(H.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  FUZZ_CHECK(c >= 0);
  return c;
}

/* Counting fds by name costs a readlink each: count entries first, and only when their number
 * moved, count again leaving foreign pipes out (see fuzz_fd_count). */
static int fds_back(void *ctx) {
  int n = fuzz_fd_entries();
  if (n == H.baseline_entries)
    return 1;
  if (fuzz_fd_count() != H.baseline_fds)
    return 0;
  H.baseline_entries = n; /* a pipe of libFuzzer's came or went */
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!H.ready)
    setup();
  if (size < 1)
    return 0;
  refill_region();
  int as_master = data[0] & 1;
  nmif_if_t *slave = NULL;
  int c = as_master ? open_as_master(&slave) : open_as_slave();
  int open = drain(c);
  for (size_t at = 1; at < size && open; at += FUZZ_MSG_REC) {
    send_record(c, data + at, size - at);
    fuzz_pump(H.loop);
    open = drain(c);
  }
  close(c);
  fuzz_pump(H.loop);
  if (slave) {
    FUZZ_CHECK(!nmif_if_is_connected(slave));
    FUZZ_CHECK(nmif_if_destroy(slave) == 0);
    fuzz_pump(H.loop);
  }
  FUZZ_CHECK(!nmif_if_is_connected(H.master));
  /* every fd the input passed is closed again (allow the loop a moment to see the EOF) */
  if (!fuzz_pump_until(H.loop, fds_back, NULL, FUZZ_WAIT_MS)) {
    fprintf(stderr, "%d fds open, %d before the input:\n", fuzz_fd_count(), H.baseline_fds);
    fuzz_fd_dump();
    FUZZ_CHECK(!"every fd the input passed is closed again");
  }
  return 0;
}
