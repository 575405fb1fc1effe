// Crafted Ethernet + IPv4/IPv6 + TCP/UDP frames for the tc and XDP programs under
// BPF_PROG_TEST_RUN, and what a test reads back from a frame the programs returned: addresses,
// ports, TTL, checksums recomputed from scratch, and the fields of an ICMP error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace switchyard::dataplane::ebpf::testing {

using Bytes = std::vector<std::uint8_t>;
inline constexpr std::uint8_t kTcp = 6, kUdp = 17;
inline constexpr std::uint8_t kFin = 0x01, kRst = 0x04, kAck = 0x10;

// The Internet checksum: 16-bit words summed, then folded and inverted.
std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0);
std::uint16_t fold(std::uint32_t sum);

struct Endpoint {
  std::string ip;
  std::uint16_t port;
  bool v6() const { return ip.find(':') != std::string::npos; }
  Bytes address() const;
};

// A TCP SYN or a UDP datagram with a 6-byte payload, checksums right (a UDP one may go without).
Bytes packet(std::uint8_t proto, const Endpoint& from, const Endpoint& to, bool udp_checksum = true);
// The same TCP segment with other flags (checksum recomputed).
Bytes with_tcp_flags(Bytes p, std::uint8_t flags);
// The same packet with another TTL (hop limit), the IPv4 header checksum recomputed.
Bytes with_ttl(Bytes p, std::uint8_t ttl);
// The same frame from a client MAC address to the node's.
Bytes with_macs(Bytes p);

struct Seen {
  std::string source, destination;  // "ip:port"
  int ttl = 0;                      // or hop limit
  bool ip_checksum_ok = true, l4_checksum_ok = false;
  std::uint16_t l4_checksum = 0;
};
Seen inspect(const Bytes& p);

// What an ICMP / ICMPv6 error built by the program says: from, to, type, code, checksums, and
// whether it quotes the start of the offending packet.
struct IcmpSeen {
  std::string source, destination;
  int type = -1, code = -1;
  bool ip_checksum_ok = true, icmp_checksum_ok = false, quotes_original = false, macs_swapped = false;
};
IcmpSeen inspect_icmp(const Bytes& p, const Bytes& original);

}  // namespace switchyard::dataplane::ebpf::testing
