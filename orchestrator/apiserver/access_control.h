// Authentication, impersonation and authorization of a request, in kube-apiserver's order
// (authn → impersonation → authz), the SelfSubjectAccessReview and SelfSubjectRulesReview
// answers that `kubectl auth can-i` reads, and the (Local)SubjectAccessReviews that other
// components ask on behalf of their clients.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orchestrator/apiserver/authentication.h"
#include "orchestrator/apiserver/node_authorizer.h"
#include "orchestrator/apiserver/object_registry.h"
#include "orchestrator/apiserver/rbac_authorizer.h"
#include "orchestrator/apiserver/request_attributes.h"

namespace switchyard::apiserver {

// Impersonate-User and Impersonate-Group headers (kubectl --as, --as-group).
struct Impersonation {
  std::string user;
  std::vector<std::string> groups;
  bool requested() const { return !user.empty() || !groups.empty(); }
};

class AccessControl {
 public:
  AccessControl(ObjectRegistry& registry, Authenticator authenticator)
      : authn_(std::move(authenticator)), node_(registry), rbac_(registry) {}

  Authenticator& authenticator() { return authn_; }
  std::optional<UserInfo> authenticate(const RequestCredentials& c) const { return authn_.authenticate(c); }
  // The user the request acts as: itself, or whom it impersonates if it may (the impersonate verb
  // on users/groups/serviceaccounts); 403 or 400 otherwise.
  ApiResult<UserInfo> act_as(UserInfo user, const Impersonation& as) const;
  // kube-apiserver's --authorization-mode=Node,RBAC: the first that allows decides; a refusal
  // carries the reasons they gave.
  Decision decide(const UserInfo& user, const RequestAttributes& a) const;
  // 403 with kube-apiserver's message when neither allows the request.
  std::optional<ApiError> authorize(const UserInfo& user, const RequestAttributes& a) const;
  // POST selfsubjectaccessreviews / selfsubjectrulesreviews: the review with its status filled in.
  ApiResult<Json> self_subject_access_review(const Json& review, const UserInfo& user) const;
  ApiResult<Json> self_subject_rules_review(const Json& review, const UserInfo& user) const;
  // POST subjectaccessreviews (path_namespace empty) or a namespace's localsubjectaccessreviews:
  // whether spec.user/groups may do what the review names (the caller's own rights were checked
  // before: creating a review is itself authorized, e.g. by system:auth-delegator).
  ApiResult<Json> subject_access_review(const Json& review, std::string_view path_namespace) const;

 private:
  Authenticator authn_;
  NodeAuthorizer node_;
  RbacAuthorizer rbac_;
};

}  // namespace switchyard::apiserver
