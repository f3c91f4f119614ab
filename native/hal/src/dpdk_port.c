/* The DPDK backend: EAL lifetime, device setup, and ethdev queue pairs as nhal ports.
 * Built only when pkg-config finds libdpdk; DPDK's compile flags stay in this one file.
 *
 * rx hands out the received mbufs' data as segments (multi-segment mbufs become multi-segment
 * packets) and frees them in rx_done. tx copies each packet into mbufs from the device's
 * mempool, chaining segments when a packet exceeds one mbuf and the device accepts multi-
 * segment packets. EAL is once per process, so the little global state here is per process. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "copy.h"
#include "port.h"

/* ---- EAL ------------------------------------------------------------------------------------ */

static pthread_mutex_t eal_mu = PTHREAD_MUTEX_INITIALIZER;
static int eal_state;            /* 0 never, 1 up, 2 cleaned up (re-init is impossible) */
static char eal_error[256];
static atomic_int live_ports;    /* nhal ports over DPDK queues that still exist */

typedef struct dev_state {
  struct rte_mempool *mp;
  int started;
  int multi_seg;
  uint16_t queues;
} dev_state_t;
static dev_state_t devs[RTE_MAX_ETHPORTS];

struct init_job {
  int argc;
  char **argv;
  int ret;
  int err;
};

static void *eal_init_thread(void *arg) {
  struct init_job *j = arg;
  /* This thread may get pinned by EAL: it exists only for the call and is joined. */
  j->ret = rte_eal_init(j->argc, j->argv);
  j->err = j->ret < 0 ? rte_errno : 0;
  return NULL;
}

int nhal_dpdk_built(void) { return 1; }

int nhal_eal_init(int argc, const char *const *argv) {
  if (argc < 0 || (argc > 0 && !argv)) return -EINVAL;
  for (int k = 0; k < argc; k++) {
    const char *a = argv[k];
    if (!a) return -EINVAL;
    /* These make rte_eal_init exit the process. */
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      snprintf(eal_error, sizeof eal_error, "argument %s is not allowed", a);
      return -EINVAL;
    }
  }
  pthread_mutex_lock(&eal_mu);
  if (eal_state) {
    pthread_mutex_unlock(&eal_mu);
    snprintf(eal_error, sizeof eal_error, "EAL is initialised once per process");
    return -EALREADY;
  }
  /* EAL keeps pointers into argv: the copies live as long as the process. */
  char **copy = calloc((size_t)argc + 2, sizeof *copy);
  if (!copy) {
    pthread_mutex_unlock(&eal_mu);
    return -ENOMEM;
  }
  copy[0] = strdup("nmemif");
  for (int k = 0; k < argc; k++) copy[k + 1] = strdup(argv[k]);
  struct init_job job = {argc + 1, copy, 0, 0};
  pthread_t t;
  int r = pthread_create(&t, NULL, eal_init_thread, &job);
  if (r) {
    pthread_mutex_unlock(&eal_mu);
    return -r;
  }
  pthread_join(t, NULL);
  if (job.ret < 0) {
    snprintf(eal_error, sizeof eal_error, "rte_eal_init: %s", rte_strerror(job.err));
    pthread_mutex_unlock(&eal_mu);
    return job.err > 0 ? -job.err : -EINVAL;
  }
  eal_state = 1;
  eal_error[0] = 0;
  pthread_mutex_unlock(&eal_mu);
  return 0;
}

int nhal_eal_initialized(void) { return eal_state == 1; }
const char *nhal_eal_last_error(void) { return eal_error; }

int nhal_eal_cleanup(void) {
  pthread_mutex_lock(&eal_mu);
  if (eal_state != 1) {
    pthread_mutex_unlock(&eal_mu);
    return eal_state == 2 ? 0 : -ENOENT;
  }
  if (atomic_load(&live_ports) > 0) {
    pthread_mutex_unlock(&eal_mu);
    return -EBUSY;
  }
  uint16_t pid;
  RTE_ETH_FOREACH_DEV(pid) {
    if (devs[pid].started) nhal_dpdk_dev_stop(pid);
  }
  rte_eal_cleanup();
  eal_state = 2;
  pthread_mutex_unlock(&eal_mu);
  return 0;
}

void nhal_dpdk_thread_register(void) {
  if (eal_state == 1 && rte_lcore_id() == LCORE_ID_ANY) rte_thread_register();
}

void nhal_dpdk_thread_unregister(void) {
  if (eal_state == 1 && rte_lcore_id() != LCORE_ID_ANY) rte_thread_unregister();
}

/* ---- devices ----------------------------------------------------------------------------------- */

static int need_eal(void) { return eal_state == 1 ? 0 : -ENOTCONN; }

int nhal_dpdk_probe(const char *devargs) {
  if (need_eal()) return -ENOTCONN;
  int r = rte_dev_probe(devargs);
  return r < 0 ? r : 0;
}

int nhal_dpdk_find(const char *name) {
  if (need_eal()) return -ENOTCONN;
  char buf[RTE_ETH_NAME_MAX_LEN];
  snprintf(buf, sizeof buf, "%s", name);
  char *comma = strchr(buf, ',');
  if (comma) *comma = 0;
  uint16_t pid;
  if (rte_eth_dev_get_port_by_name(buf, &pid) != 0) return -ENODEV;
  return pid;
}

int nhal_dpdk_count(void) { return eal_state == 1 ? rte_eth_dev_count_avail() : 0; }

int nhal_dpdk_name(uint16_t port_id, char *buf, size_t len) {
  if (need_eal()) return -ENOTCONN;
  char name[RTE_ETH_NAME_MAX_LEN];
  if (rte_eth_dev_get_name_by_port(port_id, name) != 0) return -ENODEV;
  snprintf(buf, len, "%s", name);
  return 0;
}

int nhal_dpdk_dev_start(uint16_t port_id, const nhal_dpdk_setup_t *setup) {
  if (need_eal()) return -ENOTCONN;
  if (!rte_eth_dev_is_valid_port(port_id)) return -ENODEV;
  dev_state_t *d = &devs[port_id];
  if (d->started) return -EALREADY;
  nhal_dpdk_setup_t s = setup ? *setup : (nhal_dpdk_setup_t){0};
  if (!s.queues) s.queues = 1;
  if (!s.rx_desc) s.rx_desc = 1024;
  if (!s.tx_desc) s.tx_desc = 1024;
  if (!s.mbufs) s.mbufs = 8191;
  if (!setup) s.promiscuous = 1;

  struct rte_eth_dev_info info;
  int r = rte_eth_dev_info_get(port_id, &info);
  if (r < 0) return r;
  if (s.queues > info.max_rx_queues || s.queues > info.max_tx_queues) return -ERANGE;
  struct rte_eth_conf conf;
  memset(&conf, 0, sizeof conf);
  d->multi_seg = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
  if (d->multi_seg) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  if ((r = rte_eth_dev_configure(port_id, s.queues, s.queues, &conf)) < 0) return r;
  uint16_t rxd = s.rx_desc, txd = s.tx_desc;
  if ((r = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rxd, &txd)) < 0) return r;
  int socket = rte_eth_dev_socket_id(port_id);
  if (socket < 0) socket = SOCKET_ID_ANY;
  if (!d->mp) {
    char name[RTE_MEMPOOL_NAMESIZE];
    snprintf(name, sizeof name, "nhal_mp_%u", port_id);
    d->mp = rte_pktmbuf_pool_create(name, s.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if (!d->mp) return -rte_errno;
  }
  for (uint16_t q = 0; q < s.queues; q++) {
    if ((r = rte_eth_rx_queue_setup(port_id, q, rxd, socket, NULL, d->mp)) < 0) return r;
    struct rte_eth_txconf txc = info.default_txconf;
    txc.offloads = conf.txmode.offloads;
    if ((r = rte_eth_tx_queue_setup(port_id, q, txd, socket, &txc)) < 0) return r;
  }
  if ((r = rte_eth_dev_start(port_id)) < 0) return r;
  if (s.promiscuous > 0) rte_eth_promiscuous_enable(port_id);  /* not all PMDs support it */
  d->queues = s.queues;
  d->started = 1;
  return 0;
}

int nhal_dpdk_dev_stop(uint16_t port_id) {
  if (need_eal()) return -ENOTCONN;
  if (!rte_eth_dev_is_valid_port(port_id)) return -ENODEV;
  dev_state_t *d = &devs[port_id];
  if (!d->started) return 0;
  rte_eth_dev_stop(port_id);
  rte_eth_dev_close(port_id);
  d->started = 0;
  if (d->mp) rte_mempool_free(d->mp);
  d->mp = NULL;
  return 0;
}

int nhal_dpdk_link(uint16_t port_id, nhal_dpdk_link_t *out) {
  if (need_eal()) return -ENOTCONN;
  if (!rte_eth_dev_is_valid_port(port_id)) return -ENODEV;
  memset(out, 0, sizeof *out);
  struct rte_eth_link link;
  memset(&link, 0, sizeof link);
  int r = rte_eth_link_get_nowait(port_id, &link);
  if (r < 0) return r;
  out->up = link.link_status == RTE_ETH_LINK_UP;
  out->speed_mbps = link.link_speed;
  out->full_duplex = link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
  struct rte_ether_addr mac;
  if (rte_eth_macaddr_get(port_id, &mac) == 0) memcpy(out->mac, mac.addr_bytes, 6);
  struct rte_eth_dev_info info;
  if (rte_eth_dev_info_get(port_id, &info) == 0 && info.driver_name)
    snprintf(out->driver, sizeof out->driver, "%s", info.driver_name);
  return 0;
}

int nhal_dpdk_stats(uint16_t port_id, nhal_dpdk_xstats_t *out) {
  if (need_eal()) return -ENOTCONN;
  struct rte_eth_stats st;
  int r = rte_eth_stats_get(port_id, &st);
  if (r < 0) return r;
  out->ipackets = st.ipackets;
  out->opackets = st.opackets;
  out->ibytes = st.ibytes;
  out->obytes = st.obytes;
  out->imissed = st.imissed;
  out->ierrors = st.ierrors;
  out->oerrors = st.oerrors;
  out->rx_nombuf = st.rx_nombuf;
  return 0;
}

/* ---- the port ------------------------------------------------------------------------------ */

typedef struct dpdk_port {
  nhal_port_t base;
  uint16_t port_id, qid;
  struct rte_mempool *mp;
  int multi_seg;
  uint16_t data_room;
  struct rte_mbuf *rx[NHAL_BURST_MAX];
  struct rte_mbuf *tx[NHAL_BURST_MAX];
} dpdk_port_t;

static int dpdk_rx_burst(nhal_port_t *p, nhal_batch_t *b, uint16_t max) {
  dpdk_port_t *d = (dpdk_port_t *)p;
  nhal__batch_reset(b);
  if (max > NHAL_BURST_MAX) max = NHAL_BURST_MAX;
  uint16_t n = rte_eth_rx_burst(d->port_id, d->qid, d->rx, max);
  if (n == 0) return 0;
  uint16_t pk = 0, sg = 0, bad = 0;
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; i++) {
    struct rte_mbuf *m = d->rx[i];
    if (m->nb_segs == 1) {
      b->segs[sg].data = rte_pktmbuf_mtod(m, const uint8_t *);
      b->segs[sg].len = m->data_len;
      sg++;
    } else if (sg + m->nb_segs > NHAL_SEGS_MAX || m->nb_segs > NHAL_PKT_SEGS_MAX) {
      rte_pktmbuf_free(m);  /* cannot describe it in this batch */
      bad++;
      continue;
    } else {
      for (struct rte_mbuf *s = m; s; s = s->next) {
        b->segs[sg].data = rte_pktmbuf_mtod(s, const uint8_t *);
        b->segs[sg].len = s->data_len;
        sg++;
      }
    }
    b->pkt_len[pk] = m->pkt_len;
    b->priv[pk] = m;
    bytes += m->pkt_len;
    b->first[++pk] = sg;
  }
  b->n_pkts = pk;
  b->n_segs = sg;
  NHAL_STAT_ADD(p->stats, NHAL_ST_RX_PKTS, pk);
  NHAL_STAT_ADD(p->stats, NHAL_ST_RX_BYTES, bytes);
  NHAL_STAT_ADD(p->stats, NHAL_ST_RX_BURSTS, 1);
  if (bad) NHAL_STAT_ADD(p->stats, NHAL_ST_RX_ERRORS, bad);
  return pk;
}

/* Frees a burst: single-segment mbufs go back to their pool in bulk (what the driver's own tx
 * completion does), anything else through the generic path. */
static void free_burst(struct rte_mbuf **ms, uint16_t n) {
  void *put[NHAL_BURST_MAX];
  struct rte_mempool *mp = NULL;
  uint16_t k = 0;
  for (uint16_t i = 0; i < n; i++) {
    struct rte_mbuf *m = ms[i];
    if (m->nb_segs != 1) {
      rte_pktmbuf_free(m);
      continue;
    }
    if (!(m = rte_pktmbuf_prefree_seg(m))) continue;  /* still referenced elsewhere */
    if (m->pool != mp) {
      if (k) rte_mempool_put_bulk(mp, put, k);
      mp = m->pool;
      k = 0;
    }
    put[k++] = m;
  }
  if (k) rte_mempool_put_bulk(mp, put, k);
}

static void dpdk_rx_done(nhal_port_t *p, nhal_batch_t *b) {
  if (b->n_pkts) free_burst((struct rte_mbuf **)b->priv, b->n_pkts);
  b->n_pkts = 0;
}

/* Copies packet i of b into head (fresh, empty) and as many more mbufs as it needs, chained.
 * Returns 0, or the drop reason; on failure head is empty again and the extras are freed. */
static int fill_chain(dpdk_port_t *d, struct rte_mbuf *head, const nhal_batch_t *b, uint16_t i) {
  uint32_t len = b->pkt_len[i];
  uint32_t nseg = len ? 1 + (len - 1) / d->data_room : 0;
  if (len == 0 || (nseg > 1 && !d->multi_seg) || nseg > NHAL_PKT_SEGS_MAX) return NHAL_ST_DROP_TOO_BIG;
  struct rte_mbuf *cur = head;
  uint8_t *w = rte_pktmbuf_mtod(cur, uint8_t *);
  uint32_t room = d->data_room;
  for (uint16_t s = b->first[i]; s < b->first[i + 1]; s++) {
    const uint8_t *src = b->segs[s].data;
    uint32_t left = b->segs[s].len;
    while (left) {
      if (room == 0) {
        struct rte_mbuf *next = rte_pktmbuf_alloc(d->mp);
        if (!next) {
          if (head->next) rte_pktmbuf_free(head->next);
          rte_pktmbuf_reset(head);
          return NHAL_ST_DROP_NO_MBUF;
        }
        cur->next = next;
        head->nb_segs++;
        cur = next;
        w = rte_pktmbuf_mtod(cur, uint8_t *);
        room = d->data_room;
      }
      uint32_t c = left < room ? left : room;
      memcpy(w, src, c);
      cur->data_len = (uint16_t)(cur->data_len + c);
      w += c;
      src += c;
      left -= c;
      room -= c;
    }
  }
  head->pkt_len = len;
  return 0;
}

/* The common case: one-segment packets that fit one mbuf, one memcpy each into fresh mbufs.
 * Returns how many it copied; stops at the first that needs fill_chain. */
static uint16_t copy_simple(const nhal_seg_t *restrict segs, struct rte_mbuf **restrict ms, uint16_t count,
                            uint32_t room) {
  uint16_t k = 0;
  for (; k < count; k++) {
    const uint32_t len = segs[k].len;
    if (len - 1 >= room) break;  /* empty, or longer than one mbuf */
    struct rte_mbuf *m = ms[k];
    nhal__copy(rte_pktmbuf_mtod(m, uint8_t *), segs[k].data, len);
    m->data_len = (uint16_t)len;
    m->pkt_len = len;
  }
  return k;
}

static int dpdk_tx_burst(nhal_port_t *p, const nhal_batch_t *b) {
  dpdk_port_t *d = (dpdk_port_t *)p;
  const uint16_t n = b->n_pkts;
  uint16_t k = 0, have = n;
  if (n == 0) return 0;
  /* One head mbuf per packet in one pool call; if the pool cannot give them all, as many as
   * one at a time gives (the rest are no-mbuf drops). */
  if (rte_pktmbuf_alloc_bulk(d->mp, d->tx, n) != 0) {
    for (have = 0; have < n && (d->tx[have] = rte_pktmbuf_alloc(d->mp)); have++) {}
  }
  uint64_t drops[NHAL_ST_COUNT] = {0};
  uint16_t i = 0;
  if (b->n_segs == n) k = i = copy_simple(b->segs, d->tx, have, d->data_room);
  for (; i < n && k < have; i++) {
    int why = fill_chain(d, d->tx[k], b, i);
    if (why) drops[why]++;  /* the mbuf stays empty and takes the next packet */
    else k++;
  }
  drops[NHAL_ST_DROP_NO_MBUF] += n - i;
  if (k < have) free_burst(&d->tx[k], have - k);
  /* Counted before the send: once handed over, a sent mbuf may already be freed. */
  uint64_t bytes = 0;
  for (uint16_t j = 0; j < k; j++) bytes += d->tx[j]->pkt_len;
  uint16_t sent = k ? rte_eth_tx_burst(d->port_id, d->qid, d->tx, k) : 0;
  if (sent < k) {
    for (uint16_t j = sent; j < k; j++) bytes -= d->tx[j]->pkt_len;  /* still ours */
    free_burst(&d->tx[sent], k - sent);
    drops[NHAL_ST_DROP_TX_FULL] += k - sent;
  }
  NHAL_STAT_ADD(p->stats, NHAL_ST_TX_PKTS, sent);
  NHAL_STAT_ADD(p->stats, NHAL_ST_TX_BYTES, bytes);
  if (drops[NHAL_ST_DROP_TX_FULL]) NHAL_STAT_ADD(p->stats, NHAL_ST_DROP_TX_FULL, drops[NHAL_ST_DROP_TX_FULL]);
  if (drops[NHAL_ST_DROP_NO_MBUF]) NHAL_STAT_ADD(p->stats, NHAL_ST_DROP_NO_MBUF, drops[NHAL_ST_DROP_NO_MBUF]);
  if (drops[NHAL_ST_DROP_TOO_BIG]) NHAL_STAT_ADD(p->stats, NHAL_ST_DROP_TOO_BIG, drops[NHAL_ST_DROP_TOO_BIG]);
  return sent;
}

static void dpdk_destroy(nhal_port_t *p) {
  atomic_fetch_sub(&live_ports, 1);
  free(p);
}

static const nhal_port_ops_t dpdk_ops = {
    .kind = "dpdk",
    .rx_burst = dpdk_rx_burst,
    .rx_done = dpdk_rx_done,
    .tx_burst = dpdk_tx_burst,
    .destroy = dpdk_destroy,
};

int nhal_dpdk_port_create(nhal_port_t **out, uint16_t port_id, uint16_t qid, nhal_stats_t *stats) {
  if (!out || !stats) return -EINVAL;
  if (need_eal()) return -ENOTCONN;
  if (!rte_eth_dev_is_valid_port(port_id)) return -ENODEV;
  dev_state_t *st = &devs[port_id];
  if (!st->started) return -ENOTCONN;
  if (qid >= st->queues) return -ERANGE;
  dpdk_port_t *d = calloc(1, sizeof *d);
  if (!d) return -ENOMEM;
  char name[NHAL_NAME_MAX];
  char dev[RTE_ETH_NAME_MAX_LEN] = "";
  rte_eth_dev_get_name_by_port(port_id, dev);
  dev[NHAL_NAME_MAX - 8] = 0;
  snprintf(name, sizeof name, "%s/%u", dev, qid);
  nhal__port_init(&d->base, &dpdk_ops, name, stats);
  d->port_id = port_id;
  d->qid = qid;
  d->mp = st->mp;
  d->multi_seg = st->multi_seg;
  d->data_room = (uint16_t)(rte_pktmbuf_data_room_size(st->mp) - RTE_PKTMBUF_HEADROOM);
  atomic_fetch_add(&live_ports, 1);
  *out = &d->base;
  return 0;
}
