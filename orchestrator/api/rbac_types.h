// rbac.authorization.k8s.io/v1: Role, ClusterRole, RoleBinding, ClusterRoleBinding. Their
// bodies (rules, aggregationRule, subjects, roleRef) are kept as JSON text: the authorizer reads
// them as JSON, and validation (rbac_validation.cpp) checks their shapes and required fields as
// pkg/apis/rbac/validation does. Included by types.h after ObjectMeta.
#pragma once

namespace switchyard::api {

inline constexpr const char* kRbacGroup = "rbac.authorization.k8s.io";

struct Role {
  static constexpr const char* kKind = "Role";
  static constexpr const char* kApiVersion = "rbac.authorization.k8s.io/v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  Passthrough body;  // rules
  bool operator==(const Role&) const = default;
};

struct ClusterRole {
  static constexpr const char* kKind = "ClusterRole";
  static constexpr const char* kApiVersion = "rbac.authorization.k8s.io/v1";
  static constexpr bool kNamespaced = false;
  ObjectMeta metadata;
  Passthrough body;  // rules, aggregationRule
  bool operator==(const ClusterRole&) const = default;
};

struct RoleBinding {
  static constexpr const char* kKind = "RoleBinding";
  static constexpr const char* kApiVersion = "rbac.authorization.k8s.io/v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  Passthrough body;  // subjects, roleRef
  bool operator==(const RoleBinding&) const = default;
};

struct ClusterRoleBinding {
  static constexpr const char* kKind = "ClusterRoleBinding";
  static constexpr const char* kApiVersion = "rbac.authorization.k8s.io/v1";
  static constexpr bool kNamespaced = false;
  ObjectMeta metadata;
  Passthrough body;  // subjects, roleRef
  bool operator==(const ClusterRoleBinding&) const = default;
};

}  // namespace switchyard::api
