/* Interrupt eventfds (ring signals) and the library's own wake-up eventfds. */
#ifndef NMIF_IRQ_H
#define NMIF_IRQ_H

/* 1 if fd is an eventfd (checked through /proc/self/fdinfo). */
int nmif__fd_is_eventfd(int fd);

/*
 * Interrupt eventfds are shared with the peer, down to the open file description, so the peer
 * can clear O_NONBLOCK at any time. Reads therefore use RWF_NOWAIT, which the peer cannot
 * change (fallback: a zero-timeout poll first). Writes have no per-call non-blocking flag on
 * eventfds: nmif__irq_write checks O_NONBLOCK right before writing and returns -EPERM if the
 * peer cleared it (the caller treats that as a violation). A peer racing F_SETFL against that
 * check while keeping the counter saturated can still stall the writer until it reads.
 */
int nmif__irq_read(int fd);    /* 1 if a signal was pending, 0 if not, <0 error */
int nmif__irq_write(int fd);   /* 0, -EAGAIN (counter saturated), -EPERM (made blocking) */

/* Adds 1 to one of our own eventfds (wake-ups between our threads; never a peer's fd). */
void nmif__efd_signal(int fd);

#endif
