/*
 * Input format of the control-message fuzzer (fuzz_msg.c), also written by the seed recorder.
 *
 * Byte 0: bit 0 = the role the input plays: 0 a slave talking to our master, 1 a master
 * talking to our slave. Then records of FUZZ_MSG_REC bytes, one datagram each:
 *   [0] fd selector (enum fuzz_fdsel, modulo FDSEL_COUNT): what rides along as SCM_RIGHTS
 *   [1] length selector: 0 = 128 bytes, 255 = an empty datagram, else that many bytes
 *   [2..129] the message (a short last record is zero-padded; bytes past 128 are zero)
 */
#ifndef NMIF_FUZZ_MSG_H
#define NMIF_FUZZ_MSG_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_MSG_REC 130
#define FUZZ_MSG_ID 0
#define FUZZ_MSG_SECRET "fuzz"
#define FUZZ_MSG_QUEUES 2        /* our master accepts 2 rings per direction, our slave asks 2 */
#define FUZZ_MSG_SLAVE_LOG2 4
#define FUZZ_MSG_SLAVE_BSIZE 128
#define FUZZ_MSG_REGION_SIZE (64u << 10) /* the region memfd the input can attach */

enum fuzz_fdsel {
  FDSEL_NONE,
  FDSEL_REGION,             /* a sealed memfd of FUZZ_MSG_REGION_SIZE, a ring cookie every word */
  FDSEL_EVENTFD,
  FDSEL_PIPE,
  FDSEL_SMALL_MEMFD,        /* sealed, 4 KiB */
  FDSEL_UNSEALED_MEMFD,     /* cannot be sealed against shrinking */
  FDSEL_REGION_AND_EVENTFD, /* two fds */
  FDSEL_SOCKET,
  FDSEL_COUNT
};

static inline size_t fuzz_msg_len(uint8_t sel) { return sel == 0 ? 128 : sel == 255 ? 0 : sel; }

#endif
