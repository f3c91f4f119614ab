/* Queue leases: a master's queue pair lent to a thread that maps the memory itself and sleeps on
 * its own eventfd dups. Traffic reaches the lessee only (on_rx stays quiet for the leased
 * queue), the gate survives 20 link bounces with the lessee bursting all the time, a lease in
 * polling mode masks the ring until it ends, a violation the lessee finds takes the link down
 * with its reason (cause VIOLATION) and the next connection works, and a lease outlives its
 * interface, closed for good. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "loop_pair.h"
#include "nmemif.h"

#define BURST 64
#define PKT 200

static nmif_loop_t *loop;

static side_t master, slave;

/* ---- the lessee thread -------------------------------------------------------------------- */

typedef struct lessee {
  nmif_lease_t *lease;
  pthread_t thread;
  atomic_int stop;
  atomic_ulong got;          /* packets received and checked */
  atomic_int errors;         /* wrong content, or an unexpected return */
  atomic_int gens;           /* connections it mapped */
  atomic_int last_gen;
  atomic_int violations;     /* -EPROTO seen */
  char violation[NMIF_REASON_MAX]; /* nmif_if_violation() read inside the gate */
} lessee_t;

typedef struct mapping {
  void *base[4];
  uint64_t size[4];
  int n;
  int rx_fd;
} mapping_t;

static void unmap_all(mapping_t *m) {
  for (int k = 0; k < m->n; k++)
    munmap(m->base[k], m->size[k]);
  m->n = 0;
  if (m->rx_fd >= 0)
    close(m->rx_fd);
  m->rx_fd = -1;
}

/* Inside the gate, for a new generation: the lessee's own view of the memory and eventfd. */
static int map_all(nmif_lease_t *l, mapping_t *m) {
  unmap_all(m);
  for (uint16_t r = 0; r < 4; r++) {
    uint64_t size = 0;
    int fd = nmif_lease_region(l, r, &size);
    if (fd < 0)
      break;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
      return -1;
    m->base[m->n] = p;
    m->size[m->n++] = size;
  }
  m->rx_fd = dup(nmif_lease_rx_fd(l));
  return m->n > 0 && m->rx_fd >= 0 ? 0 : -1;
}

static void *lessee_main(void *arg) {
  lessee_t *x = arg;
  nmif_lease_t *l = x->lease;
  mapping_t m = {.rx_fd = -1};
  nmif_buf_t bufs[BURST];
  int mapped = 0;
  while (!atomic_load(&x->stop)) {
    int gen = nmif_lease_enter(l);
    int n = 0;
    if (gen > 0) {
      if (gen != mapped) {
        if (map_all(l, &m) < 0)
          atomic_fetch_add(&x->errors, 1);
        mapped = gen;
        atomic_fetch_add(&x->gens, 1);
        atomic_store(&x->last_gen, gen);
      }
      n = nmif_rx_burst(nmif_lease_iface(l), nmif_lease_qid(l), bufs, BURST);
      for (int k = 0; k < n; k++) {
        /* The lessee's own mapping shows the same bytes as the library's. */
        const uint8_t *mine = (const uint8_t *)m.base[bufs[k].region] + bufs[k].offset;
        if (bufs[k].len != PKT || memcmp(mine, bufs[k].data, PKT) != 0 || mine[PKT - 1] != 0x5a)
          atomic_fetch_add(&x->errors, 1);
      }
      if (n > 0) {
        nmif_rx_release(nmif_lease_iface(l), nmif_lease_qid(l), (uint16_t)n);
        atomic_fetch_add(&x->got, (unsigned long)n);
      } else if (n == NMIF_EPROTO) {
        const char *why = nmif_if_violation(nmif_lease_iface(l));
        if (atomic_fetch_add(&x->violations, 1) == 0)
          snprintf(x->violation, sizeof(x->violation), "%s", why ? why : "(none)");
      } else if (n < 0 && n != NMIF_ENOTCONN) {
        atomic_fetch_add(&x->errors, 1);
      }
      nmif_lease_leave(l);
    }
    if (n != 0)
      continue;
    /* Idle or down: sleep on the packets' eventfd and the lease's link events. */
    struct pollfd p[2] = {{.fd = nmif_lease_event_fd(l), .events = POLLIN},
                          {.fd = gen > 0 ? m.rx_fd : -1, .events = POLLIN}};
    if (poll(p, 2, 50) > 0) {
      uint64_t v;
      if (p[0].revents)
        nmif_lease_ack(l);
      if (p[1].revents && read(m.rx_fd, &v, sizeof(v)) < 0) { /* drained meanwhile */
      }
    }
  }
  unmap_all(&m);
  return NULL;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static int send_packets(nmif_if_t *i, uint16_t qid, int count) {
  static uint8_t pkt[PKT];
  memset(pkt, 0x5a, sizeof(pkt));
  const void *ptrs[BURST];
  uint32_t lens[BURST];
  for (int k = 0; k < BURST; k++) {
    ptrs[k] = pkt;
    lens[k] = PKT;
  }
  int sent = 0;
  double end = now_ms() + 30000;
  while (sent < count) {
    int n = nmif_tx_copy(i, qid, ptrs, lens, (uint16_t)(count - sent < BURST ? count - sent : BURST));
    CHECK_OK(n);
    sent += n;
    if (n == 0) {
      CHECK(now_ms() < end);
      nmif_loop_run(loop, 1); /* the receiver is in another thread: give it time */
    }
  }
  return sent;
}

static int drain_main(uint16_t qid) {
  nmif_buf_t bufs[BURST];
  int got = 0, n;
  while ((n = nmif_rx_burst(master.iface, qid, bufs, BURST)) > 0) {
    got += n;
    nmif_rx_release(master.iface, qid, (uint16_t)n);
  }
  CHECK(n == 0);
  return got;
}

/* The main thread as a lessee: inside the gate only for the bursts (the loop's teardown would
 * wait for it to leave). */
static int drain_leased(nmif_lease_t *l) {
  CHECK(nmif_lease_enter(l) > 0);
  int got = drain_main(nmif_lease_qid(l));
  nmif_lease_leave(l);
  return got;
}

static uint16_t rx_ring_flags(nmif_if_t *i, uint16_t qid) {
  nmif_ring_details_t d;
  CHECK_OK(nmif_ring_details(i, 0, qid, &d));
  return d.flags;
}

int main(void) {
  pair_env_t env;
  pair_env_open(&env, "lease");
  loop = env.loop;
  nmif_socket_t *ms = env.ms, *ss = env.ss;
  nmif_if_args_t ia = {.id = 3, .is_master = 1, .rx_queues = 2, .tx_queues = 2,
                       .on_connect = side_on_connect, .on_disconnect = side_on_disconnect, .on_rx = side_on_rx,
                       .user = &master};
  CHECK_OK(nmif_if_create(ms, &master.iface, &ia));

  /* Leased before the link exists: closed, generation 0. */
  lessee_t x = {0};
  nmif_lease_args_t la = {.qid = 0, .rx_mode = NMIF_RX_INTERRUPT};
  CHECK_OK(nmif_lease_create(master.iface, &la, &x.lease));
  nmif_lease_t *other;
  CHECK_EQ(nmif_lease_create(master.iface, &la, &other), NMIF_EBUSY);
  nmif_lease_args_t bad = {.qid = 2, .rx_mode = NMIF_RX_INTERRUPT};
  CHECK_EQ(nmif_lease_create(master.iface, &bad, &other), NMIF_ERANGE);
  nmif_lease_state_t st;
  CHECK_OK(nmif_lease_state(x.lease, &st));
  CHECK(!st.up && !st.ended && st.generation == 0);
  CHECK_EQ(nmif_lease_enter(x.lease), NMIF_ENOTCONN);
  CHECK_OK(pthread_create(&x.thread, NULL, lessee_main, &x));

  ia.is_master = 0;
  ia.user = &slave;
  ia.buffer_size = 256;
  CHECK_OK(nmif_if_create(ss, &slave.iface, &ia));
  RUN_UNTIL(loop, master.connected && slave.connected, "the link");
  RUN_UNTIL(loop, atomic_load(&x.gens) == 1, "the lessee to map the first connection");

  /* 1. The leased queue's packets reach the lessee only; queue 1 stays the main thread's. */
  CHECK_EQ(rx_ring_flags(master.iface, 0), 0); /* INTERRUPT: the peer signals the lessee */
  send_packets(slave.iface, 0, 20000);
  send_packets(slave.iface, 1, 1000);
  int main_got = 0;
  RUN_UNTIL(loop, (main_got += drain_main(1)) == 1000 && atomic_load(&x.got) == 20000,
            "20000 packets at the lessee and 1000 on the main thread");
  RUN_UNTIL(loop, master.rx_events[1] > 0, "on_rx for queue 1"); /* drained before dispatched */
  CHECK_EQ(master.rx_events[0], 0);
  CHECK_EQ(atomic_load(&x.errors), 0);
  printf("traffic: lessee 20000, main thread 1000, on_rx for the leased queue: 0\n");

  /* 2. Link bounces while the lessee bursts: the gate keeps it out of unmapped memory. */
  for (int k = 0; k < 20; k++) {
    CHECK_OK(nmif_if_disconnect(slave.iface, "bounce"));
    RUN_UNTIL(loop, master.connected && slave.connected, "the slave to reconnect");
    unsigned long before = atomic_load(&x.got);
    send_packets(slave.iface, 0, 100);
    RUN_UNTIL(loop, atomic_load(&x.got) == before + 100, "the lessee to get 100 packets after a bounce");
  }
  CHECK_OK(nmif_lease_state(x.lease, &st));
  CHECK(st.up && !st.ended);
  CHECK_EQ(atomic_load(&x.last_gen), (int)st.generation);
  CHECK(atomic_load(&x.gens) >= 2 && atomic_load(&x.gens) <= 21);
  CHECK_EQ(atomic_load(&x.errors), 0);
  printf("20 bounces: the lessee mapped %d connections, generation now %u\n", atomic_load(&x.gens),
         st.generation);

  /* 3. A polling lease masks the ring until it ends; then the interface's mode applies again. */
  nmif_lease_t *poll_lease;
  nmif_lease_args_t pa = {.qid = 1, .rx_mode = NMIF_RX_POLLING};
  CHECK_OK(nmif_lease_create(master.iface, &pa, &poll_lease));
  CHECK_EQ(rx_ring_flags(master.iface, 1) & 1, 1);
  int events_before = master.rx_events[1];
  send_packets(slave.iface, 1, 50);
  int polled = 0;
  RUN_UNTIL(loop, (polled += drain_leased(poll_lease)) == 50, "the polling lessee to find 50 packets");
  CHECK_EQ(master.rx_events[1], events_before); /* no on_rx for a leased queue */
  CHECK_OK(nmif_lease_end(poll_lease));
  CHECK_EQ(rx_ring_flags(master.iface, 1) & 1, 0);
  CHECK_EQ(nmif_lease_enter(poll_lease), NMIF_ENOTCONN);
  CHECK_OK(nmif_lease_state(poll_lease, &st));
  CHECK(st.ended);
  nmif_lease_unref(poll_lease);
  send_packets(slave.iface, 1, 10);
  RUN_UNTIL(loop, master.rx_events[1] > events_before, "on_rx for the queue given back");
  RUN_UNTIL(loop, (main_got = drain_main(1)) == 10, "10 packets on the queue given back");

  /* 4. A violation found by the lessee: the link goes down with the reason, cause VIOLATION,
   * and the next connection works. The slave's S2M ring is the master's rx queue 0. */
  nmif_ring_details_t rd;
  CHECK_OK(nmif_ring_details(slave.iface, 1, 0, &rd));
  uint64_t rsize;
  uint8_t *base = nmif_region_base(slave.iface, rd.region, &rsize);
  CHECK(base);
  uint16_t *head = (uint16_t *)(base + rd.offset + 6); /* cookie u32, flags u16, head u16 */
  __atomic_store_n(head, (uint16_t)(rd.head + 5000), __ATOMIC_RELEASE);
  uint64_t one = 1;
  CHECK(write(rd.irq_fd, &one, sizeof(one)) == sizeof(one)); /* wake the lessee */
  RUN_UNTIL(loop, !master.connected && !slave.connected, "the violation to take the link down");
  CHECK(atomic_load(&x.violations) >= 1);
  CHECK(strstr(x.violation, "head out of range on rx queue 0") != NULL);
  CHECK(strcmp(master.reason, x.violation) == 0);
  CHECK(strcmp(slave.reason, x.violation) == 0); /* the DISCONNECT carried it */
  nmif_details_t d;
  CHECK_OK(nmif_if_details(master.iface, &d));
  CHECK_EQ(d.last_down_cause, NMIF_DOWN_VIOLATION);
  CHECK_OK(nmif_if_details(slave.iface, &d));
  CHECK_EQ(d.last_down_cause, NMIF_DOWN_PEER);
  printf("violation: \"%s\"\n", x.violation);
  RUN_UNTIL(loop, master.connected && slave.connected, "the next connection");
  CHECK(nmif_if_violation(master.iface) == NULL);
  unsigned long before = atomic_load(&x.got);
  send_packets(slave.iface, 0, 100);
  RUN_UNTIL(loop, atomic_load(&x.got) == before + 100, "the lessee to get 100 packets on the next connection");

  /* 5. The lease outlives its interface, closed for good. */
  int gens = atomic_load(&x.gens);
  CHECK_OK(nmif_if_destroy(master.iface));
  CHECK_OK(nmif_lease_state(x.lease, &st));
  CHECK(!st.up && st.ended);
  CHECK(strcmp(st.reason, "interface deleted") == 0);
  CHECK_EQ(nmif_lease_enter(x.lease), NMIF_ENOTCONN);
  CHECK(nmif_lease_iface(x.lease) == NULL);
  CHECK_OK(nmif_lease_end(x.lease)); /* nothing left to end */
  atomic_store(&x.stop, 1);
  pthread_join(x.thread, NULL);
  CHECK_EQ(atomic_load(&x.gens), gens);
  CHECK_EQ(atomic_load(&x.errors), 0);
  nmif_lease_unref(x.lease);
  printf("the lease outlived its interface: ended, enter refused\n");

  pair_env_close(&env);
  printf("lease: ok\n");
  return 0;
}
