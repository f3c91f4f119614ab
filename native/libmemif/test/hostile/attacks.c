/* The cases of nmif-hostile: reach CONNECTED with the victim (or not, for the control-channel
 * cases), misbehave, then watch what the victim does: a DISCONNECT and its reason, the
 * connection closing, frames coming back. */
#include "attacks.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flow.h"
#include "frames.h"
#include "ring.h"

#define SERVE_SLICE_MS 5
#define WARMUP_FRAMES 4
#define LONG_CHAIN_SEGS 300

static uint8_t frame[HP_FRAME_MAX + 1];
static uint8_t rxbuf[1 << 17];

static uint64_t opt_ms(const struct hctx *x, uint64_t def) { return x->duration_set ? x->duration_ms : def; }
static uint64_t opt_count(const struct hctx *x, uint64_t def) { return x->count_set ? x->count : def; }
static uint32_t opt_size(const struct hctx *x, uint32_t def) { return x->size_set ? x->size : def; }

/* ---- the victim's CPU time (from /proc, the victim's pid from SO_PEERCRED) ------------------ */

static int cpu_ticks(int pid, uint64_t *ticks) {
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE *f = fopen(path, "re");
  if (!f)
    return 0;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
  unsigned long long ut, st;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return 0;
  *ticks = ut + st;
  return 1;
}

struct cpu_mark {
  uint64_t ticks, t0;
  int ok;
};

static struct cpu_mark cpu_begin(struct hctx *x) {
  struct cpu_mark m = {0, hp_now_ms(), 0};
  x->victim_pid = x->p.victim_pid;
  if (x->victim_pid > 0)
    m.ok = cpu_ticks(x->victim_pid, &m.ticks);
  return m;
}

static void cpu_end(struct hctx *x, const struct cpu_mark *m) {
  uint64_t t;
  x->active_ms = hp_now_ms() - m->t0;
  if (m->ok && cpu_ticks(x->victim_pid, &t)) {
    x->cpu_known = 1;
    x->victim_cpu_ms = (double)(t - m->ticks) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
  }
}

/* ---- the control socket while the link is up ------------------------------------------------ */

/* Reads what the victim sent on the control socket. 1 once it disconnected or closed. */
static int control_gone(struct hctx *x) {
  if (x->p.fd < 0)
    return 1;
  for (;;) {
    nmif_msg_t m;
    ssize_t n = hp_recv(&x->p, &m, NULL, NULL, 0);
    if (n == -ETIMEDOUT)
      return 0;
    if (n == 0) {
      x->closed_by_victim = 1;
      close(x->p.fd);
      x->p.fd = -1;
      return 1;
    }
    if (n == NMIF_MSG_SIZE && m.type == NMIF_MSG_DISCONNECT) {
      hp_record_disconnect(&x->p, &m);
      x->disconnects++;
      snprintf(x->reason, sizeof(x->reason), "%s", x->p.disc_reason);
      continue; /* the close follows */
    }
    snprintf(x->note, sizeof(x->note), "victim sent %s (%zd bytes) on a live link",
             hp_type_name(m.type), n);
  }
}

/* Leaves politely if the link is still there. */
static void leave(struct hctx *x, const char *why) {
  if (x->p.fd >= 0 && !control_gone(x))
    hp_send_disconnect(&x->p, why);
}

/* ---- traffic ------------------------------------------------------------------------------ */

/* Serves the link until `until` (ms clock): reads every frame the victim sends (counting ours
 * that come back, reflecting frames if echo), gives the buffers back, watches the control
 * socket. Stops early once `returned` of ours came back (0: never). 1 if the link is gone. */
static int serve(struct hctx *x, uint64_t until, int echo, uint64_t returned) {
  for (;;) {
    if (control_gone(x))
      return 1;
    int got = 0;
    for (;;) {
      uint64_t len = 0;
      uint16_t seq;
      int r = hp_rx_frame(&x->p, rxbuf, sizeof(rxbuf), &len, NULL);
      if (r == 0)
        break;
      if (r < 0) {
        snprintf(x->note, sizeof(x->note), "victim published a descriptor outside its memory");
        return 1;
      }
      got = 1;
      x->received_frames++;
      x->received_bytes += len;
      if (hp_icmp_is_ours(rxbuf, len))
        x->returned++;
      if (hp_icmp_is_reply(rxbuf, len, &seq))
        x->replies++;
      if (echo && len <= sizeof(rxbuf) && hp_tx_frame(&x->p, rxbuf, (uint32_t)len, 0) > 0)
        x->echoed++;
    }
    if (got) {
      hp_rx_release(&x->p);
      if (echo) {
        hp_tx_publish(&x->p);
        hp_tx_signal(&x->p);
      }
    }
    if (returned && x->returned >= returned)
      return 0;
    uint64_t now = hp_now_ms();
    if (now >= until)
      return 0;
    struct pollfd pf[2] = {{.fd = x->p.fd, .events = POLLIN}, {.fd = hp_rx_irq_fd(&x->p), .events = POLLIN}};
    uint64_t left = until - now;
    if (poll(pf, 2, left < SERVE_SLICE_MS ? (int)left : SERVE_SLICE_MS) > 0 && (pf[1].revents & POLLIN)) {
      uint64_t v;
      if (read(pf[1].fd, &v, sizeof(v)) < 0) { /* drained by the victim's side of it: fine */
      }
    }
  }
}

/* Queues one frame split over buffers of at most seg bytes (0: whole buffers), publishes and
 * signals it, waiting (while serving) for room until the deadline. 1 sent, 0 no room in
 * time, -1 the link is gone or the victim offered a bad buffer. */
static int send_frame(struct hctx *x, const uint8_t *f, uint32_t len, uint32_t seg, uint64_t deadline) {
  for (;;) {
    int r = hp_tx_frame(&x->p, f, len, seg);
    if (r > 0) {
      hp_tx_publish(&x->p);
      hp_tx_signal(&x->p);
      x->sent_frames++;
      x->sent_buffers += (uint64_t)r;
      return 1;
    }
    if (r < 0) {
      snprintf(x->note, sizeof(x->note), "victim offered a buffer outside its regions");
      return -1;
    }
    if (hp_now_ms() >= deadline)
      return 0;
    if (serve(x, hp_now_ms() + 1, 0, 0))
      return -1;
  }
}

/* Sends n echo requests of `size` bytes; 1 if all went out. */
static int send_echoes(struct hctx *x, uint64_t n, uint32_t size, uint32_t seg, uint64_t deadline) {
  for (uint64_t k = 0; k < n; k++) {
    hp_icmp_echo(frame, size, x->dst_ip, (uint16_t)x->sent_frames);
    int r = send_frame(x, frame, size, seg, deadline);
    if (r <= 0) {
      if (r == 0)
        snprintf(x->note, sizeof(x->note), "no room for frame %llu of %llu before the deadline",
                 (unsigned long long)k + 1, (unsigned long long)n);
      return 0;
    }
  }
  return 1;
}

/* ---- reaching CONNECTED ------------------------------------------------------------------ */

static int victim_offered(struct hctx *x) { return hp_tx_room(&x->p) > 0; }

/* The handshake (with the given mutations); then a slave offers its receive buffers and a
 * master waits for the victim's. Refusal ends the case. */
static void link_up(struct hctx *x, const struct hp_mut *muts, int n) {
  struct hp_peer *p = &x->p;
  if (p->role == HP_SLAVE) /* the victim master greets first */
    hp_expect(p, NMIF_MSG_HELLO, NULL, NULL, NULL, (int)x->timeout_ms);
  int end = p->role == HP_SLAVE ? hp_slave_flow(p, muts, n, (int)x->timeout_ms)
                                : hp_master_flow(p, muts, n, (int)x->timeout_ms);
  if (end == HP_REFUSED) {
    x->disconnects++;
    snprintf(x->reason, sizeof(x->reason), "%s", p->disc_reason);
    hp_cannot(x, "the victim refused the handshake: %s", p->disc_reason);
  }
  if (end != HP_UP)
    hp_cannot(x, "the handshake did not complete");
  x->connected = 1;
  x->victim_pid = p->victim_pid;
  p->tx_pos = p->rx_pos = 0;
  if (p->role == HP_SLAVE) {
    hp_rx_offer(p);
    return;
  }
  uint64_t end_ms = hp_now_ms() + x->timeout_ms;
  while (!victim_offered(x)) {
    if (hp_now_ms() >= end_ms)
      hp_cannot(x, "the victim offered no receive buffer within %u ms", x->timeout_ms);
    if (serve(x, hp_now_ms() + 2, 0, 0))
      hp_cannot(x, "the victim left right after CONNECTED: %s", x->reason);
  }
}

/* A few good frames and their replies (if the victim answers): the path works before the
 * attack, so what follows is about the attack. */
static int warm_up(struct hctx *x) {
  if (!send_echoes(x, WARMUP_FRAMES, 64, 0, hp_now_ms() + x->timeout_ms))
    return 0;
  return !serve(x, hp_now_ms() + 300, 0, WARMUP_FRAMES);
}

/* After the attack: watch for the victim's reaction until the window ends, then leave. */
static void watch_and_leave(struct hctx *x, uint64_t window_ms, const char *why) {
  struct cpu_mark m = cpu_begin(x);
  serve(x, hp_now_ms() + window_ms, 0, 0);
  cpu_end(x, &m);
  leave(x, why);
}

/* ---- the cases ------------------------------------------------------------------------------- */

static void run_good(struct hctx *x) {
  link_up(x, NULL, 0);
  uint64_t n = opt_count(x, 32), until = hp_now_ms() + opt_ms(x, 5000);
  struct cpu_mark m = cpu_begin(x);
  send_echoes(x, n, opt_size(x, 64), 0, until);
  serve(x, until, 0, n);
  cpu_end(x, &m);
  leave(x, "good peer done");
}

static void run_echo(struct hctx *x) {
  link_up(x, NULL, 0);
  uint64_t until = hp_now_ms() + opt_ms(x, 5000);
  struct cpu_mark m = cpu_begin(x);
  while (hp_now_ms() < until && (!x->count_set || x->echoed < x->count))
    if (serve(x, hp_now_ms() + 50, 1, 0))
      break;
  cpu_end(x, &m);
  leave(x, "echo peer done");
}

/* The peer's own counter on each of its two rings jumps N + 1000 slots ahead. */
static void runaway(struct hctx *x) {
  link_up(x, NULL, 0);
  warm_up(x);
  uint16_t n;
  nmif_ring_t *tx = hp_tx_ring(&x->p, &n), *rx = hp_rx_ring(&x->p, &n);
  uint16_t *a = x->p.role == HP_SLAVE ? &tx->head : &tx->tail;
  uint16_t *b = x->p.role == HP_SLAVE ? &rx->head : &rx->tail;
  __atomic_store_n(a, (uint16_t)(*a + n + 1000), __ATOMIC_RELEASE);
  __atomic_store_n(b, (uint16_t)(*b + n + 1000), __ATOMIC_RELEASE);
  hp_tx_signal(&x->p);
  watch_and_leave(x, opt_ms(x, 3000), "runaway peer done");
}

enum rewrite_field { RW_REGION, RW_OFFSET, RW_LENGTH };

static void spoil(nmif_desc_t *d, int field, uint64_t region_end) {
  if (field == RW_REGION)
    d->region = 0x7fff;
  else if (field == RW_OFFSET)
    d->offset = (uint32_t)region_end;
  else
    d->length = 0xFFFFFFF0u;
}

/* Descriptors the peer already posted are rewritten to out-of-range values, burst after burst:
 * those it published on its transmit ring and, as a slave, the buffers it offered. */
static void rewrite(struct hctx *x, int field) {
  link_up(x, NULL, 0);
  warm_up(x);
  uint64_t until = hp_now_ms() + opt_ms(x, 3000);
  uint64_t region_end = x->p.role == HP_SLAVE ? x->p.rsize : x->p.reg[0].size;
  struct cpu_mark m = cpu_begin(x);
  while (hp_now_ms() < until) {
    uint16_t n, first = x->p.tx_pos;
    nmif_ring_t *tx = hp_tx_ring(&x->p, &n), *rx = hp_rx_ring(&x->p, &n);
    if (send_echoes(x, 8, 64, 0, until) == 0 && x->p.fd < 0)
      break;
    for (uint16_t s = first; s != x->p.tx_pos; s++)
      spoil(&tx->desc[s & (n - 1)], field, region_end);
    if (x->p.role == HP_SLAVE) /* the offers the victim will transmit into */
      for (uint16_t s = rx->tail; s != rx->head; s++)
        spoil(&rx->desc[s & (n - 1)], field, region_end);
    if (serve(x, hp_now_ms() + 50, 0, 0))
      break;
  }
  cpu_end(x, &m);
  leave(x, "rewriting peer done");
}
static void run_rewrite_region(struct hctx *x) { rewrite(x, RW_REGION); }
static void run_rewrite_offset(struct hctx *x) { rewrite(x, RW_OFFSET); }
static void run_rewrite_length(struct hctx *x) { rewrite(x, RW_LENGTH); }

/* One frame whose length runs past what the buffer can hold. */
static void run_bad_length(struct hctx *x) {
  link_up(x, NULL, 0);
  warm_up(x);
  uint16_t n;
  nmif_ring_t *tx = hp_tx_ring(&x->p, &n);
  uint16_t s = x->p.tx_pos;
  if (hp_tx_room(&x->p) == 0)
    serve(x, hp_now_ms() + 500, 0, 0);
  nmif_desc_t *d = &tx->desc[s & (n - 1)];
  uint32_t offered = d->length; /* a master's capacity: the fill below overwrites it */
  hp_icmp_echo(frame, 64, x->dst_ip, 0xbad);
  if (hp_tx_frame(&x->p, frame, 64, 0) > 0) {
    /* a slave: past the end of its region; a master: past the capacity our slave offered */
    d->length = x->p.role == HP_SLAVE ? (uint32_t)(x->p.rsize - d->offset + 1) : offered + 1;
    hp_tx_publish(&x->p);
    hp_tx_signal(&x->p);
    x->sent_frames++;
    x->sent_buffers++;
  }
  watch_and_leave(x, opt_ms(x, 3000), "bad-length peer done");
}

/* Every free slot flagged NEXT and published: a chain that never ends. */
static void run_endless_chain(struct hctx *x) {
  link_up(x, NULL, 0);
  warm_up(x);
  uint16_t n, room = hp_tx_room(&x->p);
  nmif_ring_t *tx = hp_tx_ring(&x->p, &n);
  memset(frame, 0x5a, 64);
  for (uint16_t k = 0; k < room; k++) {
    uint16_t s = x->p.tx_pos;
    if (hp_tx_frame(&x->p, frame, 64, 0) != 1)
      break;
    tx->desc[s & (n - 1)].flags = NMIF_DESC_NEXT;
    x->sent_buffers++;
  }
  hp_tx_publish(&x->p);
  hp_tx_signal(&x->p);
  snprintf(x->note, sizeof(x->note), "%llu buffers chained, none ends the chain",
           (unsigned long long)x->sent_buffers - WARMUP_FRAMES);
  watch_and_leave(x, opt_ms(x, 3000), "endless-chain peer done");
}

/* Legal frames chained over many buffers; the replies count what got through. */
static void chained(struct hctx *x, uint32_t size, uint32_t seg, uint64_t n) {
  link_up(x, NULL, 0);
  uint64_t until = hp_now_ms() + opt_ms(x, 5000);
  struct cpu_mark m = cpu_begin(x);
  send_echoes(x, n, size, seg, until);
  serve(x, until, 0, n);
  cpu_end(x, &m);
  leave(x, "chain peer done");
}

static void run_long_chain(struct hctx *x) {
  uint32_t size = opt_size(x, LONG_CHAIN_SEGS * 64);
  chained(x, size, (size + LONG_CHAIN_SEGS - 1) / LONG_CHAIN_SEGS, opt_count(x, 1));
}
static void run_jumbo(struct hctx *x) { chained(x, opt_size(x, 9216), 0, opt_count(x, 4)); }
static void run_jumbo_max(struct hctx *x) { chained(x, opt_size(x, HP_FRAME_MAX), 0, opt_count(x, 2)); }

/* The victim's receive eventfd written in a tight loop; its CPU over the storm is reported. */
static void run_irq_storm(struct hctx *x) {
  link_up(x, NULL, 0);
  warm_up(x);
  int fd = hp_tx_irq_fd(&x->p);
  uint64_t until = hp_now_ms() + opt_ms(x, 5000), one = 1;
  struct cpu_mark m = cpu_begin(x);
  while (hp_now_ms() < until) {
    for (int k = 0; k < 4096; k++)
      if (write(fd, &one, sizeof(one)) == sizeof(one))
        x->irq_writes++;
    if (control_gone(x))
      break;
  }
  cpu_end(x, &m);
  if (x->p.fd >= 0) { /* still served afterwards? */
    uint64_t before = x->returned;
    send_echoes(x, WARMUP_FRAMES, 64, 0, hp_now_ms() + x->timeout_ms);
    serve(x, hp_now_ms() + 1000, 0, before + WARMUP_FRAMES);
  }
  leave(x, "storm peer done");
}

/* Memfds named nmif-hostile-* on every message that carries none, then DISCONNECT with more. */
static void run_fd_spam(struct hctx *x) {
  uint16_t k = (uint16_t)opt_count(x, 3);
  struct hp_mut slave_muts[] = {{S_INIT, F_ADD_FD, FDK_MEMFD, .n = k},
                                {S_CONNECT, F_ADD_FD, FDK_MEMFD, .n = k}};
  struct hp_mut master_muts[] = {{M_HELLO, F_ADD_FD, FDK_MEMFD, .n = k},
                                 {M_ACK_INIT, F_ADD_FD, FDK_MEMFD, .n = k},
                                 {M_ACK_REGION, F_ADD_FD, FDK_MEMFD, .n = k},
                                 {M_ACK_RING, F_ADD_FD, FDK_MEMFD, .n = k},
                                 {M_CONNECTED, F_ADD_FD, FDK_MEMFD, .n = k}};
  int slave = x->p.role == HP_SLAVE;
  link_up(x, slave ? slave_muts : master_muts, slave ? 2 : 5);
  /* INIT and CONNECT; or HELLO, an ACK per INIT, region and ring, and CONNECTED */
  int msgs = slave ? 2 : 3 + x->p.nreg + x->p.nring[0] + x->p.nring[1];
  x->fds_sent = (uint64_t)msgs * k;
  warm_up(x);
  struct hp_mut bye[] = {{LIVE, F_EMPTY, NMIF_MSG_DISCONNECT},
                         {LIVE, F_DISC_STRING, .str = "fd-spam peer done"},
                         {LIVE, F_ADD_FD, FDK_MEMFD, .n = k}};
  if (x->p.fd >= 0 && !control_gone(x)) {
    hp_live(&x->p, bye, 3);
    x->fds_sent += k;
  }
}

/* Says nothing. A slave connects and never sends INIT; a master accepts every connection the
 * victim makes and never sends HELLO, until the time is up (or the victim gave up --count
 * times). */
static void run_silent(struct hctx *x) {
  uint64_t until = hp_now_ms() + opt_ms(x, 10000);
  if (x->p.role == HP_SLAVE) {
    nmif_msg_t m;
    hp_expect(&x->p, NMIF_MSG_HELLO, &m, NULL, NULL, (int)x->timeout_ms);
    while (hp_now_ms() < until && !control_gone(x))
      poll(NULL, 0, 10);
    return;
  }
  int fds[64], n = 1;
  fds[0] = x->p.fd; /* the connection accepted to start the case */
  x->p.fd = -1;
  while (hp_now_ms() < until && (!x->count_set || (uint64_t)x->closed_by_victim < x->count)) {
    int c = accept4(x->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c >= 0) {
      if (n < 64) {
        fds[n++] = c;
        x->connections++;
      } else {
        close(c);
      }
    }
    for (int k = 0; k < n; k++) {
      if (fds[k] < 0)
        continue;
      uint8_t buf[256];
      ssize_t r;
      while ((r = recv(fds[k], buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        nmif_msg_t m;
        memset(&m, 0, sizeof(m));
        memcpy(&m, buf, (size_t)r < sizeof(m) ? (size_t)r : sizeof(m));
        if (r == NMIF_MSG_SIZE && m.type == NMIF_MSG_DISCONNECT) {
          hp_record_disconnect(&x->p, &m);
          x->disconnects++;
          snprintf(x->reason, sizeof(x->reason), "%s", x->p.disc_reason);
        }
      }
      if (r == 0 || (r < 0 && errno != EAGAIN)) {
        x->closed_by_victim++;
        close(fds[k]);
        fds[k] = -1;
      }
    }
    poll(NULL, 0, 10);
  }
  for (int k = 0; k < n; k++)
    if (fds[k] >= 0)
      close(fds[k]);
}

static uint32_t rnd(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

/* Random datagrams instead of the handshake (a slave after HELLO, a master instead of it). */
static void run_garbage(struct hctx *x) {
  uint32_t s = x->seed ? x->seed : 1;
  if (x->p.role == HP_SLAVE)
    hp_expect(&x->p, NMIF_MSG_HELLO, NULL, NULL, NULL, (int)x->timeout_ms);
  uint64_t n = opt_count(x, 8), until = hp_now_ms() + opt_ms(x, 3000);
  for (uint64_t k = 0; k < n && !control_gone(x); k++) {
    uint8_t buf[512];
    size_t len = 1 + rnd(&s) % sizeof(buf);
    if (k % 3 == 0)
      len = NMIF_MSG_SIZE; /* the right size, garbage inside */
    for (size_t j = 0; j < len; j++)
      buf[j] = (uint8_t)rnd(&s);
    if (hp_send_raw(&x->p, buf, len, NULL, 0) < 0)
      break;
    x->garbage_sent++;
    /* one at a time: what the victim answers must not be lost under unread garbage */
    for (uint64_t t = hp_now_ms() + 100; hp_now_ms() < t && !control_gone(x);)
      poll(NULL, 0, 5);
  }
  while (hp_now_ms() < until && !control_gone(x))
    poll(NULL, 0, 10);
}

/* A burst posted, then gone: exit without DISCONNECT. */
static void run_die_mid_burst(struct hctx *x) {
  link_up(x, NULL, 0);
  warm_up(x);
  uint64_t n = opt_count(x, 32);
  for (uint64_t k = 0; k < n; k++) {
    hp_icmp_echo(frame, 64, x->dst_ip, (uint16_t)(1000 + k));
    if (hp_tx_frame(&x->p, frame, 64, 0) <= 0)
      break;
    x->sent_frames++;
    x->sent_buffers++;
  }
  hp_tx_publish(&x->p);
  hp_tx_signal(&x->p);
  x->die = 1;
}

/* Link up, buffers offered once (as a slave), then never reads: the victim's transmit fills. */
static void run_stall(struct hctx *x) {
  link_up(x, NULL, 0);
  uint64_t until = hp_now_ms() + opt_ms(x, 10000);
  struct cpu_mark m = cpu_begin(x);
  while (hp_now_ms() < until && !control_gone(x))
    poll(NULL, 0, 20);
  cpu_end(x, &m);
  uint16_t n;
  nmif_ring_t *rx = hp_rx_ring(&x->p, &n);
  uint16_t prod = __atomic_load_n(x->p.role == HP_SLAVE ? &rx->tail : &rx->head, __ATOMIC_ACQUIRE);
  snprintf(x->note, sizeof(x->note), "%u frames left unread in a %u-slot ring",
           (unsigned)(uint16_t)(prod - x->p.rx_pos), (unsigned)n);
  leave(x, "stalled peer done");
}

const struct hattack hp_attacks[] = {
    {"good", -1, "well-behaved: --count echo requests (32) of --size (64), counts the replies", run_good},
    {"echo", -1, "well-behaved: reflects every frame for --duration (5 s) or --count frames", run_echo},
    {"runaway-head", HP_SLAVE, "the slave's head on both rings jumps N+1000 ahead", runaway},
    {"runaway-tail", HP_MASTER, "the master's tail on both rings jumps N+1000 ahead", runaway},
    {"rewrite-region", -1, "descriptors already posted get region 0x7fff, burst after burst", run_rewrite_region},
    {"rewrite-offset", -1, "descriptors already posted get an offset at the region's end", run_rewrite_offset},
    {"rewrite-length", -1, "descriptors already posted get length 2^32-16", run_rewrite_length},
    {"bad-length", -1, "one frame longer than its buffer (slave: past the region end)", run_bad_length},
    {"endless-chain", -1, "every free slot flagged NEXT and published: a chain that never ends", run_endless_chain},
    {"long-chain", -1, "a legal chain of 300 buffers (--size 19200 B; --count 1)", run_long_chain},
    {"jumbo", -1, "legal 9216-byte frames, chained (--count 4)", run_jumbo},
    {"jumbo-max", -1, "legal 65,535-byte frames, chained (--count 2)", run_jumbo_max},
    {"irq-storm", -1, "the victim's rx eventfd written in a tight loop for --duration (5 s)", run_irq_storm},
    {"fd-spam", -1, "--count memfds (3) on every message that carries none, and on DISCONNECT", run_fd_spam},
    {"silent", -1, "never answers: slave sends no INIT, master no HELLO (10 s, or --count give-ups)", run_silent},
    {"garbage", -1, "--count random datagrams (8) instead of the handshake (--seed)", run_garbage},
    {"die-mid-burst", -1, "posts --count frames (32), then exits without DISCONNECT", run_die_mid_burst},
    {"stall", -1, "link up, then never reads for --duration (10 s)", run_stall},
};

const int hp_nattacks = (int)(sizeof(hp_attacks) / sizeof(hp_attacks[0]));
