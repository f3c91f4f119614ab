/* Interfaces: configuration, lifetime, queue arrays, rx modes, details and counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "ring.h"

static int validate_args(struct nmif_socket_s *s, const nmif_if_args_t *a) {
  if (a->mode > NMIF_MODE_PUNT_INJECT)
    return NMIF_EINVAL;
  if (a->rx_queues > NMIF_MAX_QUEUES || a->tx_queues > NMIF_MAX_QUEUES)
    return NMIF_ERANGE;
  if (a->log2_ring_size > NMIF_MAX_LOG2_RING_SIZE)
    return NMIF_ERANGE;
  if (a->buffer_size > 65535)
    return NMIF_ERANGE;
  if (a->secret && strlen(a->secret) >= NMIF_SECRET_MAX)
    return NMIF_EINVAL;
  if (a->if_name && strlen(a->if_name) >= NMIF_NAME_MAX)
    return NMIF_EINVAL;
  for (struct nmif_if_s *i = s->ifaces; i; i = i->next)
    if (i->id == a->id && i->is_master == !!a->is_master)
      return NMIF_EEXIST;
  return 0;
}

int nmif_if_create(nmif_socket_t *s, nmif_if_t **out, const nmif_if_args_t *a) {
  if (!s || !out || !a)
    return NMIF_EINVAL;
  int r = validate_args(s, a);
  if (r < 0)
    return r;
  struct nmif_if_s *i = calloc(1, sizeof(*i));
  if (!i)
    return NMIF_ENOMEM;
  i->sock = s;
  i->id = a->id;
  i->is_master = !!a->is_master;
  i->mode = a->mode;
  i->cfg_log2 = a->log2_ring_size ? a->log2_ring_size : 10;
  i->cfg_rx = a->rx_queues ? a->rx_queues : 1;
  i->cfg_tx = a->tx_queues ? a->tx_queues : 1;
  i->buffer_size = a->buffer_size ? a->buffer_size : 2048;
  if (a->if_name)
    snprintf(i->if_name, sizeof(i->if_name), "%s", a->if_name);
  else
    snprintf(i->if_name, sizeof(i->if_name), "nmemif%u", (unsigned)a->id);
  if (a->secret)
    snprintf(i->secret, sizeof(i->secret), "%s", a->secret);
  i->on_connect = a->on_connect;
  i->on_disconnect = a->on_disconnect;
  i->on_rx = a->on_rx;
  i->on_connect_error = a->on_connect_error;
  i->user = a->user;
  atomic_init(&i->violation, 0);
  i->wake_fd = s->wake_fd;

  /* The slave lays out the region now so an impossible size is an argument error. */
  if (!i->is_master) {
    nmif__layout_t l;
    if (nmif__layout_compute(&l, i->cfg_tx, i->cfg_rx, i->cfg_log2, i->buffer_size) < 0) {
      free(i);
      return NMIF_ERANGE;
    }
  }
  i->rx_mode = calloc(i->cfg_rx, sizeof(*i->rx_mode));
  i->rx_stats = calloc(i->cfg_rx, sizeof(*i->rx_stats));
  i->leases = calloc(i->cfg_rx, sizeof(*i->leases));
  i->tx_stats = calloc(i->cfg_tx, sizeof(*i->tx_stats));
  if (!i->rx_mode || !i->rx_stats || !i->tx_stats || !i->leases) {
    nmif__if_free(i);
    return NMIF_ENOMEM;
  }
  if (i->is_master && (r = nmif__listen(s)) < 0) {
    nmif__if_free(i);
    return r;
  }
  i->next = s->ifaces;
  s->ifaces = i;
  if (!i->is_master) {
    /* The first attempt at once, so a listening master has the connection when this returns.
     * A failure is retried from the timer at the loop's next turn, which reports why
     * (on_connect_error: the caller has its interface by then). */
    i->backoff_ms = s->reconnect_min_ms;
    if (nmif__conn_connect(i) < 0) {
      i->retry_at_ms = nmif__now_ms();
      nmif__timer_rearm(s);
    }
  }
  *out = i;
  return 0;
}

void nmif__if_end_leases(struct nmif_if_s *i) {
  for (uint16_t k = 0; i->leases && k < i->cfg_rx; k++)
    if (i->leases[k])
      nmif__lease_detach(i->leases[k], "interface deleted");
}

void nmif__if_free(struct nmif_if_s *i) {
  nmif__if_end_leases(i);
  nmif__if_release_queues(i);
  free(i->leases);
  free(i->rx_mode);
  free(i->rx_stats);
  free(i->tx_stats);
  free(i);
}

int nmif_if_destroy(nmif_if_t *i) {
  if (!i || i->destroyed)
    return NMIF_EINVAL;
  struct nmif_socket_s *s = i->sock;
  i->on_connect = NULL;
  i->on_rx = NULL;
  i->on_connect_error = NULL;
  if (!i->in_teardown && (i->connected || i->conn))
    nmif__if_teardown(i, NMIF_DOWN_LOCAL, "interface deleted");
  nmif__if_end_leases(i);
  i->destroyed = 1;
  i->retry_at_ms = 0;
  for (struct nmif_if_s **pp = &s->ifaces; *pp; pp = &(*pp)->next) {
    if (*pp == i) {
      *pp = i->next;
      break;
    }
  }
  nmif__timer_rearm(s);
  if (s->dispatch_depth > 0 || i->in_teardown) {
    i->next_dead = s->graveyard; /* still referenced up the stack: free after dispatch */
    s->graveyard = i;
  } else {
    nmif__if_free(i);
  }
  return 0;
}

int nmif_if_disconnect(nmif_if_t *i, const char *reason) {
  if (!i || i->destroyed)
    return NMIF_EINVAL;
  if (!i->connected && !i->conn)
    return NMIF_ENOTCONN;
  nmif__if_teardown(i, NMIF_DOWN_LOCAL, reason ? reason : "disconnected by application");
  return 0;
}

int nmif_if_is_connected(const nmif_if_t *i) {
  return i && i->connected && atomic_load_explicit(&i->violation, memory_order_acquire) == 0;
}
void *nmif_if_user(const nmif_if_t *i) { return i ? i->user : NULL; }

/* ---- queue arrays ------------------------------------------------------------------------- */

static int alloc_dir(struct nmif_if_s *i, nmif__queue_t **arr, uint16_t n, int is_s2m) {
  *arr = calloc(n ? n : 1, sizeof(nmif__queue_t));
  if (!*arr)
    return NMIF_ENOMEM;
  /* Our rx direction: master receives on S2M, slave on M2S. */
  int is_rx = i->is_master ? is_s2m : !is_s2m;
  for (uint16_t k = 0; k < n; k++) {
    nmif__queue_t *q = &(*arr)[k];
    q->iface = i;
    q->qid = k;
    q->is_tx = (uint8_t)!is_rx;
    q->irq_fd = -1;
    q->stats = is_rx ? &i->rx_stats[k] : &i->tx_stats[k];
  }
  return 0;
}

int nmif__if_alloc_queues(struct nmif_if_s *i, uint16_t num_s2m, uint16_t num_m2s) {
  nmif__if_release_queues(i);
  i->regions = calloc(NMIF_MAX_REGIONS, sizeof(*i->regions));
  if (!i->regions)
    return NMIF_ENOMEM;
  for (int k = 0; k < NMIF_MAX_REGIONS; k++)
    i->regions[k].fd = -1;
  if (alloc_dir(i, &i->s2m, num_s2m, 1) < 0 || alloc_dir(i, &i->m2s, num_m2s, 0) < 0)
    return NMIF_ENOMEM;
  i->num_s2m = num_s2m;
  i->num_m2s = num_m2s;
  return 0;
}

static void release_dir(struct nmif_if_s *i, nmif__queue_t *arr, uint16_t n) {
  if (!arr)
    return;
  for (uint16_t k = 0; k < n; k++) {
    nmif__queue_t *q = &arr[k];
    nmif__unwatch(i->sock, &q->irq_ent);
    if (q->irq_fd >= 0)
      close(q->irq_fd);
    free(q->slots);
  }
  free(arr);
}

void nmif__if_release_queues(struct nmif_if_s *i) {
  release_dir(i, i->s2m, i->num_s2m);
  release_dir(i, i->m2s, i->num_m2s);
  i->s2m = i->m2s = NULL;
  i->num_s2m = i->num_m2s = 0;
  if (i->regions) {
    for (int k = 0; k < NMIF_MAX_REGIONS; k++)
      nmif__region_release(&i->regions[k]);
    free(i->regions);
    i->regions = NULL;
  }
  i->num_regions = 0;
}

/* ---- rx modes ------------------------------------------------------------------------------ */

/* The one place that decides who is told about a queue's packets: a leased queue receives as
 * its lessee asked and the library never watches its eventfd (the lessee does, or polls);
 * otherwise the application's mode, and the watch when it wants on_rx. */
void nmif__if_apply_rx_mode(struct nmif_if_s *i, uint16_t qid) {
  if (qid >= nmif__num_rx(i))
    return;
  nmif__queue_t *q = nmif__rxq(i, qid);
  const nmif_lease_t *lease = i->leases[qid];
  int mode = lease ? nmif__lease_rx_mode(lease) : i->rx_mode[qid];
  int polling = mode == NMIF_RX_POLLING;
  /* We are this ring's receiver, so its flags word is ours to write. */
  nmif__write_once16(&q->ring->flags, polling ? NMIF_RING_MASK_INT : 0);
  int want_watch = !lease && !polling && i->on_rx;
  if (want_watch && !q->irq_ent) {
    /* Edge-triggered watches never empty the counter: start from an empty one, or adding the
     * watch would report the signals of before at once, every time (a mode switched back and
     * forth would poll for ever). Whatever came meanwhile the caller looks for after this. */
    if (i->sock->irq_edge)
      nmif__irq_read(q->irq_fd);
    nmif__watch(i->sock, q->irq_fd, NMIF_FDK_IRQ, i, qid, &q->irq_ent);
  }
  else if (!want_watch && q->irq_ent)
    nmif__unwatch(i->sock, &q->irq_ent);
}

void nmif__if_apply_rx_modes(struct nmif_if_s *i) {
  for (uint16_t k = 0; k < nmif__num_rx(i); k++)
    nmif__if_apply_rx_mode(i, k);
}

int nmif_set_rx_mode(nmif_if_t *i, uint16_t qid, nmif_rx_mode_t mode) {
  if (!i || (mode != NMIF_RX_INTERRUPT && mode != NMIF_RX_POLLING))
    return NMIF_EINVAL;
  if (qid >= i->cfg_rx)
    return NMIF_ERANGE;
  i->rx_mode[qid] = (uint8_t)mode;
  if (i->connected && qid < nmif__num_rx(i))
    nmif__if_apply_rx_mode(i, qid);
  return 0;
}

int nmif_rx_queue_fd(const nmif_if_t *i, uint16_t qid) {
  if (!i || !i->connected)
    return NMIF_ENOTCONN;
  if (qid >= nmif__num_rx(i))
    return NMIF_ERANGE;
  return nmif__rxq((struct nmif_if_s *)i, qid)->irq_fd;
}

int nmif_rx_queue_ack(nmif_if_t *i, uint16_t qid) {
  int fd = nmif_rx_queue_fd(i, qid);
  if (fd < 0)
    return fd;
  int r = nmif__irq_read(fd);
  if (r == 1)
    nmif__rxq(i, qid)->stats->irq_received++;
  return r;
}

/* ---- reconnect and violations ------------------------------------------------------------- */

void nmif__if_schedule_retry(struct nmif_if_s *i, int reset_backoff) {
  struct nmif_socket_s *s = i->sock;
  if (i->is_master || i->destroyed)
    return;
  if (reset_backoff)
    i->backoff_ms = s->reconnect_min_ms;
  i->retry_at_ms = nmif__now_ms() + i->backoff_ms;
  i->backoff_ms = i->backoff_ms * 2 > s->reconnect_max_ms ? s->reconnect_max_ms : i->backoff_ms * 2;
  nmif__timer_rearm(s);
}

/* ---- details and counters --------------------------------------------------------------------- */

int nmif_if_details(const nmif_if_t *i, nmif_details_t *d) {
  if (!i || !d)
    return NMIF_EINVAL;
  memset(d, 0, sizeof(*d));
  d->id = i->id;
  d->is_master = i->is_master;
  d->connected = i->connected;
  d->mode = i->mode;
  d->log2_ring_size = i->connected ? i->run_log2 : i->cfg_log2;
  d->rx_queues = i->connected ? nmif__num_rx(i) : i->cfg_rx;
  d->tx_queues = i->connected ? nmif__num_tx(i) : i->cfg_tx;
  d->buffer_size = i->is_master ? 0 : i->buffer_size;
  d->regions = i->connected ? i->num_regions : 0;
  for (int k = 0; k < 4 && k < d->regions; k++)
    d->region_size[k] = i->regions[k].size;
  memcpy(d->if_name, i->if_name, sizeof(d->if_name));
  memcpy(d->peer_if_name, i->peer_if_name, sizeof(d->peer_if_name));
  memcpy(d->peer_app_name, i->peer_app_name, sizeof(d->peer_app_name));
  snprintf(d->socket_path, sizeof(d->socket_path), "%s", i->sock->path);
  memcpy(d->last_disconnect_reason, i->last_reason, sizeof(d->last_disconnect_reason));
  d->last_down_cause = i->last_cause;
  return 0;
}

int nmif_ring_details(const nmif_if_t *i, int is_tx, uint16_t qid, nmif_ring_details_t *out) {
  if (!i || !out)
    return NMIF_EINVAL;
  if (!i->connected)
    return NMIF_ENOTCONN;
  if (qid >= (is_tx ? nmif__num_tx(i) : nmif__num_rx(i)))
    return NMIF_ERANGE;
  struct nmif_if_s *m = (struct nmif_if_s *)i;
  nmif__queue_t *q = is_tx ? nmif__txq(m, qid) : nmif__rxq(m, qid);
  out->head = nmif__load_acquire(&q->ring->head);
  out->tail = nmif__load_acquire(&q->ring->tail);
  out->flags = nmif__read_once16(&q->ring->flags);
  out->size = q->size;
  out->region = q->region;
  out->offset = q->ring_offset;
  out->irq_fd = q->irq_fd;
  return 0;
}

const nmif_stats_t *nmif_stats(const nmif_if_t *i, int is_tx, uint16_t qid) {
  if (!i || qid >= (is_tx ? i->cfg_tx : i->cfg_rx))
    return NULL;
  return is_tx ? &i->tx_stats[qid] : &i->rx_stats[qid];
}

int nmif_region_fd(const nmif_if_t *i, uint16_t region) {
  if (!i || !i->connected)
    return NMIF_ENOTCONN;
  if (region >= i->num_regions)
    return NMIF_ERANGE;
  return i->regions[region].fd;
}

void *nmif_region_base(const nmif_if_t *i, uint16_t region, uint64_t *size) {
  if (!i || !i->connected || region >= i->num_regions) {
    if (size)
      *size = 0;
    return NULL;
  }
  if (size)
    *size = i->regions[region].size;
  return i->regions[region].base;
}
