/* Link state over time: going up, tearing down (the one way a link goes down), the timer that
 * drives handshake deadlines and slave reconnects, and violations data-path threads report. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "msg.h"

void nmif__link_up(struct nmif_if_s *i) {
  struct nmif_socket_s *s = i->sock;
  /* A violation reported on the previous connection is settled: it went down for it. */
  atomic_store(&i->violation, 0);
  i->connected = 1;
  i->generation = i->generation >= INT32_MAX - 1 ? 1 : i->generation + 1;
  i->conn->state = NMIF_CS_CONNECTED;
  i->backoff_ms = s->reconnect_min_ms;
  nmif__if_apply_rx_modes(i);
  for (uint16_t k = 0; k < i->cfg_rx; k++) /* last: everything a lessee reads is in place */
    if (i->leases[k])
      nmif__lease_open(i->leases[k]);
  nmif__timer_rearm(s);
  NMIF_INFO("interface %u (%s): link up, %u rx / %u tx queues, %u slots", (unsigned)i->id,
            i->is_master ? "master" : "slave", nmif__num_rx(i), nmif__num_tx(i),
            1u << i->run_log2);
}

/* ---- teardown ------------------------------------------------------------------------------ */

void nmif__if_teardown(struct nmif_if_s *i, int cause, const char *reason) {
  struct nmif_socket_s *s = i->sock;
  if (i->in_teardown)
    return;
  i->in_teardown = 1;
  s->dispatch_depth++;
  /* First: no lessee may be inside while anything below changes or is unmapped. */
  for (uint16_t k = 0; k < i->cfg_rx; k++)
    if (i->leases[k])
      nmif__lease_close(i->leases[k], reason);
  nmif__conn_t *c = i->conn;
  int was_connected = i->connected;
  snprintf(i->last_reason, sizeof(i->last_reason), "%s", reason);
  i->last_cause = (uint8_t)cause;
  if (c) {
    if (cause != NMIF_DOWN_PEER) { /* the peer ended it: nobody to tell */
      nmif_msg_t m;
      nmif__msg_disconnect(&m, 0, reason);
      nmif__conn_send(c, &m, -1);
    }
    i->conn = NULL;
    nmif__conn_close(c);
  }
  i->connected = 0;
  NMIF_INFO("interface %u (%s): link down: %s", (unsigned)i->id, i->is_master ? "master" : "slave",
            reason);
  /* Before unmapping: the application stops its data-path threads here. */
  if (i->on_disconnect)
    i->on_disconnect(i, reason, i->user);
  nmif__if_release_queues(i);
  i->in_teardown = 0;
  if (!i->is_master && !i->destroyed)
    nmif__if_schedule_retry(i, was_connected);
  nmif__timer_rearm(s);
  if (--s->dispatch_depth == 0) {
    while (s->graveyard) {
      struct nmif_if_s *g = s->graveyard;
      s->graveyard = g->next_dead;
      nmif__if_free(g);
    }
  }
}


/* A slave's connect() failed: tell the application why, then retry after the backoff. */
void nmif__if_connect_failed(struct nmif_if_s *i, int err) {
  NMIF_DBG("interface %u: connect to %s: %s", (unsigned)i->id, i->sock->path, nmif_strerror(err));
  nmif__if_schedule_retry(i, 0);
  if (i->on_connect_error)
    i->on_connect_error(i, err, i->user);
}

/* ---- timers ---------------------------------------------------------------------------------- */

void nmif__timers_expire(struct nmif_socket_s *s) {
  uint64_t now = nmif__now_ms();
  for (nmif__conn_t *c = s->pending, *next; c; c = next) {
    next = c->next;
    if (c->deadline_ms <= now)
      nmif__conn_reject(c, "handshake timeout");
  }
  for (struct nmif_if_s *i = s->ifaces, *next; i; i = next) {
    next = i->next;
    if (i->conn && i->conn->state != NMIF_CS_CONNECTED && i->conn->deadline_ms <= now)
      nmif__if_teardown(i, NMIF_DOWN_TIMEOUT, "handshake timeout");
  }
  for (struct nmif_if_s *i = s->ifaces; i; i = i->next) {
    if (!i->is_master && !i->conn && !i->destroyed && i->retry_at_ms && i->retry_at_ms <= now) {
      i->retry_at_ms = 0;
      int r = nmif__conn_connect(i);
      if (r < 0)
        nmif__if_connect_failed(i, r);
    }
  }
  nmif__timer_rearm(s);
}

/* ---- violations found by data-path threads ---------------------------------------------- */

const char *nmif_if_violation(const nmif_if_t *i) {
  if (!i || atomic_load_explicit(&i->violation, memory_order_acquire) != 1)
    return NULL;
  return i->violation_reason; /* written before the flag became 1, kept until the next link-up */
}

int nmif_if_handle_violation(nmif_if_t *i) {
  if (!i || i->destroyed)
    return NMIF_EINVAL;
  const char *why = nmif_if_violation(i);
  if (!why || !i->connected || i->in_teardown)
    return 0;
  char reason[NMIF_REASON_MAX];
  snprintf(reason, sizeof(reason), "%s", why);
  NMIF_ERR("interface %u: %s", (unsigned)i->id, reason);
  nmif__if_teardown(i, NMIF_DOWN_VIOLATION, reason);
  return 1;
}

void nmif__if_check_violations(struct nmif_socket_s *s) {
  for (struct nmif_if_s *i = s->ifaces, *next; i; i = next) {
    next = i->next;
    nmif_if_handle_violation(i);
  }
}
