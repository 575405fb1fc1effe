// The pods/binding subresource, as kube-apiserver's BindingREST serves it: a scheduler POSTs a
// Binding {metadata.name: POD, target: {kind: Node, name: NODE}} to
// /api/v1/namespaces/NS/pods/POD/binding (or the older /api/v1/namespaces/NS/bindings), and the
// pod gets spec.nodeName and PodScheduled=True in one write, only if it has no node yet.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orchestrator/apiserver/api_handler.h"

namespace switchyard::apiserver {

// The answer when `seg` (the path's segments, the API version's at `at`) names a binding
// endpoint; nullopt for any other path.
std::optional<HttpResponse> handle_pod_binding(ObjectRegistry& registry, const HttpRequest& req, const std::vector<std::string>& seg,
                                               std::size_t at, const std::string& group, const std::string& version);

}  // namespace switchyard::apiserver
