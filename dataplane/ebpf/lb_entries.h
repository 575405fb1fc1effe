// What one service port puts into the socket load balancer's maps: for each IP family, one
// frontend per VIP (cluster IPs, external IPs, load-balancer IPs) with slot 0 (backend count,
// flags, affinity timeout, service id) and slots 1..n naming backend ids, plus a Maglev table
// when the port asks for it. Pure: ids come from the caller, nothing touches the kernel.
#pragma once

#include <array>
#include <compare>
#include <cstring>
#include <map>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/ebpf/bpf/lb_types.h"
#include "endpoints/node/service_port.h"

namespace switchyard::dataplane::ebpf {

using endpoints::IpFamily;

// One endpoint as the backend maps hold it (address and port in network byte order).
struct BackendAddress {
  IpFamily family = IpFamily::IPv4;
  std::array<std::uint8_t, 16> address{};
  std::uint16_t port_be = 0;
  std::uint8_t proto = 0;
  auto operator<=>(const BackendAddress&) const = default;
  std::string to_string() const;  // "10.244.0.11:8080/6", "[fd00::11]:8080/17"
};

struct BackendAddressHash {
  static std::uint64_t mix(std::uint64_t x) noexcept {  // murmur3's finaliser
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
  }
  std::size_t operator()(const BackendAddress& b) const noexcept {
    std::uint64_t lo, hi;
    std::memcpy(&lo, b.address.data(), 8);
    std::memcpy(&hi, b.address.data() + 8, 8);
    const std::uint64_t rest = std::uint64_t{b.port_be} << 16 | std::uint64_t{b.proto} << 8 | static_cast<std::uint64_t>(b.family);
    return mix(lo ^ mix(hi ^ mix(rest)));
  }
};

// Where ids come from: the backend keeps them stable across syncs (and restarts, from the pins).
class LbIdSource {
 public:
  virtual ~LbIdSource() = default;
  // The id of a backend, counting one more reference to it (once per port).
  virtual std::uint32_t backend_id(const BackendAddress& backend) = 0;
  // The id of a backend this port already referenced (no new reference).
  virtual std::uint32_t backend_id_of(const BackendAddress& backend) = 0;
  virtual std::uint32_t service_id(const endpoints::ServicePortName& name, IpFamily family) = 0;
};

struct MaglevEntry {
  std::uint32_t service_id = 0;
  std::shared_ptr<const lb_maglev_table> table;
};

struct PortEntries {
  std::vector<std::pair<lb4_service_key, lb_service_value>> services4;  // slots ≥ 1 before slot 0 per frontend
  std::vector<std::pair<lb6_service_key, lb_service_value>> services6;
  // Frontends of traffic from outside (tc): NodePort (address 0), load-balancer IPs and external
  // IPs with the endpoints of the external traffic policy.
  std::vector<std::pair<lb4_service_key, lb_service_value>> external4;
  std::vector<std::pair<lb6_service_key, lb_service_value>> external6;
  // loadBalancerSourceRanges of the load-balancer IP frontends (flag SOURCE_RANGES), by service id.
  std::vector<std::pair<lb4_source_range_key, std::uint8_t>> source_ranges4;
  std::vector<std::pair<lb6_source_range_key, std::uint8_t>> source_ranges6;
  std::vector<MaglevEntry> maglev;
  std::vector<BackendAddress> backends;  // every backend referenced (once per family and port)
  std::vector<std::uint32_t> affinity_service_ids;
  std::map<std::uint32_t, std::vector<std::uint32_t>> backends_by_service;  // affinity services' backend ids

  void clear();  // empties every list, keeping their storage
};

std::uint8_t protocol_number(const std::string& protocol);  // TCP 6, UDP 17, SCTP 132, else 0

// The entries for `port`; the endpoints are those of its internal traffic policy (socket load
// balancing sees only traffic that starts on this node). With no usable endpoint, each frontend
// has count 0: connect() is refused.
PortEntries build_port_entries(const endpoints::ServicePortInfo& port, LbIdSource& ids, bool maglev_by_default = false);
// The same into `out` (cleared first, its storage reused): a full sync builds every port through
// one scratch PortEntries instead of allocating fresh memory for each.
void build_port_entries(const endpoints::ServicePortInfo& port, LbIdSource& ids, bool maglev_by_default, PortEntries& out);

}  // namespace switchyard::dataplane::ebpf

// Hashing of the plain map structs by their bytes (padding is always zeroed).
namespace switchyard::dataplane::ebpf {
template <class T>
struct BytesHash {
  std::size_t operator()(const T& v) const noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(&v);
    std::uint64_t h = 14695981039346656037ULL;
    for (std::size_t i = 0; i < sizeof(T); ++i) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
  }
};
template <class T>
struct BytesEqual {
  bool operator()(const T& a, const T& b) const noexcept { return std::memcmp(&a, &b, sizeof(T)) == 0; }
};
}  // namespace switchyard::dataplane::ebpf
