#include "orchestrator/apiserver/rbac_authorizer.h"

#include <algorithm>

#include <fmt/format.h>

#include "orchestrator/api/selectors.h"
#include "orchestrator/apiserver/object_registry.h"

namespace switchyard::apiserver {

namespace {

using Json = nlohmann::json;

std::vector<std::string> string_list(const Json& o, const char* key) {
  std::vector<std::string> out;
  if (!o.is_object() || !o.contains(key) || !o[key].is_array()) return out;
  for (const auto& s : o[key])
    if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

std::string str(const Json& o, const char* key) {
  return o.is_object() && o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : "";
}

bool has(const std::vector<std::string>& list, std::string_view v) { return std::find(list.begin(), list.end(), v) != list.end(); }
bool matches(const std::vector<std::string>& list, std::string_view v) { return has(list, "*") || has(list, v); }

bool resource_matches(const PolicyRule& rule, const std::string& combined, const std::string& subresource) {
  for (const auto& r : rule.resources) {
    if (r == "*" || r == combined) return true;
    // "*/scale" matches the scale subresource of every resource.
    if (!subresource.empty() && r.size() == subresource.size() + 2 && r.starts_with("*/") && r.ends_with(subresource)) return true;
  }
  return false;
}

bool non_resource_url_matches(const PolicyRule& rule, std::string_view path) {
  for (const auto& u : rule.non_resource_urls) {
    if (u == "*" || u == path) return true;
    if (u.ends_with("*") && path.starts_with(std::string_view(u).substr(0, u.size() - 1))) return true;
  }
  return false;
}

std::string describe_subject(const Json& s, std::string_view binding_ns) {
  const std::string kind = str(s, "kind");
  if (kind == "ServiceAccount")
    return fmt::format("{} \"{}/{}\"", kind, str(s, "name"), str(s, "namespace").empty() ? std::string(binding_ns) : str(s, "namespace"));
  return fmt::format("{} \"{}\"", kind, str(s, "name"));
}

// A ClusterRole's aggregationRule.clusterRoleSelectors[*] as label selectors.
std::vector<api::LabelSelector> aggregation_selectors(const Json& role) {
  std::vector<api::LabelSelector> out;
  if (!role.contains("aggregationRule") || !role["aggregationRule"].is_object()) return out;
  const Json selectors = role["aggregationRule"].value("clusterRoleSelectors", Json::array());
  for (const auto& s : selectors) {
    api::StringMap labels;
    const Json match_labels = s.value("matchLabels", Json::object());
    for (const auto& [k, v] : match_labels.items())
      if (v.is_string()) labels[k] = v.get<std::string>();
    std::vector<api::LabelSelectorExpression> exprs;
    const Json expressions = s.value("matchExpressions", Json::array());
    for (const auto& e : expressions) exprs.push_back({str(e, "key"), str(e, "operator"), string_list(e, "values")});
    if (auto sel = api::LabelSelector::from_api(labels, exprs, api::FieldPath("aggregationRule"))) out.push_back(std::move(*sel));
  }
  return out;
}

}  // namespace

Json PolicyRule::to_json() const {
  Json j = {{"verbs", verbs}};
  if (!api_groups.empty()) j["apiGroups"] = api_groups;
  if (!resources.empty()) j["resources"] = resources;
  if (!resource_names.empty()) j["resourceNames"] = resource_names;
  if (!non_resource_urls.empty()) j["nonResourceURLs"] = non_resource_urls;
  return j;
}

std::vector<PolicyRule> rules_of(const Json& role) {
  std::vector<PolicyRule> out;
  if (!role.is_object() || !role.contains("rules") || !role["rules"].is_array()) return out;
  for (const auto& r : role["rules"])
    out.push_back({string_list(r, "verbs"), string_list(r, "apiGroups"), string_list(r, "resources"), string_list(r, "resourceNames"),
                   string_list(r, "nonResourceURLs")});
  return out;
}

bool rule_allows(const PolicyRule& rule, const RequestAttributes& a) {
  if (!matches(rule.verbs, a.verb)) return false;
  if (!a.resource_request) return non_resource_url_matches(rule, a.path);
  const std::string combined = a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
  return matches(rule.api_groups, a.api_group) && resource_matches(rule, combined, a.subresource) &&
         (rule.resource_names.empty() || has(rule.resource_names, a.name));
}

bool subject_applies(const Json& s, const UserInfo& user, std::string_view binding_ns) {
  const std::string kind = str(s, "kind"), name = str(s, "name");
  if (kind == "User") return name == user.name;
  if (kind == "Group") return user.in_group(name);
  if (kind == "ServiceAccount") {
    const std::string ns = str(s, "namespace").empty() ? std::string(binding_ns) : str(s, "namespace");
    return !ns.empty() && user.name == fmt::format("system:serviceaccount:{}:{}", ns, name);
  }
  return false;
}

std::optional<std::vector<PolicyRule>> RbacAuthorizer::role_rules(const Json& ref, std::string_view ns, std::string& error) const {
  const std::string kind = str(ref, "kind"), name = str(ref, "name");
  const bool cluster = kind == "ClusterRole";
  const ResourceInfo* res = find_resource(api::kRbacGroup, "v1", cluster ? "clusterroles" : "roles");
  auto role = registry_.get(*res, cluster ? "" : std::string(ns), name);
  if (!role) {
    // As upstream's listers word it: the singular resource.
    error = role.error().code == 404 ? fmt::format("{}.rbac.authorization.k8s.io \"{}\" not found", cluster ? "clusterrole" : "role", name)
                                     : role.error().status.value("message", "");
    return std::nullopt;
  }
  auto rules = rules_of(*role);
  // Aggregated ClusterRoles: the rules of every ClusterRole their selectors match.
  if (cluster) {
    const auto selectors = aggregation_selectors(*role);
    if (!selectors.empty()) {
      auto all = registry_.list(*res, "", ListOptions{});
      if (all)
        for (const auto& item : (*all)["items"]) {
          if (str(item["metadata"], "name") == name) continue;
          api::StringMap labels;
          const Json item_labels = item["metadata"].value("labels", Json::object());
          for (const auto& [k, v] : item_labels.items())
            if (v.is_string()) labels[k] = v.get<std::string>();
          if (std::any_of(selectors.begin(), selectors.end(), [&](const auto& sel) { return sel.matches(labels); }))
            for (auto& r : rules_of(item)) rules.push_back(std::move(r));
        }
    }
  }
  return rules;
}

void RbacAuthorizer::visit_rules(const UserInfo& user, std::string_view ns,
                                 const std::function<bool(const std::string&, const PolicyRule&)>& visit,
                                 std::vector<std::string>& errors) const {
  auto visit_binding = [&](const Json& binding, bool cluster) {
    const std::string binding_ns = cluster ? "" : str(binding["metadata"], "namespace");
    const Json subjects = binding.value("subjects", Json::array());
    const Json* applying = nullptr;
    for (const auto& s : subjects)
      if (subject_applies(s, user, binding_ns)) {
        applying = &s;
        break;
      }
    if (!applying) return true;
    const Json ref = binding.value("roleRef", Json::object());
    std::string error;
    auto rules = role_rules(ref, binding_ns, error);
    if (!rules) {
      errors.push_back(error);
      return true;
    }
    const std::string name = str(binding["metadata"], "name");
    const std::string source =
        fmt::format("{} \"{}\" of {} \"{}\" to {}", cluster ? "ClusterRoleBinding" : "RoleBinding",
                    cluster ? name : name + "/" + binding_ns, str(ref, "kind"), str(ref, "name"), describe_subject(*applying, binding_ns));
    for (const auto& r : *rules)
      if (!visit(source, r)) return false;
    return true;
  };
  const ResourceInfo* crb = find_resource(api::kRbacGroup, "v1", "clusterrolebindings");
  auto cluster_bindings = registry_.list(*crb, "", ListOptions{});
  if (!cluster_bindings) {
    errors.push_back(cluster_bindings.error().status.value("message", ""));
  } else {
    for (const auto& b : (*cluster_bindings)["items"])
      if (!visit_binding(b, true)) return;
  }
  if (ns.empty()) return;
  const ResourceInfo* rb = find_resource(api::kRbacGroup, "v1", "rolebindings");
  auto bindings = registry_.list(*rb, std::string(ns), ListOptions{});
  if (!bindings) {
    errors.push_back(bindings.error().status.value("message", ""));
    return;
  }
  for (const auto& b : (*bindings)["items"])
    if (!visit_binding(b, false)) return;
}

Decision RbacAuthorizer::authorize(const UserInfo& user, const RequestAttributes& a) const {
  if (user.in_group(kSystemMasters)) return {true, ""};
  Decision d;
  std::vector<std::string> errors;
  visit_rules(
      user, a.resource_request ? a.ns : "",
      [&](const std::string& source, const PolicyRule& rule) {
        if (!rule_allows(rule, a)) return true;
        d = {true, "RBAC: allowed by " + source};
        return false;
      },
      errors);
  if (!d.allowed && !errors.empty()) {
    // utilerrors.NewAggregate: one error as itself, several as [a, b].
    std::string joined;
    for (const auto& e : errors) joined += (joined.empty() ? "" : ", ") + e;
    d.reason = "RBAC: " + (errors.size() == 1 ? joined : "[" + joined + "]");
  }
  return d;
}

std::vector<PolicyRule> RbacAuthorizer::rules_for(const UserInfo& user, std::string_view ns, std::vector<std::string>& errors) const {
  std::vector<PolicyRule> out;
  if (user.in_group(kSystemMasters)) out.push_back({{"*"}, {"*"}, {"*"}, {}, {}}), out.push_back({{"*"}, {}, {}, {}, {"*"}});
  visit_rules(
      user, ns,
      [&](const std::string&, const PolicyRule& rule) {
        out.push_back(rule);
        return true;
      },
      errors);
  return out;
}

}  // namespace switchyard::apiserver
