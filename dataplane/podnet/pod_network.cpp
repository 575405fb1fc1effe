#include "dataplane/podnet/pod_network.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "dataplane/podnet/masquerade.h"

namespace switchyard::dataplane::podnet {

Result<PodNetworkMode> parse_pod_network_mode(std::string_view text) {
  if (text == "auto") return PodNetworkMode::Auto;
  if (text == "host-gw") return PodNetworkMode::HostGw;
  if (text == "vxlan") return PodNetworkMode::Vxlan;
  if (text == "none") return PodNetworkMode::None;
  return fail(ErrorCode::Invalid, fmt::format("--pod-network {}: must be auto, host-gw, vxlan or none", text));
}

std::string_view to_string(PodNetworkMode mode) {
  switch (mode) {
    case PodNetworkMode::Auto:
      return "auto";
    case PodNetworkMode::HostGw:
      return "host-gw";
    case PodNetworkMode::Vxlan:
      return "vxlan";
    case PodNetworkMode::None:
      return "none";
  }
  return "?";
}

namespace {

std::vector<Ipv4Prefix> ipv4_prefixes(const std::vector<std::string>& cidrs) {
  std::vector<Ipv4Prefix> out;
  for (const auto& c : cidrs)
    if (c.find(':') == std::string::npos)
      if (auto p = parse_ipv4_prefix(c)) out.push_back(*p);
  return out;
}

bool overlaps(const Ipv4Prefix& a, const Ipv4Prefix& b) { return a.contains(b.address) || b.contains(a.address); }

}  // namespace

PodNetworkPlan plan_pod_network(const PodNetworkOptions& o, const std::vector<Ipv4Prefix>& connected, int vxlan_ifindex,
                                const std::vector<PeerNode>& peers) {
  PodNetworkPlan plan;
  if (o.mode == PodNetworkMode::None) return plan;
  const auto own = ipv4_prefixes(o.pod_cidrs);
  for (const auto& peer : peers) {
    auto ip = parse_ipv4(peer.node_ip);
    auto cidrs = ipv4_prefixes(peer.pod_cidrs);
    if (!ip || cidrs.empty()) {
      plan.skipped.emplace_back(peer.name, ip ? "no IPv4 podCIDR yet" : "no IPv4 InternalIP");
      continue;
    }
    if (peer.node_ip == o.node_ip || std::ranges::any_of(cidrs, [&](const auto& c) {
          return std::ranges::any_of(own, [&](const auto& m) { return overlaps(c, m); });
        })) {
      plan.skipped.emplace_back(peer.name, "its address or podCIDR is this node's");
      continue;
    }
    const bool direct = std::ranges::any_of(connected, [&](const Ipv4Prefix& s) { return s.length < 32 && s.contains(*ip); });
    const bool host_gw = o.mode == PodNetworkMode::HostGw || (o.mode == PodNetworkMode::Auto && direct);
    if (host_gw) {
      if (!direct) {
        plan.skipped.emplace_back(
            peer.name, fmt::format("{} is on no subnet of this node: host-gw needs one (--pod-network auto or vxlan)", peer.node_ip));
        continue;
      }
      for (const auto& c : cidrs) plan.routes[c] = Route{.destination = c, .gateway = *ip, .oif = 0, .onlink = false};
      plan.peers.emplace_back(peer.name, "host-gw");
      continue;
    }
    auto mac = parse_mac(peer.vtep_mac);
    if (!mac || vxlan_ifindex == 0) {
      plan.skipped.emplace_back(peer.name, vxlan_ifindex == 0 ? "no VXLAN device here" : "no VTEP MAC published yet");
      continue;
    }
    // The remote device holds its podCIDR's network address: that is the gateway (flannel's).
    const std::uint32_t gateway = cidrs.front().address;
    plan.neighbours[gateway] = Neighbour{.ifindex = vxlan_ifindex, .ip = gateway, .mac = *mac};
    plan.fdb[{*mac, *ip}] = FdbEntry{.ifindex = vxlan_ifindex, .mac = *mac, .destination = *ip};
    for (const auto& c : cidrs) plan.routes[c] = Route{.destination = c, .gateway = gateway, .oif = vxlan_ifindex, .onlink = true};
    plan.peers.emplace_back(peer.name, "vxlan");
  }
  return plan;
}

Result<std::unique_ptr<PodNetwork>> PodNetwork::create(PodNetworkOptions options) {
  auto nl = Rtnetlink::open();
  if (!nl) return fail(nl.error());
  std::unique_ptr<PodNetwork> net(new PodNetwork(std::move(options), std::move(*nl)));
  if (net->options_.mode == PodNetworkMode::Auto || net->options_.mode == PodNetworkMode::Vxlan)
    if (auto ok = net->ensure_vxlan_device(); !ok) return fail(ok.error());
  if (net->options_.mode != PodNetworkMode::None && net->options_.masquerade) {
    if (auto ok = program_masquerade(net->options_.cluster_cidrs, net->options_.pod_cidrs); !ok) return fail(ok.error());
    spdlog::info("event=pod_masquerade_programmed table={} cluster_cidrs=\"{}\"", kMasqueradeTable,
                 fmt::join(net->options_.cluster_cidrs, ","));
  }
  return net;
}

Result<void> PodNetwork::ensure_vxlan_device() {
  auto local = parse_ipv4(options_.node_ip);
  if (!local) return fail(ErrorCode::Invalid, fmt::format("the VXLAN device needs this node's IPv4 address: {}", local.error().message));
  auto addresses = nl_->ipv4_addresses();
  if (!addresses) return fail(addresses.error());
  int underlying = 0;
  for (const auto& a : *addresses)
    if (a.prefix.address == *local) underlying = a.ifindex;
  if (underlying == 0)
    return fail(ErrorCode::Invalid, fmt::format("the VXLAN device's local address {} is on no interface of this node", options_.node_ip));
  auto existing = nl_->link(options_.vxlan_device);
  if (!existing) return fail(existing.error());
  // Reused when it is what we would make (its MAC, and so every peer's entries, stay valid).
  if (*existing && ((*existing)->kind != "vxlan" || (*existing)->vni != options_.vni || (*existing)->local != *local ||
                    (*existing)->port != options_.vxlan_port)) {
    spdlog::info("event=vxlan_device_recreated device={} reason=\"different vni, port or local address\"", options_.vxlan_device);
    if (auto ok = nl_->delete_link((*existing)->ifindex); !ok) return fail(ok.error());
    existing->reset();
  }
  if (!*existing) {
    auto carrier = nl_->link(underlying);
    if (!carrier) return fail(carrier.error());
    VxlanSpec spec{.name = options_.vxlan_device,
                   .vni = options_.vni,
                   .local = *local,
                   .port = options_.vxlan_port,
                   .underlying = underlying,
                   .mtu = carrier->mtu > 50 ? carrier->mtu - 50 : 0};  // room for the outer IPv4, UDP and VXLAN headers
    if (auto ok = nl_->create_vxlan(spec); !ok) return fail(ok.error());
    existing = nl_->link(options_.vxlan_device);
    if (!existing) return fail(existing.error());
    if (!*existing) return fail(ErrorCode::Internal, fmt::format("VXLAN device {} vanished after it was created", options_.vxlan_device));
    spdlog::info("event=vxlan_device_created device={} vni={} port={} local={} mtu={}", options_.vxlan_device, options_.vni,
                 options_.vxlan_port, options_.node_ip, (*existing)->mtu);
  }
  vxlan_ifindex_ = (*existing)->ifindex;
  vtep_mac_ = format_mac((*existing)->mac);
  // The device holds this node's podCIDR network address (/32): the gateway peers route through.
  if (auto own = ipv4_prefixes(options_.pod_cidrs); !own.empty())
    if (auto ok = nl_->add_address(vxlan_ifindex_, Ipv4Prefix{own.front().address, 32}); !ok) return fail(ok.error());
  if (auto ok = nl_->set_up(vxlan_ifindex_); !ok) return fail(ok.error());
  return {};
}

Result<void> PodNetwork::read_kernel_state() {
  PodNetworkPlan held;
  auto routes = nl_->routes(kRouteProtocol);
  if (!routes) return fail(routes.error());
  for (const auto& r : *routes) held.routes[r.destination] = r;
  if (vxlan_ifindex_) {
    auto neighbours = nl_->neighbours(vxlan_ifindex_);
    if (!neighbours) return fail(neighbours.error());
    for (const auto& n : *neighbours) held.neighbours[n.ip] = n;
    auto fdb = nl_->fdb(vxlan_ifindex_);
    if (!fdb) return fail(fdb.error());
    for (const auto& e : *fdb) held.fdb[{e.mac, e.destination}] = e;
  }
  programmed_ = std::move(held);
  programmed_known_ = true;
  return {};
}

Result<void> PodNetwork::sync(const std::vector<PeerNode>& peers) {
  if (options_.mode == PodNetworkMode::None) return {};
  std::vector<Ipv4Prefix> connected;
  auto addresses = nl_->ipv4_addresses();
  if (!addresses) return fail(addresses.error());
  const auto cluster = ipv4_prefixes(options_.cluster_cidrs);
  for (const auto& a : *addresses) {
    if ((a.prefix.address >> 24) == 127) continue;
    if (std::ranges::any_of(cluster, [&](const Ipv4Prefix& c) { return c.contains(a.prefix.address); })) continue;  // bridges, VTEPs
    connected.push_back(a.prefix);
  }
  PodNetworkPlan want = plan_pod_network(options_, connected, vxlan_ifindex_, peers);
  if (!programmed_known_)
    if (auto ok = read_kernel_state(); !ok) return fail(ok.error());
  // On any failure the next sync reads the kernel again instead of trusting programmed_.
  programmed_known_ = false;
  // Order: FDB and neighbours before the routes that need them; stale routes before their entries.
  for (const auto& [key, e] : want.fdb)
    if (auto it = programmed_.fdb.find(key); it == programmed_.fdb.end() || !(it->second == e))
      if (auto ok = nl_->replace_fdb(e); !ok) return fail(ok.error());
  for (const auto& [key, n] : want.neighbours)
    if (auto it = programmed_.neighbours.find(key); it == programmed_.neighbours.end() || !(it->second == n))
      if (auto ok = nl_->replace_neighbour(n); !ok) return fail(ok.error());
  for (const auto& [key, r] : want.routes)
    if (auto it = programmed_.routes.find(key); it == programmed_.routes.end() || !(it->second == r)) {
      if (auto ok = nl_->replace_route(r, kRouteProtocol); !ok) return fail(ok.error());
      spdlog::info("event=pod_route_programmed route={} via={}{}", format_prefix(r.destination), format_ipv4(r.gateway),
                   r.oif ? " dev=" + options_.vxlan_device : "");
    }
  for (const auto& [key, r] : programmed_.routes)
    if (!want.routes.contains(key)) {
      if (auto ok = nl_->delete_route(r, kRouteProtocol); !ok) return fail(ok.error());
      spdlog::info("event=pod_route_removed route={}", format_prefix(r.destination));
    }
  for (const auto& [key, n] : programmed_.neighbours)
    if (!want.neighbours.contains(key))
      if (auto ok = nl_->delete_neighbour(n); !ok) return fail(ok.error());
  for (const auto& [key, e] : programmed_.fdb)
    if (!want.fdb.contains(key))
      if (auto ok = nl_->delete_fdb(e); !ok) return fail(ok.error());
  for (const auto& [name, why] : want.skipped)
    if (std::ranges::find(programmed_.skipped, std::pair{name, why}) == programmed_.skipped.end())
      spdlog::warn("event=pod_network_peer_skipped node={} reason=\"{}\"", name, why);
  programmed_ = std::move(want);
  programmed_known_ = true;
  return {};
}

}  // namespace switchyard::dataplane::podnet
