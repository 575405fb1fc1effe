// Pure: the PodStatus a kubelet writes through the status subresource, from the pod, what CRI
// reports and what the kubelet remembers: phase (kubelet's getPhase rules), the conditions
// PodReadyToStartContainers/Initialized/ContainersReady/Ready with transition times kept while
// unchanged, pod and host IPs, startTime, qosClass, and the init and app container statuses
// (state, lastState, restartCount, ready, started, image, imageID, containerID).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "kubelet/pods/pod_state.h"
#include "orchestrator/api/types.h"

namespace switchyard::kubelet {

struct StatusContext {
  std::string node_ip;
  std::string now;  // RFC 3339, for new transitions and startTime
};

// RFC 3339 (seconds, UTC) of a CRI time in nanoseconds; "" for 0.
std::string rfc3339_from_nanos(std::int64_t nanos);

// The phase alone (kubelet's getPhase): Pending, Running, Succeeded or Failed.
std::string pod_phase(const api::Pod& pod, const ObservedPod& observed, const ContainerNotes& notes);

api::PodStatus compute_pod_status(const api::Pod& pod, const ObservedPod& observed, const ContainerNotes& notes, const StatusContext& ctx);

// Whether the kubelet will run nothing more for this pod (Succeeded or Failed).
inline bool phase_is_terminal(const std::string& phase) { return phase == "Succeeded" || phase == "Failed"; }

}  // namespace switchyard::kubelet
