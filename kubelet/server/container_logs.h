// GET /containerLogs/{ns}/{pod}/{container}: the container's CRI log file as `kubectl logs`
// shows it, whole or followed (new lines as they are written, until the container exits or the
// client goes away), the current container or (`previous`) the one before it.
#pragma once

#include <memory>
#include <string>

#include "kubelet/cri/cri_client.h"
#include "orchestrator/http/message.h"
#include "orchestrator/http/url.h"

namespace switchyard::kubelet::server {

http::Response container_logs(const std::shared_ptr<cri::CriClient>& cri, const std::string& ns, const std::string& pod,
                              const std::string& container, const http::QueryList& query);

// A Status object as the Kubernetes API writes errors (kubectl prints its message).
http::Response status_response(int code, const std::string& reason, const std::string& message);

}  // namespace switchyard::kubelet::server
