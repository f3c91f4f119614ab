/*
 * test_malicious: runs every case table against our library in this one process (see
 * harness.h for what each case checks), then our own slave against our own master on the
 * same socket. A failing case is recorded and the run goes on; the exit status is 1 if any
 * failed. `test_malicious <text>` runs only the cases whose name contains <text>;
 * NMIF_TEST_VERBOSE=1 shows the library's log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

static const struct case_table *const tables[] = {
    &master_control_cases, &slave_control_cases, &datapath_cases,
    &irq_cases,            &flood_cases,         &good_cases, /* good peers last */
};

static nmif_if_t *make_master(nmif_socket_t *sock, struct side *side) {
  nmif_if_args_t a;
  memset(&a, 0, sizeof(a));
  a.id = OUR_ID;
  a.is_master = 1;
  a.secret = OUR_SECRET;
  a.if_name = "our-master";
  a.rx_queues = 1;
  a.tx_queues = 1;
  a.on_connect = on_connect;
  a.on_disconnect = on_disconnect;
  a.user = side;
  nmif_if_t *i = NULL;
  int r = nmif_if_create(sock, &i, &a);
  if (r < 0) {
    fprintf(stderr, "nmif_if_create(master): %d (%s)\n", r, nmif_strerror(r));
    exit(1);
  }
  side->iface = i;
  side->sock = sock;
  return i;
}

static void log_quiet(int level, const char *msg, void *ctx) {
  if (getenv("NMIF_TEST_VERBOSE"))
    fprintf(stderr, "      [lib] %s\n", msg);
}

/* ---- our slave library against our master on the same socket, after everything above ---- */

static int own_slave_up(void) {
  return nmif_if_is_connected(T.master.iface) && T.slave.iface &&
         nmif_if_is_connected(T.slave.iface);
}

static int our_master_down(void) { return !nmif_if_is_connected(T.master.iface); }

static int run_own_slave(void) {
  printf("[both  ] our slave library against our master on the same socket\n");
  struct fdsnap before;
  fd_snapshot(&before);
  nmif_socket_t *ss = make_socket(T.mpath, HANDSHAKE_TIMEOUT_MS);
  nmif_if_args_t a;
  memset(&a, 0, sizeof(a));
  a.id = OUR_ID;
  a.secret = OUR_SECRET;
  a.log2_ring_size = 8;
  a.on_connect = on_connect;
  a.on_disconnect = on_disconnect;
  a.user = &T.slave;
  int ok = 1;
  if (nmif_if_create(ss, &T.slave.iface, &a) < 0 || !pump_until(own_slave_up, 3000)) {
    fprintf(stderr, "    FAIL link did not come up on both sides\n");
    ok = 0;
  } else {
    const void *pk[1] = {"ping"};
    uint32_t ln[1] = {4};
    nmif_buf_t b[4];
    int n = 0;
    ok = nmif_tx_copy(T.slave.iface, 0, pk, ln, 1) == 1;
    for (uint64_t end = hp_now_ms() + 1000; ok && n == 0 && hp_now_ms() < end;)
      n = nmif_rx_burst(T.master.iface, 0, b, 4);
    ok = ok && n == 1 && b[0].len == 4 && memcmp(b[0].data, "ping", 4) == 0;
    if (ok)
      nmif_rx_release(T.master.iface, 0, 1);
    printf("    link up on both sides, packet %s\n", ok ? "received" : "LOST");
    if (!ok)
      fprintf(stderr, "    FAIL packet from our slave to our master\n");
  }
  nmif_if_destroy(T.slave.iface);
  T.slave.iface = NULL;
  nmif_socket_destroy(ss);
  if (!pump_until(our_master_down, 1000)) {
    fprintf(stderr, "    FAIL master still connected after the slave left\n");
    ok = 0;
  }
  if (!fds_settle(&before, 1000)) {
    fprintf(stderr, "    FAIL fd leak\n");
    ok = 0;
  }
  return ok;
}

/* ---- setup and the run ----------------------------------------------------------------- */

static void setup(void) {
  snprintf(T.dir, sizeof(T.dir), "/tmp/nmif-mal-XXXXXX");
  if (!mkdtemp(T.dir)) {
    perror("mkdtemp");
    exit(1);
  }
  snprintf(T.mpath, sizeof(T.mpath), "%s/master.sock", T.dir);
  snprintf(T.tpath, sizeof(T.tpath), "%s/short.sock", T.dir);
  snprintf(T.spath, sizeof(T.spath), "%s/hostile-master.sock", T.dir);
  if (nmif_loop_create(&T.loop) < 0) {
    fprintf(stderr, "nmif_loop_create failed\n");
    exit(1);
  }
  make_master(make_socket(T.mpath, HANDSHAKE_TIMEOUT_MS), &T.master);
  make_master(make_socket(T.tpath, SHORT_HANDSHAKE_MS), &T.tmaster);
  T.peer_listen_fd = hp_listen(T.spath); /* the hostile master's listener */
  if (T.peer_listen_fd < 0) {
    fprintf(stderr, "hostile master listener: %s\n", strerror(-T.peer_listen_fd));
    exit(1);
  }
  T.slave_sock = make_socket(T.spath, HANDSHAKE_TIMEOUT_MS);
  T.slave_sock_short = make_socket(T.spath, SHORT_HANDSHAKE_MS);
}

static void teardown(void) {
  nmif_socket_destroy(T.slave_sock);
  nmif_socket_destroy(T.slave_sock_short);
  nmif_socket_destroy(T.master.sock);
  nmif_socket_destroy(T.tmaster.sock);
  close(T.peer_listen_fd);
  unlink(T.spath);
  nmif_loop_destroy(T.loop);
}

int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL; /* run the cases whose name contains this */
  setvbuf(stdout, NULL, _IOLBF, 0); /* keep case lines and FAIL lines in order */
  nmif_set_log(log_quiet, NULL);
  static struct fdsnap start, end;
  fd_snapshot(&start);
  setup();

  int passed = 0, failed = 0, ran = 0, total = 1;
  for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
    total += tables[t]->n;
  static char failures[512][700];
  for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
    for (int k = 0; k < tables[t]->n; k++) {
      const struct mcase *c = &tables[t]->cases[k];
      if (only && !strstr(c->name, only))
        continue;
      ran++;
      if (run_case(c)) {
        passed++;
      } else if (failed < 512) {
        snprintf(failures[failed++], sizeof(failures[0]), "%s: %s", c->name, case_fail);
      }
    }
  }
  if (!only || strstr("own slave", only)) {
    ran++;
    if (run_own_slave())
      passed++;
    else
      snprintf(failures[failed++], sizeof(failures[0]), "our slave against our master");
  }

  teardown();
  fd_snapshot(&end);
  if (fd_diff(&start, &end, 1) != 0) {
    fprintf(stderr, "fd leak at exit\n");
    snprintf(failures[failed++], sizeof(failures[0]), "fds left open at exit");
  }
  rmdir(T.dir);

  printf("\ntest_malicious: %d cases of %d, %d passed, %d failed\n", ran, total, passed, failed);
  for (int k = 0; k < failed; k++)
    printf("  FAILED %s\n", failures[k]);
  return failed ? 1 : 0;
}
