// The EndpointSlice mirroring controller's reconcile for one Endpoints object, as a pure
// function (kube-controller-manager's endpointslicemirroring-controller.k8s.io): the
// Endpoints a user wrote for a Service without a selector become EndpointSlices labelled
// endpointslice.kubernetes.io/managed-by: endpointslicemirroring-controller.k8s.io, so that
// consumers of slices (kube-proxy, Switchyard's node agent, DNS) see them too.
//
//  - one slice per subset port set and address type, holding at most max_endpoints_per_subset
//    addresses of each subset (the rest are skipped with a warning), addresses before
//    notReadyAddresses; invalid IPs are skipped with a warning;
//  - endpoints keep ip (canonical form), hostname, nodeName and targetRef; ready is true for
//    addresses and false for notReadyAddresses;
//  - the slice copies the Endpoints' labels and annotations (except the last-change trigger
//    time and kubectl's last-applied configuration), adds kubernetes.io/service-name and
//    managed-by, and has a controller owner reference to the Endpoints;
//  - nothing is mirrored, and earlier mirrored slices are deleted, when the Endpoints or the
//    Service is gone, the Service has a selector, the Endpoints carry the label
//    endpointslice.kubernetes.io/skip-mirror: "true", or they are a leader-election lock.
// Slices managed by anything else are never touched.
#pragma once

#include <span>

#include "endpoints/controller/slice_changes.h"
#include "orchestrator/api/types.h"

namespace switchyard::slice_controller {

struct MirroringOptions {
  // kube-controller-manager --mirroring-max-endpoints-per-subset; 1 to 1000.
  int max_endpoints_per_subset = 1000;
};

// Whether an Endpoints object asks to be mirrored at all (no skip-mirror label, no
// leader-election annotation). The Service still has to exist and have no selector.
bool should_mirror(const api::Endpoints& endpoints);

// `endpoints` and `service` are null when absent from the caches. `existing_slices` are the
// slices the caller found for the Endpoints' namespace/name; only those managed by the mirroring
// controller are considered (with `endpoints` null: all of those in the span).
// Throws std::invalid_argument when options are out of range.
SliceChanges mirror_endpoints(const api::Endpoints* endpoints, const api::Service* service,
                              std::span<const api::EndpointSlice> existing_slices, const MirroringOptions& options);

// True for slices whose endpointslice.kubernetes.io/managed-by is endpointslicemirroring-controller.k8s.io.
bool managed_by_mirroring_controller(const api::EndpointSlice& slice);

}  // namespace switchyard::slice_controller
