// Distributing a set of desired endpoints over existing EndpointSlices with as few writes as
// possible (the rules of reconcileByPortMapping in k8s.io/endpointslice reconciler.go):
//  1. every existing slice keeps the desired endpoints it already holds (updated in place when
//     their conditions, node or zone changed) and drops the others; a slice left empty is deleted;
//  2. slices that are being rewritten anyway are filled up first, fullest first;
//  3. what remains goes into the one unchanged slice that it fits best, if it fits in one,
//     otherwise into new slices of at most max_endpoints_per_slice each.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "orchestrator/api/types.h"

namespace switchyard::slice_controller {

// The writes a reconcile wants, plus the slices it leaves alone (topology hints may still
// need to rewrite those).
struct SlicePlan {
  std::vector<api::EndpointSlice> to_create, to_update, to_delete, unchanged;
  void append(SlicePlan&& other);
};

// Desired endpoints keyed by endpoint_identity(); the map order makes packing deterministic.
using DesiredEndpoints = std::map<std::string, api::SliceEndpoint>;

// `existing` all have the port set of `new_slice`, the template for slices to create (metadata,
// ports and address type set, no endpoints). `labels` are the labels every slice should carry.
SlicePlan pack_endpoints(std::vector<api::EndpointSlice> existing, DesiredEndpoints desired, const api::StringMap& labels,
                         const api::EndpointSlice& new_slice, std::size_t max_endpoints_per_slice);

}  // namespace switchyard::slice_controller
