#include "dataplane/iptables/rule_generator.h"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>
#include <set>

namespace switchyard::dataplane::nft {
namespace {

using endpoints::Endpoint;
using endpoints::ServicePortInfo;
using endpoints::ServicePortName;
using namespace names;

constexpr std::int32_t kDnatPriority = -100, kSnatPriority = 100;

// FNV-1a 64, base32 (RFC 4648 alphabet), 8 characters: 40 bits against collisions between
// names that truncation or case would otherwise merge.
std::string short_hash(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out(8, 'A');
  for (auto& c : out) {
    c = kAlphabet[h & 31];
    h >>= 5;
  }
  return out;
}

std::string lower(std::string s) {
  std::ranges::transform(s, s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string readable_name(const ServicePortName& n) { return fmt::format("{}/{}/{}/{}", n.namespace_, n.name, lower(n.protocol), n.port); }

std::string affinity_set_name(const ServicePortName& n, const Endpoint& e) {
  // Set names may not hold '/' in nft syntax without quoting; keep them plain.
  std::string readable = fmt::format("{}-{}-{}", n.namespace_, n.name, lower(n.protocol));
  return fmt::format("affinity-{}-{}", short_hash(n.to_string() + "|" + e.ip + "/" + std::to_string(e.port)), readable);
}

Rule rule(std::vector<Statement> s) { return Rule{std::move(s)}; }
Verdict jump(std::string chain) { return Verdict{Verdict::Kind::Jump, std::move(chain)}; }
Verdict go_to(std::string chain) { return Verdict{Verdict::Kind::Goto, std::move(chain)}; }
Verdict drop() { return Verdict{Verdict::Kind::Drop, {}}; }

Chain base_chain(std::string name, ChainType type, Hook hook, std::int32_t priority, std::vector<Rule> rules) {
  return Chain{std::move(name), BaseChainHook{type, hook, priority}, std::move(rules)};
}

std::vector<std::string> of_family(const std::vector<std::string>& addresses, IpFamily f) {
  std::vector<std::string> out;
  for (const auto& a : addresses)
    if (family_of(a) == f) out.push_back(a);
  return out;
}

std::string loopback(IpFamily f) { return f == IpFamily::IPv4 ? "127.0.0.0/8" : "::1"; }

// The destinations node ports answer on: a local address but loopback, or the nodeport-ips set.
std::vector<Statement> node_port_destination(IpFamily f, const GeneratorOptions& options) {
  if (options.node_port_ips(f)) return {MatchDestinationInSet{kNodePortIpsSet}};
  return {MatchAddressLocal{false}, MatchAddress{false, true, loopback(f)}};
}

// With --nodeport-addresses, each table that matches node ports holds its own nodeport-ips set.
void add_node_port_ips(TableSkeleton& t, const GeneratorOptions& options) {
  const auto& ips = options.node_port_ips(t.family);
  if (!ips) return;
  t.sets.push_back(Set{kNodePortIpsSet, SetKey::Address, false, {}, "node addresses that answer node ports"});
  for (const auto& ip : *ips) t.elements.push_back(Element{kNodePortIpsSet, {ip, 0, 0}, {}});
}

std::vector<Statement> with(std::vector<Statement> head, std::vector<Statement> tail) {
  head.insert(head.end(), std::make_move_iterator(tail.begin()), std::make_move_iterator(tail.end()));
  return head;
}

}  // namespace

IpFamily family_of(const std::string& address) { return address.find(':') == std::string::npos ? IpFamily::IPv4 : IpFamily::IPv6; }

std::string service_chain_base(const ServicePortName& n) { return fmt::format("{}-{}", short_hash(n.to_string()), readable_name(n)); }

std::string service_table_name(std::size_t index) { return kServiceTablePrefix + std::to_string(index); }

TableSkeleton make_front_skeleton(IpFamily f, const GeneratorOptions& options) {
  TableSkeleton t;
  t.family = f;
  t.table = kTableName;
  const Statement new_conn = MatchCtStateNew{};
  t.chains = {
      // Filtering runs on the destination before DNAT: priority dstnat - 10.
      base_chain("filter-prerouting", ChainType::Filter, Hook::Prerouting, kDnatPriority - 10,
                 {rule({new_conn, jump(kFirewallCheckChain)})}),
      base_chain("filter-input", ChainType::Filter, Hook::Input, kDnatPriority - 10,
                 {rule({new_conn, jump(kNodePortEndpointsCheckChain)}), rule({new_conn, jump(kServiceEndpointsCheckChain)})}),
      base_chain("filter-forward", ChainType::Filter, Hook::Forward, kDnatPriority - 10,
                 {rule({new_conn, jump(kServiceEndpointsCheckChain)}), rule({new_conn, jump(kClusterIpsCheckChain)})}),
      base_chain("filter-output", ChainType::Filter, Hook::Output, kDnatPriority - 10,
                 {rule({new_conn, jump(kServiceEndpointsCheckChain)}), rule({new_conn, jump(kFirewallCheckChain)})}),
      base_chain("filter-output-post-dnat", ChainType::Filter, Hook::Output, kDnatPriority + 10,
                 {rule({new_conn, jump(kClusterIpsCheckChain)})}),
      base_chain("nat-postrouting", ChainType::Nat, Hook::Postrouting, kSnatPriority, {rule({jump(kMasqueradingChain)})}),
      Chain{kMasqueradingChain,
            {},
            {rule({MatchSourceAndDestinationInSet{kHairpinSet}, MasqueradeFullyRandom{}}),
             rule({MatchMarkClear{options.masquerade_mark}, Verdict{Verdict::Kind::Return, {}}}),
             rule({SetMark{SetMark::Op::Xor, options.masquerade_mark}}), rule({MasqueradeFullyRandom{}})}},
      Chain{kServiceEndpointsCheckChain, {}, {rule({DispatchByMap{kNoEndpointServicesMap, true}})}},
      Chain{kNodePortEndpointsCheckChain,
            {},
            {rule(with(node_port_destination(f, options), {DispatchByMap{kNoEndpointNodePortsMap, false}}))}},
      Chain{kFirewallCheckChain, {}, {rule({DispatchByMap{kFirewallIpsMap, true}})}},
      Chain{kRejectChain, {}, {rule({MatchL4Proto{kProtoTcp}, Reject{true}}), rule({Reject{false}})}},
      Chain{kClusterIpsCheckChain,
            {},
            {rule({MatchDestinationInSet{kClusterIpsSet}, MatchL4Proto{kProtoTcp}, Reject{true}}),
             rule({MatchDestinationInSet{kClusterIpsSet}, Reject{false}})}},
  };
  t.sets = {
      Set{kClusterIpsSet, SetKey::Address, false, {}, "active ClusterIPs"},
      Set{kHairpinSet, SetKey::AddressPair, false, {}, "endpoint . endpoint: a connection from an endpoint DNATed to itself"},
      Set{kNoEndpointServicesMap, SetKey::AddressProtocolPort, true, {}, "services without endpoints: reject or drop"},
      Set{kNoEndpointNodePortsMap, SetKey::ProtocolPort, true, {}, "node ports without endpoints: reject or drop"},
      Set{kFirewallIpsMap, SetKey::AddressProtocolPort, true, {}, "destinations under loadBalancerSourceRanges"},
  };
  add_node_port_ips(t, options);
  return t;
}

std::string endpoint_group_name(std::uint32_t endpoints) { return kEndpointGroupPrefix + std::to_string(endpoints); }

EndpointGroup make_endpoint_group(IpFamily f, std::uint32_t endpoints, const GeneratorOptions& options) {
  const std::string name = endpoint_group_name(endpoints);
  EndpointGroup g;
  g.map = Set{name, SetKey::AddressProtocolPortIndex, false, {}, {}};
  g.map.endpoint_map = true;
  // Only ClusterIP traffic comes here (service-ips), so the masquerade test needs no address.
  const auto cidrs = of_family(options.cluster_cidrs, f);
  std::vector<Statement> masquerade;
  if (!cidrs.empty()) masquerade.push_back(MatchAddress{true, true, cidrs.front()});
  masquerade.push_back(jump(kMarkForMasqueradeChain));
  g.chain = Chain{name, {}, {rule(std::move(masquerade)), rule({DnatThroughMap{name, endpoints}})}};
  return g;
}

TableSkeleton make_service_table_skeleton(IpFamily f, std::size_t index, const GeneratorOptions& options) {
  TableSkeleton t;
  t.family = f;
  t.table = service_table_name(index);
  t.chains = {
      base_chain("nat-prerouting", ChainType::Nat, Hook::Prerouting, kDnatPriority, {rule({jump(kServicesChain)})}),
      base_chain("nat-output", ChainType::Nat, Hook::Output, kDnatPriority, {rule({jump(kServicesChain)})}),
      Chain{kServicesChain,
            {},
            {rule({DispatchByMap{kServiceIpsMap, true}}),
             rule(with(node_port_destination(f, options), {DispatchByMap{kServiceNodePortsMap, false}}))}},
      // The mark is per packet, so the front table's masquerading chain sees it.
      Chain{kMarkForMasqueradeChain, {}, {rule({SetMark{SetMark::Op::Or, options.masquerade_mark}})}},
  };
  t.sets = {
      Set{kServiceIpsMap, SetKey::AddressProtocolPort, true, {}, "ClusterIP, ExternalIP and LoadBalancer IP traffic"},
      Set{kServiceNodePortsMap, SetKey::ProtocolPort, true, {}, "NodePort traffic"},
  };
  add_node_port_ips(t, options);
  return t;
}

ServicePortObjects generate_service_port(const ServicePortInfo& p, IpFamily f, const GeneratorOptions& options) {
  ServicePortObjects out;
  const std::uint8_t proto = protocol_number(p.protocol);
  const auto cluster_ips = of_family(p.cluster_ips, f);
  if (proto == 0 || cluster_ips.empty()) return out;
  const auto port = static_cast<std::uint16_t>(p.port);
  const auto& eligible = p.eligible(f);
  const auto cidrs = of_family(options.cluster_cidrs, f);
  const std::string base = service_chain_base(p.name);
  const std::string cluster_chain = "service-" + base, local_chain = "local-" + base;
  const std::string external_chain = "external-" + base, firewall_chain = "firewall-" + base;
  const bool affinity = p.affinity_timeout_seconds.has_value();
  // Without affinity and with Cluster internal policy, the ClusterIPs DNAT through the table's
  // shared endpoints-N chain and map; the service chain remains for external paths only.
  const bool grouped = !affinity && !p.internal_policy_local && !eligible.cluster.empty();
  // Elements are most of a full sync's memory: one allocation per port, not a doubling series.
  out.elements.reserve(cluster_ips.size() * (eligible.cluster.size() + 3) + eligible.cluster.size() + eligible.local.size() +
                       p.external_ips.size() + 2 * p.load_balancer_ips.size() + 2);

  // Endpoints are chosen and DNATed in the dispatch chain itself: no chain per endpoint (the
  // kernel visits every chain of the namespace on each commit). Hairpin connections (an endpoint
  // reaching itself through the service) are masqueraded by the front table's masquerading
  // chain, through the hairpin-endpoints set.
  std::set<std::string> affinity_sets, hairpin;
  auto to_endpoint = [&](const Endpoint& e, std::vector<Statement> first) {
    if (affinity) {
      std::string set = affinity_set_name(p.name, e);
      if (affinity_sets.insert(set).second)
        out.sets.push_back(Set{set, SetKey::Address, false, static_cast<std::uint32_t>(*p.affinity_timeout_seconds), {}});
      first.push_back(UpdateSetWithSource{set});
    }
    if (hairpin.insert(e.ip).second) out.elements.push_back(Element{kHairpinSet, {e.ip, 0, 0, e.ip}, {}});
    first.push_back(MatchL4Proto{proto});
    first.push_back(Dnat{e.ip, static_cast<std::uint16_t>(e.port)});
    return rule(std::move(first));
  };
  // A dispatch chain choosing among endpoints; the masquerade rule for off-cluster ClusterIP clients.
  auto dispatch_chain = [&](const std::string& name, const std::vector<Endpoint>& eps, bool internal) {
    Chain c{name, {}, {}};
    if (internal) {
      for (const auto& ip : cluster_ips) {
        std::vector<Statement> s{MatchAddress{false, false, ip}, MatchL4Proto{proto}, MatchDestinationPort{port}};
        if (!cidrs.empty()) s.push_back(MatchAddress{true, true, cidrs.front()});
        s.push_back(jump(kMarkForMasqueradeChain));
        c.rules.push_back(rule(std::move(s)));
      }
    }
    if (affinity)
      for (const auto& e : eps) c.rules.push_back(to_endpoint(e, {MatchSourceInSet{affinity_set_name(p.name, e)}}));
    const auto n = static_cast<std::uint32_t>(eps.size());
    for (std::uint32_t i = 0; i + 1 < n; ++i) c.rules.push_back(to_endpoint(eps[i], {MatchRandom{n - i}}));
    c.rules.push_back(to_endpoint(eps.back(), {}));
    out.chains.insert(out.chains.begin(), std::move(c));  // dispatch chains first: easier to read
  };

  const bool internal_local = p.internal_policy_local;
  const auto& internal_eps = internal_local ? eligible.local : eligible.cluster;
  const bool external = p.externally_accessible();
  const auto& external_eps = p.external_policy_local ? eligible.local : eligible.cluster;
  if (!eligible.cluster.empty() && (grouped ? external : (p.uses_cluster_endpoints() || !internal_local)))
    dispatch_chain(cluster_chain, eligible.cluster, !internal_local && !grouped);
  if (!eligible.local.empty() && p.uses_local_endpoints()) dispatch_chain(local_chain, eligible.local, internal_local);

  const Verdict no_endpoints = eligible.has_any ? drop() : go_to(kRejectChain);
  if (grouped) {
    out.endpoint_group = static_cast<std::uint32_t>(eligible.cluster.size());
    const std::string group = endpoint_group_name(out.endpoint_group);
    for (const auto& ip : cluster_ips)
      for (std::uint32_t i = 0; i < out.endpoint_group; ++i) {
        const Endpoint& e = eligible.cluster[i];
        Element el{group, {ip, proto, port, {}, i}, {}};
        el.endpoint = Dnat{e.ip, static_cast<std::uint16_t>(e.port)};
        out.elements.push_back(std::move(el));
      }
    for (const auto& e : eligible.cluster)
      if (hairpin.insert(e.ip).second) out.elements.push_back(Element{kHairpinSet, {e.ip, 0, 0, e.ip}, {}});
  }
  for (const auto& ip : cluster_ips) {
    out.elements.push_back(Element{kClusterIpsSet, {ip, 0, 0}, {}});
    const ElementKey key{ip, proto, port};
    if (grouped) {
      // The chain no longer names the service: the comment does, for `switchyard status`.
      Element el{kServiceIpsMap, key, go_to(endpoint_group_name(out.endpoint_group))};
      el.comment = readable_name(p.name);
      out.elements.push_back(std::move(el));
    } else if (!internal_eps.empty())
      out.elements.push_back(Element{kServiceIpsMap, key, go_to(internal_local ? local_chain : cluster_chain)});
    else
      out.elements.push_back(Element{kNoEndpointServicesMap, key, no_endpoints});
  }
  if (!external) return out;

  std::vector<std::string> external_ips = of_family(p.external_ips, f);
  const auto lb_ips = of_family(p.load_balancer_ips, f);
  external_ips.insert(external_ips.end(), lb_ips.begin(), lb_ips.end());
  if (!external_eps.empty()) {
    Chain c{external_chain, {}, {}};
    if (!p.external_policy_local) {
      c.rules = {rule({jump(kMarkForMasqueradeChain)}), rule({go_to(cluster_chain)})};
    } else {
      // Pods and the node itself reach every endpoint (masqueraded from the node); external
      // clients keep their source address and reach only this node's endpoints.
      if (!cidrs.empty() && !eligible.cluster.empty())
        c.rules.push_back(rule({MatchAddress{true, false, cidrs.front()}, go_to(cluster_chain)}));
      if (!eligible.cluster.empty()) {
        c.rules.push_back(rule({MatchAddressLocal{true}, jump(kMarkForMasqueradeChain)}));
        c.rules.push_back(rule({MatchAddressLocal{true}, go_to(cluster_chain)}));
      }
      c.rules.push_back(rule({go_to(local_chain)}));
    }
    out.chains.insert(out.chains.begin(), std::move(c));
  }
  for (const auto& ip : external_ips) {
    const ElementKey key{ip, proto, port};
    if (!external_eps.empty())
      out.elements.push_back(Element{kServiceIpsMap, key, go_to(external_chain)});
    else
      out.elements.push_back(Element{kNoEndpointServicesMap, key, no_endpoints});
  }
  if (p.node_port != 0) {
    const ElementKey key{{}, proto, static_cast<std::uint16_t>(p.node_port)};
    if (!external_eps.empty())
      out.elements.push_back(Element{kServiceNodePortsMap, key, go_to(external_chain)});
    else
      out.elements.push_back(Element{kNoEndpointNodePortsMap, key, no_endpoints});
  }
  const auto ranges = of_family(p.load_balancer_source_ranges, f);
  if (!p.load_balancer_source_ranges.empty() && !lb_ips.empty()) {
    // Only the listed sources may reach the load balancer IPs; a range list without this
    // family's ranges drops everything of this family, as kube-proxy does.
    Chain c{firewall_chain, {}, {}};
    for (const auto& r : ranges) c.rules.push_back(rule({MatchAddress{true, false, r}, Verdict{Verdict::Kind::Return, {}}}));
    c.rules.push_back(rule({drop()}));
    out.chains.push_back(std::move(c));
    for (const auto& ip : lb_ips) out.elements.push_back(Element{kFirewallIpsMap, {ip, proto, port}, go_to(firewall_chain)});
  }
  return out;
}

}  // namespace switchyard::dataplane::nft
