// Topology hints on EndpointSlice endpoints (hints.forZones, hints.forNodes), which kube-proxy
// and Switchyard's dataplane use to keep traffic close to its source.
//
//  - trafficDistribution PreferClose / PreferSameZone: every ready endpoint is hinted for its
//    own zone (k8s.io/endpointslice trafficdist); PreferSameNode also hints its own node.
//  - annotation service.kubernetes.io/topology-mode: Auto (or the older topology-aware-hints,
//    which wins when both are set): ready endpoints are hinted so that each zone gets a share
//    proportional to its allocatable CPU, each zone within 20% of that share, endpoints moved
//    between zones only as far as needed (k8s.io/endpointslice topologycache). When that is
//    impossible (too few endpoints, an endpoint without zone, nodes in one zone only, a node
//    without zone or CPU) every hint is removed and the reason is returned.
//  - otherwise: no hints; hints left from an earlier mode are removed.
//
// Only ready endpoints carry hints. Slices that already carry acceptable hints are left alone,
// so a converged Service sees no writes.
#pragma once

#include <string>

#include "endpoints/controller/node_lookup.h"
#include "endpoints/controller/slice_packing.h"
#include "orchestrator/api/types.h"

namespace switchyard::slice_controller {

enum class HintPolicy { None, SameZone, SameZoneAndNode, ProportionalToZoneCpu };

HintPolicy hint_policy_for(const api::Service& service);

// Sets the hints of the endpoints in plan.to_create and plan.to_update, and moves the slices of
// plan.unchanged whose hints are missing or wrong to plan.to_update. All slices of `plan`
// belong to one Service and one address type. Returns why ProportionalToZoneCpu fell back to
// no hints; empty otherwise.
std::string reconcile_hints(HintPolicy policy, const NodeLookup& nodes, SlicePlan& plan);

}  // namespace switchyard::slice_controller
