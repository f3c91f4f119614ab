/*
 * nmemif: a memif (shared-memory packet interface, protocol 2.0) implementation in C11.
 *
 * One public header. Conventions:
 *  - every function returning int returns 0 (or a count) on success and a negative errno
 *    value on failure (NMIF_E* below); nmif_strerror()/nmif_err_name() describe it;
 *  - a call that fails never runs a callback;
 *  - "rx"/"tx" are always from the caller's point of view: a slave transmits on S2M rings and
 *    receives on M2S rings, a master the other way round;
 *  - head/tail and slot numbers are free-running 16-bit counters.
 *
 * Threading: all control calls (socket, interface, fd handler) of one socket must come from
 * one thread. Each queue's data-path calls (rx_burst, refill, tx_*) must come from a single
 * thread at a time, which may differ per queue. To run a queue pair in another thread, lease
 * it (nmif_lease_create, below): the library then keeps that thread out of the memory while it
 * tears the link down, with no help from the application.
 */
#ifndef NMEMIF_H
#define NMEMIF_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NMIF_EXTERN __attribute__((visibility("default")))
#else
#define NMIF_EXTERN
#endif

/* ---- protocol facts that users need ---------------------------------------------------- */

#define NMIF_VERSION 0x0200          /* protocol 2.0 */
#define NMIF_MAX_LOG2_RING_SIZE 14
#define NMIF_MAX_QUEUES 255
#define NMIF_NAME_MAX 32             /* app and interface names, including the NUL */
#define NMIF_SECRET_MAX 24           /* secret field, including the NUL (23 usable) */
#define NMIF_REASON_MAX 96           /* DISCONNECT reason, including the NUL */
#define NMIF_PATH_MAX 108

enum nmif_mode {
  NMIF_MODE_ETHERNET = 0,
  NMIF_MODE_IP = 1,
  NMIF_MODE_PUNT_INJECT = 2,
};

/* ---- errors ------------------------------------------------------------------------------ */

enum nmif_error {
  NMIF_EINVAL = -EINVAL,           /* bad argument */
  NMIF_ENOMEM = -ENOMEM,
  NMIF_ENOENT = -ENOENT,           /* socket directory (or socket) does not exist */
  NMIF_ENOTDIR = -ENOTDIR,         /* a component of the socket's directory is not a directory */
  NMIF_EACCES = -EACCES,
  NMIF_EADDRINUSE = -EADDRINUSE,   /* a live listener already owns the socket path */
  NMIF_ENOTSOCK = -ENOTSOCK,       /* the socket path exists and is not a socket */
  NMIF_ENAMETOOLONG = -ENAMETOOLONG,
  NMIF_EEXIST = -EEXIST,           /* an interface with this id and role exists on the socket */
  NMIF_ENOTCONN = -ENOTCONN,       /* the interface is not connected */
  NMIF_ENOBUFS = -ENOBUFS,         /* the ring has no room for what was asked */
  NMIF_EPROTO = -EPROTO,           /* the peer broke the protocol; the link is being torn down */
  NMIF_EBUSY = -EBUSY,             /* object still in use */
  NMIF_ERANGE = -ERANGE,           /* queue id or size out of range */
  NMIF_EAGAIN = -EAGAIN,
  NMIF_ECONNREFUSED = -ECONNREFUSED,
  NMIF_EBADF = -EBADF,
  NMIF_EMFILE = -EMFILE,
  NMIF_ENOTSUP = -ENOTSUP,
};

NMIF_EXTERN const char *nmif_strerror(int err);
/* Stable symbolic name of an error ("EINVAL", "EPROTO", ...); "UNKNOWN" for others. */
NMIF_EXTERN const char *nmif_err_name(int err);

/* ---- event-loop integration -------------------------------------------------------------- */

/* Readiness bits, used both for what to watch and for what happened. */
#define NMIF_EV_READ 1u
#define NMIF_EV_WRITE 2u
#define NMIF_EV_ERROR 4u
#define NMIF_EV_HUP 8u
/* With NMIF_FD_ADD of an rx eventfd, on a socket created with irq_edge_triggered: watch it
 * edge-triggered (EPOLLET); the library then leaves its counter alone on each interrupt. */
#define NMIF_EV_EDGE 16u

typedef enum nmif_fd_op {
  NMIF_FD_ADD = 1,   /* start watching fd for `events` (level-triggered) */
  NMIF_FD_MOD = 2,   /* change the watched events */
  NMIF_FD_DEL = 3,   /* stop watching; the library closes the fd right after */
} nmif_fd_op_t;

/*
 * The library tells the application's event loop which fds to watch. When one is ready,
 * the loop calls nmif_fd_ready(token, revents). After a DEL returns, the loop must not pass
 * that token again; a stale or spurious call is harmless (all fds are non-blocking), but a
 * token must never be used after the socket is destroyed. Return 0, or a negative errno.
 */
typedef int (*nmif_fd_update_fn)(int fd, nmif_fd_op_t op, uint32_t events, void *token,
                                 void *loop_ctx);

NMIF_EXTERN int nmif_fd_ready(void *token, uint32_t revents);

/* The one mapping between epoll(7) bits and NMIF_EV_*, for loops built on epoll (the built-in
 * one, bindings). EPOLLRDHUP, the peer shutting down its sending side, is a hang-up (HUP): for
 * a control connection nothing more will come, and the library reads on every event anyway
 * (what is still queued, then the end). EPOLLPRI counts as READ. */
NMIF_EXTERN uint32_t nmif_events_from_epoll(uint32_t epoll_events);
NMIF_EXTERN uint32_t nmif_events_to_epoll(uint32_t nmif_events);

/* A small built-in epoll loop for plain C programs: pass nmif_loop_fd_update and the loop
 * as fd_update/fd_update_ctx, then call nmif_loop_run() repeatedly. */
typedef struct nmif_loop_s nmif_loop_t;
NMIF_EXTERN int nmif_loop_create(nmif_loop_t **out);
NMIF_EXTERN void nmif_loop_destroy(nmif_loop_t *loop);
NMIF_EXTERN int nmif_loop_fd_update(int fd, nmif_fd_op_t op, uint32_t events, void *token,
                                    void *loop_ctx);
/* Waits up to timeout_ms (-1 = forever, 0 = don't block) and dispatches ready fds.
 * Returns the number of events handled, or a negative errno. */
NMIF_EXTERN int nmif_loop_run(nmif_loop_t *loop, int timeout_ms);
/* Wakes a blocked nmif_loop_run from any thread. */
NMIF_EXTERN int nmif_loop_wake(nmif_loop_t *loop);

/* ---- sockets ----------------------------------------------------------------------------- */

typedef struct nmif_socket_s nmif_socket_t;
typedef struct nmif_if_s nmif_if_t;

typedef struct nmif_socket_args {
  /* Filesystem path, or "@name" for a Linux abstract socket (address length 3 + strlen). */
  const char *path;
  const char *app_name;              /* sent in HELLO/INIT; default "nmemif" */
  nmif_fd_update_fn fd_update;       /* required */
  void *fd_update_ctx;
  uint32_t reconnect_min_ms;         /* slave reconnect backoff, default 100 */
  uint32_t reconnect_max_ms;         /* default 2000 */
  uint32_t handshake_timeout_ms;     /* a connection must reach CONNECTED in time; default 3000 */
  /* Accept regions whose fd cannot be sealed against shrinking (e.g. some hugepage files).
   * Off by default: a peer that truncates such a file can crash us with SIGBUS. */
  int allow_unsealed_regions;
  /* fd_update honours NMIF_EV_EDGE (nmif_loop_fd_update does): the rx eventfds are watched
   * edge-triggered and an interrupt costs the wait alone, not also a read emptying the
   * counter. Leave 0 for level-triggered loops (libuv): the library must empty it there. */
  int irq_edge_triggered;
} nmif_socket_args_t;

NMIF_EXTERN int nmif_socket_create(nmif_socket_t **out, const nmif_socket_args_t *args);
/* Destroys every interface on the socket (DISCONNECT "socket closed"), closes the listener and
 * removes the socket file if this socket created it. -EBUSY if called from a callback. */
NMIF_EXTERN int nmif_socket_destroy(nmif_socket_t *sock);
NMIF_EXTERN const char *nmif_socket_path(const nmif_socket_t *sock);
/* The listener fd, or -1 while the socket has no master interface. */
NMIF_EXTERN int nmif_socket_listener_fd(const nmif_socket_t *sock);

/* ---- interfaces -------------------------------------------------------------------------- */

typedef void (*nmif_conn_cb)(nmif_if_t *iface, void *user);
/* reason: the peer's DISCONNECT string, or our own description of why the link went down. */
/* Called whenever a control connection bound to the interface ends: after the link was up,
 * and also when a handshake fails (the peer refused us, e.g. "incorrect secret"), in which
 * case nmif_if_is_connected() was never true. nmif_if_details() tells the cause. */
typedef void (*nmif_disc_cb)(nmif_if_t *iface, const char *reason, void *user);
/* An rx queue's interrupt fired (only queues in interrupt mode, only when on_rx is set). */
typedef void (*nmif_rx_cb)(nmif_if_t *iface, uint16_t qid, void *user);
/* A slave could not reach its socket: connect() failed with `err` (a negative errno such as
 * -ENOENT, no listener's file; -ECONNREFUSED, a stale file; -EACCES). It retries after the
 * backoff; called from the loop for every failed retry (the attempt inside nmif_if_create()
 * is retried at the loop's next turn and reported then). */
typedef void (*nmif_connect_err_cb)(nmif_if_t *iface, int err, void *user);

typedef struct nmif_if_args {
  uint32_t id;
  int is_master;
  uint8_t mode;                       /* enum nmif_mode */
  const char *if_name;                /* sent in CONNECT/CONNECTED; default "nmemif<id>" */
  const char *secret;                 /* NULL or "" = none; at most 23 characters */
  uint16_t rx_queues;                 /* 1..255, default 1. Master: the most it accepts. */
  uint16_t tx_queues;                 /* 1..255, default 1 */
  uint8_t log2_ring_size;             /* 0 = default 10; at most 14 */
  uint32_t buffer_size;               /* 0 = default 2048; at most 65535 */
  nmif_conn_cb on_connect;
  nmif_disc_cb on_disconnect;
  /* NULL: the library never watches the rx eventfds; the application may wait on
   * nmif_rx_queue_fd() itself. (A queue lent to another thread: see queue leases.) */
  nmif_rx_cb on_rx;
  void *user;
  nmif_connect_err_cb on_connect_error; /* optional */
} nmif_if_args_t;

/* Creates an interface. A master makes the socket listen (replacing a stale socket file);
 * a slave connects at once and, when that fails, retries from the loop's next turn with
 * backoff until destroyed (each failed retry reported through on_connect_error). */
NMIF_EXTERN int nmif_if_create(nmif_socket_t *sock, nmif_if_t **out, const nmif_if_args_t *args);
/* Sends DISCONNECT "interface deleted" if connected, releases everything. Safe from callbacks. */
NMIF_EXTERN int nmif_if_destroy(nmif_if_t *iface);
/* Tears the link down with a DISCONNECT carrying `reason`; a slave then reconnects. */
NMIF_EXTERN int nmif_if_disconnect(nmif_if_t *iface, const char *reason);
/* 1 while the link is up and no data-path call has found the peer breaking the protocol. */
NMIF_EXTERN int nmif_if_is_connected(const nmif_if_t *iface);

/*
 * Violations found by data-path calls. A burst that finds the peer breaking the protocol (a
 * counter out of range, a descriptor outside its region, a chain that never ends...) returns
 * -EPROTO, counts drop_bad_desc and reports it: every later data-path call on the interface
 * returns -EPROTO, nmif_if_is_connected() says 0, and the socket's thread tears the link down
 * (DISCONNECT with the reason, on_disconnect with cause NMIF_DOWN_VIOLATION) when its loop next
 * runs, or at once through nmif_if_handle_violation(). After that the calls return -ENOTCONN.
 */
/* The reason of a reported violation not yet followed by a link-up, or NULL. From the socket's
 * thread, or from a data-path thread while it may use the queue (a lessee inside its gate). */
NMIF_EXTERN const char *nmif_if_violation(const nmif_if_t *iface);
/* Socket's thread: tears the link down now if a violation was reported. Returns 1 if it did,
 * 0 if there was none. For callers that want the link down before their next step, e.g. a
 * binding about to tell its application that the burst failed. */
NMIF_EXTERN int nmif_if_handle_violation(nmif_if_t *iface);
NMIF_EXTERN void *nmif_if_user(const nmif_if_t *iface);

typedef enum nmif_rx_mode {
  NMIF_RX_INTERRUPT = 0,  /* peer signals the rx eventfd after each burst */
  NMIF_RX_POLLING = 1,    /* MASK_INT set: the peer never signals */
} nmif_rx_mode_t;

/* Works before and after connect; the mode is kept across reconnects. After switching to
 * interrupt mode, poll the queue once: packets may have arrived while masked. */
NMIF_EXTERN int nmif_set_rx_mode(nmif_if_t *iface, uint16_t qid, nmif_rx_mode_t mode);
/* The rx queue's eventfd while connected (owned by the library), else -ENOTCONN. */
NMIF_EXTERN int nmif_rx_queue_fd(const nmif_if_t *iface, uint16_t qid);
/* Reads (clears) the rx eventfd; for applications that wait on it themselves. */
NMIF_EXTERN int nmif_rx_queue_ack(nmif_if_t *iface, uint16_t qid);
/* For a data-path thread that polls and sleeps on the rx eventfd when idle (a polling lessee):
 * arm = 1 asks the peer to signal after its bursts (clears MASK_INT) and returns how many
 * buffers are already waiting (sleep only on 0); arm = 0 masks again (polling). From the
 * queue's data-path thread only; a reconnect restores the mode of nmif_set_rx_mode. */
NMIF_EXTERN int nmif_rx_arm(nmif_if_t *iface, uint16_t qid, int arm);
/* Buffers the peer has published on rx queue qid that nmif_rx_burst has not taken yet: a look
 * that takes, releases and signals nothing (a level check for a receiver that took only part
 * of what was there), or a negative errno. From the queue's data-path thread. */
NMIF_EXTERN int nmif_rx_pending(nmif_if_t *iface, uint16_t qid);
/* Free slots on tx queue qid now (what nmif_tx_alloc could reserve), or a negative errno.
 * memif has no interrupt telling a sender that the peer made room: a sender that found the
 * ring full looks with this. From the queue's data-path thread. */
NMIF_EXTERN int nmif_tx_room(nmif_if_t *iface, uint16_t qid);

/* Why the link last went down (nmif_details.last_down_cause; set before on_disconnect runs). */
enum nmif_down_cause {
  NMIF_DOWN_NONE = 0,       /* has not gone down */
  NMIF_DOWN_PEER = 1,       /* the peer sent DISCONNECT, or its connection closed or failed */
  NMIF_DOWN_LOCAL = 2,      /* this side: disconnect/destroy/socket closed, or a local failure */
  NMIF_DOWN_VIOLATION = 3,  /* the peer broke the protocol; it got a DISCONNECT with the reason */
  NMIF_DOWN_TIMEOUT = 4,    /* the handshake did not finish in time */
};

typedef struct nmif_details {
  uint32_t id;
  int is_master;
  int connected;
  uint8_t mode;
  uint8_t log2_ring_size;
  uint16_t rx_queues;          /* connected counts (configured counts while down) */
  uint16_t tx_queues;
  uint32_t buffer_size;        /* slave: own; master: 0 (never sent on the wire) */
  uint16_t regions;
  uint64_t region_size[4];     /* first four regions */
  char if_name[NMIF_NAME_MAX];
  char peer_if_name[NMIF_NAME_MAX];
  char peer_app_name[NMIF_NAME_MAX];
  char socket_path[NMIF_PATH_MAX + 1];
  char last_disconnect_reason[NMIF_REASON_MAX];
  uint8_t last_down_cause;     /* enum nmif_down_cause */
} nmif_details_t;

NMIF_EXTERN int nmif_if_details(const nmif_if_t *iface, nmif_details_t *out);

typedef struct nmif_ring_details {
  uint16_t head;
  uint16_t tail;
  uint16_t flags;              /* MASK_INT = 1 */
  uint16_t size;               /* slots */
  uint16_t region;
  uint32_t offset;             /* of the ring header in its region */
  int irq_fd;
} nmif_ring_details_t;

/* is_tx: 0 for the rx ring of queue qid, 1 for the tx ring. */
NMIF_EXTERN int nmif_ring_details(const nmif_if_t *iface, int is_tx, uint16_t qid,
                                  nmif_ring_details_t *out);

/* Per-queue counters; each is written only by the queue's data-path thread. */
typedef struct nmif_stats {
  uint64_t packets;
  uint64_t bytes;
  uint64_t ring_full;          /* tx: calls that found no room for the next packet (the
                                  caller decides whether that is a drop or a retry) */
  uint64_t drop_bad_desc;      /* rx/tx: descriptors the peer corrupted */
  uint64_t drop_too_big;       /* tx: packet larger than the chain limit */
  uint64_t bursts;
  uint64_t irq_sent;
  uint64_t irq_received;
} nmif_stats_t;

/* A pointer valid for the interface's lifetime (zeroed on create, kept across reconnects). */
NMIF_EXTERN const nmif_stats_t *nmif_stats(const nmif_if_t *iface, int is_tx, uint16_t qid);

/* ---- data path --------------------------------------------------------------------------- */

#define NMIF_BUF_NEXT 1u      /* more of this packet follows in the next buffer */

/* One buffer. Layout is part of the ABI (24 bytes): bindings read it as 6 u32 words. */
typedef struct nmif_buf {
  void *data;                 /* start of the data in shared memory */
  uint32_t len;               /* rx: bytes received; tx: capacity from alloc, bytes to send */
  uint32_t offset;            /* of data inside its region */
  uint16_t region;
  uint16_t flags;             /* NMIF_BUF_NEXT */
  uint16_t slot;              /* free-running ring position */
  uint16_t qid;
} nmif_buf_t;

/* Receives up to max buffers, whole packets only (a chain is returned entirely or not at
 * all). The buffers stay owned by the caller until released by nmif_rx_release. Returns the
 * number of buffers, -ENOTCONN, -ENOBUFS if the next packet is a whole chain longer than max
 * (nothing is taken: call again with more room; a chain is never longer than the ring, so
 * max = nmif_ring_details().size always fits), or -EPROTO if the peer broke the protocol: a
 * corrupted ring, or a chain that does not end within what the peer published, which would
 * otherwise block the ring for good (the link goes down; counted in drop_bad_desc).
 * Zero-length buffers and unknown descriptor flag bits are passed on (ignored), not errors. */
NMIF_EXTERN int nmif_rx_burst(nmif_if_t *iface, uint16_t qid, nmif_buf_t *bufs, uint16_t max);
/* From the queue's data-path thread: refuses what the peer sent on rx queue qid as a violation,
 * for a receiver that cannot take a legal packet and must not leave it blocking the ring (a
 * chain longer than it ever takes): the link goes down with a DISCONNECT carrying `reason`
 * (plus " on rx queue <qid>"), as for violations the library finds itself. */
NMIF_EXTERN int nmif_rx_refuse(nmif_if_t *iface, uint16_t qid, const char *reason);
/* Hands the oldest `count` received buffers back to the peer (slave: refills the ring).
 * Returns how many were released. */
NMIF_EXTERN int nmif_rx_release(nmif_if_t *iface, uint16_t qid, uint16_t count);

/* Reserves up to max tx buffers; each comes back with data and len = its capacity. Fill them,
 * set len and NMIF_BUF_NEXT, then nmif_tx_burst. Reservations not sent by the next tx_burst
 * are dropped. Returns the number reserved (0 when the ring is full). */
NMIF_EXTERN int nmif_tx_alloc(nmif_if_t *iface, uint16_t qid, nmif_buf_t *bufs, uint16_t max);
/* Publishes `count` buffers, which must be the first ones of the last alloc/swap in order.
 * A trailing chain (last buffer with NEXT) is not sent. Signals the peer once if it asked for
 * interrupts. Returns the number of buffers sent. */
NMIF_EXTERN int nmif_tx_burst(nmif_if_t *iface, uint16_t qid, nmif_buf_t *bufs, uint16_t count);
/* Copies packets into the ring (chaining across buffers as needed) and publishes them; like
 * nmif_tx_burst, it drops reservations of an earlier nmif_tx_alloc that were not sent.
 * Returns the number of packets consumed: sent, or dropped because they can never fit (empty,
 * or more than 256 buffers; counted in drop_too_big). Stops at the first that does not fit
 * now (ring full; counted in ring_full). A packet not taken is the caller's to retry or drop. */
NMIF_EXTERN int nmif_tx_copy(nmif_if_t *iface, uint16_t qid, const void *const *pkts,
                             const uint32_t *lens, uint16_t count);
/* Slave only, zero-copy forward: moves received buffers (from nmif_rx_burst on rx_qid, not
 * yet released) into tx slots of tx_qid by swapping descriptors, no bytes copied. `bufs` is
 * rewritten to describe the tx slots; send them with nmif_tx_burst(tx_qid), and release the
 * rx buffers with nmif_rx_release(rx_qid) as usual (they now hold spare empty buffers).
 * Returns the number of buffers moved; whole packets only. -ENOTSUP on a master. */
NMIF_EXTERN int nmif_tx_swap(nmif_if_t *iface, uint16_t rx_qid, uint16_t tx_qid, nmif_buf_t *bufs,
                             uint16_t count);

/* Region mapping, e.g. for bindings exposing it as one buffer. NULL/0 when absent. */
NMIF_EXTERN void *nmif_region_base(const nmif_if_t *iface, uint16_t region, uint64_t *size);
/* The region's memory fd (owned by the library; dup it to keep it), or -ENOTCONN/-ERANGE.
 * Another thread can map it to get its own view of the same memory. */
NMIF_EXTERN int nmif_region_fd(const nmif_if_t *iface, uint16_t region);

/* ---- queue leases ------------------------------------------------------------------------- */

/*
 * A lease lends queue pair qid (rx queue qid and tx queue qid) of an interface to another thread,
 * the lessee: a forwarding worker, a binding's worker thread. While the lease lasts:
 *  - the lessee alone calls the data-path functions on the pair, each burst (or run of bursts
 *    that holds received buffers) between nmif_lease_enter() and nmif_lease_leave(), with
 *    nmif_lease_iface() and nmif_lease_qid() as arguments;
 *  - the library never watches the rx eventfd (on_rx does not fire for qid) and gives the rx
 *    ring the mode the lease asked for on every link-up: INTERRUPT for a lessee that sleeps on
 *    its own dup of the eventfd, POLLING for one that polls and arms with nmif_rx_arm() before
 *    it sleeps. nmif_set_rx_mode() is kept for when the lease ends;
 *  - the library's own teardown closes the lease's gate before it unmaps anything, waiting for
 *    a lessee inside to leave (bursts never block, so the wait is short); the next link-up
 *    reopens it with a new generation, after which the lessee maps the (new) regions itself;
 *  - every link change (up, down, end) makes nmif_lease_event_fd() readable, so a sleeping
 *    lessee wakes at once instead of polling the state.
 * A lease is reference counted and may outlive its interface: once the interface is destroyed
 * (or the owner ends the lease) it is closed for good.
 */
typedef struct nmif_lease_s nmif_lease_t;

typedef struct nmif_lease_args {
  uint16_t qid;                 /* below both the configured rx and tx queue counts */
  nmif_rx_mode_t rx_mode;       /* how the lessee receives (see above) */
} nmif_lease_args_t;

/* Socket's thread. Leases queue pair args->qid; *out holds one reference for the caller (the
 * interface keeps its own until the lease ends). -EBUSY if the pair is leased already. If the
 * link is up the gate opens at once. */
NMIF_EXTERN int nmif_lease_create(nmif_if_t *iface, const nmif_lease_args_t *args,
                                  nmif_lease_t **out);
/* Socket's thread: ends the lease (closed for good, waiting for a lessee inside) and gives the
 * queue back to the library (its rx mode and watch apply again). Does not drop the caller's
 * reference. 0 also when it had ended already (the interface went away). */
NMIF_EXTERN int nmif_lease_end(nmif_lease_t *lease);
/* Any thread. The last unref frees the lease and closes its eventfd. */
NMIF_EXTERN void nmif_lease_ref(nmif_lease_t *lease);
NMIF_EXTERN void nmif_lease_unref(nmif_lease_t *lease);

/* Lessee. Enters the gate: returns the generation (>= 1) of the connection it is open for, or
 * -ENOTCONN while the link is down or the lease ended. A new generation means a new
 * connection: remap the regions. Cheap (two atomic operations); never blocks. Inside, wait for
 * nothing (least of all the socket's thread, whose teardown waits for the lessee to leave). */
NMIF_EXTERN int nmif_lease_enter(nmif_lease_t *lease);
NMIF_EXTERN void nmif_lease_leave(nmif_lease_t *lease);
/* The interface and queue pair to pass to the data-path calls, inside the gate. */
NMIF_EXTERN nmif_if_t *nmif_lease_iface(const nmif_lease_t *lease);
NMIF_EXTERN uint16_t nmif_lease_qid(const nmif_lease_t *lease);
/* Inside the gate: region `region`'s memory fd and size (-ERANGE past the last region), and
 * the rx eventfd. Both are the library's: dup them to keep them beyond leave. */
NMIF_EXTERN int nmif_lease_region(nmif_lease_t *lease, uint16_t region, uint64_t *size);
NMIF_EXTERN int nmif_lease_rx_fd(nmif_lease_t *lease);

/* The lease's eventfd (owned by the lease, valid while referenced): readable after every link
 * change. nmif_lease_ack() clears it (1 if it was set); then read nmif_lease_state(). */
NMIF_EXTERN int nmif_lease_event_fd(const nmif_lease_t *lease);
NMIF_EXTERN int nmif_lease_ack(nmif_lease_t *lease);

typedef struct nmif_lease_state {
  uint32_t generation;          /* of the open gate; 0 while closed */
  int up;                       /* the gate is open */
  int ended;                    /* closed for good */
  char reason[NMIF_REASON_MAX]; /* while closed: why the link went down (or the lease ended) */
} nmif_lease_state_t;

/* Any thread. */
NMIF_EXTERN int nmif_lease_state(nmif_lease_t *lease, nmif_lease_state_t *out);

/* ---- logging ----------------------------------------------------------------------------- */

enum nmif_log_level {
  NMIF_LOG_ERROR = 0, NMIF_LOG_WARN = 1, NMIF_LOG_INFO = 2, NMIF_LOG_DEBUG = 3
};
typedef void (*nmif_log_fn)(int level, const char *msg, void *ctx);
/* Default: warnings and errors to stderr; level from env NMIF_LOG=error|warn|info|debug.
 * fn NULL restores stderr. Process-wide. */
NMIF_EXTERN void nmif_set_log(nmif_log_fn fn, void *ctx);
NMIF_EXTERN void nmif_set_log_level(int level);

NMIF_EXTERN const char *nmif_version_string(void);

#ifdef __cplusplus
}
#endif
#endif /* NMEMIF_H */
