// What changed between two Snapshots: the service ports a backend must program again, and the
// conntrack entries that became stale. Unchanged ports share their data between Snapshots, so
// most comparisons are a pointer check.
#pragma once

#include <memory>
#include <vector>

#include "endpoints/node/snapshot.h"

namespace switchyard::endpoints {

struct ServicePortChange {
  ServicePortName name;
  std::shared_ptr<const ServicePortInfo> before;  // null: the port was added
  std::shared_ptr<const ServicePortInfo> after;   // null: the port was removed
  bool service_changed = false;                   // VIPs, ports, policies, affinity: more than the endpoints
  bool endpoints_changed = false;
};

// UDP/SCTP flows that would keep going to the wrong place unless conntrack is cleaned.
struct StaleFlows {
  ServicePortName name;
  std::vector<Endpoint> removed_endpoints;  // no longer reachable: delete flows DNATed to them
  std::vector<std::string> service_ips;     // the port had no endpoints and now has: delete flows to these
  std::int32_t port = 0, node_port = 0;
  std::string protocol;
};

struct SnapshotDiff {
  std::vector<ServicePortChange> changes;  // sorted by name
  std::vector<StaleFlows> stale_flows;
  bool empty() const { return changes.empty(); }
};

SnapshotDiff diff_snapshots(const Snapshot& before, const Snapshot& after);

}  // namespace switchyard::endpoints
