#include "frames.h"

#include <string.h>

#define ETH_HLEN 14
#define IP_HLEN 20
#define ICMP_AT (ETH_HLEN + IP_HLEN)

static const uint8_t our_mac[6] = {0x02, 0x00, 0x00, 0x68, 0x6f, 0x73};
static const uint8_t our_ip[4] = {10, 11, 12, 13};

static uint32_t sum16(const uint8_t *p, uint32_t n, uint32_t acc) {
  for (uint32_t k = 0; k + 1 < n; k += 2)
    acc += (uint32_t)(p[k] << 8 | p[k + 1]);
  if (n & 1)
    acc += (uint32_t)(p[n - 1] << 8);
  return acc;
}

static uint16_t fold(uint32_t acc) {
  while (acc >> 16)
    acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)~acc;
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

void hp_icmp_echo(uint8_t *b, uint32_t size, const uint8_t dst_ip[4], uint16_t seq) {
  memset(b, 0xff, 6); /* broadcast: whoever answers for dst_ip */
  memcpy(b + 6, our_mac, 6);
  put16(b + 12, 0x0800);
  uint8_t *ip = b + ETH_HLEN;
  memset(ip, 0, IP_HLEN);
  ip[0] = 0x45;
  put16(ip + 2, (uint16_t)(size - ETH_HLEN));
  put16(ip + 4, seq);
  ip[8] = 64;
  ip[9] = 1; /* ICMP */
  memcpy(ip + 12, our_ip, 4);
  memcpy(ip + 16, dst_ip, 4);
  put16(ip + 10, fold(sum16(ip, IP_HLEN, 0)));
  uint8_t *icmp = b + ICMP_AT;
  icmp[0] = 8; /* echo request */
  icmp[1] = 0;
  put16(icmp + 2, 0);
  put16(icmp + 4, HP_ICMP_IDENT);
  put16(icmp + 6, seq);
  for (uint32_t k = ICMP_AT + 8; k < size; k++)
    b[k] = (uint8_t)(k + seq);
  put16(icmp + 2, fold(sum16(icmp, size - ICMP_AT, 0)));
}

/* The ICMP header of one of our frames (echo request or reply with our ident), or NULL. */
static const uint8_t *our_icmp(const uint8_t *b, uint64_t len) {
  if (len < ICMP_AT + 8 || b[12] != 0x08 || b[13] != 0x00 || (b[ETH_HLEN] >> 4) != 4)
    return NULL;
  uint32_t ihl = (uint32_t)(b[ETH_HLEN] & 0x0f) * 4;
  const uint8_t *icmp = b + ETH_HLEN + ihl;
  if (ihl < IP_HLEN || len < ETH_HLEN + ihl + 8 || b[ETH_HLEN + 9] != 1)
    return NULL;
  return (icmp[4] << 8 | icmp[5]) == HP_ICMP_IDENT ? icmp : NULL;
}

int hp_icmp_is_reply(const uint8_t *b, uint64_t len, uint16_t *seq) {
  const uint8_t *icmp = our_icmp(b, len);
  if (!icmp || icmp[0] != 0)
    return 0;
  *seq = (uint16_t)(icmp[6] << 8 | icmp[7]);
  return 1;
}

int hp_icmp_is_ours(const uint8_t *b, uint64_t len) {
  const uint8_t *icmp = our_icmp(b, len);
  return icmp && (icmp[0] == 0 || icmp[0] == 8);
}
