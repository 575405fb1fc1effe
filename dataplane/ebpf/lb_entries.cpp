#include "dataplane/ebpf/lb_entries.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "dataplane/ebpf/maglev.h"

namespace switchyard::dataplane::ebpf {
namespace {

bool parse_address(const std::string& text, IpFamily family, std::array<std::uint8_t, 16>& out) {
  out = {};
  return inet_pton(family == IpFamily::IPv4 ? AF_INET : AF_INET6, text.c_str(), out.data()) == 1;
}

// An endpoint's address, parsed when the Snapshot was built: a copy.
bool parse_address(const endpoints::IpAddress& ip, IpFamily family, std::array<std::uint8_t, 16>& out) {
  out = {};
  if (family == IpFamily::IPv4 ? !ip.is_v4() : !ip.is_v6()) return false;
  std::memcpy(out.data(), ip.data(), ip.size());
  return true;
}

std::uint16_t to_be16(std::int32_t port) { return htons(static_cast<std::uint16_t>(port)); }

// The VIPs of one family through which pods and the node reach the port.
std::vector<std::array<std::uint8_t, 16>> frontends(const endpoints::ServicePortInfo& port, IpFamily family) {
  std::vector<std::array<std::uint8_t, 16>> out;
  auto add = [&](const std::vector<std::string>& ips) {
    for (const auto& ip : ips) {
      std::array<std::uint8_t, 16> a;
      if (parse_address(ip, family, a) && std::ranges::find(out, a) == out.end()) out.push_back(a);
    }
  };
  add(port.cluster_ips);
  add(port.external_ips);
  add(port.load_balancer_ips);
  return out;
}

template <class Key>
Key frontend_key(const std::array<std::uint8_t, 16>& address, std::uint16_t port_be, std::uint8_t proto, std::uint16_t slot) {
  Key k{};
  std::memcpy(&k.address, address.data(), sizeof k.address);
  k.port = port_be;
  k.proto = proto;
  k.slot = slot;
  return k;
}

// The sources a fenced load-balancer IP admits: this family's CIDRs of loadBalancerSourceRanges
// (none of this family: the flag alone drops everything of it, as kube-proxy does).
void add_source_ranges(const endpoints::ServicePortInfo& port, IpFamily family, std::uint32_t service_id, PortEntries& out) {
  for (const auto& cidr : port.load_balancer_source_ranges) {
    const auto slash = cidr.find('/');
    std::array<std::uint8_t, 16> a;
    if (!parse_address(cidr.substr(0, slash), family, a)) continue;
    const int max = family == IpFamily::IPv4 ? 32 : 128;
    const int length = slash == std::string::npos ? max : std::atoi(cidr.c_str() + slash + 1);
    if (length < 0 || length > max) continue;
    for (int bit = length; bit < max; ++bit) a[bit / 8] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));  // host bits: 0
    if (family == IpFamily::IPv4) {
      lb4_source_range_key k{.prefixlen = static_cast<std::uint32_t>(32 + length), .service_id = htonl(service_id), .source = 0};
      std::memcpy(&k.source, a.data(), 4);
      out.source_ranges4.emplace_back(k, 1);
    } else {
      lb6_source_range_key k{.prefixlen = static_cast<std::uint32_t>(32 + length), .service_id = htonl(service_id), .source = {}};
      std::memcpy(k.source, a.data(), 16);
      out.source_ranges6.emplace_back(k, 1);
    }
  }
}

// What reaches the port from outside the node, for the tc programs: the node port on any node
// address (address 0) and the load-balancer and external IPs, each with the endpoints of the
// external traffic policy.
void add_external_frontends(const endpoints::ServicePortInfo& port, IpFamily family, std::uint8_t proto, std::uint32_t service_id,
                            LbIdSource& ids, PortEntries& out) {
  const auto& eligible = port.eligible(family);
  const auto& endpoints = port.external_policy_local ? eligible.local : eligible.cluster;
  std::vector<std::uint32_t> backend_ids;
  for (const auto& e : endpoints) {
    if (backend_ids.size() == LB_MAX_BACKENDS_PER_SERVICE) break;
    BackendAddress b{.family = family, .port_be = to_be16(e.port), .proto = proto};
    if (e.family != family || !parse_address(e.ip, family, b.address)) continue;
    if (std::ranges::find(out.backends, b) == out.backends.end()) {
      out.backends.push_back(b);
      backend_ids.push_back(ids.backend_id(b));
    } else {
      backend_ids.push_back(ids.backend_id_of(b));
    }
  }
  lb_service_value front{};
  front.count = static_cast<std::uint16_t>(backend_ids.size());
  front.service_id = service_id;
  if (port.external_policy_local) front.flags |= LB_SERVICE_FLAG_LOCAL;
  // No endpoint here but some elsewhere (Local policy): drop, as kube-proxy; none at all: reject.
  if (backend_ids.empty() && eligible.has_any) front.flags |= LB_SERVICE_FLAG_DROP_EMPTY;
  struct Vip {
    std::array<std::uint8_t, 16> address;
    std::uint16_t port_be;
    bool fenced;  // a load-balancer IP under loadBalancerSourceRanges
  };
  const bool ranges = !port.load_balancer_source_ranges.empty();
  std::vector<Vip> vips;
  if (port.node_port != 0) vips.push_back({{}, to_be16(port.node_port), false});
  for (const auto* list : {&port.load_balancer_ips, &port.external_ips})
    for (const auto& ip : *list) {
      std::array<std::uint8_t, 16> a;
      if (parse_address(ip, family, a)) vips.push_back({a, to_be16(port.port), ranges && list == &port.load_balancer_ips});
    }
  if (ranges && std::ranges::any_of(vips, &Vip::fenced)) add_source_ranges(port, family, service_id, out);
  for (const auto& [vip, vip_port, fenced] : vips) {
    auto add = [&](auto& entries, auto key_type) {
      using Key = decltype(key_type);
      for (std::size_t i = 0; i < backend_ids.size(); ++i) {
        lb_service_value slot{};
        slot.backend_id = backend_ids[i];
        entries.emplace_back(frontend_key<Key>(vip, vip_port, proto, static_cast<std::uint16_t>(i + 1)), slot);
      }
      lb_service_value slot0 = front;
      if (fenced) slot0.flags |= LB_SERVICE_FLAG_SOURCE_RANGES;
      entries.emplace_back(frontend_key<Key>(vip, vip_port, proto, 0), slot0);
    };
    if (family == IpFamily::IPv4)
      add(out.external4, lb4_service_key{});
    else
      add(out.external6, lb6_service_key{});
  }
}

}  // namespace

std::string BackendAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == IpFamily::IPv4 ? AF_INET : AF_INET6, address.data(), text, sizeof text);
  const std::string port = std::to_string(ntohs(port_be)) + "/" + std::to_string(proto);
  return family == IpFamily::IPv4 ? std::string(text) + ":" + port : "[" + std::string(text) + "]:" + port;
}

std::uint8_t protocol_number(const std::string& protocol) {
  if (protocol == "TCP") return 6;
  if (protocol == "UDP") return 17;
  if (protocol == "SCTP") return 132;
  return 0;
}

void PortEntries::clear() {
  services4.clear();
  services6.clear();
  external4.clear();
  external6.clear();
  source_ranges4.clear();
  source_ranges6.clear();
  maglev.clear();
  backends.clear();
  affinity_service_ids.clear();
  backends_by_service.clear();
}

PortEntries build_port_entries(const endpoints::ServicePortInfo& port, LbIdSource& ids, bool maglev_by_default) {
  PortEntries out;
  build_port_entries(port, ids, maglev_by_default, out);
  return out;
}

void build_port_entries(const endpoints::ServicePortInfo& port, LbIdSource& ids, bool maglev_by_default, PortEntries& out) {
  out.clear();
  const std::uint8_t proto = protocol_number(port.protocol);
  const std::uint16_t vip_port = to_be16(port.port);
  const bool maglev = port.load_balancing == "maglev" || (maglev_by_default && port.load_balancing.empty());
  for (IpFamily family : {IpFamily::IPv4, IpFamily::IPv6}) {
    auto vips = frontends(port, family);
    if (vips.empty()) continue;
    const auto& eligible = port.eligible(family);
    const auto& endpoints = port.internal_policy_local ? eligible.local : eligible.cluster;
    // Sized up front: a full sync builds tens of thousands of these, allocation dominated.
    out.backends.reserve(out.backends.size() + endpoints.size());
    std::vector<std::uint32_t> backend_ids;
    backend_ids.reserve(endpoints.size());
    std::vector<MaglevBackend> maglev_backends;
    for (const auto& e : endpoints) {
      if (backend_ids.size() == LB_MAX_BACKENDS_PER_SERVICE) break;
      BackendAddress b{.family = family, .port_be = to_be16(e.port), .proto = proto};
      if (e.family != family || !parse_address(e.ip, family, b.address)) continue;
      if (std::ranges::find(out.backends, b) != out.backends.end()) continue;  // duplicates in the slices
      backend_ids.push_back(ids.backend_id(b));
      if (maglev) maglev_backends.push_back({b.to_string(), backend_ids.back()});
      out.backends.push_back(b);
    }
    const std::uint32_t service_id = ids.service_id(port.name, family);
    if (port.affinity_timeout_seconds) out.backends_by_service[service_id] = backend_ids;
    lb_service_value front{};
    front.count = static_cast<std::uint16_t>(backend_ids.size());
    front.service_id = service_id;
    if (maglev && !backend_ids.empty()) {
      auto table = std::make_shared<lb_maglev_table>();
      auto computed = build_maglev_table(maglev_backends, LB_MAGLEV_TABLE_SIZE);
      std::ranges::copy(computed, table->backend_ids);
      out.maglev.push_back({service_id, std::move(table)});
      front.flags |= LB_SERVICE_FLAG_MAGLEV;
    }
    if (port.affinity_timeout_seconds) {
      front.flags |= LB_SERVICE_FLAG_AFFINITY;
      front.affinity_timeout_s = static_cast<std::uint32_t>(*port.affinity_timeout_seconds);
      out.affinity_service_ids.push_back(service_id);
    }
    if (family == IpFamily::IPv4)
      out.services4.reserve(vips.size() * (backend_ids.size() + 1));
    else
      out.services6.reserve(vips.size() * (backend_ids.size() + 1));
    for (const auto& vip : vips) {
      auto add = [&](auto& entries, auto key_type) {
        using Key = decltype(key_type);
        for (std::size_t i = 0; i < backend_ids.size(); ++i) {
          lb_service_value slot{};
          slot.backend_id = backend_ids[i];
          entries.emplace_back(frontend_key<Key>(vip, vip_port, proto, static_cast<std::uint16_t>(i + 1)), slot);
        }
        entries.emplace_back(frontend_key<Key>(vip, vip_port, proto, 0), front);
      };
      if (family == IpFamily::IPv4)
        add(out.services4, lb4_service_key{});
      else
        add(out.services6, lb6_service_key{});
    }
    if (port.externally_accessible()) add_external_frontends(port, family, proto, service_id, ids, out);
  }
}

}  // namespace switchyard::dataplane::ebpf
