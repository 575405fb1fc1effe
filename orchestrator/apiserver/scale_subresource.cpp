// The scale subresource of Deployments and ReplicaSets: an autoscaling/v1 Scale made from the
// object (spec.replicas, status.replicas, the selector as a string), and written back by
// changing only spec.replicas of the object, as kube-apiserver's ScaleREST does.
#include <fmt/format.h>

#include "orchestrator/api/protobuf_codec.h"
#include "orchestrator/api/selectors.h"
#include "orchestrator/api/validation.h"
#include "orchestrator/apiserver/api_handler.h"
#include "orchestrator/apiserver/patch.h"

namespace switchyard::apiserver {

namespace {

HttpResponse answer(int code, Json body) { return {code, "application/json", {}, {}, std::move(body)}; }
HttpResponse failure(const ApiError& e) { return answer(e.code, e.status); }

// The selector as status.selector carries it ("app=web,tier in (a,b)").
std::string selector_string(const Json& selector) {
  std::vector<api::LabelSelectorExpression> exprs;
  for (const auto& e : selector.value("matchExpressions", Json::array()))
    exprs.push_back({e.value("key", ""), e.value("operator", ""), e.value("values", std::vector<std::string>{})});
  auto parsed = api::LabelSelector::from_api(selector.value("matchLabels", api::StringMap{}), exprs, api::FieldPath("spec.selector"));
  return parsed ? parsed->to_string() : "";
}

Json scale_of(const Json& obj) {
  const Json& m = obj["metadata"];
  Json meta = {{"name", m.value("name", "")},
               {"namespace", m.value("namespace", "")},
               {"uid", m.value("uid", "")},
               {"resourceVersion", m.value("resourceVersion", "")},
               {"creationTimestamp", m.value("creationTimestamp", "")}};
  const Json spec = obj.value("spec", Json::object());
  const Json status = obj.value("status", Json::object());
  Json scale_status = {{"replicas", status.value("replicas", 0)}};
  const std::string selector = selector_string(spec.value("selector", Json::object()));
  if (!selector.empty()) scale_status["selector"] = selector;
  return {{"kind", "Scale"},
          {"apiVersion", "autoscaling/v1"},
          {"metadata", meta},
          {"spec", {{"replicas", spec.value("replicas", 0)}}},
          {"status", scale_status}};
}

}  // namespace

HttpResponse ApiHandler::handle_scale(const HttpRequest& req, const ResourceInfo& r, const std::string& ns, const std::string& name,
                                      bool dry_run) {
  auto current = registry_.get(r, ns, name);
  if (!current) return failure(current.error());
  if (req.method == "GET") return answer(200, scale_of(*current));
  if (req.method != "PUT" && req.method != "PATCH") return failure(method_not_allowed());
  if (req.body.size() > kMaxRequestBodyBytes) return failure(too_large());

  // The Scale the client wants: its body (PUT) or the current Scale patched (PATCH).
  Json wanted;
  if (req.method == "PUT") {
    if (req.content_type.starts_with(api::protobuf::kMediaType)) {
      auto decoded = api::protobuf::decode_object(req.body);
      if (!decoded)
        return failure(bad_request("the body of the request was not a valid Kubernetes protobuf object: " + decoded.error().message));
      wanted = std::move(*decoded);
    } else {
      wanted = Json::parse(req.body, nullptr, false);
    }
  } else {
    const auto type = parse_patch_type(req.content_type);
    if (!type || *type == PatchType::apply_yaml) return failure(unsupported_media_type(req.content_type));
    Json patch = Json::parse(req.body, nullptr, false);
    if (patch.is_discarded()) return failure(bad_request("the body of the request was not valid JSON"));
    // A Scale has no lists: a strategic merge patch is a merge patch here.
    auto patched =
        apply_patch(*type == PatchType::strategic_merge_patch ? PatchType::merge_patch : *type, scale_of(*current), patch, "Scale");
    if (!patched) return failure(status_error(patched.error().http_status, "Invalid", patched.error().message));
    wanted = std::move(*patched);
  }
  if (!wanted.is_object()) return failure(bad_request("the body of the request was not valid JSON"));
  const Json wanted_spec = wanted.value("spec", Json::object());
  const Json replicas = wanted_spec.is_object() ? wanted_spec.value("replicas", Json(0)) : Json(0);
  if (!replicas.is_number_integer())
    return failure(bad_request("Scale in version \"v1\" cannot be handled as a Scale: spec.replicas must be an integer"));
  const std::int64_t n = replicas.get<std::int64_t>();
  if (n < 0)
    return failure(
        invalid("autoscaling", "Scale", name,
                {api::invalid(api::FieldPath("spec").child("replicas"), api::rendered(n), "must be greater than or equal to 0")}));
  const std::string rv = wanted.value("metadata", Json::object()).value("resourceVersion", "");
  if (!rv.empty() && rv != (*current)["metadata"].value("resourceVersion", "")) return failure(conflict(r.group, r.plural, name));

  Json updated = *current;
  updated["spec"]["replicas"] = n;
  std::vector<std::string> warnings;
  auto stored = registry_.update(r, ns, name, updated, false, FieldValidation::Ignore, warnings, dry_run);
  if (!stored) return failure(stored.error());
  return answer(200, scale_of(*stored));
}

}  // namespace switchyard::apiserver
