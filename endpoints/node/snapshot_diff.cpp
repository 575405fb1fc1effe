#include "endpoints/node/snapshot_diff.h"

#include <set>

namespace switchyard::endpoints {

namespace {

bool same_service_fields(const ServicePortInfo& a, const ServicePortInfo& b) {
  return a.cluster_ips == b.cluster_ips && a.port == b.port && a.protocol == b.protocol && a.node_port == b.node_port &&
         a.external_ips == b.external_ips && a.load_balancer_ips == b.load_balancer_ips &&
         a.load_balancer_source_ranges == b.load_balancer_source_ranges && a.health_check_node_port == b.health_check_node_port &&
         a.affinity_timeout_seconds == b.affinity_timeout_seconds && a.external_policy_local == b.external_policy_local &&
         a.internal_policy_local == b.internal_policy_local && a.load_balancing == b.load_balancing;
}

bool connectionless(const std::string& protocol) { return protocol == "UDP" || protocol == "SCTP"; }

std::vector<Endpoint> reachable(const ServicePortInfo* p) {
  if (!p) return {};
  std::vector<Endpoint> all = p->ipv4.all_reachable;
  all.insert(all.end(), p->ipv6.all_reachable.begin(), p->ipv6.all_reachable.end());
  return all;
}

void add_stale_flows(SnapshotDiff& diff, const ServicePortChange& c) {
  const ServicePortInfo* before = c.before.get();
  const ServicePortInfo* after = c.after.get();
  const ServicePortInfo& any = after ? *after : *before;
  if (!connectionless(any.protocol)) return;
  StaleFlows stale{any.name, {}, {}, any.port, any.node_port, any.protocol};
  std::set<std::pair<IpAddress, std::int32_t>> still;
  for (const auto& e : reachable(after)) still.insert({e.ip, e.port});
  for (const auto& e : reachable(before))
    if (!still.contains({e.ip, e.port})) stale.removed_endpoints.push_back(e);
  const bool had = before && (before->ipv4.has_any || before->ipv6.has_any);
  const bool has = after && (after->ipv4.has_any || after->ipv6.has_any);
  if (!had && has) {
    stale.service_ips = after->cluster_ips;
    stale.service_ips.insert(stale.service_ips.end(), after->external_ips.begin(), after->external_ips.end());
    stale.service_ips.insert(stale.service_ips.end(), after->load_balancer_ips.begin(), after->load_balancer_ips.end());
  }
  if (!stale.removed_endpoints.empty() || !stale.service_ips.empty()) diff.stale_flows.push_back(std::move(stale));
}

}  // namespace

SnapshotDiff diff_snapshots(const Snapshot& before, const Snapshot& after) {
  SnapshotDiff diff;
  auto a = before.service_ports().begin(), a_end = before.service_ports().end();
  auto b = after.service_ports().begin(), b_end = after.service_ports().end();
  const auto& a_chunks = before.service_ports().chunks();
  const auto& b_chunks = after.service_ports().chunks();
  while (a != a_end || b != b_end) {
    // A chunk both Snapshots share holds the same ports: nothing in it changed.
    if (a != a_end && b != b_end && a.offset() == 0 && b.offset() == 0 && a_chunks[a.chunk_index()] == b_chunks[b.chunk_index()]) {
      a = a.next_chunk();
      b = b.next_chunk();
      continue;
    }
    ServicePortChange c;
    if (b == b_end || (a != a_end && a->first < b->first)) {
      c = {a->first, a->second, nullptr, true, true};
      ++a;
    } else if (a == a_end || b->first < a->first) {
      c = {b->first, nullptr, b->second, true, true};
      ++b;
    } else {
      if (a->second != b->second && !(*a->second == *b->second)) {
        c = {a->first, a->second, b->second, !same_service_fields(*a->second, *b->second),
             a->second->endpoints != b->second->endpoints || a->second->ipv4 != b->second->ipv4 || a->second->ipv6 != b->second->ipv6 ||
                 a->second->local_ready_endpoints != b->second->local_ready_endpoints};
      }
      ++a;
      ++b;
      if (!c.before) continue;
    }
    add_stale_flows(diff, c);
    diff.changes.push_back(std::move(c));
  }
  return diff;
}

}  // namespace switchyard::endpoints
