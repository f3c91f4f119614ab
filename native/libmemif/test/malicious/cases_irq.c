/*
 * Interrupt eventfds: both processes hold the same eventfd *open file description*, so the
 * peer can clear O_NONBLOCK on it at any time (F_SETFL on its own fd), undoing ours. With the
 * counter at its maximum (the peer writes 2^64-2 and never reads), our write() of 1 then
 * blocks; with the counter at 0 (the peer read it first), our read() blocks. No library call,
 * nor the built-in loop, may hang on the peer's say-so. A 500 ms interval timer (SIGALRM, no
 * SA_RESTART) turns a block into EINTR so a case can measure it instead of hanging; after
 * 5 s the process gives up.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"

#define BLOCK_LIMIT_MS 300

static volatile sig_atomic_t alarm_ticks;

static void on_alarm(int sig) {
  (void)sig;
  if (++alarm_ticks >= 10) {
    static const char m[] = "test_malicious: a library call blocked for 5 s (EINTR retried?)\n";
    if (write(2, m, sizeof(m) - 1) < 0) {
    }
    _exit(3);
  }
}

static void watchdog_start(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_alarm; /* no SA_RESTART: a blocked syscall returns EINTR */
  sigaction(SIGALRM, &sa, NULL);
  alarm_ticks = 0;
  struct itimerval it = {{0, 500000}, {0, 500000}};
  setitimer(ITIMER_REAL, &it, NULL);
}

static void watchdog_stop(void) {
  struct itimerval it;
  memset(&it, 0, sizeof(it));
  setitimer(ITIMER_REAL, &it, NULL);
}

static void make_blocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
    HP_FAIL("fcntl: %s", strerror(errno));
}

static void saturate(int efd) {
  uint64_t v = 0xfffffffffffffffeull; /* the largest value an eventfd holds */
  if (write(efd, &v, sizeof(v)) != sizeof(v))
    HP_FAIL("saturate eventfd: %s", strerror(errno));
}

/* Ends a case either way a fixed library may choose: it carried on (the peer then leaves
 * with DISCONNECT) or it treated the stuck eventfd as a violation (our DISCONNECT). */
static void peer_finish(struct hp_peer *p) {
  nmif_msg_t m;
  ssize_t n = hp_recv(p, &m, NULL, NULL, 50);
  if (n == NMIF_MSG_SIZE && m.type == NMIF_MSG_DISCONNECT) {
    hp_record_disconnect(p, &m);
    printf("    our side disconnected: \"%s\"\n", p->disc_reason);
  } else if (n == -ETIMEDOUT) {
    peer_leaves(p);
  } else {
    HP_FAIL("unexpected reply (%zd bytes, type %u)", n, n > 0 ? m.type : 0);
  }
  n = hp_recv(p, &m, NULL, NULL, REPLY_TIMEOUT_MS);
  if (n != 0)
    HP_FAIL("connection not closed at the end (%zd)", n);
  close(p->fd);
  p->fd = -1;
}

static void timed_tx(nmif_if_t *iface, const char *what) {
  const void *pk[1] = {"irq"};
  uint32_t ln[1] = {3};
  uint64_t t0 = hp_now_ms();
  watchdog_start();
  int r = nmif_tx_copy(iface, 0, pk, ln, 1);
  watchdog_stop();
  uint64_t dt = hp_now_ms() - t0;
  printf("    nmif_tx_copy -> %d after %llu ms\n", r, (unsigned long long)dt);
  if (dt > BLOCK_LIMIT_MS)
    HP_FAIL("%s: nmif_tx_copy blocked %llu ms in the interrupt write (the peer cleared "
            "O_NONBLOCK on the shared eventfd and saturated its counter)",
            what, (unsigned long long)dt);
}

static void timed_ack(nmif_if_t *iface, const char *what) {
  uint64_t t0 = hp_now_ms();
  watchdog_start();
  int r = nmif_rx_queue_ack(iface, 0);
  watchdog_stop();
  uint64_t dt = hp_now_ms() - t0;
  printf("    nmif_rx_queue_ack -> %d after %llu ms\n", r, (unsigned long long)dt);
  if (dt > BLOCK_LIMIT_MS)
    HP_FAIL("%s: nmif_rx_queue_ack blocked %llu ms in read() (the peer cleared O_NONBLOCK on "
            "the shared eventfd; its counter was 0)",
            what, (unsigned long long)dt);
}

static void master_link(struct hp_peer *p) {
  HP_EXPECT_EQ(hp_slave_flow(p, NULL, 0, REPLY_TIMEOUT_MS), HP_UP);
  if (!pump_until(master_up, REPLY_TIMEOUT_MS))
    HP_FAIL("link not up");
}

/* Our master transmits on M2S and signals the peer's eventfd. */
static void master_tx_irq_block(struct hp_peer *p) {
  master_link(p);
  nmif_ring_t *m2s = hp_slave_ring(p, 1);
  __atomic_store_n(&m2s->flags, 0, __ATOMIC_RELAXED); /* the receiver wants interrupts */
  __atomic_store_n(&m2s->head, (uint16_t)(1u << p->log2), __ATOMIC_RELEASE);
  saturate(p->efd[1]);
  make_blocking(p->efd[1]);
  timed_tx(T.master.iface, "master tx");
  peer_finish(p);
}

/* Our master waits on the S2M eventfd itself and acknowledges it. */
static void master_rx_ack_block(struct hp_peer *p) {
  master_link(p);
  make_blocking(p->efd[0]); /* counter 0: the peer drained it, or never wrote */
  timed_ack(T.master.iface, "master rx");
  peer_finish(p);
}

/* Our slave transmits on S2M and signals the eventfd it created (the peer holds it too). */
static void slave_tx_irq_block(struct hp_peer *p) {
  hostile_master_up(p);
  nmif_ring_t *s2m = hp_master_ring(p, 0, 0);
  __atomic_store_n(&s2m->flags, 0, __ATOMIC_RELAXED);
  saturate(p->ring_fd[0][0]);
  make_blocking(p->ring_fd[0][0]);
  timed_tx(T.slave.iface, "slave tx");
  peer_finish(p);
}

static void slave_rx_ack_block(struct hp_peer *p) {
  hostile_master_up(p);
  make_blocking(p->ring_fd[1][0]);
  timed_ack(T.slave.iface, "slave rx");
  peer_finish(p);
}

/*
 * The library's own interrupt handler: our loop reads an rx eventfd after epoll said it was
 * readable. The peer holds the same eventfd; if it reads the counter between our epoll_wait
 * and our read(), with O_NONBLOCK cleared, our read() blocks and with it the whole loop (every
 * interface on every socket it serves). The race is made deterministic: in one epoll batch,
 * another interface's teardown runs first, and its on_disconnect plays the peer and drains the
 * eventfd before the interrupt event is dispatched.
 */
static struct side irqside;
static int drain_fd = -1;
static int drained_before_irq = -1;

static void on_rx_count(nmif_if_t *i, uint16_t qid, void *user) { ((struct side *)user)->rx_irqs++; }

static void drain_hook(void) {
  uint64_t v;
  drained_before_irq = irqside.rx_irqs == 0;
  if (drain_fd >= 0 && read(drain_fd, &v, sizeof(v)) != sizeof(v))
    drained_before_irq = -2;
}

static int irq_master_up(void) { return nmif_if_is_connected(irqside.iface); }

static void loop_irq_read_block(struct hp_peer *p) {
  master_link(p); /* P: a live link on our main master */
  /* a second master on its own socket, in interrupt mode with on_rx: its rx eventfd is in
   * our loop */
  char path[160];
  snprintf(path, sizeof(path), "%s/irq.sock", T.dir);
  nmif_socket_t *sock = make_socket(path, HANDSHAKE_TIMEOUT_MS);
  nmif_if_args_t a;
  memset(&a, 0, sizeof(a));
  a.id = OUR_ID;
  a.is_master = 1;
  a.secret = OUR_SECRET;
  a.on_connect = on_connect;
  a.on_disconnect = on_disconnect;
  a.on_rx = on_rx_count;
  a.user = &irqside;
  memset(&irqside, 0, sizeof(irqside));
  HP_EXPECT_EQ(nmif_if_create(sock, &irqside.iface, &a), 0);
  static struct hp_peer q;
  peer_setup(&q, HP_SLAVE);
  peer_connect(&q, path);
  int up = hp_slave_flow(&q, NULL, 0, REPLY_TIMEOUT_MS) == HP_UP &&
           pump_until(irq_master_up, REPLY_TIMEOUT_MS);

  uint64_t dt = 0;
  if (up) {
    make_blocking(q.efd[0]); /* the S2M eventfd, our rx interrupt */
    drain_fd = q.efd[0];
    drained_before_irq = -1;
    disc_hook = drain_hook;
    struct hp_out o;
    hp_default(p, S_INIT, &o); /* 1st ready: P's INIT on a live link -> teardown */
    hp_send(p, &o.m, NULL, 0);
    uint64_t one = 1; /* 2nd ready: q signals our rx interrupt */
    if (write(q.efd[0], &one, sizeof(one)) != sizeof(one))
      HP_FAIL("eventfd write: %s", strerror(errno));
    uint64_t t0 = hp_now_ms();
    watchdog_start();
    nmif_loop_run(T.loop, 100);
    watchdog_stop();
    dt = hp_now_ms() - t0;
    disc_hook = NULL;
    drain_fd = -1;
    printf("    peer drained before our interrupt read: %s; loop iteration took %llu ms\n",
           drained_before_irq == 1 ? "yes" : "no", (unsigned long long)dt);
  }
  /* clean up the second master before judging */
  peer_leaves(&q);
  for (int k = 0; k < 20 && nmif_if_is_connected(irqside.iface); k++)
    pump(2);
  hp_release(&q);
  nmif_if_destroy(irqside.iface);
  irqside.iface = NULL;
  nmif_socket_destroy(sock);
  if (!up)
    HP_FAIL("second master did not come up");
  if (drained_before_irq != 1)
    HP_FAIL("could not order the events as intended (drained_before_irq=%d)", drained_before_irq);
  if (dt > BLOCK_LIMIT_MS)
    HP_FAIL("nmif_loop_run blocked %llu ms in the rx interrupt read() (the peer drained the "
            "eventfd and cleared O_NONBLOCK): the whole loop hangs", (unsigned long long)dt);
}

static const struct mcase cases[] = {
    MASTER_RUN("irq: master tx write blocks on peer's efd", O_PEER_LEFT, BOUND, master_tx_irq_block),
    MASTER_RUN("irq: master rx ack read blocks", O_PEER_LEFT, BOUND, master_rx_ack_block),
    SLAVE_RUN("irq: slave tx write blocks on shared efd", O_PEER_LEFT, 0, slave_tx_irq_block),
    SLAVE_RUN("irq: slave rx ack read blocks", O_PEER_LEFT, 0, slave_rx_ack_block),
    MASTER_RUN("irq: loop's interrupt read blocks", O_REJECT_BOUND, BOUND, loop_irq_read_block),
};

const struct case_table irq_cases = TABLE("interrupts", cases);
