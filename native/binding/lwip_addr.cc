#include "lwip_addr.h"

#include <arpa/inet.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "util.h"

namespace nmemif {

namespace {

// "%mf3" names lwIP's netif mf3 (index 4); "%4" is the index itself.
bool ParseZone(const std::string& zone, uint8_t* out) {
  const char* digits = zone.c_str();
  bool by_name = zone.size() > 2 && zone[0] == 'm' && zone[1] == 'f';
  if (by_name) digits += 2;
  if (*digits == '\0') return false;
  char* end = nullptr;
  unsigned long v = std::strtoul(digits, &end, 10);
  if (*end != '\0' || v > 254) return false;
  *out = static_cast<uint8_t>(by_name ? v + 1 : v);
  return *out != 0;
}

}  // namespace

nlwip_addr_t ArgLwipAddr(const Napi::CallbackInfo& info, size_t i) {
  std::string text = ArgString(info, i, "address");
  uint32_t port = ArgUint32(info, i + 1, "port");
  if (port > 65535) throw Napi::RangeError::New(info.Env(), "\"port\" must be in 0..65535");
  nlwip_addr_t a;
  std::memset(&a, 0, sizeof a);
  a.port = static_cast<uint16_t>(port);
  size_t pct = text.find('%');
  std::string host = pct == std::string::npos ? text : text.substr(0, pct);
  if (inet_pton(AF_INET, host.c_str(), a.ip) == 1 && pct == std::string::npos) {
    a.family = 4;
  } else if (inet_pton(AF_INET6, host.c_str(), a.ip) == 1 &&
             (pct == std::string::npos || ParseZone(text.substr(pct + 1), &a.zone))) {
    a.family = 6;
  } else {
    throw Napi::TypeError::New(info.Env(), "\"" + text + "\" is not an IPv4 or IPv6 address");
  }
  return a;
}

nlwip_addr_t* ArgLwipAddrOut(const Napi::CallbackInfo& info, size_t i, size_t count) {
  ByteSpan out = ArgBytes(info, i, "addresses");
  if (out.length < count * sizeof(nlwip_addr_t) || reinterpret_cast<uintptr_t>(out.data) % alignof(nlwip_addr_t) != 0)
    throw Napi::RangeError::New(info.Env(), "address buffer too small or misaligned");
  return reinterpret_cast<nlwip_addr_t*>(out.data);
}

}  // namespace nmemif
