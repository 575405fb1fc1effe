// The files of a configMap, secret, downwardAPI or projected volume, computed from the pod and
// the objects it refers to, with the kubelet's rules and messages (pkg/volume/configmap, secret,
// downwardapi, projected): items pick keys and paths, modes come from items or defaultMode
// (0644), a missing object or key fails the mount unless the source is optional. Pure.
#pragma once

#include <nlohmann/json.hpp>

#include "kubelet/pods/pod_config.h"
#include "kubelet/volumes/volume_types.h"

namespace switchyard::kubelet {

// Whether the volume (one entry of pod.spec.volumes) is one of the kinds written as files.
bool is_projected_kind(const nlohmann::json& volume);

// The volume's files. Errors: NotFound (`configmap "x" not found`), Invalid (a missing key, a
// bad path or field), Unavailable (the lookup cannot tell yet).
Result<Payload> volume_payload(const api::Pod& pod, const nlohmann::json& volume, const ConfigLookup& lookup, const NodeSettings& node);

// A downward API field (metadata.name, metadata.labels, status.podIP, ...) as the file holds it.
Result<std::string> downward_field(const api::Pod& pod, const std::string& path, const NodeSettings& node);

}  // namespace switchyard::kubelet
