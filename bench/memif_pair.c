/*
 * memif_pair: our slave -> our master, one process, packets per second.
 *
 * A slave interface transmits fixed-size Ethernet/IPv4/UDP frames on its S2M queue 0 and a
 * master interface on the same socket path receives them, both through the public nmemif
 * API. Control (the handshake) runs on the main thread with the built-in nmif_loop; the data
 * path starts only once both interfaces report connected.
 *
 *   --threads (default)  sender thread pinned to --tx-core (slave: tx_alloc, write the frame,
 *                        tx_burst) and receiver thread pinned to --rx-core (master in polling
 *                        mode: rx_burst, read each frame's header, rx_release). After --warmup
 *                        seconds the main thread opens a measuring window of --seconds; each data
 *                        thread reads its own queue counter (nmif_stats) and CLOCK_MONOTONIC when
 *                        it sees the window open and close, so pps = delta packets / delta time
 *                        of the thread that counted them. rx_pps is the figure to compare.
 *   --single             one thread alternates a tx burst and an rx burst until --packets frames
 *                        went through. Meant for valgrind --tool=callgrind (instructions per
 *                        packet); its pps is the cost of both sides on one core.
 *
 * Work per packet, stated because it decides what the number means:
 *  - tx --fill=copy (default): the whole prebuilt frame (--size bytes) is memcpy'd into the
 *    shared-memory buffer, as DPDK's copy-mode net_memif copies each mbuf into the ring;
 *    --fill=header writes only the 42-byte Ethernet/IPv4/UDP header (what testpmd txonly
 *    writes into its reused mbufs), the rest of the buffer keeps old bytes.
 *  - rx --rx-work=header (default): reads the EtherType and IP protocol of each frame (so the
 *    frame's first cache line really moves to the receiving core) and releases the buffer, no
 *    copy: the API hands out buffers in place. --rx-work=copy also memcpy's the whole frame
 *    out (what copy-mode net_memif does into mbufs); --rx-work=none touches no frame byte.
 *
 * A frame always fits one buffer: jumbo frames (up to 9216 B) need --buffer-size >= --size
 * (bench/run-c-vs-dpdk.js gives both pairs the same buffer size).
 *
 * --burst defaults to 64: larger bursts save only the fixed cost per tx+rx burst pair (compare
 * with --single under callgrind at different --burst), and at 1500 B a 64-frame burst keeps
 * 128 KB of buffers in flight per burst instead of 512 KB (L2-sized).
 *
 * Prints one JSON line on stdout; usage and errors go to stderr (exit 2 usage, 1 runtime).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nmemif.h"

#define MAX_BURST 256
#define HDR_LEN 42 /* Ethernet 14 + IPv4 20 + UDP 8 */
#define MIN_SIZE 60
#define MAX_SIZE 9216 /* jumbo frames; a frame always fits one buffer (--buffer-size) */
#define CONNECT_TIMEOUT_MS 5000
#define DRAIN_TIMEOUT_NS 1000000000ull

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };
enum fill_kind { FILL_COPY, FILL_HEADER };
enum rx_work { RXW_HEADER, RXW_COPY, RXW_NONE };
enum phase { PH_WARMUP = 0, PH_MEASURE = 1, PH_STOP = 2, PH_ABORT = 3 };

static const char *const fill_names[] = {"copy", "header"};
static const char *const rxw_names[] = {"header", "copy", "none"};

typedef struct opts {
  int single;
  uint32_t size;
  uint16_t burst;
  double seconds;
  double warmup;
  uint64_t packets;
  int tx_core;
  int rx_core;
  uint8_t ring_log2;
  uint32_t buffer_size;
  enum fill_kind fill;
  enum rx_work rx_work;
  const char *socket;
} opts_t;

/* What one data thread measured over the window: its own queue counters at open and close. */
typedef struct window {
  uint64_t pkts0, pkts1;
  uint64_t bursts0, bursts1;
  uint64_t t0, t1; /* CLOCK_MONOTONIC ns */
  int cpu;
  int err; /* a negative errno from the data path, 0 if none */
} window_t;

typedef struct bench {
  opts_t o;
  nmif_loop_t *loop;
  nmif_socket_t *msock, *ssock;
  nmif_if_t *master, *slave;
  int m_up, s_up;
  char down_reason[NMIF_REASON_MAX];
  uint8_t *frame; /* o.size bytes */
  /* Written by the main thread only; the data threads poll it once per burst. */
  _Alignas(64) _Atomic int phase;
  _Alignas(64) _Atomic uint64_t tx_total; /* published by the sender when it stops */
  _Atomic int tx_done;
  _Alignas(64) window_t txw;
  _Alignas(64) window_t rxw;
  uint64_t rx_total;
  uint64_t rx_sink; /* header bytes folded here so the reads are not optimised away */
  pthread_t tx_thr, rx_thr;
  int threads_running;
} bench_t;

static void die(const char *what, int err) {
  fprintf(stderr, "memif_pair: %s: %s (%s)\n", what, nmif_strerror(err), nmif_err_name(err));
  exit(EXIT_RUNTIME);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the frame ------------------------------------------------------------------------ */

static uint16_t ip_csum(const uint8_t *p, size_t n) {
  uint32_t s = 0;
  for (size_t k = 0; k + 1 < n; k += 2)
    s += (uint32_t)(p[k] << 8 | p[k + 1]);
  while (s >> 16)
    s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

/* Ethernet + IPv4 + UDP, total length `size` (no FCS), zero payload: the shape of testpmd's
 * txonly frames with --txpkts=size. */
static void frame_build(uint8_t *f, uint32_t size) {
  static const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x02}, src[6] = {0x02, 0, 0, 0, 0, 0x01};
  memset(f, 0, size);
  memcpy(f, dst, 6);
  memcpy(f + 6, src, 6);
  f[12] = 0x08; /* IPv4 */
  uint8_t *ip = f + 14;
  uint16_t ip_len = (uint16_t)(size - 14), udp_len = (uint16_t)(size - 34);
  ip[0] = 0x45;
  ip[2] = (uint8_t)(ip_len >> 8);
  ip[3] = (uint8_t)ip_len;
  ip[8] = 64;                                  /* TTL */
  ip[9] = 17;                                  /* UDP */
  memcpy(ip + 12, (uint8_t[]){198, 18, 0, 1}, 4); /* benchmarking range, RFC 2544 */
  memcpy(ip + 16, (uint8_t[]){198, 18, 0, 2}, 4);
  uint16_t c = ip_csum(ip, 20);
  ip[10] = (uint8_t)(c >> 8);
  ip[11] = (uint8_t)c;
  uint8_t *udp = ip + 20;
  udp[0] = 0x04, udp[1] = 0x00; /* 1024 */
  udp[2] = 0x04, udp[3] = 0x01; /* 1025 */
  udp[4] = (uint8_t)(udp_len >> 8);
  udp[5] = (uint8_t)udp_len;
}

/* ---- per-burst work, shared by both modes ------------------------------------------------ */

static inline int tx_once(bench_t *b, nmif_buf_t *bufs, uint16_t max) {
  int n = nmif_tx_alloc(b->slave, 0, bufs, max);
  if (n <= 0)
    return n;
  size_t len = b->o.fill == FILL_COPY ? b->o.size : HDR_LEN;
  for (int k = 0; k < n; k++) {
    memcpy(bufs[k].data, b->frame, len);
    bufs[k].len = b->o.size;
  }
  return nmif_tx_burst(b->slave, 0, bufs, (uint16_t)n);
}

static inline int rx_once(bench_t *b, nmif_buf_t *bufs, uint16_t max, uint8_t *copy_to) {
  int n = nmif_rx_burst(b->master, 0, bufs, max);
  if (n <= 0)
    return n;
  uint64_t sink = 0;
  if (b->o.rx_work == RXW_HEADER) {
    for (int k = 0; k < n; k++) {
      const uint8_t *p = bufs[k].data;
      sink += (uint64_t)(p[12] << 8 | p[13]) + p[23]; /* EtherType, IP protocol */
    }
  } else if (b->o.rx_work == RXW_COPY) {
    for (int k = 0; k < n; k++) {
      memcpy(copy_to, bufs[k].data, bufs[k].len);
      sink += copy_to[23];
    }
  }
  b->rx_sink += sink;
  int r = nmif_rx_release(b->master, 0, (uint16_t)n);
  return r < 0 ? r : n;
}

/* ---- threads mode ------------------------------------------------------------------------ */

static int pin_self(int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  int r = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  if (r != 0) {
    fprintf(stderr, "memif_pair: cannot pin to core %d: %s\n", core, strerror(r));
    return -r;
  }
  return 0;
}

/* Records the queue counters at the window's edges; returns the phase seen. */
static inline int track_window(bench_t *b, window_t *w, const nmif_stats_t *st, int *seen) {
  int ph = atomic_load_explicit(&b->phase, memory_order_acquire);
  if (ph != *seen) {
    uint64_t t = now_ns();
    if (ph == PH_MEASURE) {
      w->pkts0 = st->packets;
      w->bursts0 = st->bursts;
      w->t0 = t;
    } else if (*seen == PH_MEASURE) { /* window closes (stop or abort) */
      w->pkts1 = st->packets;
      w->bursts1 = st->bursts;
      w->t1 = t;
    }
    *seen = ph;
  }
  return ph;
}

static void *tx_main(void *arg) {
  bench_t *b = arg;
  window_t *w = &b->txw;
  nmif_buf_t bufs[MAX_BURST];
  const nmif_stats_t *st = nmif_stats(b->slave, 1, 0);
  int seen = PH_WARMUP;
  w->err = pin_self(b->o.tx_core);
  w->cpu = sched_getcpu();
  while (!w->err && track_window(b, w, st, &seen) < PH_STOP) {
    int r = tx_once(b, bufs, b->o.burst);
    if (r < 0)
      w->err = r;
  }
  atomic_store_explicit(&b->tx_total, st->packets, memory_order_relaxed);
  atomic_store_explicit(&b->tx_done, 1, memory_order_release);
  return NULL;
}

static void *rx_main(void *arg) {
  bench_t *b = arg;
  window_t *w = &b->rxw;
  nmif_buf_t bufs[MAX_BURST];
  uint8_t *copy_to = malloc(b->o.buffer_size);
  const nmif_stats_t *st = nmif_stats(b->master, 0, 0);
  int seen = PH_WARMUP;
  w->err = copy_to ? pin_self(b->o.rx_core) : NMIF_ENOMEM;
  w->cpu = sched_getcpu();
  while (!w->err && track_window(b, w, st, &seen) < PH_STOP) {
    int r = rx_once(b, bufs, b->o.burst, copy_to);
    if (r < 0)
      w->err = r;
  }
  /* Drain what the sender published before it stopped, to check nothing was lost. */
  uint64_t deadline = now_ns() + DRAIN_TIMEOUT_NS;
  while (!w->err && seen == PH_STOP && now_ns() < deadline) {
    if (atomic_load_explicit(&b->tx_done, memory_order_acquire) &&
        st->packets >= atomic_load_explicit(&b->tx_total, memory_order_relaxed))
      break;
    int r = rx_once(b, bufs, b->o.burst, copy_to);
    if (r < 0)
      w->err = r;
  }
  b->rx_total = st->packets;
  free(copy_to);
  return NULL;
}

static void stop_threads(bench_t *b, int phase) {
  if (!b->threads_running)
    return;
  atomic_store_explicit(&b->phase, phase, memory_order_release);
  pthread_join(b->tx_thr, NULL);
  pthread_join(b->rx_thr, NULL);
  b->threads_running = 0;
}

/* ---- control ----------------------------------------------------------------------------- */

static void on_connect(nmif_if_t *i, void *user) {
  bench_t *b = user;
  if (i == b->master)
    b->m_up = 1;
  else
    b->s_up = 1;
}

/* Runs before the shared memory is unmapped: the data threads must be gone when we return. */
static void on_disconnect(nmif_if_t *i, const char *reason, void *user) {
  bench_t *b = user;
  if (!b->m_up || !b->s_up)
    return;
  b->m_up = b->s_up = 0;
  snprintf(b->down_reason, sizeof(b->down_reason), "%s", reason ? reason : "?");
  stop_threads(b, PH_ABORT);
}

/* Runs the control loop for ms milliseconds (or until the link drops). */
static void control_for(bench_t *b, uint64_t ms) {
  uint64_t end = now_ns() + ms * 1000000ull;
  for (;;) {
    uint64_t t = now_ns();
    if (t >= end || !(b->m_up && b->s_up))
      return;
    int r = nmif_loop_run(b->loop, (int)((end - t + 999999) / 1000000));
    if (r < 0)
      die("nmif_loop_run", r);
  }
}

static void setup(bench_t *b, const char *path) {
  int r;
  if ((r = nmif_loop_create(&b->loop)) < 0)
    die("nmif_loop_create", r);
  nmif_socket_args_t sa = {.path = path, .app_name = "memif_pair",
                           .fd_update = nmif_loop_fd_update, .fd_update_ctx = b->loop};
  if ((r = nmif_socket_create(&b->msock, &sa)) < 0)
    die("nmif_socket_create (master)", r);
  if ((r = nmif_socket_create(&b->ssock, &sa)) < 0)
    die("nmif_socket_create (slave)", r);
  nmif_if_args_t ia = {.id = 0, .is_master = 1, .rx_queues = 1, .tx_queues = 1,
                       .log2_ring_size = b->o.ring_log2, .buffer_size = b->o.buffer_size,
                       .on_connect = on_connect, .on_disconnect = on_disconnect, .user = b};
  if ((r = nmif_if_create(b->msock, &b->master, &ia)) < 0)
    die("nmif_if_create (master)", r);
  ia.is_master = 0;
  if ((r = nmif_if_create(b->ssock, &b->slave, &ia)) < 0)
    die("nmif_if_create (slave)", r);
  uint64_t deadline = now_ns() + CONNECT_TIMEOUT_MS * 1000000ull;
  while (!(b->m_up && b->s_up) && now_ns() < deadline)
    nmif_loop_run(b->loop, 10);
  if (!(b->m_up && b->s_up)) {
    fprintf(stderr, "memif_pair: not connected after %d ms on %s\n", CONNECT_TIMEOUT_MS, path);
    exit(EXIT_RUNTIME);
  }
  /* Polling: the slave's tx_burst sees MASK_INT and never writes the eventfd. */
  if ((r = nmif_set_rx_mode(b->master, 0, NMIF_RX_POLLING)) < 0)
    die("nmif_set_rx_mode (master)", r);
  if ((r = nmif_set_rx_mode(b->slave, 0, NMIF_RX_POLLING)) < 0)
    die("nmif_set_rx_mode (slave)", r);
}

static void teardown(bench_t *b) {
  stop_threads(b, PH_ABORT);
  b->m_up = b->s_up = 0; /* the disconnect that follows is ours */
  nmif_if_destroy(b->slave);
  nmif_if_destroy(b->master);
  nmif_socket_destroy(b->ssock);
  nmif_socket_destroy(b->msock);
  nmif_loop_destroy(b->loop);
}

/* ---- the two modes ----------------------------------------------------------------------- */

static void print_common(const bench_t *b, const char *mode) {
  printf("{\"bench\":\"memif_pair\",\"impl\":\"%s\",\"mode\":\"%s\",\"size\":%u,"
         "\"burst\":%u,\"ring\":%u,\"buffer_size\":%u,\"tx_fill\":\"%s\",\"rx_work\":\"%s\"",
         nmif_version_string(), mode, b->o.size, b->o.burst, 1u << b->o.ring_log2, b->o.buffer_size,
         fill_names[b->o.fill], rxw_names[b->o.rx_work]);
}

static int run_threads(bench_t *b) {
  int r;
  b->threads_running = 1;
  if ((r = pthread_create(&b->rx_thr, NULL, rx_main, b)) != 0 ||
      (r = pthread_create(&b->tx_thr, NULL, tx_main, b)) != 0) {
    fprintf(stderr, "memif_pair: pthread_create: %s\n", strerror(r));
    exit(EXIT_RUNTIME);
  }
  control_for(b, (uint64_t)(b->o.warmup * 1000));
  atomic_store_explicit(&b->phase, PH_MEASURE, memory_order_release);
  control_for(b, (uint64_t)(b->o.seconds * 1000));
  if (!b->threads_running) {
    fprintf(stderr, "memif_pair: link went down during the run: %s\n", b->down_reason);
    return EXIT_RUNTIME;
  }
  stop_threads(b, PH_STOP);
  const window_t *tw = &b->txw, *rw = &b->rxw;
  if (tw->err || rw->err) {
    fprintf(stderr, "memif_pair: data path error: tx %s, rx %s\n", nmif_err_name(tw->err),
            nmif_err_name(rw->err));
    return EXIT_RUNTIME;
  }
  double rx_s = (double)(rw->t1 - rw->t0) / 1e9, tx_s = (double)(tw->t1 - tw->t0) / 1e9;
  uint64_t rx_p = rw->pkts1 - rw->pkts0, tx_p = tw->pkts1 - tw->pkts0;
  uint64_t tx_total = atomic_load(&b->tx_total);
  const nmif_stats_t *rs = nmif_stats(b->master, 0, 0);
  print_common(b, "threads");
  printf(",\"warmup_s\":%.3f,\"seconds\":%.3f,\"tx_cpu\":%d,\"rx_cpu\":%d,"
         "\"rx_pps\":%.0f,\"tx_pps\":%.0f,\"rx_gbps\":%.3f,\"rx_interval_s\":%.6f,"
         "\"tx_interval_s\":%.6f,\"rx_packets\":%llu,\"tx_packets\":%llu,"
         "\"rx_avg_burst\":%.1f,\"tx_avg_burst\":%.1f,\"total_tx\":%llu,\"total_rx\":%llu,"
         "\"lost\":%lld,\"drop_bad_desc\":%llu}\n",
         b->o.warmup, b->o.seconds, tw->cpu, rw->cpu, rx_p / rx_s, tx_p / tx_s,
         rx_p * b->o.size * 8.0 / rx_s / 1e9, rx_s, tx_s, (unsigned long long)rx_p,
         (unsigned long long)tx_p,
         rw->bursts1 > rw->bursts0 ? (double)rx_p / (double)(rw->bursts1 - rw->bursts0) : 0.0,
         tw->bursts1 > tw->bursts0 ? (double)tx_p / (double)(tw->bursts1 - tw->bursts0) : 0.0,
         (unsigned long long)tx_total, (unsigned long long)b->rx_total,
         (long long)(tx_total - b->rx_total), (unsigned long long)rs->drop_bad_desc);
  return b->rx_total == tx_total ? 0 : EXIT_RUNTIME;
}

/* One thread: a tx burst, then an rx burst, until o.packets went through. Not pinned. */
static int run_single(bench_t *b) {
  nmif_buf_t bufs[MAX_BURST];
  uint8_t *copy_to = malloc(b->o.buffer_size);
  if (!copy_to)
    die("malloc", NMIF_ENOMEM);
  const nmif_stats_t *ts = nmif_stats(b->slave, 1, 0), *rs = nmif_stats(b->master, 0, 0);
  uint64_t want = b->o.packets, got = 0;
  uint64_t t0 = now_ns();
  while (got < want) {
    uint64_t left = want - ts->packets;
    if (left) {
      int r = tx_once(b, bufs, (uint16_t)(left < b->o.burst ? left : b->o.burst));
      if (r < 0)
        die("tx", r);
    }
    int n = rx_once(b, bufs, b->o.burst, copy_to);
    if (n < 0)
      die("rx", n);
    got += (uint64_t)n;
  }
  uint64_t t1 = now_ns();
  double s = (double)(t1 - t0) / 1e9;
  print_common(b, "single");
  printf(",\"packets\":%llu,\"elapsed_s\":%.6f,\"pps\":%.0f,\"tx_packets\":%llu,"
         "\"rx_packets\":%llu,\"rx_bursts\":%llu,\"tx_bursts\":%llu}\n",
         (unsigned long long)got, s, got / s, (unsigned long long)ts->packets,
         (unsigned long long)rs->packets, (unsigned long long)rs->bursts,
         (unsigned long long)ts->bursts);
  free(copy_to);
  return ts->packets == want && rs->packets == want ? 0 : EXIT_RUNTIME;
}

/* ---- command line ------------------------------------------------------------------------ */

static void usage(FILE *f) {
  fprintf(f,
          "usage: memif_pair [--threads | --single] [options]\n"
          "  --threads            sender and receiver threads, pinned (default)\n"
          "  --single             one thread alternating tx and rx bursts (for callgrind)\n"
          "  --size N             frame bytes, %d..%d (default 64), at most --buffer-size\n"
          "  --burst N            packets per tx_alloc / rx_burst call, 1..%d (default 64)\n"
          "  --seconds S          threads: measuring window (default 3)\n"
          "  --warmup S           threads: traffic before the window opens (default 1)\n"
          "  --packets N          single: frames to send and receive (default 200000)\n"
          "  --tx-core N          threads: sender core (default 0)\n"
          "  --rx-core N          threads: receiver core (default 1)\n"
          "  --ring-log2 N        ring of 2^N slots, 1..14 (default 10, as net_memif)\n"
          "  --buffer-size N      bytes per buffer, 64..65535 (default 2048, as net_memif)\n"
          "  --fill copy|header   tx: memcpy the whole frame (default) or its 42-byte header\n"
          "  --rx-work header|copy|none  rx: read EtherType+protocol (default), copy the frame\n"
          "                       out, or touch nothing\n"
          "  --socket PATH        memif socket (default: a fresh path under /tmp)\n"
          "  --help               this text\n",
          MIN_SIZE, MAX_SIZE, MAX_BURST);
}

static double num_arg(const char *name, const char *s, double lo, double hi) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || v < lo || v > hi) {
    fprintf(stderr, "memif_pair: --%s wants a number in %g..%g, got '%s'\n", name, lo, hi, s);
    usage(stderr);
    exit(EXIT_USAGE);
  }
  return v;
}

static void parse(opts_t *o, int argc, char **argv) {
  enum { O_SIZE = 256, O_BURST, O_SECONDS, O_WARMUP, O_PACKETS, O_TXC, O_RXC, O_RING, O_FILL,
         O_RXW, O_SOCK, O_BSIZE };
  static const struct option lo[] = {
      {"threads", no_argument, NULL, 't'},      {"single", no_argument, NULL, 's'},
      {"size", required_argument, NULL, O_SIZE}, {"burst", required_argument, NULL, O_BURST},
      {"seconds", required_argument, NULL, O_SECONDS},
      {"warmup", required_argument, NULL, O_WARMUP},
      {"packets", required_argument, NULL, O_PACKETS},
      {"tx-core", required_argument, NULL, O_TXC}, {"rx-core", required_argument, NULL, O_RXC},
      {"ring-log2", required_argument, NULL, O_RING},
      {"buffer-size", required_argument, NULL, O_BSIZE},
      {"fill", required_argument, NULL, O_FILL}, {"rx-work", required_argument, NULL, O_RXW},
      {"socket", required_argument, NULL, O_SOCK}, {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  *o = (opts_t){.size = 64, .burst = 64, .seconds = 3, .warmup = 1, .packets = 200000,
                .tx_core = 0, .rx_core = 1, .ring_log2 = 10, .buffer_size = 2048};
  int c;
  while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (c) {
    case 't': o->single = 0; break;
    case 's': o->single = 1; break;
    case O_SIZE: o->size = (uint32_t)num_arg("size", optarg, MIN_SIZE, MAX_SIZE); break;
    case O_BURST: o->burst = (uint16_t)num_arg("burst", optarg, 1, MAX_BURST); break;
    case O_SECONDS: o->seconds = num_arg("seconds", optarg, 0.1, 3600); break;
    case O_WARMUP: o->warmup = num_arg("warmup", optarg, 0, 3600); break;
    case O_PACKETS: o->packets = (uint64_t)num_arg("packets", optarg, 1, 1e12); break;
    case O_TXC: o->tx_core = (int)num_arg("tx-core", optarg, 0, CPU_SETSIZE - 1); break;
    case O_RXC: o->rx_core = (int)num_arg("rx-core", optarg, 0, CPU_SETSIZE - 1); break;
    case O_RING: o->ring_log2 = (uint8_t)num_arg("ring-log2", optarg, 1, 14); break;
    case O_BSIZE: o->buffer_size = (uint32_t)num_arg("buffer-size", optarg, 64, 65535); break;
    case O_SOCK: o->socket = optarg; break;
    case O_FILL:
      if (!strcmp(optarg, "copy"))
        o->fill = FILL_COPY;
      else if (!strcmp(optarg, "header"))
        o->fill = FILL_HEADER;
      else
        goto bad;
      break;
    case O_RXW:
      if (!strcmp(optarg, "header"))
        o->rx_work = RXW_HEADER;
      else if (!strcmp(optarg, "copy"))
        o->rx_work = RXW_COPY;
      else if (!strcmp(optarg, "none"))
        o->rx_work = RXW_NONE;
      else
        goto bad;
      break;
    case 'h': usage(stdout); exit(0);
    default: goto bad;
    }
  }
  if (optind == argc && o->size <= o->buffer_size)
    return;
  if (optind == argc) {
    fprintf(stderr, "memif_pair: a %u-byte frame does not fit a %u-byte buffer: raise --buffer-size\n",
            o->size, o->buffer_size);
    exit(EXIT_USAGE);
  }
  fprintf(stderr, "memif_pair: unexpected argument '%s'\n", argv[optind]);
bad:
  usage(stderr);
  exit(EXIT_USAGE);
}

int main(int argc, char **argv) {
  bench_t *b = calloc(1, sizeof(*b));
  if (!b)
    die("calloc", NMIF_ENOMEM);
  parse(&b->o, argc, argv);
  if (!(b->frame = malloc(b->o.size)))
    die("malloc", NMIF_ENOMEM);
  frame_build(b->frame, b->o.size);

  char dir[] = "/tmp/memif-pair-XXXXXX", path[128];
  const char *sock = b->o.socket;
  int own_dir = !sock;
  if (own_dir) {
    if (!mkdtemp(dir)) {
      perror("memif_pair: mkdtemp");
      return EXIT_RUNTIME;
    }
    snprintf(path, sizeof(path), "%s/memif.sock", dir);
    sock = path;
  }
  setup(b, sock);
  int rc = b->o.single ? run_single(b) : run_threads(b);
  teardown(b);
  if (own_dir)
    rmdir(dir);
  free(b->frame);
  free(b);
  return rc;
}
