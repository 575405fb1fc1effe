#include "dataplane/ebpf/testing/nodeport_packets.h"

#include <arpa/inet.h>

#include <cstring>

namespace switchyard::dataplane::ebpf::testing {

std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t sum) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  if (n % 2) sum += static_cast<std::uint32_t>(p[n - 1] << 8);
  return sum;
}
std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

Bytes Endpoint::address() const {
  Bytes out(v6() ? 16 : 4);
  inet_pton(v6() ? AF_INET6 : AF_INET, ip.c_str(), out.data());
  return out;
}

namespace {

std::size_t l3_length(const Bytes& p) { return p[12] == 0x86 ? 40 : 20; }

// The pseudo-header sum of an IPv4 or IPv6 packet for its L4 checksum.
std::uint32_t pseudo_header(const Bytes& p, std::size_t l4_length) {
  const bool v6 = p[12] == 0x86;
  const std::size_t addr = v6 ? 14 + 8 : 14 + 12, len = v6 ? 32 : 8;
  std::uint32_t sum = sum16(p.data() + addr, len);
  return sum + (v6 ? p[14 + 6] : p[14 + 9]) + static_cast<std::uint32_t>(l4_length);
}

}  // namespace

Bytes packet(std::uint8_t proto, const Endpoint& from, const Endpoint& to, bool udp_checksum) {
  const bool v6 = from.v6();
  const std::size_t l4 = proto == kTcp ? 20 : 8, payload = 6, l3 = v6 ? 40 : 20;
  Bytes p(14 + l3 + l4 + payload, 0);
  p[12] = v6 ? 0x86 : 0x08;
  p[13] = v6 ? 0xdd : 0x00;
  std::uint8_t* ip = p.data() + 14;
  const Bytes src = from.address(), dst = to.address();
  if (v6) {
    ip[0] = 0x60;
    ip[4] = static_cast<std::uint8_t>((l4 + payload) >> 8);
    ip[5] = static_cast<std::uint8_t>(l4 + payload);
    ip[6] = proto;
    ip[7] = 64;
    std::memcpy(ip + 8, src.data(), 16);
    std::memcpy(ip + 24, dst.data(), 16);
  } else {
    ip[0] = 0x45;
    ip[2] = static_cast<std::uint8_t>((l3 + l4 + payload) >> 8);
    ip[3] = static_cast<std::uint8_t>(l3 + l4 + payload);
    ip[6] = 0x40;  // DF
    ip[8] = 64;
    ip[9] = proto;
    std::memcpy(ip + 12, src.data(), 4);
    std::memcpy(ip + 16, dst.data(), 4);
    const std::uint16_t c = fold(sum16(ip, 20));
    ip[10] = static_cast<std::uint8_t>(c >> 8);
    ip[11] = static_cast<std::uint8_t>(c);
  }
  std::uint8_t* t = ip + l3;
  t[0] = static_cast<std::uint8_t>(from.port >> 8);
  t[1] = static_cast<std::uint8_t>(from.port);
  t[2] = static_cast<std::uint8_t>(to.port >> 8);
  t[3] = static_cast<std::uint8_t>(to.port);
  if (proto == kTcp) {
    t[4] = 0x12;       // a sequence number
    t[12] = 5 << 4;    // data offset
    t[13] = 0x02;      // SYN
    t[14] = 0xff;      // window
  } else {
    t[4] = static_cast<std::uint8_t>((l4 + payload) >> 8);
    t[5] = static_cast<std::uint8_t>(l4 + payload);
  }
  std::memcpy(t + l4, "hello!", payload);
  if (proto == kTcp || udp_checksum) {
    const std::size_t off = proto == kTcp ? 16 : 6;
    std::uint16_t c = fold(sum16(t, l4 + payload, pseudo_header(p, l4 + payload)));
    if (proto == kUdp && c == 0) c = 0xffff;
    t[off] = static_cast<std::uint8_t>(c >> 8);
    t[off + 1] = static_cast<std::uint8_t>(c);
  }
  return p;
}

Bytes with_tcp_flags(Bytes p, std::uint8_t flags) {
  std::uint8_t* t = p.data() + 14 + l3_length(p);
  const std::size_t l4_length = p.size() - 14 - l3_length(p);
  t[13] = flags;
  t[16] = t[17] = 0;
  const std::uint16_t c = fold(sum16(t, l4_length, pseudo_header(p, l4_length)));
  t[16] = static_cast<std::uint8_t>(c >> 8);
  t[17] = static_cast<std::uint8_t>(c);
  return p;
}

Bytes with_ttl(Bytes p, std::uint8_t ttl) {
  std::uint8_t* ip = p.data() + 14;
  if (p[12] == 0x86) {
    ip[7] = ttl;
    return p;
  }
  ip[8] = ttl;
  ip[10] = ip[11] = 0;
  const std::uint16_t c = fold(sum16(ip, 20));
  ip[10] = static_cast<std::uint8_t>(c >> 8);
  ip[11] = static_cast<std::uint8_t>(c);
  return p;
}

Seen inspect(const Bytes& p) {
  const bool v6 = p[12] == 0x86;
  const std::uint8_t* ip = p.data() + 14;
  const std::size_t l3 = l3_length(p);
  const std::uint8_t* t = ip + l3;
  char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, ip + (v6 ? 8 : 12), a, sizeof a);
  inet_ntop(v6 ? AF_INET6 : AF_INET, ip + (v6 ? 24 : 16), b, sizeof b);
  Seen s;
  s.source = std::string(a) + ":" + std::to_string(t[0] << 8 | t[1]);
  s.destination = std::string(b) + ":" + std::to_string(t[2] << 8 | t[3]);
  if (!v6) s.ip_checksum_ok = fold(sum16(ip, 20)) == 0;
  s.ttl = v6 ? ip[7] : ip[8];
  const std::uint8_t proto = v6 ? ip[6] : ip[9];
  const std::size_t l4_length = p.size() - 14 - l3;
  s.l4_checksum = static_cast<std::uint16_t>(t[proto == kTcp ? 16 : 6] << 8 | t[proto == kTcp ? 17 : 7]);
  s.l4_checksum_ok = fold(sum16(t, l4_length, pseudo_header(p, l4_length))) == 0;
  return s;
}

IcmpSeen inspect_icmp(const Bytes& p, const Bytes& original) {
  IcmpSeen s;
  const bool v6 = p[12] == 0x86;
  const std::size_t l3 = v6 ? 40 : 20;
  if (p.size() < 14 + l3 + 8) return s;
  const std::uint8_t* ip = p.data() + 14;
  if ((v6 ? ip[6] : ip[9]) != (v6 ? 58 : 1)) return s;
  char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, ip + (v6 ? 8 : 12), a, sizeof a);
  inet_ntop(v6 ? AF_INET6 : AF_INET, ip + (v6 ? 24 : 16), b, sizeof b);
  s.source = a;
  s.destination = b;
  if (!v6) s.ip_checksum_ok = fold(sum16(ip, 20)) == 0;
  const std::uint8_t* icmp = ip + l3;
  const std::size_t icmp_length = p.size() - 14 - l3;
  s.type = icmp[0];
  s.code = icmp[1];
  s.icmp_checksum_ok = fold(sum16(icmp, icmp_length, v6 ? pseudo_header(p, icmp_length) : 0)) == 0;
  const std::size_t quoted = v6 ? 48 : 28;
  s.quotes_original = icmp_length == 8 + quoted && std::memcmp(icmp + 8, original.data() + 14, quoted) == 0;
  s.macs_swapped = std::memcmp(p.data(), original.data() + 6, 6) == 0 && std::memcmp(p.data() + 6, original.data(), 6) == 0;
  return s;
}

Bytes with_macs(Bytes p) {
  const std::uint8_t node_mac[6] = {0x02, 0, 0, 0, 0, 0x01}, client_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
  std::memcpy(p.data(), node_mac, 6);
  std::memcpy(p.data() + 6, client_mac, 6);
  return p;
}

}  // namespace switchyard::dataplane::ebpf::testing
