// What the EndpointSlice reconciler needs to know about Nodes: whether a pod's node exists,
// its zone, and how the cluster's allocatable CPU is spread over zones (for topology hints).
// Built once from the node informer's contents and reused for every Service until nodes change.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "orchestrator/api/types.h"

namespace switchyard::slice_controller {

class NodeLookup {
 public:
  NodeLookup() = default;  // no nodes
  explicit NodeLookup(std::span<const api::Node> nodes);

  bool contains(std::string_view node_name) const;
  // The node's topology.kubernetes.io/zone label; nullopt when the node is unknown or the
  // label is absent or empty.
  std::optional<std::string> zone_of(std::string_view node_name) const;

  // Fraction of the allocatable CPU of Ready, non-control-plane nodes that each zone holds
  // (the values sum to 1). Empty when that information is insufficient for topology hints:
  // a counted node without a zone or without allocatable CPU, or fewer than two zones.
  const std::map<std::string, double>& cpu_share_by_zone() const { return cpu_share_by_zone_; }
  // Why cpu_share_by_zone() is empty, for the event the controller records.
  const std::string& cpu_share_problem() const { return cpu_share_problem_; }

 private:
  std::map<std::string, std::string, std::less<>> zone_by_node_;  // "" when the node has no zone
  std::map<std::string, double> cpu_share_by_zone_;
  std::string cpu_share_problem_ = "no nodes";
};

// A CPU resource.Quantity ("4", "3500m", "0.5", "2k") in millicores; nullopt when it is not
// a quantity this parser understands or is negative.
std::optional<std::int64_t> parse_cpu_millicores(std::string_view quantity);

}  // namespace switchyard::slice_controller
