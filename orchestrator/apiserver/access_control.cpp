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

std::optional<ApiError> AccessControl::authorize(const UserInfo& user, const RequestAttributes& a) const {
  const Decision d = rbac_.authorize(user, a);
  if (d.allowed) return std::nullopt;
  return forbidden(a, forbidden_message(user.name, a, d.reason));
}

ApiResult<Json> AccessControl::self_subject_access_review(const Json& review, const UserInfo& user) const {
  const Json spec = review.value("spec", Json::object());
  const bool has_resource = spec.contains("resourceAttributes") && spec["resourceAttributes"].is_object();
  const bool has_non_resource = spec.contains("nonResourceAttributes") && spec["nonResourceAttributes"].is_object();
  if (has_resource == has_non_resource)
    return std::unexpected(status_error(
        422, "Invalid",
        "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of "
        "nonResourceAttributes or resourceAttributes must be specified"));
  RequestAttributes a;
  if (has_resource) {
    const Json& r = spec["resourceAttributes"];
    a = {.verb = str(r, "verb"),
         .resource_request = true,
         .api_group = str(r, "group"),
         .api_version = str(r, "version"),
         .resource = str(r, "resource"),
         .subresource = str(r, "subresource"),
         .name = str(r, "name"),
         .ns = str(r, "namespace")};
  } else {
    const Json& n = spec["nonResourceAttributes"];
    a = {.verb = str(n, "verb"), .path = str(n, "path")};
  }
  const Decision d = rbac_.authorize(user, a);
  Json out = {{"kind", "SelfSubjectAccessReview"},
              {"apiVersion", "authorization.k8s.io/v1"},
              {"metadata", {{"creationTimestamp", nullptr}}},
              {"spec", spec},
              {"status", {{"allowed", d.allowed}}}};
  if (!d.reason.empty()) out["status"]["reason"] = d.reason;
  return out;
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
