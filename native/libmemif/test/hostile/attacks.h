/* The cases nmif-hostile plays against a victim process (see nmif-hostile.c for usage). */
#ifndef NMIF_HOSTILE_ATTACKS_H
#define NMIF_HOSTILE_ATTACKS_H

#include <stdint.h>

#include "peer.h"

/* One run: the options, the peer, and what it did and observed (printed at the end). */
struct hctx {
  struct hp_peer p;
  const char *path;
  int lfd;                       /* as a master: the listener */
  /* options (the _set flags tell a case its default was overridden) */
  uint64_t count;
  int count_set;
  uint64_t duration_ms;
  int duration_set;
  uint32_t size;
  int size_set;
  uint32_t timeout_ms;
  uint8_t dst_ip[4];
  uint32_t seed;
  /* what happened */
  int connected;                 /* the handshake reached CONNECTED */
  int connections;               /* connections made or accepted */
  uint64_t sent_frames, sent_buffers;
  uint64_t received_frames, received_bytes, echoed;
  uint64_t returned;              /* our frames that came back: reflected or answered */
  uint64_t replies;               /* ... of which ICMP echo replies */
  uint64_t fds_sent, irq_writes, garbage_sent;
  int disconnects;               /* DISCONNECTs the victim sent */
  char reason[HP_REASON_MAX + 1];/* the last one's reason */
  int closed_by_victim;          /* EOF on a connection before we closed it */
  int victim_pid;
  int cpu_known;
  double victim_cpu_ms;          /* CPU the victim used during the case's active phase */
  uint64_t active_ms;            /* how long that phase lasted */
  int die;                       /* exit at once after printing, without DISCONNECT */
  char note[256];
  char error[256];
};

struct hattack {
  const char *name;
  int role;                      /* -1 either role, else the one it needs (enum hp_role) */
  const char *what;
  void (*run)(struct hctx *x);
};

extern const struct hattack hp_attacks[];
extern const int hp_nattacks;

/* Records why the case could not run (printed, exit status 3) and ends it. */
void hp_cannot(struct hctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#endif
