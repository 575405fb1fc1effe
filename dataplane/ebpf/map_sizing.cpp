#include "dataplane/ebpf/map_sizing.h"

#include <algorithm>
#include <bit>
#include <fstream>

#include "dataplane/ebpf/bpf/lb_types.h"

namespace switchyard::dataplane::ebpf {

MapNeeds& MapNeeds::operator+=(const MapNeeds& o) {
  services4 += o.services4, services6 += o.services6, backends4 += o.backends4, backends6 += o.backends6;
  external4 += o.external4, external6 += o.external6, maglev += o.maglev;
  return *this;
}

MapNeeds& MapNeeds::operator-=(const MapNeeds& o) {
  auto sub = [](std::size_t& a, std::size_t b) { a = a > b ? a - b : 0; };
  sub(services4, o.services4), sub(services6, o.services6), sub(backends4, o.backends4), sub(backends6, o.backends6);
  sub(external4, o.external4), sub(external6, o.external6), sub(maglev, o.maglev);
  return *this;
}

// As lb_entries.cpp builds them, counted without parsing or deduplicating (an upper bound):
// each frontend takes slot 0 plus one slot per backend; each endpoint a backend entry.
MapNeeds estimate_needs(const endpoints::ServicePortInfo& port, bool maglev_by_default) {
  MapNeeds n;
  std::size_t endpoints4 = 0, endpoints6 = 0;
  for (const auto& e : port.endpoints) (e.family == endpoints::IpFamily::IPv4 ? endpoints4 : endpoints6)++;
  endpoints4 = std::min<std::size_t>(endpoints4, LB_MAX_BACKENDS_PER_SERVICE);
  endpoints6 = std::min<std::size_t>(endpoints6, LB_MAX_BACKENDS_PER_SERVICE);
  std::size_t vips4 = 0, vips6 = 0, external_vips4 = 0, external_vips6 = 0;
  auto count = [](const std::vector<std::string>& ips, std::size_t& v4, std::size_t& v6) {
    for (const auto& ip : ips) (ip.find(':') == std::string::npos ? v4 : v6)++;
  };
  count(port.cluster_ips, vips4, vips6);
  count(port.external_ips, external_vips4, external_vips6);
  count(port.load_balancer_ips, external_vips4, external_vips6);
  vips4 += external_vips4, vips6 += external_vips6;
  if (port.node_port != 0) ++external_vips4, ++external_vips6;
  n.services4 = vips4 * (endpoints4 + 1);
  n.services6 = vips6 * (endpoints6 + 1);
  if (port.externally_accessible()) {
    n.external4 = external_vips4 * (endpoints4 + 1);
    n.external6 = external_vips6 * (endpoints6 + 1);
  }
  n.backends4 = endpoints4;
  n.backends6 = endpoints6;
  if (port.load_balancing == "maglev" || (maglev_by_default && port.load_balancing.empty())) n.maglev = 2;
  return n;
}

std::uint32_t capacity_for(std::size_t need, std::uint32_t floor) {
  const std::size_t wanted = std::bit_ceil(std::max<std::size_t>(1, need + need / 8));
  return static_cast<std::uint32_t>(std::clamp<std::size_t>(wanted, floor, std::size_t{1} << 28));
}

LruSizes dynamic_lru_sizes(double ratio, std::uint64_t total_memory, const LruSizes& explicit_sizes) {
  // Per entry, in the kernel: a 48-byte element header, key and value rounded to 8, a 16-byte
  // bucket. Cilium's defaults (CT 256Ki per map, socket reverse NAT 256Ki) set the proportions;
  // affinity gets a quarter of the reverse maps' count.
  constexpr double kConntrackUnit = 2 * (48 + 16 + 24 + 16) + 2 * (48 + 40 + 48 + 16);  // four maps
  constexpr double kReverseUnit = (48 + 16 + 8 + 16) + (48 + 32 + 24 + 16);             // two maps
  constexpr double kAffinityUnit = 0.25 * (48 + 16 + 16 + 16);
  const double budget = ratio > 0 ? ratio * static_cast<double>(total_memory) : 0;
  const double per_unit = budget / (kConntrackUnit + kReverseUnit + kAffinityUnit);
  auto clamp = [](double entries) { return static_cast<std::uint32_t>(std::clamp(entries, 4096.0, double(1u << 24))); };
  LruSizes s{.conntrack = clamp(per_unit), .reverse = clamp(per_unit), .affinity = clamp(per_unit / 4)};
  if (explicit_sizes.conntrack) s.conntrack = explicit_sizes.conntrack;
  if (explicit_sizes.reverse) s.reverse = explicit_sizes.reverse;
  if (explicit_sizes.affinity) s.affinity = explicit_sizes.affinity;
  return s;
}

std::uint64_t total_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  for (std::string key; in >> key;) {
    std::uint64_t kib = 0;
    in >> kib;
    if (key == "MemTotal:") return kib * 1024;
    in.ignore(256, '\n');
  }
  return 0;
}

}  // namespace switchyard::dataplane::ebpf
