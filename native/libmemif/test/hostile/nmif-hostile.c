/*
 * nmif-hostile: a hostile memif peer for testing a victim process (the nmemif tools, or any
 * memif implementation) from outside. It plays a MASTER (listens on --socket, the victim
 * slave connects) or a SLAVE (connects to the victim master on --socket), speaks enough of the
 * protocol to reach CONNECTED, then runs one named case: misbehaves, or behaves well so a test
 * can show the victim still serves a good peer.
 *
 *   nmif-hostile --role master|slave --socket PATH|@NAME --case NAME [--id N] [--secret S]
 *                [--count N] [--duration S] [--size N] [--rsize LOG2] [--bsize N]
 *                [--timeout S] [--ip A.B.C.D] [--seed N] [--json]
 *   nmif-hostile --list
 *
 * What it did and observed (frames sent, echo replies received, fds passed, the DISCONNECT
 * reason the victim sent, whether the victim closed, the victim's CPU time during the attack
 * from /proc/<pid>/stat with the pid from SO_PEERCRED) is printed at the end: as one JSON line
 * with --json, else as text. Every fd it creates for an attack is a memfd named
 * "nmif-hostile-*", so a leak shows in /proc/<victim>/fd.
 *
 * The JSON fields: case, role (ours), ran, connected (CONNECTED reached), connections (made
 * or accepted), sent_frames, sent_buffers, received_frames, received_bytes, returned (our
 * frames that came back, reflected or answered), replies (of which ICMP echo replies),
 * echoed, fds_sent, irq_writes, garbage_sent, disconnects (DISCONNECTs the victim sent),
 * disconnect_reason (the last one's, or null), closed_by_victim (connections it closed),
 * victim_pid, victim_cpu_ms (null if unknown) over active_ms, note, error (why it could not run).
 *
 * Exit status: 0 the case ran (whatever the victim did), 2 usage error, 3 the case could not
 * run (no connection within --timeout, the handshake was refused, ...).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attacks.h"
#include "flow.h"

enum { EXIT_RAN = 0, EXIT_USAGE = 2, EXIT_CANNOT = 3 };

static struct hctx X;
static jmp_buf cannot_jmp;

static void usage(FILE *f) {
  fprintf(f,
      "usage: nmif-hostile --role master|slave --socket PATH --case NAME [options]\n"
      "       nmif-hostile --list\n"
      "\n"
      "A hostile memif peer: reaches CONNECTED with a victim process, then runs one case.\n"
      "\n"
      "  --role master|slave   the role WE play: master listens on --socket (the victim is a\n"
      "                        slave and connects), slave connects to the victim master\n"
      "  --socket PATH|@NAME   control socket path, or @NAME for an abstract socket\n"
      "  --case NAME           what to do (--list shows them all)\n"
      "  --id N                interface id (default 0)\n"
      "  --secret STR          secret sent in INIT, at most 23 characters (default none)\n"
      "  --count N             frames, fds per message, datagrams... as the case says\n"
      "  --duration S          how long the case runs or watches (default per case)\n"
      "  --size N              frame size in bytes, 60..65535 (default per case)\n"
      "  --rsize LOG2          as a slave: log2 of our ring size, 4..14 (default 10)\n"
      "  --bsize N             as a slave: our buffer size, 64..65535 (default 2048)\n"
      "  --timeout S           wait at most S seconds for the victim to connect, accept or\n"
      "                        answer (default 10)\n"
      "  --ip A.B.C.D          destination of our echo requests (default 192.168.1.1)\n"
      "  --seed N              random seed of the garbage case (default 1)\n"
      "  --json                print the result as one JSON line on stdout\n"
      "  --list                list the cases\n"
      "  --help                show this help\n"
      "\n"
      "Exit status: 0 the case ran, 2 usage error, 3 the case could not run.\n");
}

static void list_cases(void) {
  for (int k = 0; k < hp_nattacks; k++)
    printf("%-15s %-14s %s\n", hp_attacks[k].name,
           hp_attacks[k].role < 0 ? "both roles" : hp_attacks[k].role == HP_SLAVE ? "--role slave"
                                                                                   : "--role master",
           hp_attacks[k].what);
}

void hp_cannot(struct hctx *x, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(x->error, sizeof(x->error), fmt, ap);
  va_end(ap);
  longjmp(cannot_jmp, 1);
}

static void on_fail(const char *msg) { hp_cannot(&X, "%s", msg); }

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
    fprintf(stderr, "nmif-hostile: --%s: expected an integer in %" PRIu64 "..%" PRIu64 ", got \"%s\"\n",
            opt, min, max, s);
    return 0;
  }
  *out = v;
  return 1;
}

static int parse_seconds(const char *opt, const char *s, uint64_t *ms) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end || !(v >= 0) || v > 86400) {
    fprintf(stderr, "nmif-hostile: --%s: expected seconds from 0 to 86400, got \"%s\"\n", opt, s);
    return 0;
  }
  *ms = (uint64_t)(v * 1000);
  return 1;
}

/* ---- output ------------------------------------------------------------------------------ */

static void json_str(const char *key, const char *s) {
  printf(",\"%s\":", key);
  if (!s || !s[0]) {
    printf("null");
    return;
  }
  putchar('"');
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\')
      printf("\\%c", *c);
    else if (*c < 0x20 || *c >= 0x7f)
      printf("\\u%04x", *c);
    else
      putchar(*c);
  }
  putchar('"');
}

static void report(const struct hctx *x, const char *name, int json) {
  const char *role = x->p.role == HP_MASTER ? "master" : "slave";
  if (!json) {
    printf("nmif-hostile %s as %s: %s\n", name, role, x->error[0] ? x->error : "ran");
    printf("  connected %s, connections %d, victim pid %d\n", x->connected ? "yes" : "no",
           x->connections, x->victim_pid);
    printf("  sent %" PRIu64 " frames in %" PRIu64 " buffers, %" PRIu64 " fds, %" PRIu64
           " interrupts, %" PRIu64 " garbage datagrams\n",
           x->sent_frames, x->sent_buffers, x->fds_sent, x->irq_writes, x->garbage_sent);
    printf("  received %" PRIu64 " frames (%" PRIu64 " bytes); of ours %" PRIu64 " came back, %" PRIu64
           " as echo replies; echoed %" PRIu64 "\n",
           x->received_frames, x->received_bytes, x->returned, x->replies, x->echoed);
    printf("  victim DISCONNECT %s%s%s, closed the connection: %s\n", x->disconnects ? "\"" : "none",
           x->disconnects ? x->reason : "", x->disconnects ? "\"" : "", x->closed_by_victim ? "yes" : "no");
    if (x->cpu_known)
      printf("  victim CPU %.0f ms over %" PRIu64 " ms\n", x->victim_cpu_ms, x->active_ms);
    if (x->note[0])
      printf("  note: %s\n", x->note);
    return;
  }
  printf("{\"case\":\"%s\",\"role\":\"%s\",\"ran\":%s", name, role, x->error[0] ? "false" : "true");
  printf(",\"connected\":%s,\"connections\":%d", x->connected ? "true" : "false", x->connections);
  printf(",\"sent_frames\":%" PRIu64 ",\"sent_buffers\":%" PRIu64, x->sent_frames, x->sent_buffers);
  printf(",\"received_frames\":%" PRIu64 ",\"received_bytes\":%" PRIu64, x->received_frames,
         x->received_bytes);
  printf(",\"returned\":%" PRIu64 ",\"replies\":%" PRIu64 ",\"echoed\":%" PRIu64, x->returned,
         x->replies, x->echoed);
  printf(",\"fds_sent\":%" PRIu64 ",\"irq_writes\":%" PRIu64 ",\"garbage_sent\":%" PRIu64,
         x->fds_sent, x->irq_writes, x->garbage_sent);
  printf(",\"disconnects\":%d", x->disconnects);
  json_str("disconnect_reason", x->disconnects ? x->reason : NULL);
  printf(",\"closed_by_victim\":%d,\"victim_pid\":%d", x->closed_by_victim, x->victim_pid);
  if (x->cpu_known)
    printf(",\"victim_cpu_ms\":%.1f,\"active_ms\":%" PRIu64, x->victim_cpu_ms, x->active_ms);
  else
    printf(",\"victim_cpu_ms\":null,\"active_ms\":%" PRIu64, x->active_ms);
  json_str("note", x->note);
  json_str("error", x->error);
  printf("}\n");
}

/* ---- main ------------------------------------------------------------------------------ */

static int open_link(struct hctx *x) {
  if (x->p.role == HP_MASTER) {
    x->lfd = hp_listen(x->path);
    if (x->lfd < 0)
      hp_cannot(x, "listen on %s: %s", x->path, strerror(-x->lfd));
    if (hp_accept(&x->p, x->lfd, (int)x->timeout_ms) < 0)
      hp_cannot(x, "no victim connected within %u ms", x->timeout_ms);
    x->connections++;
    x->victim_pid = x->p.victim_pid;
    return 0;
  }
  uint64_t end = hp_now_ms() + x->timeout_ms;
  for (;;) { /* the victim master may not listen yet */
    int r = hp_connect(&x->p, x->path);
    if (r == 0)
      break;
    if ((r != -ENOENT && r != -ECONNREFUSED) || hp_now_ms() >= end)
      hp_cannot(x, "connect to %s: %s", x->path, strerror(-r));
    usleep(50000);
  }
  x->connections++;
  x->victim_pid = x->p.victim_pid;
  return 0;
}

static int parse_ip(const char *s, uint8_t ip[4]) {
  unsigned a, b, c, d;
  char tail;
  if (sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 || c > 255 ||
      d > 255)
    return 0;
  ip[0] = (uint8_t)a;
  ip[1] = (uint8_t)b;
  ip[2] = (uint8_t)c;
  ip[3] = (uint8_t)d;
  return 1;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"role", required_argument, NULL, 'r'},   {"socket", required_argument, NULL, 's'},
      {"case", required_argument, NULL, 'c'},   {"id", required_argument, NULL, 'i'},
      {"secret", required_argument, NULL, 'S'}, {"count", required_argument, NULL, 'n'},
      {"duration", required_argument, NULL, 'd'}, {"size", required_argument, NULL, 'z'},
      {"rsize", required_argument, NULL, 'R'},  {"bsize", required_argument, NULL, 'B'},
      {"timeout", required_argument, NULL, 't'}, {"ip", required_argument, NULL, 'I'},
      {"seed", required_argument, NULL, 'e'},   {"json", no_argument, NULL, 'j'},
      {"list", no_argument, NULL, 'l'},         {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int role = -1;
  volatile int json = 0;                /* volatile: read after the longjmp */
  const char *volatile name = NULL;
  const char *secret = NULL;
  uint64_t id = 0, rsize = 10, bsize = 2048, timeout_ms = 10000, v;
  memset(&X, 0, sizeof(X));
  X.lfd = -1;
  parse_ip("192.168.1.1", X.dst_ip);
  int o;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'r':
      if (strcmp(optarg, "master") == 0 || strcmp(optarg, "server") == 0)
        role = HP_MASTER;
      else if (strcmp(optarg, "slave") == 0 || strcmp(optarg, "client") == 0)
        role = HP_SLAVE;
      else {
        fprintf(stderr, "nmif-hostile: --role: expected master or slave, got \"%s\"\n", optarg);
        return EXIT_USAGE;
      }
      break;
    case 's':
      if (strlen(optarg) == 0 || strlen(optarg) > 107) {
        fprintf(stderr, "nmif-hostile: --socket: expected 1..107 characters\n");
        return EXIT_USAGE;
      }
      X.path = optarg;
      break;
    case 'c': name = optarg; break;
    case 'i': if (!parse_u64("id", optarg, 0, UINT32_MAX, &id)) return EXIT_USAGE; break;
    case 'S':
      if (strlen(optarg) > 23) {
        fprintf(stderr, "nmif-hostile: --secret: at most 23 characters\n");
        return EXIT_USAGE;
      }
      secret = optarg;
      break;
    case 'n':
      if (!parse_u64("count", optarg, 1, 1000000000, &X.count)) return EXIT_USAGE;
      X.count_set = 1;
      break;
    case 'd':
      if (!parse_seconds("duration", optarg, &X.duration_ms)) return EXIT_USAGE;
      X.duration_set = 1;
      break;
    case 'z':
      if (!parse_u64("size", optarg, 60, 65535, &v)) return EXIT_USAGE;
      X.size = (uint32_t)v;
      X.size_set = 1;
      break;
    case 'R': if (!parse_u64("rsize", optarg, 4, 14, &rsize)) return EXIT_USAGE; break;
    case 'B': if (!parse_u64("bsize", optarg, 64, 65535, &bsize)) return EXIT_USAGE; break;
    case 't': if (!parse_seconds("timeout", optarg, &timeout_ms)) return EXIT_USAGE; break;
    case 'I':
      if (!parse_ip(optarg, X.dst_ip)) {
        fprintf(stderr, "nmif-hostile: --ip: expected A.B.C.D, got \"%s\"\n", optarg);
        return EXIT_USAGE;
      }
      break;
    case 'e': if (!parse_u64("seed", optarg, 0, UINT32_MAX, &v)) return EXIT_USAGE; X.seed = (uint32_t)v; break;
    case 'j': json = 1; break;
    case 'l': list_cases(); return EXIT_RAN;
    case 'h': usage(stdout); return EXIT_RAN;
    default:
      fprintf(stderr, "nmif-hostile: unknown option (try --help)\n");
      return EXIT_USAGE;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "nmif-hostile: unexpected argument \"%s\" (try --help)\n", argv[optind]);
    return EXIT_USAGE;
  }
  if (role < 0 || !X.path || !name) {
    fprintf(stderr, "nmif-hostile: --role, --socket and --case are required (try --help)\n");
    return EXIT_USAGE;
  }
  const struct hattack *a = NULL;
  for (int k = 0; k < hp_nattacks; k++)
    if (strcmp(hp_attacks[k].name, name) == 0)
      a = &hp_attacks[k];
  if (!a) {
    fprintf(stderr, "nmif-hostile: unknown case \"%s\" (try --list)\n", name);
    return EXIT_USAGE;
  }
  if (a->role >= 0 && a->role != role) {
    fprintf(stderr, "nmif-hostile: case %s needs --role %s\n", name,
            a->role == HP_SLAVE ? "slave" : "master");
    return EXIT_USAGE;
  }

  signal(SIGPIPE, SIG_IGN); /* the victim may close at any time; sends report EPIPE */
  hp_init(&X.p, role);
  X.p.id = (uint32_t)id;
  if (secret)
    snprintf(X.p.secret, sizeof(X.p.secret), "%s", secret);
  X.p.log2 = (uint8_t)rsize;
  X.p.bsize = (uint32_t)bsize;
  X.timeout_ms = (uint32_t)timeout_ms;
  hp_set_fail(on_fail);
  if (setjmp(cannot_jmp) == 0) {
    open_link(&X);
    a->run(&X);
  }
  report(&X, name, json);
  fflush(stdout);
  if (X.die)
    _exit(EXIT_RAN); /* no DISCONNECT, nothing released: the kernel closes our side */
  hp_release(&X.p);
  if (X.lfd >= 0) {
    close(X.lfd);
    struct stat st;
    if (X.path[0] != '@' && lstat(X.path, &st) == 0 && S_ISSOCK(st.st_mode))
      unlink(X.path);
  }
  return X.error[0] ? EXIT_CANNOT : EXIT_RAN;
}
