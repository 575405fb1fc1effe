// The Events a kubelet records about a pod (reason Failed with "Error: …" for a container whose
// config cannot be made, FailedMount for a volume), as client-go's recorder writes them: source
// kubelet on this node, involvedObject the Pod (fieldPath the container when there is one).
#pragma once

#include <string>

#include "orchestrator/api/types.h"
#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"

namespace switchyard::kubelet {

Result<> post_pod_event(client::ApiClient& api, const api::Pod& pod, const std::string& node_name, const std::string& field_path,
                        const std::string& type, const std::string& reason, const std::string& message);

}  // namespace switchyard::kubelet
