// Label, annotation and controller names that the EndpointSlice controllers read and write,
// spelled as Kubernetes spells them (k8s.io/api/discovery/v1 and core/v1 well_known_labels.go).
#pragma once

#include <string_view>

namespace switchyard::slice_controller {

// On every EndpointSlice: which Service it belongs to and which controller owns its contents.
inline constexpr std::string_view kLabelServiceName = "kubernetes.io/service-name";
inline constexpr std::string_view kLabelManagedBy = "endpointslice.kubernetes.io/managed-by";
// Present (empty value) on the slices of a Service without a cluster IP.
inline constexpr std::string_view kLabelHeadless = "service.kubernetes.io/headless";
// On an Endpoints object: "true" asks the mirroring controller to leave it alone.
inline constexpr std::string_view kLabelSkipMirror = "endpointslice.kubernetes.io/skip-mirror";
// On a Node.
inline constexpr std::string_view kLabelTopologyZone = "topology.kubernetes.io/zone";

// On a Service: "Auto" turns on topology hints (the older annotation wins when both are set).
inline constexpr std::string_view kAnnotationTopologyMode = "service.kubernetes.io/topology-mode";
inline constexpr std::string_view kAnnotationTopologyAwareHints = "service.kubernetes.io/topology-aware-hints";
// On an Endpoints object: not copied to mirrored slices.
inline constexpr std::string_view kAnnotationLastChangeTriggerTime = "endpoints.kubernetes.io/last-change-trigger-time";
inline constexpr std::string_view kAnnotationLastAppliedConfig = "kubectl.kubernetes.io/last-applied-configuration";
// On an Endpoints object used as a leader-election lock: never mirrored.
inline constexpr std::string_view kAnnotationLeaderElection = "control-plane.alpha.kubernetes.io/leader";

// Values of kLabelManagedBy.
inline constexpr std::string_view kSliceControllerName = "endpointslice-controller.k8s.io";
inline constexpr std::string_view kMirroringControllerName = "endpointslicemirroring-controller.k8s.io";

inline constexpr std::string_view kAddressTypeIPv4 = "IPv4";
inline constexpr std::string_view kAddressTypeIPv6 = "IPv6";

}  // namespace switchyard::slice_controller
