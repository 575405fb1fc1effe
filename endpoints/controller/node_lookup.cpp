#include "endpoints/controller/node_lookup.h"

#include <charconv>
#include <cmath>

#include "endpoints/controller/well_known.h"

namespace switchyard::slice_controller {
namespace {

bool node_ready(const api::Node& node) {
  for (const auto& c : node.conditions)
    if (c.type == "Ready") return c.status == "True";
  return false;
}

// Control-plane nodes do not count towards a zone's capacity (topologycache hasExcludedLabels).
bool excluded_from_capacity(const api::Node& node) {
  return node.metadata.labels.contains("node-role.kubernetes.io/control-plane") ||
         node.metadata.labels.contains("node-role.kubernetes.io/master");
}

}  // namespace

std::optional<std::int64_t> parse_cpu_millicores(std::string_view q) {
  double scale_to_milli = 1000.0;
  if (!q.empty()) {
    switch (q.back()) {
      case 'm':
        scale_to_milli = 1.0;
        q.remove_suffix(1);
        break;
      case 'k':
        scale_to_milli = 1e6;
        q.remove_suffix(1);
        break;
      case 'M':
        scale_to_milli = 1e9;
        q.remove_suffix(1);
        break;
      case 'G':
        scale_to_milli = 1e12;
        q.remove_suffix(1);
        break;
      default:
        break;
    }
  }
  if (q.empty()) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(q.data(), q.data() + q.size(), value, std::chars_format::fixed);
  if (ec != std::errc{} || end != q.data() + q.size() || value < 0) return std::nullopt;
  // resource.Quantity rounds fractional millicores up.
  return static_cast<std::int64_t>(std::ceil(value * scale_to_milli));
}

NodeLookup::NodeLookup(std::span<const api::Node> nodes) {
  std::map<std::string, std::int64_t> millis_by_zone;
  std::int64_t total_millis = 0;
  std::string problem;

  for (const auto& node : nodes) {
    auto zone_label = node.metadata.labels.find(std::string(kLabelTopologyZone));
    std::string zone = zone_label == node.metadata.labels.end() ? "" : zone_label->second;
    zone_by_node_.emplace(node.metadata.name, zone);

    if (!problem.empty() || excluded_from_capacity(node) || !node_ready(node)) continue;
    auto cpu = node.allocatable.find("cpu");
    std::optional<std::int64_t> millis = cpu == node.allocatable.end() ? std::nullopt : parse_cpu_millicores(cpu->second);
    if (zone.empty() || !millis || *millis == 0) {
      problem = "node " + node.metadata.name + " has no zone or no allocatable CPU";
      continue;
    }
    millis_by_zone[zone] += *millis;
    total_millis += *millis;
  }

  if (problem.empty() && millis_by_zone.size() < 2) problem = millis_by_zone.empty() ? "no ready nodes" : "ready nodes in one zone only";
  cpu_share_problem_ = problem;
  if (!problem.empty()) return;
  for (const auto& [zone, millis] : millis_by_zone)
    cpu_share_by_zone_[zone] = static_cast<double>(millis) / static_cast<double>(total_millis);
}

bool NodeLookup::contains(std::string_view node_name) const { return zone_by_node_.find(node_name) != zone_by_node_.end(); }

std::optional<std::string> NodeLookup::zone_of(std::string_view node_name) const {
  auto it = zone_by_node_.find(node_name);
  if (it == zone_by_node_.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

}  // namespace switchyard::slice_controller
