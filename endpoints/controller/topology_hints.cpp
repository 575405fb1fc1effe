#include "endpoints/controller/topology_hints.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <variant>
#include <map>
#include <vector>

#include "endpoints/controller/well_known.h"

namespace switchyard::slice_controller {
namespace {

// No zone should receive more than 20% over its CPU share of endpoints.
constexpr double kOverloadThreshold = 0.2;

bool ready(const api::SliceEndpoint& ep) { return ep.conditions.ready.value_or(false); }

std::string annotation(const api::Service& s, std::string_view key) {
  auto it = s.metadata.annotations.find(std::string(key));
  return it == s.metadata.annotations.end() ? "" : it->second;
}

// ---- hints from the endpoint's own place (trafficDistribution) ---------------------------

std::optional<api::EndpointHints> own_place_hints(const api::SliceEndpoint& ep, bool node_hints) {
  api::EndpointHints hints;
  if (ep.zone) hints.for_zones = {*ep.zone};
  if (node_hints && ep.node_name) hints.for_nodes = {*ep.node_name};
  if (hints.for_zones.empty() && hints.for_nodes.empty()) return std::nullopt;
  return hints;
}

// What a slice's endpoints should carry under `policy` (None, SameZone or SameZoneAndNode).
std::optional<api::EndpointHints> placed_hints(HintPolicy policy, const api::SliceEndpoint& ep) {
  if (policy == HintPolicy::None || !ready(ep)) return std::nullopt;
  return own_place_hints(ep, policy == HintPolicy::SameZoneAndNode);
}

bool hints_wrong(HintPolicy policy, const api::EndpointSlice& slice) {
  for (const auto& ep : slice.endpoints) {
    if (policy != HintPolicy::None && !ready(ep)) continue;  // not-ready endpoints are not looked at
    if (ep.hints != placed_hints(policy, ep)) return true;
  }
  return false;
}

void set_placed_hints(HintPolicy policy, api::EndpointSlice& slice) {
  for (auto& ep : slice.endpoints) ep.hints = placed_hints(policy, ep);
}

void move_wrongly_hinted_to_update(HintPolicy policy, SlicePlan& plan) {
  std::vector<api::EndpointSlice> still_unchanged;
  for (auto& slice : plan.unchanged) {
    if (hints_wrong(policy, slice))
      plan.to_update.push_back(std::move(slice));
    else
      still_unchanged.push_back(std::move(slice));
  }
  plan.unchanged = std::move(still_unchanged);
}

void place_hints(HintPolicy policy, SlicePlan& plan) {
  move_wrongly_hinted_to_update(policy, plan);
  for (auto& slice : plan.to_create) set_placed_hints(policy, slice);
  for (auto& slice : plan.to_update) set_placed_hints(policy, slice);
}

// ---- hints proportional to CPU per zone (topology-mode: Auto) -------------------------------

struct Allocation {
  int minimum = 0, maximum = 0;
  double desired = 0;
};
using Allocations = std::map<std::string, Allocation>;

std::size_t ready_count(const std::vector<api::EndpointSlice>& slices) {
  std::size_t n = 0;
  for (const auto& s : slices)
    for (const auto& ep : s.endpoints) n += ready(ep) ? 1 : 0;
  return n;
}

// How many ready endpoints each zone should get, or why that cannot be done.
std::variant<Allocations, std::string> allocations_for(const std::map<std::string, double>& shares, int endpoints) {
  const int zones = static_cast<int>(shares.size());
  if (zones > endpoints)
    return "insufficient number of endpoints (" + std::to_string(endpoints) + " endpoints, " + std::to_string(zones) + " zones)";
  Allocations allocations;
  int min_total = 0;
  for (const auto& [zone, share] : shares) {
    const double desired = share * endpoints;
    const int minimum = static_cast<int>(std::ceil(desired * (1 / (1 + kOverloadThreshold))));
    allocations[zone] = Allocation{minimum, 0, std::max(desired, static_cast<double>(minimum))};
    min_total += minimum;
    if (min_total > endpoints)
      return "minimum allocations would exceed the overload threshold (" + std::to_string(endpoints) + " endpoints, " +
             std::to_string(zones) + " zones)";
  }
  for (auto& [zone, a] : allocations) a.maximum = a.minimum + endpoints - min_total;
  return allocations;
}

// Hints per zone an unchanged slice contributes, or nullopt when its hints are unusable
// (a ready endpoint without hints, a zone that gets no allocation, a zone over its maximum).
std::optional<std::map<std::string, int>> usable_hints(const api::EndpointSlice& slice, const std::map<std::string, int>& allocated,
                                                       const Allocations& allocations) {
  std::map<std::string, int> by_zone;
  for (const auto& ep : slice.endpoints) {
    if (!ready(ep)) continue;
    if (!ep.hints || ep.hints->for_zones.empty()) return std::nullopt;
    for (const auto& zone : ep.hints->for_zones) {
      if (!allocations.contains(zone)) return std::nullopt;
      ++by_zone[zone];
    }
  }
  for (const auto& [zone, n] : by_zone) {
    auto already = allocated.find(zone);
    if (n + (already == allocated.end() ? 0 : already->second) > allocations.at(zone).maximum) return std::nullopt;
  }
  return by_zone;
}

// The zone with the largest positive value ("" when none); ties go to the first zone by name.
std::pair<std::string, double> largest(const std::map<std::string, double>& values) {
  std::pair<std::string, double> best{"", 0.0};
  for (const auto& [zone, v] : values)
    if (v > best.second) best = {zone, v};
  return best;
}

// Whole endpoints each zone should give away and receive to approach its desired allocation.
std::pair<std::map<std::string, int>, std::map<std::string, int>> giving_and_receiving(const Allocations& allocations,
                                                                                       const std::map<std::string, int>& allocated) {
  std::map<std::string, double> surplus, deficit;
  for (const auto& [zone, a] : allocations) {
    auto it = allocated.find(zone);
    const double have = it == allocated.end() ? 0 : it->second;
    if (have > a.desired)
      surplus[zone] = have - a.desired;
    else if (have < a.desired)
      deficit[zone] = a.desired - have;
  }
  std::map<std::string, int> giving, receiving;
  for (;;) {
    auto [giver, to_give] = largest(surplus);
    auto [receiver, to_receive] = largest(deficit);
    if (giver.empty() || receiver.empty() || (to_give < 1.0 && to_receive < 1.0) || to_give < 0.5 || to_receive < 0.5) break;
    ++giving[giver];
    surplus[giver] -= 1;
    ++receiving[receiver];
    deficit[receiver] -= 1;
  }
  return {giving, receiving};
}

std::string proportional_hints(const NodeLookup& nodes, SlicePlan& plan) {
  const auto& shares = nodes.cpu_share_by_zone();
  if (shares.empty()) return "insufficient node information: " + nodes.cpu_share_problem();
  const int endpoints = static_cast<int>(ready_count(plan.to_create) + ready_count(plan.to_update) + ready_count(plan.unchanged));
  auto allocation_result = allocations_for(shares, endpoints);
  if (auto* problem = std::get_if<std::string>(&allocation_result)) return *problem;
  const auto& allocations = std::get<Allocations>(allocation_result);

  // Unchanged slices keep their hints while those remain usable.
  std::map<std::string, int> allocated;
  std::vector<api::EndpointSlice> still_unchanged;
  for (auto& slice : plan.unchanged) {
    if (auto by_zone = usable_hints(slice, allocated, allocations)) {
      for (const auto& [zone, n] : *by_zone) allocated[zone] += n;
      still_unchanged.push_back(std::move(slice));
    } else {
      plan.to_update.push_back(std::move(slice));
    }
  }
  plan.unchanged = std::move(still_unchanged);

  // Slices being written start with every ready endpoint hinted for its own zone...
  std::vector<api::EndpointSlice*> writable;
  for (auto& s : plan.to_create) writable.push_back(&s);
  for (auto& s : plan.to_update) writable.push_back(&s);
  for (auto* slice : writable) {
    for (auto& ep : slice->endpoints) {
      if (!ready(ep)) {
        ep.hints.reset();
        continue;
      }
      if (!ep.zone || ep.zone->empty()) return "an endpoint has no zone";
      ++allocated[*ep.zone];
      ep.hints = api::EndpointHints{.for_zones = {*ep.zone}};
    }
  }

  // ...then zones over their share hand endpoints to zones under it.
  auto [giving, receiving] = giving_and_receiving(allocations, allocated);
  for (auto* slice : writable) {
    for (auto& ep : slice->endpoints) {
      if (giving.empty() || receiving.empty()) break;
      if (!ready(ep) || !giving.contains(*ep.zone)) continue;
      const std::string receiver = receiving.begin()->first;
      ep.hints = api::EndpointHints{.for_zones = {receiver}};
      if (--giving[*ep.zone] == 0) giving.erase(*ep.zone);
      if (--receiving[receiver] == 0) receiving.erase(receiver);
    }
  }
  return {};
}

}  // namespace

HintPolicy hint_policy_for(const api::Service& service) {
  const bool has_old = service.metadata.annotations.contains(std::string(kAnnotationTopologyAwareHints));
  const std::string mode = annotation(service, has_old ? kAnnotationTopologyAwareHints : kAnnotationTopologyMode);
  if (mode == "Auto" || mode == "auto") return HintPolicy::ProportionalToZoneCpu;
  const std::string distribution = service.spec.traffic_distribution.value_or("");
  if (distribution == "PreferClose" || distribution == "PreferSameZone") return HintPolicy::SameZone;
  if (distribution == "PreferSameNode") return HintPolicy::SameZoneAndNode;
  return HintPolicy::None;
}

std::string reconcile_hints(HintPolicy policy, const NodeLookup& nodes, SlicePlan& plan) {
  if (policy != HintPolicy::ProportionalToZoneCpu) {
    place_hints(policy, plan);
    return {};
  }
  // Work on a copy so that a failure part-way leaves the plan as it came in.
  SlicePlan attempt = plan;
  std::string problem = proportional_hints(nodes, attempt);
  if (problem.empty()) {
    plan = std::move(attempt);
    return {};
  }
  place_hints(HintPolicy::None, plan);
  return problem;
}

}  // namespace switchyard::slice_controller
