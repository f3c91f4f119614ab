/*
 * nhal: the bridge's data plane. A port abstraction over memif queues (our C core) and DPDK
 * ethdev queues, and native forwarding workers that move bursts between ports.
 *
 * Conventions (as in nmemif.h): functions return 0 or a count on success and a negative errno
 * on failure; one prefix; internals are private to src/.
 *
 * Ports. A port is ONE queue pair of a device (rx queue q and tx queue q). Every kind fills the
 * same ops table (rx_burst, rx_done, tx_burst, destroy); callers never branch on the kind.
 * Packets cross between ports as an nhal_batch_t: a list of packets, each a list of segments
 * pointing into the receiving port's memory (memif shared memory, or mbuf data). The receiving
 * port keeps ownership until rx_done; the transmitting port copies what it needs (a memif ring
 * only takes data in its own buffers, an mbuf needs data in mbuf memory), so every direction
 * costs exactly one copy and no allocation per packet.
 *
 * Threads. A port is used by one worker thread (both directions), which is the only writer of
 * the port's counters. Counters are plain u64 words in caller-provided memory (nhal_stats_t),
 * updated with relaxed atomic stores so that another thread (JavaScript, through an external
 * ArrayBuffer) reads them without a call per counter and without torn values.
 *
 * Quiesce. A memif port holds a queue lease of its interface (nmif_lease_t, nmemif.h) and
 * brackets every burst with the lease's gate. libmemif closes that gate itself in its teardown,
 * before it unmaps anything, and waits for a burst in flight to leave; the worker then sees a
 * closed gate and skips the port (counting tx drops as link_down) until the next link-up
 * reopens it. No callback of the application is involved.
 */
#ifndef NHAL_H
#define NHAL_H

#include <stddef.h>
#include <stdint.h>

#include "nmemif.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NHAL_BURST_MAX 256    /* packets per burst */
#define NHAL_SEGS_MAX 1024    /* segments (memif buffers or mbuf segments) per burst */
#define NHAL_PKT_SEGS_MAX 256 /* a longer packet is dropped (too_big) */
#define NHAL_NAME_MAX 64

/* ---- counters -------------------------------------------------------------------------------
 * Layout is ABI: JavaScript reads these words by index (src/bridge/stats.ts). */
enum nhal_stat {
  NHAL_ST_RX_PKTS = 0,
  NHAL_ST_RX_BYTES,
  NHAL_ST_RX_BURSTS,        /* non-empty rx bursts */
  NHAL_ST_RX_ERRORS,        /* rx bursts that failed (peer corrupted the ring, chain too long) */
  NHAL_ST_TX_PKTS,
  NHAL_ST_TX_BYTES,
  NHAL_ST_DROP_LINK_DOWN,   /* tx: the port was down or quiesced */
  NHAL_ST_DROP_TX_FULL,     /* tx: no room in the ring / NIC queue */
  NHAL_ST_DROP_NO_MBUF,     /* tx (DPDK): mempool empty */
  NHAL_ST_DROP_TOO_BIG,     /* tx: empty, or more segments than the port can send */
  NHAL_ST_DOWN_POLLS,       /* rx polls skipped because the port was down or quiesced */
  NHAL_ST_COUNT_USED,
  NHAL_ST_COUNT = 16        /* room for more without changing the stride */
};

typedef struct nhal_stats {
  uint64_t v[NHAL_ST_COUNT];
} nhal_stats_t;

/* The counters' names by index (snake_case; [NHAL_ST_COUNT_USED] and beyond are NULL): the one
 * list bindings and tools read the order from. */
extern const char *const nhal_stat_names[NHAL_ST_COUNT];

/* ---- packet batches ------------------------------------------------------------------------ */

typedef struct nhal_seg {
  const uint8_t *data;
  uint32_t len;
} nhal_seg_t;

typedef struct nhal_batch {
  uint16_t n_pkts;
  uint16_t n_segs;
  uint16_t first[NHAL_BURST_MAX + 1]; /* packet i is segs[first[i] .. first[i + 1]) */
  uint32_t pkt_len[NHAL_BURST_MAX];
  nhal_seg_t segs[NHAL_SEGS_MAX];
  void *priv[NHAL_BURST_MAX];         /* the receiving port's handle per packet (DPDK: mbuf; memif: unset) */
} nhal_batch_t;

/* ---- ports --------------------------------------------------------------------------------- */

typedef struct nhal_port nhal_port_t;   /* opaque; the ops table lives in src/port.h */

const char *nhal_port_name(const nhal_port_t *p);
const char *nhal_port_kind(const nhal_port_t *p);

/* Releases a port. -EBUSY while a worker path uses it. */
int nhal_port_destroy(nhal_port_t *p);

/* The burst calls the workers make, for other data-path owners (a protocol stack's netif).
 * One caller at a time per port: a user that moves a port between threads serializes them
 * itself (a lock), and never adds the port to a worker. Semantics as in src/port.h: rx_burst
 * returns packets (rx_done must follow a return > 0), tx_burst copies and returns packets
 * sent (the rest are counted as drops), rx_irq arms (1: an fd, -EAGAIN if packets wait) or
 * disarms (0) the port's interrupt, -ENOTSUP for a port that cannot signal. */
int nhal_port_rx_burst(nhal_port_t *p, nhal_batch_t *b, uint16_t max);
void nhal_port_rx_done(nhal_port_t *p, nhal_batch_t *b);
int nhal_port_tx_burst(nhal_port_t *p, const nhal_batch_t *b);
int nhal_port_rx_irq(nhal_port_t *p, int arm);

/* ---- the memif backend ----------------------------------------------------------------------- */

/* A port over the queue pair of `lease` (nmif_lease_create on the interface's thread, with
 * rx_mode NMIF_RX_POLLING: the worker polls, and arms the interrupt itself only while it
 * sleeps). The port takes its own reference; the lease may end or its interface go away at any
 * time, the port then stays down. */
int nhal_memif_port_create(nhal_port_t **out, const char *name, nmif_lease_t *lease,
                           nhal_stats_t *stats);

/* ---- the DPDK backend (dpdk_port.c, or dpdk_stub.c returning -ENOTSUP) ----------------------- */

/* 1 when built with DPDK. */
int nhal_dpdk_built(void);
/* Runs rte_eal_init on a dedicated thread (so the caller's affinity is never changed) and
 * waits for it. Rejects arguments that would exit the process (-h, --help). Once per process:
 * -EALREADY after a successful init or after cleanup. */
int nhal_eal_init(int argc, const char *const *argv);
/* Stops nothing by itself: destroy workers and DPDK ports first (-EBUSY otherwise). */
int nhal_eal_cleanup(void);
int nhal_eal_initialized(void);
/* Plain text of the last init failure ("" if none). */
const char *nhal_eal_last_error(void);

/* Probes a device after init (vdev devargs such as "net_null1" or a PCI address). */
int nhal_dpdk_probe(const char *devargs);
/* Port id by device name (the devargs up to the first comma), or -ENODEV. */
int nhal_dpdk_find(const char *name);
int nhal_dpdk_count(void);
int nhal_dpdk_name(uint16_t port_id, char *buf, size_t len);

typedef struct nhal_dpdk_setup {
  uint16_t queues;      /* rx and tx queue pairs, default 1 */
  uint16_t rx_desc;     /* default 1024 */
  uint16_t tx_desc;     /* default 1024 */
  uint32_t mbufs;       /* mempool size, default 8191 */
  int promiscuous;      /* default on (1); -1 leaves it alone */
} nhal_dpdk_setup_t;

/* Configures queues, creates the port's mempool and starts the device. Does not flush rx. */
int nhal_dpdk_dev_start(uint16_t port_id, const nhal_dpdk_setup_t *setup);
int nhal_dpdk_dev_stop(uint16_t port_id);   /* stop + close (pcap files are flushed) */

typedef struct nhal_dpdk_link {
  int up;
  uint32_t speed_mbps;
  int full_duplex;
  uint8_t mac[6];
  char driver[32];
} nhal_dpdk_link_t;
int nhal_dpdk_link(uint16_t port_id, nhal_dpdk_link_t *out);

typedef struct nhal_dpdk_xstats {
  uint64_t ipackets, opackets, ibytes, obytes, imissed, ierrors, oerrors, rx_nombuf;
} nhal_dpdk_xstats_t;
int nhal_dpdk_stats(uint16_t port_id, nhal_dpdk_xstats_t *out);

int nhal_dpdk_port_create(nhal_port_t **out, uint16_t port_id, uint16_t qid, nhal_stats_t *stats);

/* Workers call these on start/exit: an EAL thread id gives mempool caches. No-ops without EAL. */
void nhal_dpdk_thread_register(void);
void nhal_dpdk_thread_unregister(void);

/* ---- workers ----------------------------------------------------------------------------------- */

typedef struct nhal_worker nhal_worker_t;

typedef struct nhal_worker_args {
  const char *name;       /* thread name (15 chars), default "nhal-worker" */
  uint16_t burst;         /* 1..256, default 64 */
  int cpu;                /* pin to this CPU, or -1 (default) */
  /* 0 = busy-poll forever. Otherwise, after 1024 empty rounds, sleep until an input's
   * interrupt (memif queues: armed only while asleep, so a busy peer never pays for a
   * signal), a command, or a timeout: this long if some input cannot signal (DPDK queues),
   * else up to 10 ms. Full speed under load, near zero CPU when idle. */
  uint32_t idle_sleep_us;
} nhal_worker_args_t;

enum nhal_worker_stat {
  NHAL_WS_ROUNDS = 0,     /* poll rounds */
  NHAL_WS_IDLE_ROUNDS,    /* rounds that moved nothing */
  NHAL_WS_SLEEPS,
  NHAL_WS_COMMANDS,
  NHAL_WS_PATHS,          /* current number of paths */
  NHAL_WS_PAUSED,         /* 1 while paused */
  NHAL_WS_IRQ_WAKEUPS,    /* sleeps ended by an input's interrupt */
  NHAL_WS_COUNT_USED,
  NHAL_WS_COUNT = 8
};

/* Names of the worker counters by index, as nhal_stat_names. */
extern const char *const nhal_worker_stat_names[NHAL_WS_COUNT];

int nhal_worker_create(nhal_worker_t **out, const nhal_worker_args_t *args);
/* Stops and joins the thread; ports stay (their users count drops). */
void nhal_worker_destroy(nhal_worker_t *w);
/* Commands travel on a single-producer single-consumer ring to the worker; each call waits
 * (bounded, 2 s) for the worker to apply it. Call them from one control thread only. */
/* Adds a direction src.rx -> dst.tx. A port belongs to one worker: -EBUSY if another owns it. */
int nhal_worker_add_path(nhal_worker_t *w, nhal_port_t *src, nhal_port_t *dst);
int nhal_worker_del_path(nhal_worker_t *w, nhal_port_t *src, nhal_port_t *dst);
/* Pause: the worker finishes its burst and polls nothing until resume. */
int nhal_worker_pause(nhal_worker_t *w);
int nhal_worker_resume(nhal_worker_t *w);
/* The worker's own counters (NHAL_WS_*), written by the worker only. */
const uint64_t *nhal_worker_stats(const nhal_worker_t *w);

/* Relaxed atomic counter update by the single writer. */
#define NHAL_STAT_ADD(st, idx, n) \
  __atomic_store_n(&(st)->v[(idx)], (st)->v[(idx)] + (uint64_t)(n), __ATOMIC_RELAXED)

#ifdef __cplusplus
}
#endif
#endif /* NHAL_H */
