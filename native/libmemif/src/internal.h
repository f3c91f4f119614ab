/* Private structures shared by the library's source files. */
#ifndef NMIF_INTERNAL_H
#define NMIF_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "nmemif.h"
#include "irq.h"
#include "region.h"
#include "wire.h"

#define NMIF_MAX_REGIONS 256       /* region index <= 255 */
#define NMIF_MAX_PENDING_CONNS 64  /* accepted connections not yet bound to an interface */
#define NMIF_MAX_FDS_PER_MSG 8     /* room to receive (and close) extra fds a peer attaches */

/* ---- fd registry: the tokens handed to the application's event loop ---------------------- */

enum nmif__fd_kind {
  NMIF_FDK_FREE = 0,
  NMIF_FDK_LISTENER,
  NMIF_FDK_CONN,
  NMIF_FDK_TIMER,
  NMIF_FDK_WAKE,
  NMIF_FDK_IRQ,
};

/* Entries are pooled per socket and only freed with it, so a stale token from an event batch
 * still points at valid memory (its kind says FREE, or it was reused: spurious, harmless). */
typedef struct nmif__fdent {
  struct nmif_socket_s *sock;
  struct nmif__fdent *next_free;
  struct nmif__fdent *next_all;
  void *ptr;                    /* conn or interface */
  int fd;
  uint16_t qid;
  uint8_t kind;
} nmif__fdent_t;

/* ---- queues --------------------------------------------------------------------------- */

/* Where a slot's buffer lives. Slave: its own buffers (never read back from shared memory).
 * Master tx: the capacity and place the slave offered, validated at alloc time. */
typedef struct nmif__slot {
  uint32_t offset;
  uint32_t cap;
  uint16_t region;
} nmif__slot_t;

typedef struct nmif__queue {
  nmif_ring_t *ring;
  nmif__slot_t *slots;
  nmif_stats_t *stats;          /* lives in the interface, survives reconnects */
  struct nmif_if_s *iface;
  uint16_t size;                /* N */
  uint16_t mask;                /* N - 1 */
  uint8_t log2;
  uint8_t is_tx;
  uint16_t qid;
  uint16_t region;              /* of the ring header */
  uint32_t ring_offset;
  int irq_fd;
  nmif__fdent_t *irq_ent;
  /* Private counters (never read back from shared memory). Their meaning by role:
   *   slave tx (S2M): own = head published, seen = last accepted tail, alloc = reserved up to
   *   slave rx (M2S): own = head (offered buffers), seen = last accepted tail, last = consumed
   *   master rx (S2M): own = tail released, seen = last accepted head, last = consumed
   *   master tx (M2S): own = tail published, seen = last accepted head, alloc = reserved up to */
  uint16_t own;
  uint16_t seen;
  uint16_t last;
  uint16_t alloc;
} nmif__queue_t;

/* ---- control connection --------------------------------------------------------------- */

enum nmif__conn_state {
  NMIF_CS_M_WAIT_INIT = 1,      /* master sent HELLO */
  NMIF_CS_M_CONFIG,             /* master got INIT: regions, rings, CONNECT */
  NMIF_CS_S_WAIT_HELLO,         /* slave connected */
  NMIF_CS_S_WAIT_ACK,           /* slave sent INIT/ADD_*; waits for ACK */
  NMIF_CS_S_WAIT_CONNECTED,     /* slave sent CONNECT */
  NMIF_CS_CONNECTED,
};

typedef struct nmif__conn {
  struct nmif_socket_s *sock;
  struct nmif_if_s *iface;      /* bound interface (slave: always; master: after INIT) */
  struct nmif__conn *next;      /* socket's list of unbound master connections */
  nmif__fdent_t *ent;
  int fd;
  int state;
  uint64_t deadline_ms;         /* handshake must finish by then */
  int local_failure;            /* the failing handler's reason is ours, not the peer's fault */
  /* slave: what was sent so far */
  uint16_t sent_regions;
  uint16_t sent_s2m;
  uint16_t sent_m2s;
} nmif__conn_t;

/* ---- interface -------------------------------------------------------------------------- */

struct nmif_if_s {
  struct nmif_socket_s *sock;
  struct nmif_if_s *next;
  struct nmif_if_s *next_dead;  /* graveyard link: `next` stays valid for running iterations */
  nmif__conn_t *conn;

  /* configuration */
  uint32_t id;
  int is_master;
  uint8_t mode;
  uint8_t cfg_log2;
  uint16_t cfg_rx;
  uint16_t cfg_tx;
  uint32_t buffer_size;
  char if_name[NMIF_NAME_MAX];
  char secret[NMIF_SECRET_MAX];
  nmif_conn_cb on_connect;
  nmif_disc_cb on_disconnect;
  nmif_rx_cb on_rx;
  nmif_connect_err_cb on_connect_error;
  void *user;
  uint8_t *rx_mode;              /* per configured rx queue, kept across reconnects */
  nmif_stats_t *rx_stats;        /* per configured queue, kept across reconnects */
  nmif_lease_t **leases;         /* per configured rx queue: the queue pair's lease, or NULL */
  nmif_stats_t *tx_stats;

  /* connection run state */
  int connected;
  uint32_t generation;           /* counts link-ups (1, 2, ...), wrapping below INT_MAX */
  uint8_t run_log2;
  uint16_t num_s2m;             /* rings in each direction (received or created) */
  uint16_t num_m2s;
  nmif__queue_t *s2m;           /* arrays of num_s2m / num_m2s (master: staged until CONNECT) */
  nmif__queue_t *m2s;
  uint16_t num_regions;
  nmif__region_t *regions;      /* NMIF_MAX_REGIONS entries while a connection exists */
  char peer_if_name[NMIF_NAME_MAX];
  char peer_app_name[NMIF_NAME_MAX];
  char last_reason[NMIF_REASON_MAX];

  /* slave reconnect */
  uint64_t retry_at_ms;          /* 0 = no attempt scheduled */
  uint32_t backoff_ms;

  /* A data-path call found the peer cheating: 0 none, 2 reason being written, 1 reported.
   * Stays set until the next link-up; the control side tears down when woken on wake_fd. */
  atomic_int violation;
  char violation_reason[NMIF_REASON_MAX];
  int wake_fd;                   /* the socket's wake eventfd (data-path threads only write it) */
  uint8_t last_cause;            /* enum nmif_down_cause of the last teardown */

  int destroyed;                 /* freed when the outermost dispatch returns */
  int in_teardown;
};

/* rx/tx queue arrays by our role: the slave receives on M2S, the master on S2M. */
static inline nmif__queue_t *nmif__rxq(struct nmif_if_s *i, uint16_t qid) {
  return i->is_master ? &i->s2m[qid] : &i->m2s[qid];
}
static inline nmif__queue_t *nmif__txq(struct nmif_if_s *i, uint16_t qid) {
  return i->is_master ? &i->m2s[qid] : &i->s2m[qid];
}
static inline uint16_t nmif__num_rx(const struct nmif_if_s *i) {
  return i->is_master ? i->num_s2m : i->num_m2s;
}
static inline uint16_t nmif__num_tx(const struct nmif_if_s *i) {
  return i->is_master ? i->num_m2s : i->num_s2m;
}

/* ---- socket ------------------------------------------------------------------------------- */

struct nmif_socket_s {
  char path[NMIF_PATH_MAX + 1];
  struct sockaddr_un addr;
  socklen_t addr_len;
  int abstract;
  char app_name[NMIF_NAME_MAX];
  nmif_fd_update_fn fd_update;
  void *fd_update_ctx;
  uint32_t reconnect_min_ms;
  uint32_t reconnect_max_ms;
  uint32_t handshake_timeout_ms;
  int allow_unsealed;
  int irq_edge;                 /* rx eventfds watched edge-triggered: never read them */

  int listen_fd;
  nmif__fdent_t *listen_ent;
  int created_file;             /* we bound a filesystem path: unlink it when done */
  uint64_t file_ino;
  uint64_t file_dev;

  int timer_fd;
  nmif__fdent_t *timer_ent;
  int wake_fd;                  /* data-path threads report violations through it */
  nmif__fdent_t *wake_ent;

  struct nmif_if_s *ifaces;
  nmif__conn_t *pending;        /* accepted, not yet bound */
  int num_pending;

  nmif__fdent_t *free_ents;
  nmif__fdent_t *all_ents;      /* every entry ever allocated; freed with the socket */

  int dispatch_depth;
  struct nmif_if_s *graveyard;  /* interfaces destroyed during a dispatch */
};

/* socket.c */
uint64_t nmif__now_ms(void);
int nmif__watch(struct nmif_socket_s *s, int fd, int kind, void *ptr, uint16_t qid,
                nmif__fdent_t **out);
void nmif__unwatch(struct nmif_socket_s *s, nmif__fdent_t **ent);
void nmif__timer_rearm(struct nmif_socket_s *s);
int nmif__listen(struct nmif_socket_s *s);

/* conn.c */
int nmif__conn_send(nmif__conn_t *c, const nmif_msg_t *m, int fd);
/* One datagram with its fds: bytes (0 = EOF) or -errno; *flags = msg_flags. */
ssize_t nmif__conn_recv(int sockfd, uint8_t *buf, size_t cap, int *fds, int *nfds, int *flags);
void nmif__close_fds(int *fds, int n);
int nmif__conn_accept(struct nmif_socket_s *s);
int nmif__conn_connect(struct nmif_if_s *i);
void nmif__conn_close(nmif__conn_t *c);
void nmif__conn_unlink_pending(nmif__conn_t *c);
void nmif__conn_free_unbound(nmif__conn_t *c);
/* Rejects a connection not bound to an interface: DISCONNECT, close. */
void nmif__conn_reject(nmif__conn_t *c, const char *reason);
/* Ends a connection because of something the peer did (or a local failure); cause as in
 * nmif__if_teardown (an unbound connection gets DISCONNECT unless the peer ended it). */
void nmif__conn_fail(nmif__conn_t *c, int cause, const char *reason);

/* handshake.c */
void nmif__conn_readable(nmif__conn_t *c, uint32_t revents);

/* link.c */
void nmif__link_up(struct nmif_if_s *i);
/* Tears the link down: DISCONNECT with reason (unless the peer ended it), close, on_disconnect,
 * unmap. cause: enum nmif_down_cause. */
void nmif__if_teardown(struct nmif_if_s *i, int cause, const char *reason);
void nmif__timers_expire(struct nmif_socket_s *s);
void nmif__if_check_violations(struct nmif_socket_s *s);

/* iface.c */
void nmif__if_free(struct nmif_if_s *i);
int nmif__if_alloc_queues(struct nmif_if_s *i, uint16_t num_s2m, uint16_t num_m2s);
void nmif__if_release_queues(struct nmif_if_s *i);
void nmif__if_apply_rx_modes(struct nmif_if_s *i);
/* Sets the rx ring's MASK_INT and the eventfd watch from the queue's mode, or its lease's. */
void nmif__if_apply_rx_mode(struct nmif_if_s *i, uint16_t qid);
/* Ends every lease of the interface (it is going away). */
void nmif__if_end_leases(struct nmif_if_s *i);
void nmif__if_schedule_retry(struct nmif_if_s *i, int reset_backoff);
/* link.c: a slave's connect() failed with err: on_connect_error, then a retry after the backoff. */
void nmif__if_connect_failed(struct nmif_if_s *i, int err);

/* datapath.c */
void nmif__queue_reset(nmif__queue_t *q, int is_master);
/* Records a protocol violation found by a data-path call and wakes the control side, which tears
 * the link down (a flag and an eventfd write: the data path never calls into the socket). */
void nmif__violation(struct nmif_if_s *i, nmif__queue_t *q, const char *reason);

/* lease.c: the owner's side, socket's thread only */
int nmif__lease_rx_mode(const nmif_lease_t *l);
/* Opens the gate for the current connection (i->generation) and tells the lessee. */
void nmif__lease_open(nmif_lease_t *l);
/* Closes the gate, waiting for a lessee inside to leave; records why. */
void nmif__lease_close(nmif_lease_t *l, const char *reason);
/* Closes the gate for good and drops the interface's reference. */
void nmif__lease_detach(nmif_lease_t *l, const char *reason);

/* log.c */
void nmif__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define NMIF_ERR(...) nmif__log(NMIF_LOG_ERROR, __VA_ARGS__)
#define NMIF_WARN(...) nmif__log(NMIF_LOG_WARN, __VA_ARGS__)
#define NMIF_INFO(...) nmif__log(NMIF_LOG_INFO, __VA_ARGS__)
#define NMIF_DBG(...) nmif__log(NMIF_LOG_DEBUG, __VA_ARGS__)

#endif
