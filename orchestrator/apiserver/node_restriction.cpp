#include "orchestrator/apiserver/node_restriction.h"

#include <fmt/format.h>

#include "orchestrator/apiserver/node_authorizer.h"

namespace switchyard::apiserver {

namespace {

ApiError forbidden(const RequestAttributes& a, const std::string& name, const std::string& why) {
  const std::string what = name.empty() ? a.resource : fmt::format("{} \"{}\"", a.resource, name);
  return status_error(403, "Forbidden", fmt::format("{} is forbidden: {}", what, why), Json{{"name", name}, {"kind", a.resource}});
}

bool writes(const std::string& verb) { return verb == "create" || verb == "update" || verb == "patch" || verb == "delete"; }

}  // namespace

std::optional<ApiError> node_restriction(ObjectRegistry& registry, const UserInfo& user, const RequestAttributes& a, const Json& body) {
  const auto node = node_identity(user);
  if (!node || !a.resource_request || !a.api_group.empty()) return std::nullopt;
  if (a.resource == "nodes" && writes(a.verb)) {
    std::string target = a.name;
    if (a.verb == "create" && body.is_object()) target = body.value("metadata", Json::object()).value("name", "");
    if (target != *node) return forbidden(a, target, fmt::format("node \"{}\" is not allowed to modify node \"{}\"", *node, target));
    return std::nullopt;
  }
  if (a.resource != "pods") return std::nullopt;
  if (a.verb == "create" && a.subresource.empty()) {
    const Json annotations =
        body.is_object() ? body.value("metadata", Json::object()).value("annotations", Json::object()) : Json::object();
    if (!annotations.is_object() || !annotations.contains("kubernetes.io/config.mirror"))
      return forbidden(
          a, "",
          fmt::format("pod does not have \"kubernetes.io/config.mirror\" annotation, node \"{}\" can only create mirror pods", *node));
    return std::nullopt;
  }
  const bool evict = a.verb == "create" && a.subresource == "eviction";
  if (!evict && !(writes(a.verb) && (a.subresource.empty() || a.subresource == "status"))) return std::nullopt;
  auto pod = registry.get(*find_resource("", "v1", "pods"), a.ns, a.name);
  if (!pod) return std::nullopt;  // gone: the request itself answers 404
  if (pod->value("spec", Json::object()).value("nodeName", "") == *node) return std::nullopt;
  const std::string why = a.subresource == "status" ? "can only update pod status for pods with spec.nodeName set to itself"
                          : evict                   ? "can only evict pods with spec.nodeName set to itself"
                                                    : fmt::format("can only {} pods with spec.nodeName set to itself", a.verb);
  return forbidden(a, a.name, fmt::format("node \"{}\" {}", *node, why));
}

}  // namespace switchyard::apiserver
