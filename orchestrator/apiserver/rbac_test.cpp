// The rule matcher, request → attributes mapping, 403 text, the token file, RBAC validation, and
// the authorizer over a real registry (SQLite) with the bootstrap roles.
#include <gtest/gtest.h>

#include "orchestrator/api/protobuf_codec.h"
#include "orchestrator/apiserver/access_control.h"
#include "orchestrator/apiserver/rbac_bootstrap.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::apiserver {
namespace {

RequestAttributes resource(std::string verb, std::string group, std::string res, std::string ns = "", std::string name = "",
                           std::string sub = "") {
  return {.verb = std::move(verb),
          .resource_request = true,
          .api_group = std::move(group),
          .api_version = "v1",
          .resource = std::move(res),
          .subresource = std::move(sub),
          .name = std::move(name),
          .ns = std::move(ns)};
}

TEST(RequestAttributes, VerbsAsKubeApiserverNamesThem) {
  auto a = request_attributes("GET", "/api/v1/namespaces/y/pods");
  EXPECT_EQ(a.verb, "list");
  EXPECT_TRUE(a.resource_request);
  EXPECT_EQ(a.ns, "y");
  EXPECT_EQ(a.resource, "pods");
  EXPECT_EQ(request_attributes("GET", "/api/v1/namespaces/y/pods?watch=true").verb, "watch");
  EXPECT_EQ(request_attributes("GET", "/api/v1/namespaces/y/pods?watch=1").verb, "watch");
  EXPECT_EQ(request_attributes("GET", "/api/v1/namespaces/y/pods?watch=false").verb, "list");
  EXPECT_EQ(request_attributes("GET", "/api/v1/watch/namespaces/y/pods").verb, "watch");
  EXPECT_EQ(request_attributes("DELETE", "/api/v1/namespaces/y/pods").verb, "deletecollection");
  EXPECT_EQ(request_attributes("DELETE", "/api/v1/namespaces/y/pods/p").verb, "delete");
  EXPECT_EQ(request_attributes("PATCH", "/api/v1/namespaces/y/pods/p").verb, "patch");
  EXPECT_EQ(request_attributes("PUT", "/api/v1/namespaces/y/pods/p/status").verb, "update");
  EXPECT_EQ(request_attributes("POST", "/api/v1/namespaces/y/pods").verb, "create");

  auto log = request_attributes("GET", "/api/v1/namespaces/y/pods/p/log?follow=true");
  EXPECT_EQ(log.verb, "get");
  EXPECT_EQ(log.name, "p");
  EXPECT_EQ(log.subresource, "log");

  // A list pinned to one name by field selector is a list of that name (resourceNames rules).
  auto pinned = request_attributes("GET", "/api/v1/namespaces/y/pods?fieldSelector=metadata.name%3Dweb&watch=true");
  EXPECT_EQ(pinned.verb, "watch");
  EXPECT_EQ(pinned.name, "web");

  auto crb = request_attributes("GET", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/x");
  EXPECT_EQ(crb.api_group, "rbac.authorization.k8s.io");
  EXPECT_EQ(crb.resource, "clusterrolebindings");
  EXPECT_EQ(crb.ns, "");
  EXPECT_EQ(crb.verb, "get");

  // A namespace is its own resource; its status is a subresource, not a resource in it.
  auto ns = request_attributes("GET", "/api/v1/namespaces/y");
  EXPECT_EQ(ns.resource, "namespaces");
  EXPECT_EQ(ns.name, "y");
  EXPECT_EQ(ns.ns, "y");
  EXPECT_EQ(request_attributes("PUT", "/api/v1/namespaces/y/status").subresource, "status");

  for (const char* path : {"/api", "/apis", "/version", "/healthz", "/apis/apps", "/openapi/v2"}) {
    auto n = request_attributes("GET", path);
    EXPECT_FALSE(n.resource_request) << path;
    EXPECT_EQ(n.verb, "get");
    EXPECT_EQ(n.path, path);
  }
}

TEST(RuleMatcher, VerbsGroupsResourcesNamesAndWildcards) {
  const PolicyRule read_pods{{"get", "list"}, {""}, {"pods"}, {}, {}};
  EXPECT_TRUE(rule_allows(read_pods, resource("list", "", "pods", "y")));
  EXPECT_FALSE(rule_allows(read_pods, resource("delete", "", "pods", "y", "p")));
  EXPECT_FALSE(rule_allows(read_pods, resource("list", "apps", "pods", "y")));
  EXPECT_FALSE(rule_allows(read_pods, resource("list", "", "services", "y")));
  // A subresource is matched only by its own name (or */sub, or *).
  EXPECT_FALSE(rule_allows(read_pods, resource("get", "", "pods", "y", "p", "log")));
  EXPECT_TRUE(rule_allows({{"get"}, {""}, {"pods/log"}, {}, {}}, resource("get", "", "pods", "y", "p", "log")));
  EXPECT_TRUE(rule_allows({{"get"}, {"apps"}, {"*/scale"}, {}, {}}, resource("get", "apps", "deployments", "y", "d", "scale")));
  EXPECT_FALSE(rule_allows({{"get"}, {"apps"}, {"*/scale"}, {}, {}}, resource("get", "apps", "deployments", "y", "d")));
  EXPECT_TRUE(rule_allows({{"*"}, {"*"}, {"*"}, {}, {}}, resource("deletecollection", "x.io", "things", "y", "", "")));
  // resourceNames restrict to named objects: a list of everything is not a named request.
  const PolicyRule one{{"get", "list"}, {""}, {"configmaps"}, {"cfg"}, {}};
  EXPECT_TRUE(rule_allows(one, resource("get", "", "configmaps", "y", "cfg")));
  EXPECT_FALSE(rule_allows(one, resource("get", "", "configmaps", "y", "other")));
  EXPECT_FALSE(rule_allows(one, resource("list", "", "configmaps", "y")));
  // Non-resource URLs: exact, or a prefix with a trailing *.
  const PolicyRule urls{{"get"}, {}, {}, {}, {"/healthz", "/apis/*"}};
  RequestAttributes path{.verb = "get", .path = "/healthz"};
  EXPECT_TRUE(rule_allows(urls, path));
  path.path = "/apis/apps/v1";
  EXPECT_TRUE(rule_allows(urls, path));
  path.path = "/version";
  EXPECT_FALSE(rule_allows(urls, path));
  // A resource rule never matches a path, nor a URL rule a resource.
  EXPECT_FALSE(rule_allows(read_pods, RequestAttributes{.verb = "get", .path = "/api"}));
  EXPECT_FALSE(rule_allows(urls, resource("get", "", "pods", "y", "p")));
}

TEST(ForbiddenMessage, AsKubeApiserverWordsIt) {
  EXPECT_EQ(forbidden_message("x", resource("list", "", "pods", "y")),
            "User \"x\" cannot list resource \"pods\" in API group \"\" in the namespace \"y\"");
  EXPECT_EQ(forbidden_message("x", resource("get", "rbac.authorization.k8s.io", "clusterroles", "", "admin")),
            "User \"x\" cannot get resource \"clusterroles\" in API group \"rbac.authorization.k8s.io\" at the cluster scope");
  EXPECT_EQ(forbidden_message("x", resource("get", "", "pods", "y", "p", "log")),
            "User \"x\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"y\"");
  EXPECT_EQ(forbidden_message("x", RequestAttributes{.verb = "get", .path = "/metrics"}), "User \"x\" cannot get path \"/metrics\"");
  EXPECT_EQ(forbidden_message("x", resource("list", "", "pods", "y"), "RBAC: role.rbac.authorization.k8s.io \"r\" not found"),
            "User \"x\" cannot list resource \"pods\" in API group \"\" in the namespace \"y\": RBAC: role.rbac.authorization.k8s.io \"r\" "
            "not found");
}

TEST(TokenFile, CsvAsKubeApiserverReadsIt) {
  Authenticator a("admintoken");
  ASSERT_TRUE(
      a.add_tokens("# comment\n"
                   "t1,alice,u1\n"
                   "t2,bob,u2,\"dev, ops\"\n"
                   "\n",
                   "tokens.csv"));
  auto alice = a.authenticate({.authorization = "Bearer t1"});
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->name, "alice");
  EXPECT_EQ(alice->uid, "u1");
  EXPECT_EQ(alice->groups, (std::vector<std::string>{"system:authenticated"}));
  auto bob = a.authenticate({.authorization = "Bearer t2"});
  ASSERT_TRUE(bob);
  EXPECT_EQ(bob->groups, (std::vector<std::string>{"dev", "ops", "system:authenticated"}));
  auto admin = a.authenticate({.authorization = "Bearer admintoken"});
  ASSERT_TRUE(admin);
  EXPECT_TRUE(admin->in_group("system:masters"));
  EXPECT_FALSE(a.authenticate({.authorization = "Bearer nope"}));
  EXPECT_FALSE(a.authenticate({}));
  // A client certificate counts only when the server accepts them.
  const std::vector<std::string> orgs{"team-a"};
  EXPECT_FALSE(a.authenticate({.client_certificate_cn = "carol", .client_certificate_organizations = &orgs}));
  a.accept_client_certificates(true);
  auto carol = a.authenticate({.client_certificate_cn = "carol", .client_certificate_organizations = &orgs});
  ASSERT_TRUE(carol);
  EXPECT_EQ(carol->groups, (std::vector<std::string>{"team-a", "system:authenticated"}));

  EXPECT_FALSE(a.add_tokens("only,two\n", "bad.csv"));
  EXPECT_FALSE(a.add_tokens(",user,uid\n", "bad.csv"));
  EXPECT_FALSE(a.add_tokens("t,\"user,uid\n", "bad.csv"));
}

// kubectl 1.32+ sends Roles and bindings, and can-i its reviews, in protobuf: upstream's field numbers.
TEST(RbacProtobuf, RolesBindingsAndReviewsRoundTrip) {
  const Json role = Json::parse(R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"r"},
      "rules":[{"verbs":["get"],"apiGroups":[""],"resources":["pods","pods/log"],"resourceNames":["a"]},{"verbs":["get"],"nonResourceURLs":["/x"]}],
      "aggregationRule":{"clusterRoleSelectors":[{"matchLabels":{"k":"v"}}]}})");
  const Json binding =
      Json::parse(R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"b","namespace":"n"},
      "subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"u"},{"kind":"ServiceAccount","name":"s","namespace":"n"}],
      "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"}})");
  const Json review = Json::parse(R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","metadata":{},
      "spec":{"resourceAttributes":{"namespace":"n","verb":"list","resource":"pods"}},"status":{"allowed":false,"reason":"r"}})");
  for (const Json& object : {role, binding, review}) {
    auto bytes = api::protobuf::encode_object(object);
    ASSERT_TRUE(bytes) << bytes.error().message;
    auto back = api::protobuf::decode_object(*bytes);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, object) << back->dump();
  }
}

class Rbac : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::open((dir_.path() / "store.db").string());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    registry_ = std::make_unique<ObjectRegistry>(*store_, api::ClusterNetworkConfig{});
    access_ = std::make_unique<AccessControl>(*registry_, Authenticator("admintoken"));
    std::vector<std::string> w;
    ASSERT_TRUE(registry_->create(*find_resource("", "v1", "namespaces"), "",
                                  {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "y"}}}}, FieldValidation::Strict,
                                  w));
    ASSERT_TRUE(ensure_bootstrap_rbac(*registry_));
  }
  ApiResult<Json> create(const char* plural, const std::string& ns, const Json& body) {
    std::vector<std::string> w;
    return registry_->create(*find_resource("rbac.authorization.k8s.io", "v1", plural), ns, body, FieldValidation::Strict, w);
  }
  bool allowed(const UserInfo& u, const RequestAttributes& a) { return !access_->authorize(u, a).has_value(); }

  store::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ObjectRegistry> registry_;
  std::unique_ptr<AccessControl> access_;
};

TEST_F(Rbac, BindingsGrantExactlyTheirRules) {
  const UserInfo alice{"alice", "", {"system:authenticated"}};
  EXPECT_FALSE(allowed(alice, resource("list", "", "pods", "y")));
  auto denied = access_->authorize(alice, resource("list", "", "pods", "y"));
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->code, 403);
  EXPECT_EQ(denied->status["message"],
            "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"y\"");
  EXPECT_EQ(denied->status["reason"], "Forbidden");
  // Discovery and access reviews are everyone's (system:discovery, system:basic-user).
  EXPECT_TRUE(allowed(alice, RequestAttributes{.verb = "get", .path = "/apis"}));
  EXPECT_TRUE(allowed(alice, resource("create", "authorization.k8s.io", "selfsubjectaccessreviews")));

  ASSERT_TRUE(create("roles", "y",
                     {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                      {"kind", "Role"},
                      {"metadata", {{"name", "pod-reader"}}},
                      {"rules", {{{"apiGroups", {""}}, {"resources", {"pods"}}, {"verbs", {"get", "list"}}}}}}));
  ASSERT_TRUE(create("rolebindings", "y",
                     {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                      {"kind", "RoleBinding"},
                      {"metadata", {{"name", "alice-reads"}}},
                      {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "pod-reader"}}},
                      {"subjects", {{{"kind", "User"}, {"name", "alice"}}}}}));
  EXPECT_TRUE(allowed(alice, resource("list", "", "pods", "y")));
  EXPECT_TRUE(allowed(alice, resource("get", "", "pods", "y", "p")));
  EXPECT_FALSE(allowed(alice, resource("list", "", "pods", "default")));  // a RoleBinding is its namespace's only
  EXPECT_FALSE(allowed(alice, resource("list", "", "pods", "")));         // nor cluster-wide
  EXPECT_FALSE(allowed(alice, resource("delete", "", "pods", "y", "p")));
  EXPECT_FALSE(allowed(alice, resource("get", "", "pods", "y", "p", "log")));

  // The bootstrap view role (aggregated) through a ClusterRoleBinding to a group.
  const UserInfo bob{"bob", "", {"viewers", "system:authenticated"}};
  EXPECT_FALSE(allowed(bob, resource("list", "", "services", "default")));
  ASSERT_TRUE(create("clusterrolebindings", "",
                     {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                      {"kind", "ClusterRoleBinding"},
                      {"metadata", {{"name", "viewers"}}},
                      {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", "view"}}},
                      {"subjects", {{{"kind", "Group"}, {"name", "viewers"}}}}}));
  EXPECT_TRUE(allowed(bob, resource("list", "", "services", "default")));
  EXPECT_TRUE(allowed(bob, resource("get", "", "pods", "y", "p", "log")));
  EXPECT_FALSE(allowed(bob, resource("create", "", "services", "default")));
  EXPECT_FALSE(allowed(bob, resource("list", "rbac.authorization.k8s.io", "roles", "default")));

  // A binding to a missing role says so in the 403, as upstream's RBAC reason.
  ASSERT_TRUE(create("rolebindings", "y",
                     {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                      {"kind", "RoleBinding"},
                      {"metadata", {{"name", "dangling"}}},
                      {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "missing"}}},
                      {"subjects", {{{"kind", "User"}, {"name", "alice"}}}}}));
  auto d = access_->authorize(alice, resource("delete", "", "pods", "y", "p"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status["message"],
            "pods \"p\" is forbidden: User \"alice\" cannot delete resource \"pods\" in API group \"\" in the namespace \"y\": RBAC: "
            "role.rbac.authorization.k8s.io \"missing\" not found");
}

TEST_F(Rbac, MastersImpersonationAndReviews) {
  const UserInfo admin = admin_user();
  EXPECT_TRUE(allowed(admin, resource("deletecollection", "", "pods", "y")));
  auto as = access_->act_as(admin, Impersonation{"x", {"g1"}});
  ASSERT_TRUE(as);
  EXPECT_EQ(as->name, "x");
  EXPECT_EQ(as->groups, (std::vector<std::string>{"g1", "system:authenticated"}));
  EXPECT_FALSE(allowed(*as, resource("list", "", "pods", "y")));

  const UserInfo alice{"alice", "", {"system:authenticated"}};
  auto refused = access_->act_as(alice, Impersonation{"admin", {}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().status["message"],
            "users \"admin\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope");
  EXPECT_EQ(access_->act_as(admin, Impersonation{"", {"g"}}).error().code, 400);

  auto review = access_->self_subject_access_review(
      {{"spec", {{"resourceAttributes", {{"namespace", "y"}, {"verb", "list"}, {"resource", "pods"}}}}}}, alice);
  ASSERT_TRUE(review);
  EXPECT_EQ((*review)["status"]["allowed"], false);
  review = access_->self_subject_access_review({{"spec", {{"resourceAttributes", {{"verb", "list"}, {"resource", "pods"}}}}}}, admin);
  EXPECT_EQ((*review)["status"]["allowed"], true);
  EXPECT_EQ(access_->self_subject_access_review({{"spec", Json::object()}}, admin).error().code, 422);

  auto rules = access_->self_subject_rules_review({{"spec", {{"namespace", "y"}}}}, alice);
  ASSERT_TRUE(rules);
  bool reviews = false;
  for (const auto& r : (*rules)["status"]["resourceRules"])
    for (const auto& res : r["resources"]) reviews |= res == "selfsubjectaccessreviews";
  EXPECT_TRUE(reviews);
}

TEST_F(Rbac, ValidationAsUpstream) {
  auto no_verbs = create("roles", "y",
                         {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                          {"kind", "Role"},
                          {"metadata", {{"name", "r"}}},
                          {"rules", {{{"apiGroups", {""}}, {"resources", {"pods"}}}}}});
  ASSERT_FALSE(no_verbs);
  EXPECT_EQ(no_verbs.error().code, 422);
  EXPECT_EQ(no_verbs.error().status["message"],
            "Role.rbac.authorization.k8s.io \"r\" is invalid: rules[0].verbs: Required value: verbs must contain at least one value");
  auto urls_in_role = create("roles", "y",
                             {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                              {"kind", "Role"},
                              {"metadata", {{"name", "r"}}},
                              {"rules", {{{"nonResourceURLs", {"/x"}}, {"verbs", {"get"}}}}}});
  ASSERT_FALSE(urls_in_role);
  EXPECT_EQ(urls_in_role.error().status["message"],
            "Role.rbac.authorization.k8s.io \"r\" is invalid: rules[0].nonResourceURLs: Invalid value: []string{\"/x\"}: namespaced rules "
            "cannot apply to non-resource URLs");
  auto bad_ref = create("clusterrolebindings", "",
                        {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                         {"kind", "ClusterRoleBinding"},
                         {"metadata", {{"name", "b"}}},
                         {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "x"}}}});
  ASSERT_FALSE(bad_ref);
  EXPECT_EQ(bad_ref.error().status["message"],
            "ClusterRoleBinding.rbac.authorization.k8s.io \"b\" is invalid: roleRef.kind: Unsupported value: \"Role\": supported values: "
            "\"ClusterRole\"");
  // A User subject gets the RBAC apiGroup by default; "system:" names are valid.
  auto ok = create("clusterrolebindings", "",
                   {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                    {"kind", "ClusterRoleBinding"},
                    {"metadata", {{"name", "system:b"}}},
                    {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", "view"}}},
                    {"subjects", {{{"kind", "User"}, {"name", "u"}}}}});
  ASSERT_TRUE(ok) << ok.error().status.dump();
  EXPECT_EQ((*ok)["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
}

}  // namespace
}  // namespace switchyard::apiserver
