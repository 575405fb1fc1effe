// ICMP / ICMPv6 errors about crafted packets (nodeport_packets.h), as a router or a host would
// send them, and what a test reads back from an error the tc programs translated.
#pragma once

#include <cstdint>
#include <string>

#include "dataplane/ebpf/testing/nodeport_packets.h"

namespace switchyard::dataplane::ebpf::testing {

inline constexpr std::uint16_t kPathMtu = 1280;

// An error from `from` to `to` of `type`/`code` quoting the whole IP packet of `quoted` (a frame):
// IPv4 fragmentation needed (3/4) and ICMPv6 packet too big (2/0) carry kPathMtu.
Bytes icmp_error(const std::string& from, const std::string& to, std::uint8_t type, std::uint8_t code, const Bytes& quoted);

struct IcmpErrorSeen {
  std::string source, destination;                // the error's own addresses
  std::string quoted_source, quoted_destination;  // "ip:port" of the quoted packet
  int type = -1, code = -1, ttl = 0;
  std::uint32_t mtu = 0;
  bool ip_checksum_ok = false, icmp_checksum_ok = false, quoted_ip_checksum_ok = false;
};
IcmpErrorSeen inspect_icmp_error(const Bytes& frame);

}  // namespace switchyard::dataplane::ebpf::testing
