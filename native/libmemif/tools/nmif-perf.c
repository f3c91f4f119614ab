/*
 * nmif-perf: memif traffic generator, sink, responder and round-trip checker over the public
 * nmemif API. A benchmark and debugging aid, and the peer of the DPDK interop tests.
 *
 * Control events run on the built-in nmif_loop; the rings are polled (MASK_INT set) and the
 * loop is run without blocking between bursts so that connects and disconnects are still
 * handled. Progress and events go to stderr as "nmif-perf: ..." lines, results to stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nmemif.h"

#define PERF_MAX_BURST 256
#define PERF_STR_(x) #x
#define PERF_STR(x) PERF_STR_(x)
#define PERF_MAX_FRAME 9216
#define PERF_MIN_FRAME 60
#define PERF_HDR_LEN 56         /* Ethernet 14 + IPv4 20 + UDP 8 + magic 4 + queue 2 + seq 8 */
#define PERF_SEQ_OFF 48
#define PERF_QID_OFF 46
#define PERF_MAGIC_OFF 42
#define PERF_IDLE_SLEEP_NS 100000000ull  /* idle this long before blocking 1 ms per turn */
#define PERF_ADAPTIVE_US 100               /* adaptive: poll this long after the last packet */
#define PERF_TSENT_SLOTS 16384u          /* send times kept per queue: more than any window */
#define PERF_RTT_MAX_SAMPLES (1u << 22)  /* round-trip times kept for the percentiles */

enum { EXIT_OK = 0, EXIT_MISMATCH = 1, EXIT_USAGE = 2, EXIT_RUNTIME = 3 };
enum perf_mode { MODE_SEND, MODE_RECV, MODE_ECHO, MODE_ROUNDTRIP };
enum perf_phase { PHASE_RUN, PHASE_DRAIN, PHASE_HOLD, PHASE_END };

static const char *const mode_names[] = { "send", "recv", "echo", "roundtrip" };

struct perf_opts {
  int is_master;
  const char *socket;
  uint32_t id;
  const char *secret;
  uint16_t queues;
  uint8_t rsize;
  uint32_t bsize;
  enum perf_mode mode;
  uint64_t count;
  uint32_t size;
  uint64_t rate;
  double timeout;
  double duration;
  double hold;
  uint32_t window;
  uint16_t burst;
  int expect_macswap;
  int macswap;
  int zero_copy;
  int verify;
  int drain;            /* send: also receive and count what comes back (a forwarder's output) */
  int serve;                   /* recv: a peer that leaves does not end the run */
  int interrupt;               /* rx in interrupt mode: sleep on the rx eventfds when idle */
  int adaptive;                /* interrupt mode, but masked and polled for a while after traffic */
  int allow_unsealed;
  int json;
  int progress;
  int verbose;
  uint8_t src_mac[6];
  uint8_t dst_mac[6];
};

struct perf_queue {
  uint64_t target;             /* frames to send (send, roundtrip) */
  uint64_t sent;
  uint64_t received;
  uint64_t rx_bytes;
  uint64_t tx_bytes;
  uint64_t matched;
  uint64_t mismatched;
  uint64_t duplicates;
  uint64_t out_of_order;
  uint64_t next_seq;           /* next sequence number expected on rx */
  uint8_t *seen;               /* roundtrip: one bit per sequence number */
  uint64_t *t_sent;            /* roundtrip: send time of seq, at seq % PERF_TSENT_SLOTS */
  nmif_buf_t pend[PERF_MAX_BURST];  /* echo: received, not yet sent back */
  uint16_t npend;
};

struct perf {
  struct perf_opts o;
  nmif_loop_t *loop;
  nmif_socket_t *sock;
  nmif_if_t *iface;
  struct perf_queue *q;
  uint16_t nq;                 /* queues in use while connected */
  uint16_t ring_size;
  uint32_t window;
  int connected;
  int ever_connected;
  int closing;                 /* our own teardown: stay quiet */
  unsigned disconnects;
  char reason[NMIF_REASON_MAX];
  char attempt_reason[NMIF_REASON_MAX];
  enum perf_phase phase;
  const char *end_why;
  uint64_t t_start, t_connect, t_first, t_last, t_done, t_progress, t_idle_since;
  uint64_t untaken;
  uint64_t mismatch_reports;
  uint64_t wakeups;            /* on_rx calls */
  int cb_work;                 /* packets moved from on_rx since the main loop last looked */
  int masked;                  /* adaptive: the rx queues are masked (polled) now */
  uint32_t *rtt;               /* roundtrip: round-trip times in ns, the first PERF_RTT_MAX_SAMPLES */
  uint32_t nrtt;
  int tx_blocked;              /* last pass wanted to send but the ring was full */
  uint8_t tmpl[PERF_HDR_LEN];  /* headers of frame 0 on queue 0; patched per frame */
  uint8_t pattern[256 + PERF_MAX_FRAME];
  uint8_t scratch[PERF_MAX_FRAME];
  uint8_t *lin;                /* echo: chained packets linearised, grown to the largest seen */
  size_t lin_cap;
  uint8_t expect[PERF_MAX_FRAME];
};

static volatile sig_atomic_t perf_stop;

static void on_signal(int sig) {
  (void)sig;
  perf_stop = 1;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t sec_to_ns(double s) {
  return s <= 0 ? 0 : (uint64_t)(s * 1e9);
}

static void note(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("nmif-perf: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  fflush(stderr);
}

static void usage(FILE *f) {
  fputs(
      "usage: nmif-perf [options]\n"
      "Sends, receives, echoes or round-trips Ethernet/IPv4/UDP frames over one memif interface.\n"
      "\n"
      "options:\n"
      "  --role master|slave      memif role; server and client are synonyms (default slave)\n"
      "  --socket PATH|@NAME      control socket path, or @NAME for an abstract socket\n"
      "                           (default /run/memif.sock)\n"
      "  --id N                   interface id (default 0)\n"
      "  --secret STR             shared secret, at most 23 characters (default none)\n"
      "  --queues N               queue pairs, 1..255 (default 1)\n"
      "  --rsize LOG2             log2 of the ring size, 1..14 (default 10)\n"
      "  --bsize N                buffer size in bytes, 64..65535; use the peer's bsize (default 2048)\n"
      "  --mode MODE              send | recv | echo | roundtrip (default recv)\n"
      "  --count N                send/roundtrip: frames to send (send: 0 = until --duration);\n"
      "                           recv/echo: stop after N packets (0 = no limit) (default 0, roundtrip 10000)\n"
      "  --size N                 frame size in bytes, 60..9216, without FCS (default 64)\n"
      "  --rate PPS               send at most PPS frames per second over all queues (default 0 = no limit)\n"
      "  --burst N                buffers per burst, 1..256 (default 64)\n"
      "  --window N               roundtrip: most frames in flight per queue (default: half a ring of buffers)\n"
      "  --timeout SEC            give up after SEC seconds without a connection or any progress;\n"
      "                           0 = never (default 10)\n"
      "  --duration SEC           stop sending or receiving after SEC seconds of link up (default 0 = none)\n"
      "  --hold SEC               when done, stay connected until the peer disconnects, at most SEC seconds\n"
      "                           (default 0)\n"
      "  --expect-macswap         roundtrip: frames come back with source and destination MAC swapped\n"
      "  --macswap                echo: swap source and destination MAC before sending back\n"
      "  --zero-copy              echo as slave: move received buffers to tx without copying (nmif_tx_swap)\n"
      "  --verify                 recv/echo: check that every packet is an nmif-perf frame, byte for byte\n"
      "  --drain                  send: also receive and count frames that come back, unchecked\n"
      "                           (drives a forwarder at full rate and measures its output)\n"
      "  --serve                  recv: keep serving the next peer when one leaves (the run ends at\n"
      "                           --count, --duration or a signal); without it the first peer to\n"
      "                           leave ends the run (a peer that breaks the protocol never does)\n"
      "  --rx-mode poll|interrupt|adaptive\n"
      "                           rx queues polled (MASK_INT set, default), or woken by the peer's\n"
      "                           interrupts: when idle, sleep in the event loop until an rx eventfd fires;\n"
      "                           adaptive: interrupts, but after traffic the queues are masked and polled\n"
      "                           for " PERF_STR(PERF_ADAPTIVE_US) " us before sleeping again\n"
      "  --allow-unsealed         master: accept regions that cannot be sealed against shrinking\n"
      "                           (DPDK zero-copy clients share their hugepage/memseg files)\n"
      "  --src-mac MAC            source MAC of generated frames (default 02:00:00:00:00:01)\n"
      "  --dst-mac MAC            destination MAC of generated frames (default 02:00:00:00:00:02)\n"
      "  --json                   print the result as one JSON object on stdout\n"
      "  --progress               print counters to stderr once a second\n"
      "  --verbose                library log level debug (also: env NMIF_LOG=error|warn|info|debug)\n"
      "  --help                   show this help\n"
      "\n"
      "Events go to stderr as \"nmif-perf: connected ...\", \"nmif-perf: done ...\", \"nmif-perf: disconnected ...\".\n"
      "Exit status: 0 counts as expected, 1 count or content mismatch, 2 usage error, 3 runtime error.\n",
      f);
}

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
    fprintf(stderr, "nmif-perf: --%s: expected an integer in %" PRIu64 "..%" PRIu64 ", got \"%s\"\n",
            opt, min, max, s);
    return -1;
  }
  *out = v;
  return 0;
}

static int parse_sec(const char *opt, const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= 0) || v > 1e6) {
    fprintf(stderr, "nmif-perf: --%s: expected seconds >= 0, got \"%s\"\n", opt, s);
    return -1;
  }
  *out = v;
  return 0;
}

static int parse_mac(const char *opt, const char *s, uint8_t mac[6]) {
  unsigned b[6];
  char tail;
  if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6) {
    fprintf(stderr, "nmif-perf: --%s: expected xx:xx:xx:xx:xx:xx, got \"%s\"\n", opt, s);
    return -1;
  }
  for (int i = 0; i < 6; i++) mac[i] = (uint8_t)b[i];
  return 0;
}

static int parse_args(int argc, char **argv, struct perf_opts *o) {
  enum {
    OPT_ROLE = 256, OPT_SOCKET, OPT_ID, OPT_SECRET, OPT_QUEUES, OPT_RSIZE, OPT_BSIZE, OPT_MODE,
    OPT_COUNT, OPT_SIZE, OPT_RATE, OPT_BURST, OPT_WINDOW, OPT_TIMEOUT, OPT_DURATION, OPT_HOLD,
    OPT_EXPECT_MACSWAP, OPT_MACSWAP, OPT_ZERO_COPY, OPT_VERIFY, OPT_DRAIN, OPT_SERVE, OPT_RX_MODE, OPT_ALLOW_UNSEALED, OPT_SRC_MAC, OPT_DST_MAC,
    OPT_JSON, OPT_PROGRESS, OPT_VERBOSE, OPT_HELP,
  };
  static const struct option longopts[] = {
    { "role", required_argument, 0, OPT_ROLE },
    { "socket", required_argument, 0, OPT_SOCKET },
    { "id", required_argument, 0, OPT_ID },
    { "secret", required_argument, 0, OPT_SECRET },
    { "queues", required_argument, 0, OPT_QUEUES },
    { "rsize", required_argument, 0, OPT_RSIZE },
    { "bsize", required_argument, 0, OPT_BSIZE },
    { "mode", required_argument, 0, OPT_MODE },
    { "count", required_argument, 0, OPT_COUNT },
    { "size", required_argument, 0, OPT_SIZE },
    { "rate", required_argument, 0, OPT_RATE },
    { "burst", required_argument, 0, OPT_BURST },
    { "window", required_argument, 0, OPT_WINDOW },
    { "timeout", required_argument, 0, OPT_TIMEOUT },
    { "duration", required_argument, 0, OPT_DURATION },
    { "hold", required_argument, 0, OPT_HOLD },
    { "expect-macswap", no_argument, 0, OPT_EXPECT_MACSWAP },
    { "macswap", no_argument, 0, OPT_MACSWAP },
    { "zero-copy", no_argument, 0, OPT_ZERO_COPY },
    { "verify", no_argument, 0, OPT_VERIFY },
    { "drain", no_argument, 0, OPT_DRAIN },
    { "serve", no_argument, 0, OPT_SERVE },
    { "rx-mode", required_argument, 0, OPT_RX_MODE },
    { "allow-unsealed", no_argument, 0, OPT_ALLOW_UNSEALED },
    { "src-mac", required_argument, 0, OPT_SRC_MAC },
    { "dst-mac", required_argument, 0, OPT_DST_MAC },
    { "json", no_argument, 0, OPT_JSON },
    { "progress", no_argument, 0, OPT_PROGRESS },
    { "verbose", no_argument, 0, OPT_VERBOSE },
    { "help", no_argument, 0, OPT_HELP },
    { 0, 0, 0, 0 },
  };
  static const uint8_t src_default[6] = { 0x02, 0, 0, 0, 0, 0x01 };
  static const uint8_t dst_default[6] = { 0x02, 0, 0, 0, 0, 0x02 };
  int count_set = 0;
  uint64_t v;

  memset(o, 0, sizeof(*o));
  o->socket = "/run/memif.sock";
  o->queues = 1;
  o->rsize = 10;
  o->bsize = 2048;
  o->mode = MODE_RECV;
  o->size = 64;
  o->burst = 64;
  o->timeout = 10;
  memcpy(o->src_mac, src_default, 6);
  memcpy(o->dst_mac, dst_default, 6);

  opterr = 0;
  for (;;) {
    int c = getopt_long(argc, argv, "", longopts, NULL);
    if (c == -1) break;
    switch (c) {
    case OPT_ROLE:
      if (!strcmp(optarg, "master") || !strcmp(optarg, "server")) o->is_master = 1;
      else if (!strcmp(optarg, "slave") || !strcmp(optarg, "client")) o->is_master = 0;
      else {
        fprintf(stderr, "nmif-perf: --role: expected master, slave, server or client, got \"%s\"\n", optarg);
        return -1;
      }
      break;
    case OPT_SOCKET:
      if (!optarg[0] || strlen(optarg) > NMIF_PATH_MAX - 1) {
        fprintf(stderr, "nmif-perf: --socket: expected 1..%d characters\n", NMIF_PATH_MAX - 1);
        return -1;
      }
      o->socket = optarg;
      break;
    case OPT_ID:
      if (parse_u64("id", optarg, 0, UINT32_MAX, &v)) return -1;
      o->id = (uint32_t)v;
      break;
    case OPT_SECRET:
      if (strlen(optarg) > NMIF_SECRET_MAX - 1) {
        fprintf(stderr, "nmif-perf: --secret: at most %d characters\n", NMIF_SECRET_MAX - 1);
        return -1;
      }
      o->secret = optarg;
      break;
    case OPT_QUEUES:
      if (parse_u64("queues", optarg, 1, NMIF_MAX_QUEUES, &v)) return -1;
      o->queues = (uint16_t)v;
      break;
    case OPT_RSIZE:
      if (parse_u64("rsize", optarg, 1, NMIF_MAX_LOG2_RING_SIZE, &v)) return -1;
      o->rsize = (uint8_t)v;
      break;
    case OPT_BSIZE:
      if (parse_u64("bsize", optarg, 64, 65535, &v)) return -1;
      o->bsize = (uint32_t)v;
      break;
    case OPT_MODE: {
      int found = 0;
      for (int i = 0; i < 4; i++)
        if (!strcmp(optarg, mode_names[i])) o->mode = (enum perf_mode)i, found = 1;
      if (!found) {
        fprintf(stderr, "nmif-perf: --mode: expected send, recv, echo or roundtrip, got \"%s\"\n", optarg);
        return -1;
      }
      break;
    }
    case OPT_COUNT:
      if (parse_u64("count", optarg, 0, UINT64_MAX / 2, &o->count)) return -1;
      count_set = 1;
      break;
    case OPT_SIZE:
      if (parse_u64("size", optarg, PERF_MIN_FRAME, PERF_MAX_FRAME, &v)) return -1;
      o->size = (uint32_t)v;
      break;
    case OPT_RATE:
      if (parse_u64("rate", optarg, 0, UINT64_MAX / 2, &o->rate)) return -1;
      break;
    case OPT_BURST:
      if (parse_u64("burst", optarg, 1, PERF_MAX_BURST, &v)) return -1;
      o->burst = (uint16_t)v;
      break;
    case OPT_WINDOW:
      if (parse_u64("window", optarg, 1, 1u << NMIF_MAX_LOG2_RING_SIZE, &v)) return -1;
      o->window = (uint32_t)v;
      break;
    case OPT_TIMEOUT:
      if (parse_sec("timeout", optarg, &o->timeout)) return -1;
      break;
    case OPT_DURATION:
      if (parse_sec("duration", optarg, &o->duration)) return -1;
      break;
    case OPT_HOLD:
      if (parse_sec("hold", optarg, &o->hold)) return -1;
      break;
    case OPT_EXPECT_MACSWAP: o->expect_macswap = 1; break;
    case OPT_MACSWAP: o->macswap = 1; break;
    case OPT_ZERO_COPY: o->zero_copy = 1; break;
    case OPT_VERIFY: o->verify = 1; break;
    case OPT_DRAIN: o->drain = 1; break;
    case OPT_SERVE: o->serve = 1; break;
    case OPT_ALLOW_UNSEALED: o->allow_unsealed = 1; break;
    case OPT_RX_MODE:
      if (!strcmp(optarg, "poll") || !strcmp(optarg, "polling")) o->interrupt = 0;
      else if (!strcmp(optarg, "interrupt")) o->interrupt = 1;
      else if (!strcmp(optarg, "adaptive")) o->interrupt = o->adaptive = 1;
      else {
        fprintf(stderr, "nmif-perf: --rx-mode: expected poll, interrupt or adaptive, got \"%s\"\n", optarg);
        return -1;
      }
      break;
    case OPT_SRC_MAC:
      if (parse_mac("src-mac", optarg, o->src_mac)) return -1;
      break;
    case OPT_DST_MAC:
      if (parse_mac("dst-mac", optarg, o->dst_mac)) return -1;
      break;
    case OPT_JSON: o->json = 1; break;
    case OPT_PROGRESS: o->progress = 1; break;
    case OPT_VERBOSE: o->verbose = 1; break;
    case OPT_HELP:
      usage(stdout);
      exit(EXIT_OK);
    default:
      if (optopt)
        fprintf(stderr, "nmif-perf: option %s needs a value or takes none\n", argv[optind - 1]);
      else
        fprintf(stderr, "nmif-perf: unknown option %s (try --help)\n", argv[optind - 1]);
      return -1;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "nmif-perf: unexpected argument \"%s\" (try --help)\n", argv[optind]);
    return -1;
  }
  if (o->mode == MODE_ROUNDTRIP && !count_set) o->count = 10000;
  if (o->mode == MODE_ROUNDTRIP && o->count == 0) {
    fprintf(stderr, "nmif-perf: --mode roundtrip needs --count > 0\n");
    return -1;
  }
  if (o->mode == MODE_SEND && o->count == 0 && o->duration == 0) {
    fprintf(stderr, "nmif-perf: --mode send needs --count or --duration\n");
    return -1;
  }
  if (o->zero_copy && (o->mode != MODE_ECHO || o->is_master)) {
    fprintf(stderr, "nmif-perf: --zero-copy works only with --mode echo --role slave\n");
    return -1;
  }
  if (o->serve && o->mode != MODE_RECV) {
    fprintf(stderr, "nmif-perf: --serve works only with --mode recv (echo always serves on)\n");
    return -1;
  }
  if (o->macswap && o->mode != MODE_ECHO) {
    fprintf(stderr, "nmif-perf: --macswap works only with --mode echo (see --expect-macswap)\n");
    return -1;
  }
  if (o->expect_macswap && o->mode != MODE_ROUNDTRIP) {
    fprintf(stderr, "nmif-perf: --expect-macswap works only with --mode roundtrip\n");
    return -1;
  }
  return 0;
}

/* ---- frames ------------------------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

static void perf_init_frames(struct perf *p) {
  const struct perf_opts *o = &p->o;
  uint8_t *h = p->tmpl;
  memset(h, 0, sizeof(p->tmpl));
  memcpy(h, o->dst_mac, 6);
  memcpy(h + 6, o->src_mac, 6);
  put16(h + 12, 0x0800);
  h[14] = 0x45;                                  /* IPv4, 20-byte header */
  put16(h + 20, 0x4000);                         /* don't fragment */
  h[22] = 64;                                    /* ttl */
  h[23] = 17;                                    /* UDP */
  h[26] = 198, h[27] = 18, h[28] = 0, h[29] = 1; /* 198.18.0.1 -> 198.18.0.2 (RFC 2544 range) */
  h[30] = 198, h[31] = 18, h[32] = 0, h[33] = 2;
  put16(h + 36, 5001);                           /* UDP destination port */
  /* UDP checksum 0 = none; lengths are set per frame. */
  memcpy(h + PERF_MAGIC_OFF, "NMIF", 4);
  for (size_t i = 0; i < sizeof(p->pattern); i++) p->pattern[i] = (uint8_t)i;
}

/* Writes frame `seq` of queue `qid`, `size` bytes, to dst. */
static void perf_build(const struct perf *p, uint8_t *dst, uint32_t size, uint16_t qid, uint64_t seq) {
  memcpy(dst, p->tmpl, PERF_HDR_LEN);
  put16(dst + 16, (uint16_t)(size - 14));        /* IP total length */
  put16(dst + 38, (uint16_t)(size - 34));        /* UDP length */
  put16(dst + 18, (uint16_t)seq);                /* IP identification */
  put16(dst + 34, (uint16_t)(1024 + qid));       /* UDP source port */
  put16(dst + PERF_QID_OFF, qid);
  put64(dst + PERF_SEQ_OFF, seq);
  uint32_t sum = 0;
  for (int i = 14; i < 34; i += 2) sum += get16(dst + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(dst + 24, (uint16_t)~sum);
  memcpy(dst + PERF_HDR_LEN, p->pattern + (seq & 0xff), size - PERF_HDR_LEN);
}

/* Collects one packet starting at bufs[i] (a chain ends at the first buffer without NEXT).
 * Returns the number of buffers; *data points at a contiguous copy when it was chained. */
static unsigned perf_packet(struct perf *p, const nmif_buf_t *bufs, unsigned i, unsigned n,
                            const uint8_t **data, uint32_t *len, int *too_big) {
  unsigned j = i;
  while (j < n - 1 && (bufs[j].flags & NMIF_BUF_NEXT)) j++;
  *too_big = 0;
  if (j == i) {
    *data = bufs[i].data;
    *len = bufs[i].len;
    return 1;
  }
  uint32_t total = 0;
  for (unsigned k = i; k <= j; k++) {
    if (total + bufs[k].len > sizeof(p->scratch)) {
      *too_big = 1;
      total += bufs[k].len;
      continue;
    }
    if (!*too_big) memcpy(p->scratch + total, bufs[k].data, bufs[k].len);
    total += bufs[k].len;
  }
  *data = p->scratch;
  *len = total;
  return j - i + 1;
}

/* Checks a received frame against what frame (qid, seq) of that length must look like
 * (roundtrip: of --size). 1 = identical. */
static int perf_check(struct perf *p, uint16_t qid, const uint8_t *data, uint32_t len,
                      uint64_t *seq_out, int macswap) {
  if (len < PERF_MIN_FRAME || len > PERF_MAX_FRAME) return 0;
  if (p->o.mode == MODE_ROUNDTRIP && len != p->o.size) return 0;
  if (memcmp(data + PERF_MAGIC_OFF, "NMIF", 4) != 0) return 0;
  uint64_t seq = get64(data + PERF_SEQ_OFF);
  *seq_out = seq;
  perf_build(p, p->expect, len, qid, seq);
  if (macswap) {
    uint8_t t[6];
    memcpy(t, p->expect, 6);
    memcpy(p->expect, p->expect + 6, 6);
    memcpy(p->expect + 6, t, 6);
  }
  return memcmp(data, p->expect, len) == 0;
}

static void perf_report_mismatch(struct perf *p, uint16_t qid, const uint8_t *data, uint32_t len,
                                 const char *what) {
  if (p->mismatch_reports++ >= 5) return;
  char hex[3 * 64 + 1];
  uint32_t n = len < 64 ? len : 64;
  for (uint32_t i = 0; i < n; i++) snprintf(hex + 3 * i, 4, "%02x ", data[i]);
  hex[3 * n] = 0;
  note("%s on queue %u, %u bytes: %s", what, qid, len, hex);
}

/* ---- callbacks ---------------------------------------------------------------------------- */

static void perf_end(struct perf *p, const char *why) {
  if (p->phase != PHASE_END) {
    p->phase = PHASE_END;
    p->end_why = why;
  }
}

static void on_connect(nmif_if_t *iface, void *user) {
  struct perf *p = user;
  nmif_details_t d;
  if (nmif_if_details(iface, &d) < 0) memset(&d, 0, sizeof(d));
  uint16_t nq = d.rx_queues < d.tx_queues ? d.rx_queues : d.tx_queues;
  if (p->o.mode == MODE_SEND) nq = d.tx_queues;
  if (p->o.mode == MODE_RECV) nq = d.rx_queues;
  if (nq == 0 || nq > p->o.queues) nq = nq ? p->o.queues : 1;
  p->nq = nq;
  p->ring_size = (uint16_t)(1u << d.log2_ring_size);
  /* Half a ring of buffers in flight: the peer always finds room to send back. */
  uint32_t segs = (p->o.size + p->o.bsize - 1) / p->o.bsize;
  p->window = p->o.window ? p->o.window : p->ring_size / 2 / segs;
  if (p->window == 0) p->window = 1;
  if (p->window > p->ring_size) p->window = p->ring_size;
  p->connected = 1;
  p->masked = 0;  /* the library applied interrupt mode on link-up */
  p->t_connect = now_ns();
  p->t_idle_since = p->t_connect;
  if (!p->ever_connected) {
    if (p->o.mode == MODE_ROUNDTRIP) {
      uint64_t n = p->o.count < PERF_RTT_MAX_SAMPLES ? p->o.count : PERF_RTT_MAX_SAMPLES;
      p->rtt = malloc(n * sizeof(*p->rtt));
      if (!p->rtt) perf_end(p, "out of memory");
    }
    /* Split the frames over the queues that came up. */
    for (uint16_t q = 0; q < nq; q++)
      p->q[q].target = p->o.count / nq + (q < p->o.count % nq ? 1 : 0);
    if (p->o.mode == MODE_ROUNDTRIP) {
      for (uint16_t q = 0; q < nq; q++) {
        p->q[q].seen = calloc(p->q[q].target / 8 + 1, 1);
        p->q[q].t_sent = calloc(PERF_TSENT_SLOTS, sizeof(uint64_t));
        if (!p->q[q].seen || !p->q[q].t_sent) {
          note("out of memory for %" PRIu64 " sequence numbers", p->q[q].target);
          perf_end(p, "out of memory");
        }
      }
    }
  }
  p->ever_connected = 1;
  note("connected id=%u role=%s queues rx=%u tx=%u using=%u ring=%u bsize=%u peer-app=\"%s\" peer-if=\"%s\"",
       d.id, d.is_master ? "master" : "slave", d.rx_queues, d.tx_queues, nq, p->ring_size,
       d.buffer_size, d.peer_app_name, d.peer_if_name);
}

static int perf_work(struct perf *p, uint64_t now);

static void on_rx(nmif_if_t *iface, uint16_t qid, void *user) {
  struct perf *p = user;
  (void)iface;
  (void)qid;
  p->wakeups++;
  /* Answer from the callback, as soon as woken (a pass covers every queue). An error is
   * left for the main loop, whose next pass meets it again. */
  if (p->phase == PHASE_RUN && p->connected) {
    int r = perf_work(p, now_ns());
    /* roundtrip: the pass took the answer after sending; send the next frame now */
    if (r > 0 && p->o.mode == MODE_ROUNDTRIP && p->connected) {
      int r2 = perf_work(p, now_ns());
      if (r2 > 0) r += r2;
    }
    if (r > 0) p->cb_work += r;
  }
}

static void on_disconnect(nmif_if_t *iface, const char *reason, void *user) {
  struct perf *p = user;
  (void)iface;
  if (p->closing) return;
  if (!p->connected) {
    /* A connection attempt that never came up (the slave retries by itself): not the end of
     * a run. Say so once per distinct reason. */
    if (strncmp(p->attempt_reason, reason ? reason : "", sizeof(p->attempt_reason) - 1)) {
      snprintf(p->attempt_reason, sizeof(p->attempt_reason), "%s", reason ? reason : "");
      note("connection attempt failed: %s%s", p->attempt_reason, p->o.is_master ? "" : " (retrying)");
    }
    return;
  }
  p->attempt_reason[0] = 0;
  p->connected = 0;
  p->disconnects++;
  snprintf(p->reason, sizeof(p->reason), "%s", reason ? reason : "");
  /* Buffers from before are gone with the mapping. */
  for (uint16_t q = 0; q < p->o.queues; q++) p->q[q].npend = 0;
  note("disconnected: %s", p->reason);
  /* A violation (the library refused the peer) or our own refusal ends the link, never a
   * receiving run: one bad peer must not stop a server for the next. */
  struct nmif_details d;
  int refused = nmif_if_details(iface, &d) == 0 &&
                (d.last_down_cause == NMIF_DOWN_VIOLATION || d.last_down_cause == NMIF_DOWN_LOCAL);
  int serving = p->o.mode == MODE_ECHO || (p->o.mode == MODE_RECV && (p->o.serve || refused));
  if (p->phase == PHASE_HOLD) perf_end(p, "peer disconnected");
  else if (p->phase != PHASE_END && !serving) perf_end(p, "peer disconnected");
}

/* ---- data path ---------------------------------------------------------------------------- */

/* Sends up to `frames` frames on queue q. Returns frames sent, or a negative errno. */
static int perf_send(struct perf *p, uint16_t qid, uint64_t frames) {
  struct perf_queue *q = &p->q[qid];
  nmif_buf_t bufs[PERF_MAX_BURST];
  uint32_t size = p->o.size;
  uint32_t segs = (size + p->o.bsize - 1) / p->o.bsize;
  uint64_t want = frames * segs;
  if (want > p->o.burst) want = p->o.burst < segs ? segs : p->o.burst;
  if (want > PERF_MAX_BURST) want = PERF_MAX_BURST;
  int n = nmif_tx_alloc(p->iface, qid, bufs, (uint16_t)want);
  if (n <= 0) return n;

  unsigned used = 0, done = 0;
  unsigned ends[PERF_MAX_BURST];       /* index after the last buffer of each frame */
  while (done < frames && used < (unsigned)n) {
    uint64_t seq = q->sent + done;
    if (bufs[used].len >= size) {
      perf_build(p, bufs[used].data, size, qid, seq);
      bufs[used].len = size;
      bufs[used].flags = 0;
      used++;
    } else {
      /* Chain across buffers; give up on this frame if the allocation runs out. */
      unsigned k = used;
      uint32_t off = 0;
      perf_build(p, p->scratch, size, qid, seq);
      while (off < size && k < (unsigned)n) {
        uint32_t c = bufs[k].len < size - off ? bufs[k].len : size - off;
        if (c == 0) break;
        memcpy(bufs[k].data, p->scratch + off, c);
        bufs[k].len = c;
        off += c;
        bufs[k].flags = off < size ? NMIF_BUF_NEXT : 0;
        k++;
      }
      if (off < size) break;
      used = k;
    }
    ends[done++] = used;
  }
  if (used == 0) {
    nmif_tx_burst(p->iface, qid, bufs, 0);  /* drops the reservation */
    return 0;
  }
  if (q->t_sent) {
    uint64_t t = now_ns();
    for (unsigned k = 0; k < done; k++) q->t_sent[(q->sent + k) % PERF_TSENT_SLOTS] = t;
  }
  int sent = nmif_tx_burst(p->iface, qid, bufs, (uint16_t)used);
  if (sent < 0) return sent;
  unsigned whole = 0;
  while (whole < done && ends[whole] <= (unsigned)sent) whole++;
  if ((unsigned)sent != used) note("tx_burst sent %d of %u buffers on queue %u", sent, used, qid);
  q->sent += whole;
  q->tx_bytes += (uint64_t)whole * size;
  return (int)whole;
}

/* rx_burst that also takes a packet whose chain is longer than --burst (-ENOBUFS). */
static int perf_rx_burst(struct perf *p, uint16_t qid, nmif_buf_t *bufs) {
  int n = nmif_rx_burst(p->iface, qid, bufs, p->o.burst);
  if (n == NMIF_ENOBUFS && p->o.burst < PERF_MAX_BURST)
    n = nmif_rx_burst(p->iface, qid, bufs, PERF_MAX_BURST);
  if (n == NMIF_ENOBUFS) {
    /* A legal chain we cannot hold: refuse it rather than leave it blocking the ring. */
    nmif_if_disconnect(p->iface, "chain longer than " PERF_STR(PERF_MAX_BURST) " buffers");
    return 0;
  }
  return n;
}

/* Receives one burst on queue q, checking frames when asked. Returns packets, or -errno. */
static int perf_recv(struct perf *p, uint16_t qid) {
  struct perf_queue *q = &p->q[qid];
  nmif_buf_t bufs[PERF_MAX_BURST];
  int n = perf_rx_burst(p, qid, bufs);
  if (n <= 0) return n;
  int check = p->o.mode == MODE_ROUNDTRIP || p->o.verify;
  uint64_t t_rx = q->t_sent ? now_ns() : 0;
  unsigned pkts = 0;
  for (unsigned i = 0; i < (unsigned)n;) {
    const uint8_t *data;
    uint32_t len;
    int too_big;
    i += perf_packet(p, bufs, i, (unsigned)n, &data, &len, &too_big);
    pkts++;
    q->received++;
    q->rx_bytes += len;
    if (!check) continue;
    uint64_t seq = 0;
    int ok = !too_big && perf_check(p, qid, data, len, &seq, p->o.expect_macswap);
    if (ok && p->o.mode == MODE_ROUNDTRIP) {
      if (seq >= q->target) ok = 0;
      else if (q->seen[seq >> 3] & (1u << (seq & 7))) {
        q->duplicates++;
        perf_report_mismatch(p, qid, data, len, "duplicate frame");
        continue;
      } else {
        q->seen[seq >> 3] |= (uint8_t)(1u << (seq & 7));
      }
    }
    if (!ok) {
      q->mismatched++;
      perf_report_mismatch(p, qid, data, too_big ? 0 : len, "mismatched frame");
      continue;
    }
    q->matched++;
    if (t_rx && p->rtt && p->nrtt < PERF_RTT_MAX_SAMPLES && p->nrtt < p->o.count) {
      uint64_t d = t_rx - q->t_sent[seq % PERF_TSENT_SLOTS];
      p->rtt[p->nrtt++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    }
    if (seq != q->next_seq) q->out_of_order++;
    q->next_seq = seq + 1;
  }
  nmif_rx_release(p->iface, qid, (uint16_t)n);
  return (int)pkts;
}

static void swap_macs(uint8_t *d) {
  uint8_t t[6];
  memcpy(t, d, 6);
  memcpy(d, d + 6, 6);
  memcpy(d + 6, t, 6);
}

/* Echo: sends back what queue q received, holding what does not fit yet. Returns packets
 * echoed, or -errno. */
static int perf_echo(struct perf *p, uint16_t qid) {
  struct perf_queue *q = &p->q[qid];
  if (q->npend == 0) {
    int n = perf_rx_burst(p, qid, q->pend);
    if (n <= 0) return n;
    q->npend = (uint16_t)n;
    for (unsigned i = 0; i < (unsigned)n;) {
      const uint8_t *data;
      uint32_t len;
      int too_big;
      unsigned first = i;
      i += perf_packet(p, q->pend, i, (unsigned)n, &data, &len, &too_big);
      q->received++;
      q->rx_bytes += len;
      if (p->o.verify) {
        uint64_t seq;
        if (!too_big && perf_check(p, qid, data, len, &seq, 0)) q->matched++;
        else {
          q->mismatched++;
          perf_report_mismatch(p, qid, data, too_big ? 0 : len, "mismatched frame");
        }
      }
      if (p->o.macswap && q->pend[first].len >= 12) swap_macs(q->pend[first].data);
    }
  }

  unsigned bufs_done = 0, pkts_done = 0;
  if (p->o.zero_copy) {
    nmif_buf_t tx[PERF_MAX_BURST];
    memcpy(tx, q->pend, q->npend * sizeof(tx[0]));
    int moved = nmif_tx_swap(p->iface, qid, qid, tx, q->npend);
    if (moved < 0) return moved;
    if (moved > 0) {
      int sent = nmif_tx_burst(p->iface, qid, tx, (uint16_t)moved);
      if (sent < 0) return sent;
      if (sent != moved) note("tx_burst sent %d of %d swapped buffers on queue %u", sent, moved, qid);
      bufs_done = (unsigned)moved;
      for (int i = 0; i < moved; i++) {
        q->tx_bytes += tx[i].len;
        if (!(tx[i].flags & NMIF_BUF_NEXT)) pkts_done++;
      }
    }
  } else {
    const void *pkts[PERF_MAX_BURST];
    uint32_t lens[PERF_MAX_BURST];
    unsigned firstbuf[PERF_MAX_BURST], np = 0, covered = 0;
    uint8_t *lin = p->lin;  /* chained packets are linearised here, one after another */
    size_t lin_used = 0;
    for (unsigned i = 0; i < q->npend;) {
      unsigned j = i;
      while (j < q->npend - 1u && (q->pend[j].flags & NMIF_BUF_NEXT)) j++;
      firstbuf[np] = i;
      if (j == i) {
        pkts[np] = q->pend[i].data;
        lens[np] = q->pend[i].len;
      } else {
        uint32_t total = 0;
        for (unsigned k = i; k <= j; k++) total += q->pend[k].len;
        if (lin_used + total > p->lin_cap) {
          if (lin_used > 0) break;  /* next turn */
          /* Any legal frame, however long its chain: grow rather than leave it in the ring
           * (nothing points into the old buffer yet). */
          size_t cap = total > 4 * PERF_MAX_FRAME ? total : 4 * PERF_MAX_FRAME;
          uint8_t *g = realloc(p->lin, cap);
          if (!g) {
            nmif_if_disconnect(p->iface, "out of memory for a chained frame");
            return 0;
          }
          p->lin = lin = g;
          p->lin_cap = cap;
        }
        for (unsigned k = i; k <= j; k++) {
          memcpy(lin + lin_used, q->pend[k].data, q->pend[k].len);
          lin_used += q->pend[k].len;
        }
        pkts[np] = lin + lin_used - total;
        lens[np] = total;
      }
      np++;
      i = covered = j + 1;
    }
    const nmif_stats_t *st = nmif_stats(p->iface, 1, qid);
    uint64_t too_big = st ? st->drop_too_big : 0;
    int sent = nmif_tx_copy(p->iface, qid, pkts, lens, (uint16_t)np);
    if (sent < 0) return sent;
    /* Consumed = sent, or dropped for good (too big: counted by the library). */
    bufs_done = (unsigned)sent < np ? firstbuf[sent] : covered;
    too_big = st ? st->drop_too_big - too_big : 0;
    pkts_done = (unsigned)sent - (unsigned)too_big;
    for (int i = 0; i < sent; i++) q->tx_bytes += lens[i];
  }
  if (bufs_done) {
    nmif_rx_release(p->iface, qid, (uint16_t)bufs_done);
    memmove(q->pend, q->pend + bufs_done, (q->npend - bufs_done) * sizeof(q->pend[0]));
    q->npend = (uint16_t)(q->npend - bufs_done);
  }
  q->sent += pkts_done;
  return (int)pkts_done;
}

/* 1 when the peer has consumed everything we transmitted on every queue. */
static int perf_taken(struct perf *p, uint64_t *untaken) {
  uint64_t left = 0;
  for (uint16_t q = 0; q < p->nq; q++) {
    nmif_ring_details_t rd;
    if (nmif_ring_details(p->iface, 1, q, &rd) < 0) return 0;
    uint16_t inflight = p->o.is_master ? (uint16_t)(rd.size - (uint16_t)(rd.head - rd.tail))
                                       : (uint16_t)(rd.head - rd.tail);
    left += inflight;
  }
  *untaken = left;
  return left == 0;
}

/* ---- results ------------------------------------------------------------------------------ */

struct perf_totals {
  uint64_t sent, received, matched, mismatched, duplicates, out_of_order, tx_bytes, rx_bytes;
  uint64_t ring_full, bad_desc, too_big, irq_received, irq_sent;
};

static void perf_sum(const struct perf *p, struct perf_totals *t) {
  memset(t, 0, sizeof(*t));
  for (uint16_t i = 0; i < p->o.queues; i++) {
    const struct perf_queue *q = &p->q[i];
    t->sent += q->sent;
    t->received += q->received;
    t->matched += q->matched;
    t->mismatched += q->mismatched;
    t->duplicates += q->duplicates;
    t->out_of_order += q->out_of_order;
    t->tx_bytes += q->tx_bytes;
    t->rx_bytes += q->rx_bytes;
    for (int dir = 0; dir < 2; dir++) {
      const nmif_stats_t *s = nmif_stats(p->iface, dir, i);
      if (!s) continue;
      t->ring_full += s->ring_full;
      t->bad_desc += s->drop_bad_desc;
      t->too_big += s->drop_too_big;
      t->irq_received += s->irq_received;
      t->irq_sent += s->irq_sent;
    }
  }
}

static uint64_t perf_primary(const struct perf *p, const struct perf_totals *t) {
  switch (p->o.mode) {
  case MODE_SEND: return t->sent;
  case MODE_ECHO: return t->sent;
  default: return t->received;
  }
}

static int perf_verdict(const struct perf *p, const struct perf_totals *t, const char **why) {
  const struct perf_opts *o = &p->o;
  *why = "ok";
  if (!p->ever_connected) return *why = "never connected", EXIT_RUNTIME;
  switch (o->mode) {
  case MODE_SEND:
    if (o->count && t->sent != o->count) return *why = "sent fewer frames than --count", EXIT_MISMATCH;
    if (!o->count && t->sent == 0) return *why = "sent nothing", EXIT_MISMATCH;
    if (p->untaken) return *why = "peer did not take every frame", EXIT_MISMATCH;
    break;
  case MODE_RECV:
    if (o->count && t->received != o->count) return *why = "received count differs from --count", EXIT_MISMATCH;
    if (!o->count && t->received == 0) return *why = "received nothing", EXIT_MISMATCH;
    break;
  case MODE_ECHO:
    if (o->count && t->sent < o->count) return *why = "echoed fewer packets than --count", EXIT_MISMATCH;
    if (!o->count && t->sent == 0) return *why = "echoed nothing", EXIT_MISMATCH;
    break;
  case MODE_ROUNDTRIP:
    if (t->sent != o->count) return *why = "sent fewer frames than --count", EXIT_MISMATCH;
    if (t->matched != o->count) return *why = "not every frame came back identical", EXIT_MISMATCH;
    if (t->duplicates) return *why = "duplicate frames", EXIT_MISMATCH;
    break;
  }
  if (t->mismatched) return *why = "mismatched frames", EXIT_MISMATCH;
  if (t->bad_desc) return *why = "the peer published bad descriptors", EXIT_MISMATCH;
  return EXIT_OK;
}

static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* The round-trip time (µs) below which a fraction f of the sorted samples lie. */
static double rtt_at(const struct perf *p, double f) {
  uint32_t k = (uint32_t)(f * p->nrtt + 0.999999);
  if (k > 0) k--;
  if (k >= p->nrtt) k = p->nrtt - 1;
  return p->rtt[k] / 1e3;
}

/* ,"rtt_us":{...} with percentiles and the distribution (every 1 %, 99.9 %, max). */
static void perf_print_rtt(struct perf *p) {
  if (!p->nrtt) return;
  qsort(p->rtt, p->nrtt, sizeof(*p->rtt), cmp_u32);
  printf(",\"rtt_us\":{\"samples\":%u,\"min\":%.3f,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,\"cdf\":[",
         p->nrtt, p->rtt[0] / 1e3, rtt_at(p, 0.5), rtt_at(p, 0.9), rtt_at(p, 0.99), rtt_at(p, 0.999),
         p->rtt[p->nrtt - 1] / 1e3);
  for (int k = 1; k <= 99; k++) printf("[%.2f,%.3f],", k / 100.0, rtt_at(p, k / 100.0));
  printf("[0.999,%.3f],[1,%.3f]]}", rtt_at(p, 0.999), p->rtt[p->nrtt - 1] / 1e3);
}

static void perf_print(struct perf *p, int verdict, const char *why) {
  struct perf_totals t;
  perf_sum(p, &t);
  uint64_t t0 = p->t_first ? p->t_first : p->t_connect;
  uint64_t t1 = p->t_last > t0 ? p->t_last : t0;
  double duration = t0 ? (double)(t1 - t0) / 1e9 : 0;
  uint64_t primary = perf_primary(p, &t);
  double pps = duration > 0 ? (double)primary / duration : 0;
  double mbps = duration > 0 ? (double)(p->o.mode == MODE_SEND ? t.tx_bytes : t.rx_bytes) * 8 / duration / 1e6 : 0;
  uint64_t lost = p->o.mode == MODE_ROUNDTRIP && t.sent > t.received ? t.sent - t.received : 0;
  /* Frames known to be lost. The library's ring_full counter is not part of it: this tool
   * retries what did not fit, so it only says how often the ring was full. */
  uint64_t drops = lost + p->untaken + t.bad_desc + t.too_big;
  if (p->o.json) {
    printf("{\"mode\":\"%s\",\"role\":\"%s\",\"socket\":", mode_names[p->o.mode],
           p->o.is_master ? "master" : "slave");
    json_str(p->o.socket);
    printf(",\"id\":%u,\"queues\":%u,\"size\":%u,\"count\":%" PRIu64 ",\"sent\":%" PRIu64
           ",\"received\":%" PRIu64 ",\"matched\":%" PRIu64 ",\"mismatched\":%" PRIu64
           ",\"duplicates\":%" PRIu64 ",\"out_of_order\":%" PRIu64 ",\"lost\":%" PRIu64
           ",\"untaken\":%" PRIu64 ",\"drops\":%" PRIu64 ",\"ring_full\":%" PRIu64 ",\"bad_desc\":%" PRIu64
           ",\"too_big\":%" PRIu64 ",\"irq_received\":%" PRIu64 ",\"irq_sent\":%" PRIu64
           ",\"wakeups\":%" PRIu64 ",\"tx_bytes\":%" PRIu64 ",\"rx_bytes\":%" PRIu64
           ",\"pps\":%.0f,\"mbps\":%.1f,\"duration\":%.6f,\"disconnects\":%u,\"connected\":%s,\"end\":",
           p->o.id, p->nq, p->o.size, p->o.count, t.sent, t.received, t.matched, t.mismatched,
           t.duplicates, t.out_of_order, lost, p->untaken, drops, t.ring_full, t.bad_desc, t.too_big,
           t.irq_received, t.irq_sent, p->wakeups, t.tx_bytes, t.rx_bytes, pps, mbps,
           duration, p->disconnects, p->ever_connected ? "true" : "false");
    json_str(p->end_why ? p->end_why : "");
    printf(",\"disconnect_reason\":");
    json_str(p->reason);
    perf_print_rtt(p);
    printf(",\"ok\":%s,\"verdict\":", verdict == EXIT_OK ? "true" : "false");
    json_str(why);
    printf("}\n");
  } else {
    printf("mode %s role %s: sent %" PRIu64 " received %" PRIu64 " matched %" PRIu64
           " mismatched %" PRIu64 " duplicates %" PRIu64 " lost %" PRIu64 " untaken %" PRIu64
           " drops %" PRIu64 "\n",
           mode_names[p->o.mode], p->o.is_master ? "master" : "slave", t.sent, t.received,
           t.matched, t.mismatched, t.duplicates, lost, p->untaken, drops);
    printf("%.0f pps, %.1f Mbit/s over %.3f s; ended: %s; verdict: %s\n", pps, mbps, duration,
           p->end_why ? p->end_why : "", why);
    if (p->nrtt) {
      qsort(p->rtt, p->nrtt, sizeof(*p->rtt), cmp_u32);
      printf("rtt us min/p50/p99/p99.9/max = %.1f/%.1f/%.1f/%.1f/%.1f over %u round trips\n",
             p->rtt[0] / 1e3, rtt_at(p, 0.5), rtt_at(p, 0.99), rtt_at(p, 0.999),
             p->rtt[p->nrtt - 1] / 1e3, p->nrtt);
    }
  }
  fflush(stdout);
}

static void perf_progress(struct perf *p, uint64_t now) {
  struct perf_totals t;
  perf_sum(p, &t);
  note("progress t=%.1fs sent=%" PRIu64 " received=%" PRIu64 " matched=%" PRIu64
       " mismatched=%" PRIu64 " ring_full=%" PRIu64 " bad_desc=%" PRIu64,
       (double)(now - p->t_start) / 1e9, t.sent, t.received, t.matched, t.mismatched, t.ring_full,
       t.bad_desc);
}

/* ---- main loop ---------------------------------------------------------------------------- */

/* Adaptive: masks (the peer stops signalling; we poll) or unmasks the rx queues. Unmasking
 * returns what arrived before the peer could see it (nmif_rx_arm looks again). */
static int perf_mask(struct perf *p, int mask) {
  int avail = 0;
  for (uint16_t q = 0; q < p->nq && p->connected; q++) {
    int r = nmif_rx_arm(p->iface, q, !mask);
    if (r > 0) avail += r;
  }
  p->masked = mask;
  return avail;
}

static int perf_all_sent(const struct perf *p) {
  for (uint16_t q = 0; q < p->nq; q++)
    if (p->q[q].sent < p->q[q].target) return 0;
  return 1;
}

static int perf_all_back(const struct perf *p) {
  for (uint16_t q = 0; q < p->nq; q++)
    if (p->q[q].received < p->q[q].target) return 0;
  return 1;
}

static void perf_finish_run(struct perf *p, uint64_t now) {
  struct perf_totals t;
  p->t_done = now;
  p->phase = p->o.mode == MODE_SEND ? PHASE_DRAIN : PHASE_HOLD;
  if (p->phase == PHASE_HOLD) {
    perf_sum(p, &t);
    note("done sent=%" PRIu64 " received=%" PRIu64 " matched=%" PRIu64, t.sent, t.received, t.matched);
  }
}

/* One pass over the queues in the RUN phase. Returns packets moved, or -errno. */
static int perf_work(struct perf *p, uint64_t now) {
  const struct perf_opts *o = &p->o;
  int work = 0;
  uint64_t total_sent = 0;
  p->tx_blocked = 0;
  if (o->rate) for (uint16_t q = 0; q < p->nq; q++) total_sent += p->q[q].sent;
  for (uint16_t qid = 0; qid < p->nq && p->connected; qid++) {
    struct perf_queue *q = &p->q[qid];
    int r = 0;
    if (o->mode == MODE_SEND || o->mode == MODE_ROUNDTRIP) {
      uint64_t frames = o->count ? q->target - q->sent : o->burst;
      if (o->mode == MODE_ROUNDTRIP) {
        uint64_t inflight = q->sent - q->received;
        frames = inflight >= p->window ? 0 : (frames < p->window - inflight ? frames : p->window - inflight);
      }
      if (o->rate && frames) {
        uint64_t start = p->t_first ? p->t_first : now;
        uint64_t allowed = (uint64_t)((double)(now - start) * (double)o->rate / 1e9) + 1;
        uint64_t room = allowed > total_sent ? allowed - total_sent : 0;
        if (frames > room) frames = room;
      }
      if (frames) {
        r = perf_send(p, qid, frames);
        if (r < 0) return r;
        if (r == 0) p->tx_blocked = 1;
        total_sent += (uint64_t)r;
        work += r;
      }
    }
    if (!p->connected) break;
    if (o->mode == MODE_RECV || o->mode == MODE_ROUNDTRIP || (o->mode == MODE_SEND && o->drain))
      r = perf_recv(p, qid);
    else if (o->mode == MODE_ECHO) r = perf_echo(p, qid);
    else r = 0;
    if (r < 0) return r;
    work += r;
  }
  return work;
}

static int perf_run(struct perf *p) {
  const struct perf_opts *o = &p->o;
  uint64_t timeout = sec_to_ns(o->timeout), duration = sec_to_ns(o->duration), hold = sec_to_ns(o->hold);
  unsigned turns = 0;

  p->t_start = p->t_progress = p->t_idle_since = now_ns();
  while (p->phase != PHASE_END) {
    uint64_t now = now_ns();
    if (perf_stop) {
      perf_end(p, "interrupted");
      break;
    }
    if (o->progress && now - p->t_progress >= 1000000000ull) {
      p->t_progress = now;
      perf_progress(p, now);
    }
    if (!p->connected) {
      if (timeout && now - p->t_idle_since > timeout) {
        note("no connection within %.1f s", o->timeout);
        perf_end(p, "no connection");
        break;
      }
      int r = nmif_loop_run(p->loop, 20);
      if (r < 0 && r != -EINTR) {
        note("event loop: %s", nmif_strerror(r));
        return r;
      }
      continue;
    }

    int work = 0;
    if (p->phase == PHASE_RUN) {
      work = perf_work(p, now);
      if (work >= 0) work += p->cb_work;
      p->cb_work = 0;
      if (work < 0) {
        if (work == NMIF_EPROTO) {
          /* The peer broke the protocol: the library is taking the link down with the
           * reason, which on_disconnect reports. Let the loop run that teardown now rather
           * than end the run (a server keeps serving the next peer). */
          nmif_loop_run(p->loop, 10);
          continue;
        }
        if (work == NMIF_ENOTCONN || !p->connected) continue;  /* disconnect handled below */
        note("data path: %s", nmif_strerror(work));
        perf_end(p, "data path error");
        break;
      }
      if (work) {
        if (!p->t_first) p->t_first = now;
        p->t_last = now;
        p->t_idle_since = now;
      }
      int finished = 0;
      if (o->mode == MODE_SEND) finished = o->count && perf_all_sent(p);
      else if (o->mode == MODE_ROUNDTRIP) finished = perf_all_back(p);
      else if (o->count) {
        struct perf_totals t;
        perf_sum(p, &t);
        finished = (o->mode == MODE_RECV ? t.received : t.sent) >= o->count;
      }
      if (duration && now - p->t_connect >= duration) finished = 1;
      if (finished) perf_finish_run(p, now);
      else if (timeout && now - p->t_idle_since > timeout) {
        note("no progress for %.1f s", o->timeout);
        perf_end(p, "idle timeout");
        break;
      }
    } else if (p->phase == PHASE_DRAIN) {
      uint64_t left = 0;
      if (perf_taken(p, &left)) {
        p->untaken = 0;
        p->phase = PHASE_HOLD;
      } else if (timeout && now - p->t_done > timeout) {
        p->untaken = left;
        note("peer left %" PRIu64 " frames untaken after %.1f s", left, o->timeout);
        p->phase = PHASE_HOLD;
      }
      if (p->phase == PHASE_HOLD) {
        struct perf_totals t;
        perf_sum(p, &t);
        p->t_done = now;
        note("done sent=%" PRIu64 " untaken=%" PRIu64, t.sent, p->untaken);
      }
    }
    if (p->phase == PHASE_HOLD && (!hold || now - p->t_done > hold)) {
      perf_end(p, hold ? "hold time over" : "done");
      break;
    }

    /* Control events: every few busy turns, at once when idle, and block briefly when idle
     * for long (a poll-mode peer that stopped should not cost a whole core). */
    if (work) {
      if (o->adaptive && !p->masked) perf_mask(p, 1);
      /* every 16 busy turns without a loop run (interrupt mode runs it when idle anyway) */
      if (++turns % 16 == 0) nmif_loop_run(p->loop, 0);
    } else if (o->interrupt && p->phase == PHASE_RUN && !p->tx_blocked) {
      if (o->adaptive && p->masked) {
        /* Adaptive: keep polling for a while after traffic (an answer is usually that close),
         * then unmask; what came meanwhile is taken before sleeping. */
        if (now - p->t_idle_since < PERF_ADAPTIVE_US * 1000ull) {
          if (++turns % 16 == 0) nmif_loop_run(p->loop, 0);
          continue;
        }
        if (perf_mask(p, 0) > 0) continue;
      }
      /* Nothing to do until the peer sends: sleep until an rx eventfd (or a control fd)
       * fires; on_rx answers from there. Refills are never signalled, so a full tx ring is
       * polled instead. The timeout only bounds the wait; a missed interrupt shows up as a
       * 200 ms stall. */
      turns = 0;
      nmif_loop_run(p->loop, 200);
    } else {
      nmif_loop_run(p->loop, now - p->t_idle_since > PERF_IDLE_SLEEP_NS || p->phase == PHASE_HOLD ? 1 : 0);
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  static struct perf perf;
  struct perf *p = &perf;
  int err;

  if (parse_args(argc, argv, &p->o) < 0) return EXIT_USAGE;
  if (p->o.verbose) nmif_set_log_level(NMIF_LOG_DEBUG);
  p->q = calloc(p->o.queues, sizeof(*p->q));
  if (!p->q) {
    note("out of memory");
    return EXIT_RUNTIME;
  }
  perf_init_frames(p);

  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  if ((err = nmif_loop_create(&p->loop)) < 0) {
    note("nmif_loop_create: %s", nmif_strerror(err));
    return EXIT_RUNTIME;
  }
  nmif_socket_args_t sargs = {
    .path = p->o.socket,
    .app_name = "nmif-perf",
    .fd_update = nmif_loop_fd_update,
    .fd_update_ctx = p->loop,
    .allow_unsealed_regions = p->o.allow_unsealed,
    .irq_edge_triggered = 1,  /* nmif_loop: an interrupt costs the wait, no read */
  };
  if ((err = nmif_socket_create(&p->sock, &sargs)) < 0) {
    note("socket %s: %s (%s)", p->o.socket, nmif_strerror(err), nmif_err_name(err));
    nmif_loop_destroy(p->loop);
    return EXIT_RUNTIME;
  }
  nmif_if_args_t iargs = {
    .id = p->o.id,
    .is_master = p->o.is_master,
    .mode = NMIF_MODE_ETHERNET,
    .if_name = "nmif-perf",
    .secret = p->o.secret,
    .rx_queues = p->o.queues,
    .tx_queues = p->o.queues,
    .log2_ring_size = p->o.rsize,
    .buffer_size = p->o.bsize,
    .on_connect = on_connect,
    .on_disconnect = on_disconnect,
    .on_rx = p->o.interrupt ? on_rx : NULL,
    .user = p,
  };
  if ((err = nmif_if_create(p->sock, &p->iface, &iargs)) < 0) {
    note("interface id %u on %s: %s (%s)", p->o.id, p->o.socket, nmif_strerror(err), nmif_err_name(err));
    nmif_socket_destroy(p->sock);
    nmif_loop_destroy(p->loop);
    return EXIT_RUNTIME;
  }
  for (uint16_t q = 0; q < p->o.queues; q++) {
    nmif_rx_mode_t m = p->o.interrupt ? NMIF_RX_INTERRUPT : NMIF_RX_POLLING;
    if ((err = nmif_set_rx_mode(p->iface, q, m)) < 0)
      note("rx mode on queue %u: %s", q, nmif_strerror(err));
  }
  note("%s %s on %s id %u, mode %s", p->o.is_master ? "master" : "slave",
       p->o.is_master ? "listening" : "connecting", p->o.socket, p->o.id, mode_names[p->o.mode]);

  err = perf_run(p);

  const char *why;
  struct perf_totals t;
  perf_sum(p, &t);
  int verdict = err < 0 ? EXIT_RUNTIME : perf_verdict(p, &t, &why);
  if (err < 0) why = "runtime error";
  perf_print(p, verdict, why);

  p->closing = 1;
  nmif_if_destroy(p->iface);
  nmif_socket_destroy(p->sock);
  nmif_loop_destroy(p->loop);
  for (uint16_t q = 0; q < p->o.queues; q++) free(p->q[q].seen), free(p->q[q].t_sent);
  free(p->rtt);
  free(p->q);
  free(p->lin);
  return verdict;
}
