// How one Pod becomes one EndpointSlice endpoint for one Service (the rules of
// k8s.io/endpointslice utils.go: podToEndpoint, getEndpointPorts, FindPort).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/api/types.h"

namespace switchyard::slice_controller {

// A pod can back a Service unless it is terminal (phase Succeeded or Failed) or has no IP yet.
// Terminating pods (deletionTimestamp set) stay in, marked terminating.
bool pod_can_be_endpoint(const api::Pod& pod);

// The address types ("IPv4", "IPv6") of the slices a Service gets, from spec.ipFamilies; for a
// Service that predates ipFamilies, the family of its cluster IP, or both when it is headless.
std::vector<std::string> address_types_for_service(const api::Service& service);

// The container port a Service port's targetPort selects in this pod: the number itself, or the
// port of that name and protocol in a container (or a restartable init container, a sidecar).
std::optional<std::int32_t> find_target_port(const api::Pod& pod, const api::ServicePort& service_port);

// The slice ports for this pod, in the Service's port order; Service ports whose named
// targetPort the pod does not define are left out. Pods that resolve differently end up in
// different slices. A headless Service without ports gets no ports.
std::vector<api::SlicePort> endpoint_ports_for_pod(const api::Service& service, const api::Pod& pod);

// The endpoint for `pod` in a slice of `address_type`; its addresses are empty when the pod has
// no IP of that type. `zone` is the zone of the pod's node, when known.
api::SliceEndpoint pod_to_endpoint(const api::Pod& pod, const std::optional<std::string>& zone, const api::Service& service,
                                   std::string_view address_type);

}  // namespace switchyard::slice_controller
