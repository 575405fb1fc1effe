// The node's container runtime as the Node's status reports it: CRI Version for nodeInfo's
// containerRuntimeVersion and CRI Status's RuntimeReady and NetworkReady for the Ready condition.
#pragma once

#include <string>

#include "kubelet/node/node_status.h"

namespace switchyard::kubelet::node {

// A probe that asks the runtime at `endpoint` (a CRI socket) on every call, with a short
// deadline: a runtime that does not answer is "container runtime is down".
RuntimeProbe cri_runtime_probe(const std::string& endpoint);

}  // namespace switchyard::kubelet::node
