#include "orchestrator/apiserver/access_control.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace switchyard::apiserver {

namespace {

constexpr std::string_view kServiceAccountPrefix = "system:serviceaccount:";

std::string str(const Json& o, const char* key) {
  return o.is_object() && o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : "";
}

// apierrors.NewForbidden over the request's group and resource.
ApiError forbidden(const RequestAttributes& a, std::string message) {
  Json details = Json::object();
  if (!a.name.empty()) details["name"] = a.name;
  if (!a.api_group.empty()) details["group"] = a.api_group;
  if (!a.resource.empty()) details["kind"] = a.resource;
  std::string text;
  if (!a.resource_request || a.resource.empty())
    text = "forbidden: " + message;
  else {
    const std::string gr = a.api_group.empty() ? a.resource : a.resource + "." + a.api_group;
    text =
        a.name.empty() ? fmt::format("{} is forbidden: {}", gr, message) : fmt::format("{} \"{}\" is forbidden: {}", gr, a.name, message);
  }
  return status_error(403, "Forbidden", std::move(text), std::move(details));
}

}  // namespace

ApiResult<UserInfo> AccessControl::act_as(UserInfo user, const Impersonation& as) const {
  if (!as.requested()) return user;
  if (as.user.empty())
    return std::unexpected(bad_request(fmt::format("requested groups {} without impersonating a user", fmt::join(as.groups, ","))));
  // What the requester must be allowed to impersonate, in upstream's order: the user, then each group.
  std::vector<RequestAttributes> checks;
  RequestAttributes u{.verb = "impersonate", .resource_request = true, .api_version = "v1", .resource = "users", .name = as.user};
  if (as.user.starts_with(kServiceAccountPrefix)) {
    const std::string rest = as.user.substr(kServiceAccountPrefix.size());
    const auto colon = rest.find(':');
    if (colon != std::string::npos) {
      u.resource = "serviceaccounts";
      u.ns = rest.substr(0, colon);
      u.name = rest.substr(colon + 1);
    }
  }
  checks.push_back(u);
  for (const auto& g : as.groups)
    checks.push_back({.verb = "impersonate", .resource_request = true, .api_version = "v1", .resource = "groups", .name = g});
  for (const auto& c : checks) {
    const Decision d = rbac_.authorize(user, c);
    if (!d.allowed) return std::unexpected(forbidden(c, forbidden_message(user.name, c, d.reason)));
  }
  UserInfo acting{as.user, "", as.groups};
  if (as.user.starts_with(kServiceAccountPrefix) && !u.ns.empty()) {
    for (std::string g : {std::string("system:serviceaccounts"), "system:serviceaccounts:" + u.ns})
      if (!acting.in_group(g)) acting.groups.push_back(g);
  }
  if (as.user != "system:anonymous" && !acting.in_group(kSystemAuthenticated)) acting.groups.emplace_back(kSystemAuthenticated);
  return acting;
}

Decision AccessControl::decide(const UserInfo& user, const RequestAttributes& a) const {
  if (user.in_group(kSystemMasters)) return {true, ""};
  Decision node = node_.authorize(user, a);
  if (node.allowed) return node;
  Decision rbac = rbac_.authorize(user, a);
  if (rbac.allowed) return rbac;
  // The union authorizer joins the reasons of those without an opinion with newlines.
  if (!node.reason.empty()) rbac.reason = rbac.reason.empty() ? node.reason : node.reason + "\n" + rbac.reason;
  return rbac;
}

std::optional<ApiError> AccessControl::authorize(const UserInfo& user, const RequestAttributes& a) const {
  const Decision d = decide(user, a);
  if (d.allowed) return std::nullopt;
  return forbidden(a, forbidden_message(user.name, a, d.reason));
}

namespace {

// The attributes a review asks about, from its spec: exactly one of resourceAttributes and
// nonResourceAttributes (the message kube-apiserver's validation gives otherwise).
ApiResult<RequestAttributes> review_attributes(const Json& spec, std::string_view kind) {
  const bool has_resource = spec.contains("resourceAttributes") && spec["resourceAttributes"].is_object();
  const bool has_non_resource = spec.contains("nonResourceAttributes") && spec["nonResourceAttributes"].is_object();
  if (has_resource == has_non_resource)
    return std::unexpected(status_error(
        422, "Invalid",
        fmt::format("{}.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of "
                    "nonResourceAttributes or resourceAttributes must be specified",
                    kind)));
  if (!has_resource) {
    const Json& n = spec["nonResourceAttributes"];
    return RequestAttributes{.verb = str(n, "verb"), .path = str(n, "path")};
  }
  const Json& r = spec["resourceAttributes"];
  return RequestAttributes{.verb = str(r, "verb"),
                           .resource_request = true,
                           .api_group = str(r, "group"),
                           .api_version = str(r, "version"),
                           .resource = str(r, "resource"),
                           .subresource = str(r, "subresource"),
                           .name = str(r, "name"),
                           .ns = str(r, "namespace")};
}

Json review_answer(std::string_view kind, Json metadata, const Json& spec, const Decision& d) {
  Json out = {{"kind", kind},
              {"apiVersion", "authorization.k8s.io/v1"},
              {"metadata", std::move(metadata)},
              {"spec", spec},
              {"status", {{"allowed", d.allowed}}}};
  if (!d.reason.empty()) out["status"]["reason"] = d.reason;
  return out;
}

}  // namespace

ApiResult<Json> AccessControl::self_subject_access_review(const Json& review, const UserInfo& user) const {
  const Json spec = review.value("spec", Json::object());
  auto a = review_attributes(spec, "SelfSubjectAccessReview");
  if (!a) return std::unexpected(a.error());
  return review_answer("SelfSubjectAccessReview", {{"creationTimestamp", nullptr}}, spec, decide(user, *a));
}

ApiResult<Json> AccessControl::subject_access_review(const Json& review, std::string_view path_namespace) const {
  const bool local = !path_namespace.empty();
  const std::string kind = local ? "LocalSubjectAccessReview" : "SubjectAccessReview";
  const Json spec = review.value("spec", Json::object());
  auto a = review_attributes(spec, kind);
  if (!a) return std::unexpected(a.error());
  const auto invalid = [&](const std::string& field_error) {
    return std::unexpected(status_error(422, "Invalid", fmt::format("{}.authorization.k8s.io \"\" is invalid: {}", kind, field_error)));
  };
  // As kube-apiserver's validation: whom to ask about is required, and a local review asks
  // about its own namespace's resources only.
  UserInfo subject{str(spec, "user"), str(spec, "uid"), {}};
  if (spec.contains("groups") && spec["groups"].is_array())
    for (const auto& g : spec["groups"])
      if (g.is_string()) subject.groups.push_back(g.get<std::string>());
  if (subject.name.empty() && subject.groups.empty())
    return invalid("spec.user: Invalid value: \"\": at least one of user or group must be specified");
  if (local) {
    if (!a->resource_request) return invalid("spec.nonResourceAttributes: Invalid value: \"null\": disallowed on this kind of request");
    if (a->ns != path_namespace)
      return invalid(fmt::format("spec.resourceAttributes.namespace: Invalid value: \"{}\": must match metadata.namespace", a->ns));
  }
  Json metadata = {{"creationTimestamp", nullptr}};
  if (local) metadata["namespace"] = std::string(path_namespace);
  // The subject is taken as given: no system:authenticated is added (upstream neither).
  return review_answer(kind, std::move(metadata), spec, decide(subject, *a));
}

ApiResult<Json> AccessControl::self_subject_rules_review(const Json& review, const UserInfo& user) const {
  const Json spec = review.value("spec", Json::object());
  std::vector<std::string> errors;
  const auto rules = rbac_.rules_for(user, str(spec, "namespace"), errors);
  Json resource_rules = Json::array(), non_resource_rules = Json::array();
  for (const auto& r : rules) {
    if (!r.non_resource_urls.empty())
      non_resource_rules.push_back({{"verbs", r.verbs}, {"nonResourceURLs", r.non_resource_urls}});
    else {
      Json j = {{"verbs", r.verbs}, {"apiGroups", r.api_groups}, {"resources", r.resources}};
      if (!r.resource_names.empty()) j["resourceNames"] = r.resource_names;
      resource_rules.push_back(std::move(j));
    }
  }
  Json status = {{"resourceRules", resource_rules}, {"nonResourceRules", non_resource_rules}, {"incomplete", !errors.empty()}};
  if (!errors.empty()) status["evaluationError"] = fmt::format("{}", fmt::join(errors, ", "));
  return Json{{"kind", "SelfSubjectRulesReview"},
              {"apiVersion", "authorization.k8s.io/v1"},
              {"metadata", {{"creationTimestamp", nullptr}}},
              {"spec", spec},
              {"status", std::move(status)}};
}

}  // namespace switchyard::apiserver
