/* Test frames for the hostile peer's well-behaved traffic: ICMPv4 echo requests that a
 * responder answers and an echoing peer reflects, of any size up to 65,535 bytes. */
#ifndef NMIF_HOSTILE_FRAMES_H
#define NMIF_HOSTILE_FRAMES_H

#include <stdint.h>

#define HP_FRAME_MIN 60
#define HP_FRAME_MAX 65535
#define HP_ICMP_IDENT 0x686f   /* "ho": marks our requests and the replies to them */

/* Builds an echo request of `size` bytes (HP_FRAME_MIN..HP_FRAME_MAX) to dst_ip into buf. */
void hp_icmp_echo(uint8_t *buf, uint32_t size, const uint8_t dst_ip[4], uint16_t seq);
/* 1 if the frame is an echo reply to one of our requests (*seq set), 0 otherwise. */
int hp_icmp_is_reply(const uint8_t *buf, uint64_t len, uint16_t *seq);
/* 1 if the frame is one of ours come back: a reply to it, or the request itself reflected. */
int hp_icmp_is_ours(const uint8_t *buf, uint64_t len);

#endif
