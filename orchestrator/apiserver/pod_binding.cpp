// pods/binding: validation of the Binding (ValidatePodBinding), the guaranteed update that
// assigns the pod (assignPod/setPodHostAndAnnotations), and the Status answers upstream gives.
#include "orchestrator/apiserver/pod_binding.h"

#include <fmt/format.h>

namespace switchyard::apiserver {

namespace {

HttpResponse json_answer(int code, Json body) { return {code, "application/json", {}, {}, std::move(body)}; }
HttpResponse error_answer(const ApiError& e) { return json_answer(e.code, e.status); }

// The conflicts of a binding are named after the subresource, as upstream's
// NewConflict(pods/binding, name, err) does.
ApiError binding_conflict(const std::string& pod, const std::string& why) {
  return status_error(409, "Conflict", fmt::format("Operation cannot be fulfilled on pods/binding \"{}\": {}", pod, why),
                      Json{{"name", pod}, {"kind", "pods/binding"}});
}

}  // namespace

ApiResult<Json> ObjectRegistry::assign_pod(const std::string& ns, const std::string& name, const std::string& node,
                                           const std::map<std::string, std::string>& annotations) {
  const ResourceInfo& pods = *find_resource("", "v1", "pods");
  const std::string key = storage_key(pods, ns, name);
  // A guaranteed update: read, check, write on the read revision; a concurrent write retries.
  for (int attempt = 0; attempt < 16; ++attempt) {
    store::Revision mod = 0;
    auto current = read_object(pods, key, true, name, &mod);
    if (!current) return current;
    Json pod = std::move(*current);
    if (pod["metadata"].contains("deletionTimestamp"))
      return std::unexpected(binding_conflict(name, fmt::format("pod {} is being deleted, cannot be assigned to a host", name)));
    const std::string assigned = pod.value("spec", Json::object()).value("nodeName", "");
    if (!assigned.empty())
      return std::unexpected(binding_conflict(name, fmt::format("pod {} is already assigned to node \"{}\"", name, assigned)));
    pod["spec"]["nodeName"] = node;
    for (const auto& [k, v] : annotations) pod["metadata"]["annotations"][k] = v;
    // PodScheduled=True: the transition time moves only when the status changes.
    Json& conditions = pod["status"]["conditions"];
    if (!conditions.is_array()) conditions = Json::array();
    bool found = false;
    for (auto& c : conditions) {
      if (c.value("type", "") != "PodScheduled") continue;
      found = true;
      if (c.value("status", "") != "True") {
        c["status"] = "True";
        c["lastTransitionTime"] = now_rfc3339();
        c.erase("reason");
        c.erase("message");
      }
    }
    if (!found)
      conditions.push_back(
          {{"type", "PodScheduled"}, {"status", "True"}, {"lastProbeTime", nullptr}, {"lastTransitionTime", now_rfc3339()}});
    pod["metadata"].erase("resourceVersion");
    auto rev = store_.update(key, pod.dump(), mod);
    if (rev) {
      pod["metadata"]["resourceVersion"] = std::to_string(*rev);
      return pod;
    }
    if (rev.error().code == store::StoreErrorCode::NotFound) return std::unexpected(not_found(pods.group_resource(), name));
    if (rev.error().code != store::StoreErrorCode::Conflict) return std::unexpected(internal_error(rev.error().message));
  }
  return std::unexpected(conflict("", "pods", name));
}

std::optional<HttpResponse> handle_pod_binding(ObjectRegistry& registry, const HttpRequest& req, const std::vector<std::string>& seg,
                                               std::size_t at, const std::string& group, const std::string& version) {
  if (!group.empty() || version != "v1") return std::nullopt;
  const std::size_t n = seg.size() - at;
  // namespaces/NS/pods/POD/binding or namespaces/NS/bindings
  const bool subresource = n == 5 && seg[at] == "namespaces" && seg[at + 2] == "pods" && seg[at + 4] == "binding";
  const bool collection = n == 3 && seg[at] == "namespaces" && seg[at + 2] == "bindings";
  if (!subresource && !collection) return std::nullopt;
  if (req.method != "POST") return error_answer(method_not_allowed());
  const std::string ns = seg[at + 1];
  const std::string ct = req.content_type.substr(0, req.content_type.find(';'));
  if (!(ct.empty() || ct == "application/json")) return error_answer(unsupported_media_type(req.content_type));
  if (req.body.size() > kMaxRequestBodyBytes) return error_answer(too_large());
  Json body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return error_answer(bad_request("the body of the request was not valid JSON"));
  if (body.value("kind", "Binding") != "Binding")
    return error_answer(bad_request(fmt::format("the body of the request was a {}, expected a Binding", body.value("kind", ""))));
  const Json meta = body.value("metadata", Json::object());
  const Json target = body.value("target", Json::object());
  if (!meta.is_object() || !target.is_object()) return error_answer(bad_request("a Binding's metadata and target must be objects"));
  std::string name = meta.value("name", "");
  if (subresource) {
    // The URL names the pod; a Binding naming another one is refused, as upstream does.
    if (!name.empty() && name != seg[at + 3])
      return error_answer(
          bad_request(fmt::format("the name of the object ({}) does not match the name on the URL ({})", name, seg[at + 3])));
    name = seg[at + 3];
  }
  if (meta.contains("namespace") && meta.value("namespace", "") != ns)
    return error_answer(bad_request("the namespace of the provided object does not match the namespace sent on the request"));
  api::FieldErrors errors;
  const std::string kind = target.value("kind", ""), node = target.value("name", "");
  if (!kind.empty() && kind != "Node")
    errors.push_back(api::not_supported(api::FieldPath("target").child("kind"), api::go_quoted(kind), {"Node", "<empty>"}));
  if (node.empty()) errors.push_back(api::required(api::FieldPath("target").child("name")));
  if (name.empty()) errors.push_back(api::required(api::FieldPath("metadata").child("name"), "name or generateName is required"));
  if (!errors.empty()) return error_answer(invalid("", "Binding", name, errors));
  std::map<std::string, std::string> annotations;
  if (meta.contains("annotations") && meta["annotations"].is_object())
    for (const auto& [k, v] : meta["annotations"].items())
      if (v.is_string()) annotations[k] = v.get<std::string>();
  auto assigned = registry.assign_pod(ns, name, node, annotations);
  if (!assigned) return error_answer(assigned.error());
  return json_answer(201,
                     Json{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()}, {"status", "Success"}, {"code", 201}});
}

}  // namespace switchyard::apiserver
