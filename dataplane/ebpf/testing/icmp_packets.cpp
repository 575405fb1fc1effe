#include "dataplane/ebpf/testing/icmp_packets.h"

#include <arpa/inet.h>

#include <cstring>

namespace switchyard::dataplane::ebpf::testing {
namespace {

bool is_v6(const Bytes& frame) { return frame[12] == 0x86; }

std::string address(bool v6, const std::uint8_t* p) {
  char s[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, p, s, sizeof s);
  return s;
}

void put16(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

// The ICMPv6 pseudo-header sum (addresses, length, next header 58).
std::uint32_t icmp6_pseudo(const std::uint8_t* ip, std::size_t length) {
  return sum16(ip + 8, 32) + 58 + static_cast<std::uint32_t>(length);
}

}  // namespace

Bytes icmp_error(const std::string& from, const std::string& to, std::uint8_t type, std::uint8_t code, const Bytes& quoted) {
  const bool v6 = is_v6(quoted);
  const std::size_t l3 = v6 ? 40 : 20, quote = quoted.size() - 14, icmp_length = 8 + quote;
  Bytes p(14 + l3 + icmp_length, 0);
  std::memcpy(p.data() + 12, quoted.data() + 12, 2);
  std::uint8_t* ip = p.data() + 14;
  const Bytes src = Endpoint{from, 0}.address(), dst = Endpoint{to, 0}.address();
  if (v6) {
    ip[0] = 0x60;
    put16(ip + 4, static_cast<std::uint32_t>(icmp_length));
    ip[6] = 58;
    ip[7] = 64;
    std::memcpy(ip + 8, src.data(), 16);
    std::memcpy(ip + 24, dst.data(), 16);
  } else {
    ip[0] = 0x45;
    put16(ip + 2, static_cast<std::uint32_t>(l3 + icmp_length));
    ip[8] = 64;
    ip[9] = 1;
    std::memcpy(ip + 12, src.data(), 4);
    std::memcpy(ip + 16, dst.data(), 4);
    put16(ip + 10, fold(sum16(ip, 20)));
  }
  std::uint8_t* icmp = ip + l3;
  icmp[0] = type;
  icmp[1] = code;
  if (v6 && type == 2) put16(icmp + 6, kPathMtu);
  if (!v6 && type == 3 && code == 4) put16(icmp + 6, kPathMtu);
  std::memcpy(icmp + 8, quoted.data() + 14, quote);
  put16(icmp + 2, fold(sum16(icmp, icmp_length, v6 ? icmp6_pseudo(ip, icmp_length) : 0)));
  return p;
}

IcmpErrorSeen inspect_icmp_error(const Bytes& frame) {
  IcmpErrorSeen s;
  const bool v6 = is_v6(frame);
  const std::size_t l3 = v6 ? 40 : 20;
  if (frame.size() < 14 + 2 * l3 + 8 + 4) return s;
  const std::uint8_t* ip = frame.data() + 14;
  s.source = address(v6, ip + (v6 ? 8 : 12));
  s.destination = address(v6, ip + (v6 ? 24 : 16));
  s.ttl = v6 ? ip[7] : ip[8];
  s.ip_checksum_ok = v6 || fold(sum16(ip, 20)) == 0;
  const std::uint8_t* icmp = ip + l3;
  const std::size_t icmp_length = frame.size() - 14 - l3;
  s.type = icmp[0];
  s.code = icmp[1];
  s.mtu = static_cast<std::uint32_t>(icmp[6] << 8 | icmp[7]);
  s.icmp_checksum_ok = fold(sum16(icmp, icmp_length, v6 ? icmp6_pseudo(ip, icmp_length) : 0)) == 0;
  const std::uint8_t* inner = icmp + 8;
  const std::uint8_t* ports = inner + l3;
  s.quoted_ip_checksum_ok = v6 || fold(sum16(inner, 20)) == 0;
  s.quoted_source = address(v6, inner + (v6 ? 8 : 12)) + ":" + std::to_string(ports[0] << 8 | ports[1]);
  s.quoted_destination = address(v6, inner + (v6 ? 24 : 16)) + ":" + std::to_string(ports[2] << 8 | ports[3]);
  return s;
}

}  // namespace switchyard::dataplane::ebpf::testing
