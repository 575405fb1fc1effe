// How the reconcilers tell endpoints and slices apart: which endpoint in an existing slice is
// "the same" as a desired one, whether it changed, and which slices share a port set.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/api/types.h"

namespace switchyard::slice_controller {

// Identifies an endpoint across reconciles: its addresses (in any order), hostname and the
// namespace/name of its target. Conditions, node, zone and hints may change in place.
std::string endpoint_identity(const api::SliceEndpoint& ep);

// The attributes outside the identity that the controller writes: nodeName, zone, the three
// conditions, and targetRef (its resourceVersion ignored). Hints are reconciled separately.
bool same_beyond_identity(const api::SliceEndpoint& a, const api::SliceEndpoint& b);

// The same key for the same set of ports, in any order; an absent protocol counts as TCP and
// an absent name as "" (what the API server defaults them to).
std::string port_set_key(const std::vector<api::SlicePort>& ports);

}  // namespace switchyard::slice_controller
