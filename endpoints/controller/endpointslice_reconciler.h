// The EndpointSlice controller's reconcile for one Service, as a pure function: the Service,
// the pods of its namespace, the nodes and the slices that exist in, the writes that make the
// slices match the pods out. The caller (the controller loop) lists from its informer caches
// and performs the writes; running it again on the result changes nothing.
//
// What it produces, per IP family of a Service with a selector (the behaviour of
// kube-controller-manager's endpointslice-controller.k8s.io):
//  - one endpoint per pod that the selector matches in the Service's namespace, except terminal
//    pods, pods without an IP of that family and (unless publishNotReadyAddresses) pods whose
//    node is unknown; conditions serving = pod Ready, terminating = deletionTimestamp set,
//    ready = publishNotReadyAddresses || (serving && !terminating); nodeName, zone (the node's
//    topology.kubernetes.io/zone), hostname (when the pod's subdomain is the Service's name),
//    targetRef to the pod;
//  - pods grouped by the ports their named targetPorts resolve to, each group in slices of at
//    most max_endpoints_per_slice, existing slices reused and updated before new ones are made;
//  - one empty placeholder slice (no ports, no endpoints) when there are no endpoints at all;
//  - labels kubernetes.io/service-name, endpointslice.kubernetes.io/managed-by, the Service's
//    own labels and, without a cluster IP, service.kubernetes.io/headless; a controller owner
//    reference to the Service;
//  - topology hints as topology_hints.h describes.
// Slices whose managed-by label names another controller are never touched.
#pragma once

#include <span>

#include "endpoints/controller/node_lookup.h"
#include "endpoints/controller/slice_changes.h"
#include "orchestrator/api/types.h"

namespace switchyard::slice_controller {

struct ReconcilerOptions {
  // kube-controller-manager --max-endpoints-per-slice; 1 to 1000.
  int max_endpoints_per_slice = 100;
};

// `existing_slices` are the slices the caller found for the Service (typically those labelled
// kubernetes.io/service-name=<name> in its namespace); slices of other Services, of other
// controllers and slices already being deleted are ignored. Pods outside the Service's
// namespace are ignored. A Service without a selector, or of type ExternalName, gets no slices
// from this controller: any it made earlier are deleted (the mirroring controller takes over).
// Throws std::invalid_argument when options are out of range (a programmer error: flags are
// validated where they are parsed).
SliceChanges reconcile_service_slices(const api::Service& service, std::span<const api::Pod> pods_in_namespace, const NodeLookup& nodes,
                                      std::span<const api::EndpointSlice> existing_slices, const ReconcilerOptions& options);

// True for slices whose endpointslice.kubernetes.io/managed-by is endpointslice-controller.k8s.io.
bool managed_by_slice_controller(const api::EndpointSlice& slice);

}  // namespace switchyard::slice_controller
