// Validation and defaulting of the RBAC kinds, as pkg/apis/rbac/validation and
// pkg/apis/rbac/v1/defaults.go do them. The bodies are JSON text (rbac_types.h): a field of the
// wrong JSON type is reported as Invalid here, where upstream's decoder would refuse it.
#include <nlohmann/json.hpp>

#include "orchestrator/api/defaults.h"
#include "orchestrator/api/validation.h"

namespace switchyard::api {

namespace {

using nlohmann::json;

json field(const Passthrough& body, const std::string& key) {
  auto it = body.find(key);
  return it == body.end() ? json() : json::parse(it->second, nullptr, false);
}

// path.IsValidPathSegmentName / Prefix: RBAC names may hold ':' ("system:node"), not '/' or '%'.
Problems rbac_name(std::string_view name, bool prefix) {
  Problems p;
  if (!prefix && name == ".") p.emplace_back("may not be '.'");
  if (!prefix && name == "..") p.emplace_back("may not be '..'");
  if (name.find('/') != std::string_view::npos) p.emplace_back("may not contain '/'");
  if (name.find('%') != std::string_view::npos) p.emplace_back("may not contain '%'");
  return p;
}

// A []string field: absent is empty; anything but an array of strings is invalid.
std::vector<std::string> strings(const json& rule, const char* key, const FieldPath& p, FieldErrors& errs) {
  std::vector<std::string> out;
  if (!rule.is_object() || !rule.contains(key) || rule[key].is_null()) return out;
  const json& v = rule[key];
  if (!v.is_array()) {
    errs.push_back(invalid(p.child(key), v.dump(), "must be a list of strings"));
    return out;
  }
  for (const auto& s : v) {
    if (!s.is_string()) {
      errs.push_back(invalid(p.child(key), v.dump(), "must be a list of strings"));
      return {};
    }
    out.push_back(s.get<std::string>());
  }
  return out;
}

void validate_rule(const json& rule, bool namespaced, const FieldPath& p, FieldErrors& errs) {
  if (!rule.is_object()) {
    errs.push_back(invalid(p, rule.dump(), "must be an object"));
    return;
  }
  const auto verbs = strings(rule, "verbs", p, errs);
  const auto groups = strings(rule, "apiGroups", p, errs);
  const auto resources = strings(rule, "resources", p, errs);
  const auto names = strings(rule, "resourceNames", p, errs);
  const auto urls = strings(rule, "nonResourceURLs", p, errs);
  if (verbs.empty()) errs.push_back(required(p.child("verbs"), "verbs must contain at least one value"));
  if (!urls.empty()) {
    if (namespaced)
      errs.push_back(invalid(p.child("nonResourceURLs"), go_string_slice(urls), "namespaced rules cannot apply to non-resource URLs"));
    if (!groups.empty() || !resources.empty() || !names.empty())
      errs.push_back(
          invalid(p.child("nonResourceURLs"), go_string_slice(urls), "rules cannot apply to both regular resources and non-resource URLs"));
    return;
  }
  if (groups.empty()) errs.push_back(required(p.child("apiGroups"), "resource rules must supply at least one api group"));
  if (resources.empty()) errs.push_back(required(p.child("resources"), "resource rules must supply at least one resource"));
}

void validate_rules(const Passthrough& body, bool namespaced, FieldErrors& errs) {
  const json rules = field(body, "rules");
  if (rules.is_null()) return;
  if (!rules.is_array()) {
    errs.push_back(invalid(FieldPath("rules"), rules.dump(), "must be a list of rules"));
    return;
  }
  for (std::size_t i = 0; i < rules.size(); ++i) validate_rule(rules[i], namespaced, FieldPath("rules").index(i), errs);
}

std::string str(const json& o, const char* key) {
  return o.is_object() && o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : "";
}

void validate_binding(const Passthrough& body, bool namespaced, FieldErrors& errs) {
  const json ref = field(body, "roleRef");
  const FieldPath rp("roleRef");
  if (str(ref, "apiGroup") != kRbacGroup)
    errs.push_back(not_supported(rp.child("apiGroup"), go_quoted(str(ref, "apiGroup")), {kRbacGroup}));
  const std::string kind = str(ref, "kind");
  if (namespaced && kind != "Role" && kind != "ClusterRole")
    errs.push_back(not_supported(rp.child("kind"), go_quoted(kind), {"Role", "ClusterRole"}));
  if (!namespaced && kind != "ClusterRole") errs.push_back(not_supported(rp.child("kind"), go_quoted(kind), {"ClusterRole"}));
  const std::string name = str(ref, "name");
  if (name.empty()) errs.push_back(required(rp.child("name")));
  for (const auto& problem : rbac_name(name, false)) errs.push_back(invalid(rp.child("name"), go_quoted(name), problem));

  const json subjects = field(body, "subjects");
  if (subjects.is_null()) return;
  if (!subjects.is_array()) {
    errs.push_back(invalid(FieldPath("subjects"), subjects.dump(), "must be a list of subjects"));
    return;
  }
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    const json& s = subjects[i];
    const FieldPath p = FieldPath("subjects").index(i);
    if (str(s, "name").empty()) errs.push_back(required(p.child("name")));
    const std::string skind = str(s, "kind"), group = str(s, "apiGroup");
    if (skind == "ServiceAccount") {
      for (const auto& problem : dns1123_subdomain(str(s, "name")))
        if (!str(s, "name").empty()) errs.push_back(invalid(p.child("name"), go_quoted(str(s, "name")), problem));
      if (!group.empty()) errs.push_back(not_supported(p.child("apiGroup"), go_quoted(group), {""}));
      if (!namespaced && str(s, "namespace").empty()) errs.push_back(required(p.child("namespace")));
    } else if (skind == "User" || skind == "Group") {
      if (group != kRbacGroup) errs.push_back(not_supported(p.child("apiGroup"), go_quoted(group), {kRbacGroup}));
    } else {
      errs.push_back(not_supported(p.child("kind"), go_quoted(skind), {"ServiceAccount", "User", "Group"}));
    }
  }
}

void default_subjects(Passthrough& body) {
  json subjects = field(body, "subjects");
  if (!subjects.is_array()) return;
  for (auto& s : subjects)
    if (s.is_object() && !s.contains("apiGroup") && (str(s, "kind") == "User" || str(s, "kind") == "Group")) s["apiGroup"] = kRbacGroup;
  body["subjects"] = subjects.dump();
}

}  // namespace

void apply_defaults(Role&) {}
void apply_defaults(ClusterRole&) {}
void apply_defaults(RoleBinding& o) { default_subjects(o.body); }
void apply_defaults(ClusterRoleBinding& o) { default_subjects(o.body); }

FieldErrors validate(const Role& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &rbac_name);
  validate_rules(o.body, true, errs);
  return errs;
}

FieldErrors validate(const ClusterRole& o) {
  FieldErrors errs = validate_object_meta(o.metadata, false, &rbac_name);
  validate_rules(o.body, false, errs);
  return errs;
}

FieldErrors validate(const RoleBinding& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &rbac_name);
  validate_binding(o.body, true, errs);
  return errs;
}

FieldErrors validate(const ClusterRoleBinding& o) {
  FieldErrors errs = validate_object_meta(o.metadata, false, &rbac_name);
  validate_binding(o.body, false, errs);
  return errs;
}

}  // namespace switchyard::api
