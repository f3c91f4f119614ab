/*
 * hal_forward: the bridge's data plane without Node: one memif server interface and one DPDK
 * port, cross-connected by one nhal worker (both directions), exactly as nmemif-bridge wires a
 * link (memif port on a queue lease of the interface, worker burst and idle sleep as the
 * bridge's defaults). Meant for profilers: valgrind --tool=callgrind
 * --separate-threads=yes gives the worker thread's instructions on their own, and perf can
 * sample it without V8 in the way.
 *
 *   hal_forward --socket PATH --dpdk DEVARGS [--seconds S] [--burst B] [--cpu N]
 *               [--rsize LOG2] [--bsize BYTES] [--eal-prefix NAME]
 *
 * Forwards from the first connect (the bridge's start-up hold) until the peer has gone again, or --seconds passed (default 30),
 * then prints one JSON line: the two ports' counters. EAL gets --no-huge
 * -m 512 --no-pci --no-telemetry -l 0 and the device as a --vdev. Exit 2 usage, 1 runtime.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nhal.h"

static volatile sig_atomic_t stop;
static int was_up, is_up;

static void on_connect(nmif_if_t *i, void *u) {
  was_up = is_up = 1;
}
static void on_disconnect(nmif_if_t *i, const char *reason, void *u) {
  is_up = 0; /* libmemif closes the lease's gate itself before it unmaps */
}
static void on_signal(int sig) { stop = 1; }

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(const char *msg) {
  fprintf(stderr, "hal_forward: %s\nusage: hal_forward --socket PATH --dpdk DEVARGS [--seconds S] [--burst B] "
          "[--cpu N] [--rsize LOG2] [--bsize BYTES] [--eal-prefix NAME]\n", msg);
  exit(2);
}

static void die(const char *what, int err) {
  fprintf(stderr, "hal_forward: %s: %s\n", what, err < 0 ? strerror(-err) : "failed");
  exit(1);
}

static void print_port(const char *name, const nhal_stats_t *s, int comma) {
  static const char *const keys[NHAL_ST_COUNT_USED] = {
      "rxPackets", "rxBytes", "rxBursts", "rxErrors", "txPackets", "txBytes", "dropLinkDown",
      "dropTxFull", "dropNoMbuf", "dropTooBig", "downPolls"};
  printf("\"%s\":{", name);
  for (int k = 0; k < NHAL_ST_COUNT_USED; k++)
    printf("%s\"%s\":%llu", k ? "," : "", keys[k], (unsigned long long)__atomic_load_n(&s->v[k], __ATOMIC_RELAXED));
  printf("}%s", comma ? "," : "");
}

int main(int argc, char **argv) {
  const char *sock_path = NULL, *devargs = NULL, *prefix = NULL;
  double seconds = 30;
  int burst = 64, cpu = -1, rsize = 10, bsize = 2048;
  static const struct option opts[] = {
      {"socket", 1, 0, 's'}, {"dpdk", 1, 0, 'd'}, {"seconds", 1, 0, 't'}, {"burst", 1, 0, 'b'},
      {"cpu", 1, 0, 'c'},    {"rsize", 1, 0, 'r'}, {"bsize", 1, 0, 'z'},  {"eal-prefix", 1, 0, 'p'},
      {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
      case 's': sock_path = optarg; break;
      case 'd': devargs = optarg; break;
      case 't': seconds = atof(optarg); break;
      case 'b': burst = atoi(optarg); break;
      case 'c': cpu = atoi(optarg); break;
      case 'r': rsize = atoi(optarg); break;
      case 'z': bsize = atoi(optarg); break;
      case 'p': prefix = optarg; break;
      default: usage("unknown option");
    }
  }
  if (!sock_path || !devargs) usage("--socket and --dpdk are required");
  if (burst < 1 || burst > NHAL_BURST_MAX) usage("--burst wants 1..256");
  if (!(seconds > 0)) usage("--seconds wants a positive number");
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  char vdev[512], fp[128];
  snprintf(vdev, sizeof vdev, "--vdev=%s", devargs);
  snprintf(fp, sizeof fp, "--file-prefix=%s", prefix ? prefix : "hal_forward");
  const char *eal[] = {"--no-huge", "-m", "512", "--no-pci", "--no-telemetry", "-l", "0", fp, vdev};
  int r = nhal_eal_init((int)(sizeof eal / sizeof *eal), eal);
  if (r < 0) {
    fprintf(stderr, "hal_forward: EAL: %s\n", nhal_eal_last_error());
    return 1;
  }
  int pid = nhal_dpdk_find(devargs);
  if (pid < 0) die("DPDK port", pid);
  if ((r = nhal_dpdk_dev_start((uint16_t)pid, NULL)) < 0) die("DPDK start", r);

  nmif_loop_t *loop;
  nmif_socket_t *sock;
  nmif_if_t *iface;
  if ((r = nmif_loop_create(&loop)) < 0) die("loop", r);
  nmif_socket_args_t sa = {.path = sock_path, .fd_update = nmif_loop_fd_update, .fd_update_ctx = loop};
  if ((r = nmif_socket_create(&sock, &sa)) < 0) die("memif socket", r);
  nmif_if_args_t ia = {.id = 0, .is_master = 1, .log2_ring_size = (uint8_t)rsize, .buffer_size = (uint32_t)bsize,
                       .on_connect = on_connect, .on_disconnect = on_disconnect};
  if ((r = nmif_if_create(sock, &iface, &ia)) < 0) die("memif interface", r);
  nmif_lease_t *lease;
  nmif_lease_args_t la = {.qid = 0, .rx_mode = NMIF_RX_POLLING};
  if ((r = nmif_lease_create(iface, &la, &lease)) < 0) die("queue lease", r);

  static nhal_stats_t ms, ds;
  nhal_port_t *mp, *dp;
  if ((r = nhal_memif_port_create(&mp, "memif0", lease, &ms)) < 0) die("memif port", r);
  if ((r = nhal_dpdk_port_create(&dp, (uint16_t)pid, 0, &ds)) < 0) die("dpdk port", r);
  nhal_worker_t *w;
  nhal_worker_args_t wa = {.name = "nhal-fwd", .burst = (uint16_t)burst, .cpu = cpu, .idle_sleep_us = 50};
  if ((r = nhal_worker_create(&w, &wa)) < 0) die("worker", r);
  double t0 = now_s(), deadline = t0 + seconds;
  /* Like the bridge's start-up hold: forward once the link is up, not into a closed gate. */
  while (!stop && now_s() < deadline && !was_up) nmif_loop_run(loop, 20);
  if (was_up) {
    if ((r = nhal_worker_add_path(w, mp, dp)) < 0) die("path memif->dpdk", r);
    if ((r = nhal_worker_add_path(w, dp, mp)) < 0) die("path dpdk->memif", r);
  }
  while (!stop && now_s() < deadline && !(was_up && !is_up)) nmif_loop_run(loop, 20);

  nhal_worker_destroy(w); /* joins the thread: the port counters are final */
  printf("{\"elapsed\":%.3f,\"ports\":{", now_s() - t0);
  print_port("memif0", &ms, 1);
  print_port("dpdk0", &ds, 0);
  printf("}}\n");
  fflush(stdout);
  nhal_port_destroy(mp);
  nhal_port_destroy(dp);
  nmif_lease_unref(lease);
  nmif_if_destroy(iface);
  nmif_socket_destroy(sock);
  nmif_loop_destroy(loop);
  nhal_dpdk_dev_stop((uint16_t)pid);
  nhal_eal_cleanup();
  return 0;
}
