// The RBAC authorizer, as kube-apiserver's (plugin/pkg/auth/authorizer/rbac): a request is
// allowed when a rule of a role bound to the user allows it. ClusterRoleBindings grant their
// ClusterRole everywhere; RoleBindings grant their Role or ClusterRole in their namespace.
// system:masters is allowed everything before RBAC is asked (the privileged-group authorizer).
// Roles and bindings are read from the registry on each decision for users outside
// system:masters, so a change is in force for the next request.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/apiserver/authentication.h"
#include "orchestrator/apiserver/request_attributes.h"

namespace switchyard::apiserver {

class ObjectRegistry;

struct PolicyRule {
  std::vector<std::string> verbs, api_groups, resources, resource_names, non_resource_urls;
  nlohmann::json to_json() const;
};

// The rules of a Role or ClusterRole object (fields missing or of the wrong type are empty).
std::vector<PolicyRule> rules_of(const nlohmann::json& role);
// rbacv1helpers' RuleAllows: verbs, API groups, resources (with "pods/log" and "*/scale"
// subresource forms) and resourceNames for resource requests; nonResourceURLs (with a trailing
// "*" as a prefix match) for the others; "*" matches anything in each list.
bool rule_allows(const PolicyRule& rule, const RequestAttributes& a);
// Whether a binding's subject is this user (User by name, Group by membership, ServiceAccount as
// system:serviceaccount:NS:NAME, NS defaulting to the binding's namespace).
bool subject_applies(const nlohmann::json& subject, const UserInfo& user, std::string_view binding_namespace);

struct Decision {
  bool allowed = false;
  std::string reason;  // "RBAC: allowed by ..." or the errors met (a binding to a missing role)
};

class RbacAuthorizer {
 public:
  explicit RbacAuthorizer(ObjectRegistry& registry) : registry_(registry) {}
  Decision authorize(const UserInfo& user, const RequestAttributes& a) const;
  // Every rule that applies to the user in `ns` (cluster-wide ones too): SelfSubjectRulesReview.
  std::vector<PolicyRule> rules_for(const UserInfo& user, std::string_view ns, std::vector<std::string>& errors) const;

 private:
  // Calls visit(source, rule) for each rule bound to the user in ns until it returns false.
  void visit_rules(const UserInfo& user, std::string_view ns, const std::function<bool(const std::string&, const PolicyRule&)>& visit,
                   std::vector<std::string>& errors) const;
  std::optional<std::vector<PolicyRule>> role_rules(const nlohmann::json& role_ref, std::string_view ns, std::string& error) const;
  ObjectRegistry& registry_;
};

}  // namespace switchyard::apiserver
