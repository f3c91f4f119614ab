/*
 * The hostile peer's side of the data path, done right (the attacks write the rings through
 * flow.h's mutations or directly). The peer transmits on S2M as a slave (its own buffers) and
 * on M2S as a master (into the buffers our slave offered); it receives on the other ring.
 * Counters are private (p->tx_pos, p->rx_pos) and start at 0 when the link comes up.
 */
#ifndef NMIF_HOSTILE_RING_H
#define NMIF_HOSTILE_RING_H

#include <stdint.h>

#include "peer.h"

/* The ring the peer transmits on / receives on, and its slot count. */
nmif_ring_t *hp_tx_ring(struct hp_peer *p, uint16_t *slots);
nmif_ring_t *hp_rx_ring(struct hp_peer *p, uint16_t *slots);
/* The eventfd our side waits on for the peer's transmissions, and the one it signals. */
int hp_tx_irq_fd(struct hp_peer *p);
int hp_rx_irq_fd(struct hp_peer *p);

/* Slots free for the next frame on the peer's transmit ring. */
uint16_t hp_tx_room(struct hp_peer *p);
/* Queues one frame, split over buffers of at most `seg` bytes (0: as large as the buffers),
 * flagged NEXT but the last. Returns the slots used, 0 if it does not fit now, -1 if our
 * slave offered a buffer outside its regions. Not visible until hp_tx_publish. */
int hp_tx_frame(struct hp_peer *p, const void *data, uint32_t len, uint32_t seg);
void hp_tx_publish(struct hp_peer *p);
/* Signals our side unless it masked interrupts on that ring. 1 if written, 0 if masked. */
int hp_tx_signal(struct hp_peer *p);

/* A slave offers every receive buffer (call once the link is up). */
void hp_rx_offer(struct hp_peer *p);
/* Reads the next whole frame our side published: 1 with its length in *len (at most cap
 * bytes copied into buf) and its buffer count in *segs, 0 if none is complete yet, -1 if a
 * descriptor lies outside the peer's view of memory or the counter ran away. */
int hp_rx_frame(struct hp_peer *p, uint8_t *buf, uint32_t cap, uint64_t *len, uint32_t *segs);
/* Gives the buffers read so far back (slave: offers them again; master: moves tail). */
void hp_rx_release(struct hp_peer *p);

#endif
