// pods/log, pods/exec, pods/attach and pods/portforward: checked here as kube-apiserver checks
// them (the pod exists, the container is one of its own, the pod is bound to a node), then
// proxied to the node's kubelet (its InternalIP and status.daemonEndpoints.kubeletEndpoint.Port)
// over TLS with the API server's kubelet client certificate. The kubelet's answer, a log stream
// or a protocol upgrade (SPDY or WebSocket) and its session, passes through unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "orchestrator/apiserver/object_registry.h"
#include "orchestrator/http/message.h"

namespace switchyard::apiserver {

// kube-apiserver's --kubelet-client-certificate, --kubelet-client-key and
// --kubelet-certificate-authority.
struct KubeletClientConfig {
  std::string cert_file, key_file;
  std::string ca_file;                 // verify kubelets' serving certificates against it; empty: not verified (upstream's default)
  std::uint16_t default_port = 10250;  // when a Node does not publish its kubelet port
};

// Whether `path` is one of the proxied subresources.
bool is_pod_proxy_path(std::string_view path);

// The answer to a request for which is_pod_proxy_path() holds: a Status error, or a tunnel to the kubelet.
http::Response proxy_pod_subresource(ObjectRegistry& registry, const KubeletClientConfig& kubelet, const http::Request& request);

}  // namespace switchyard::apiserver
