// core/v1 Events about the objects a controller manages, as client-go's EventRecorder writes
// them (involvedObject, reason, message, source.component): `kubectl describe` shows them.
// Fire and forget, as upstream: a failed write is logged, never retried, never an error.
#pragma once

#include <string>

#include "orchestrator/api/types.h"
#include "orchestrator/client/api_client.h"

namespace switchyard::controllers {

struct EventSource {
  std::string component;  // "replicaset-controller", "deployment-controller"
};

void record_event(client::ApiClient& api, const EventSource& source, const std::string& api_version, const std::string& kind,
                  const api::ObjectMeta& object, const std::string& type, const std::string& reason, const std::string& message);

}  // namespace switchyard::controllers
