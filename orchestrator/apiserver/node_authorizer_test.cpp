// The Node authorizer in front of RBAC over a real registry (SQLite) with the bootstrap roles:
// a node reads the Secrets, ConfigMaps, claims, volumes and ServiceAccount tokens of the pods
// bound to it and nothing of another node's, with kube-apiserver's 403 text; its own Lease
// only; the node rules for the rest; users that are not nodes keep RBAC's answers.
#include <gtest/gtest.h>

#include "orchestrator/apiserver/access_control.h"
#include "orchestrator/apiserver/rbac_bootstrap.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::apiserver {
namespace {

RequestAttributes attrs(std::string verb, std::string group, std::string res, std::string ns = "", std::string name = "",
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

const UserInfo kNode1{"system:node:n1", "", {"system:nodes", "system:authenticated"}};
const UserInfo kNode2{"system:node:n2", "", {"system:nodes", "system:authenticated"}};

class NodeAuthorization : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::open((dir_.path() / "store.db").string());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    registry_ = std::make_unique<ObjectRegistry>(*store_, api::ClusterNetworkConfig{});
    access_ = std::make_unique<AccessControl>(*registry_, Authenticator("admintoken"));
    for (const char* ns : {"y", "kube-node-lease"})
      ASSERT_TRUE(put("", "v1", "namespaces", "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}}));
    ASSERT_TRUE(ensure_bootstrap_rbac(*registry_));
    // On n1: a pod that uses s1 (volume), s2 (env), cm1 (envFrom), claim c1 (bound to pv1), SA web.
    ASSERT_TRUE(pod("p1", "n1", R"({"serviceAccountName":"web","nodeName":"n1",
        "volumes":[{"name":"a","secret":{"secretName":"s1"}},{"name":"b","persistentVolumeClaim":{"claimName":"c1"}}],
        "containers":[{"name":"c","image":"busybox","env":[{"name":"X","valueFrom":{"secretKeyRef":{"name":"s2","key":"k"}}}],
                       "envFrom":[{"configMapRef":{"name":"cm1"}}]}]})"));
    // On n2: a pod with a projected Secret s3.
    ASSERT_TRUE(pod("p2", "n2", R"({"nodeName":"n2","volumes":[{"name":"a","projected":{"sources":[{"secret":{"name":"s3"}}]}}],
        "containers":[{"name":"c","image":"busybox"}]})"));
    // Not yet scheduled: uses s4, so nobody may read s4.
    ASSERT_TRUE(pod("p3", "", R"({"volumes":[{"name":"a","secret":{"secretName":"s4"}}],"containers":[{"name":"c","image":"busybox"}]})"));
    ASSERT_TRUE(put("", "v1", "persistentvolumeclaims", "y",
                    Json::parse(R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c1"},
                      "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}},"volumeName":"pv1"}})")));
  }
  ApiResult<Json> put(const char* group, const char* version, const char* plural, const std::string& ns, const Json& body) {
    std::vector<std::string> w;
    return registry_->create(*find_resource(group, version, plural), ns, body, FieldValidation::Strict, w);
  }
  ApiResult<Json> pod(const std::string& name, const std::string&, const std::string& spec) {
    return put("", "v1", "pods", "y",
               {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}, {"namespace", "y"}}}, {"spec", Json::parse(spec)}});
  }
  bool allowed(const UserInfo& u, const RequestAttributes& a) { return !access_->authorize(u, a).has_value(); }
  std::string message(const UserInfo& u, const RequestAttributes& a) {
    auto denied = access_->authorize(u, a);
    return denied ? denied->status.value("message", "") : "allowed";
  }

  store::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ObjectRegistry> registry_;
  std::unique_ptr<AccessControl> access_;
};

TEST(NodeIdentity, GroupAndPrefixBothRequired) {
  EXPECT_EQ(node_identity(kNode1).value_or("?"), "n1");
  EXPECT_FALSE(node_identity(UserInfo{"system:node:n1", "", {"system:authenticated"}}));
  EXPECT_FALSE(node_identity(UserInfo{"alice", "", {"system:nodes"}}));
  EXPECT_EQ(node_identity(UserInfo{"system:node:", "", {"system:nodes"}}).value_or("?"), "");
}

TEST_F(NodeAuthorization, SecretsOfItsOwnPodsOnly) {
  EXPECT_TRUE(allowed(kNode1, attrs("get", "", "secrets", "y", "s1")));
  EXPECT_TRUE(allowed(kNode1, attrs("get", "", "secrets", "y", "s2")));
  EXPECT_TRUE(allowed(kNode2, attrs("get", "", "secrets", "y", "s3")));
  // Another node's pod's Secret: kube-apiserver's words, with the Node authorizer's reason.
  EXPECT_EQ(message(kNode2, attrs("get", "", "secrets", "y", "s1")),
            "secrets \"s1\" is forbidden: User \"system:node:n2\" cannot get resource \"secrets\" in API group \"\" in the namespace "
            "\"y\": no relationship found between node 'n2' and this object");
  EXPECT_FALSE(allowed(kNode1, attrs("get", "", "secrets", "y", "s3")));
  EXPECT_FALSE(allowed(kNode1, attrs("get", "", "secrets", "y", "s4")));  // an unscheduled pod's
  EXPECT_FALSE(allowed(kNode1, attrs("get", "", "secrets", "other", "s1")));
  // A watch of one Secret by name (the kubelet's way) is a read of that object.
  EXPECT_TRUE(allowed(kNode1, attrs("watch", "", "secrets", "y", "s1")));
  EXPECT_EQ(message(kNode1, attrs("list", "", "secrets", "y")),
            "secrets is forbidden: User \"system:node:n1\" cannot list resource \"secrets\" in API group \"\" in the namespace \"y\": No "
            "Object name found");
  EXPECT_FALSE(allowed(kNode1, attrs("list", "", "secrets", "")));
  EXPECT_EQ(message(kNode1, attrs("delete", "", "secrets", "y", "s1")),
            "secrets \"s1\" is forbidden: User \"system:node:n1\" cannot delete resource \"secrets\" in API group \"\" in the namespace "
            "\"y\": can only read resources of this type");
}

TEST_F(NodeAuthorization, ABindingChangesTheAnswerAtOnce) {
  EXPECT_FALSE(allowed(kNode2, attrs("get", "", "secrets", "y", "s4")));
  auto p3 = registry_->assign_pod("y", "p3", "n2", {});
  ASSERT_TRUE(p3) << p3.error().status.dump();
  EXPECT_TRUE(allowed(kNode2, attrs("get", "", "secrets", "y", "s4")));
  EXPECT_FALSE(allowed(kNode1, attrs("get", "", "secrets", "y", "s4")));
}

TEST_F(NodeAuthorization, ConfigMapsClaimsVolumesAndTokens) {
  EXPECT_TRUE(allowed(kNode1, attrs("get", "", "configmaps", "y", "cm1")));
  EXPECT_FALSE(allowed(kNode2, attrs("get", "", "configmaps", "y", "cm1")));
  EXPECT_TRUE(allowed(kNode1, attrs("get", "", "persistentvolumeclaims", "y", "c1")));
  EXPECT_FALSE(allowed(kNode2, attrs("get", "", "persistentvolumeclaims", "y", "c1")));
  EXPECT_TRUE(allowed(kNode1, attrs("get", "", "persistentvolumes", "", "pv1")));
  EXPECT_EQ(
      message(kNode2, attrs("get", "", "persistentvolumes", "", "pv1")),
      "persistentvolumes \"pv1\" is forbidden: User \"system:node:n2\" cannot get resource \"persistentvolumes\" in API group \"\" at "
      "the cluster scope: no relationship found between node 'n2' and this object");
  EXPECT_TRUE(allowed(kNode1, attrs("create", "", "serviceaccounts", "y", "web", "token")));
  EXPECT_FALSE(allowed(kNode1, attrs("create", "", "serviceaccounts", "y", "default", "token")));
  EXPECT_TRUE(allowed(kNode2, attrs("create", "", "serviceaccounts", "y", "default", "token")));
  EXPECT_FALSE(allowed(kNode1, attrs("get", "", "serviceaccounts", "y", "web")));
}

TEST_F(NodeAuthorization, OwnLeaseOnlyAndTheNodeRulesForTheRest) {
  EXPECT_TRUE(allowed(kNode1, attrs("update", "coordination.k8s.io", "leases", "kube-node-lease", "n1")));
  EXPECT_TRUE(allowed(kNode1, attrs("create", "coordination.k8s.io", "leases", "kube-node-lease")));
  EXPECT_EQ(message(kNode1, attrs("update", "coordination.k8s.io", "leases", "kube-node-lease", "n2")),
            "leases.coordination.k8s.io \"n2\" is forbidden: User \"system:node:n1\" cannot update resource \"leases\" in API group "
            "\"coordination.k8s.io\" in the namespace \"kube-node-lease\": can only access node lease with the same name as the "
            "requesting node");
  EXPECT_FALSE(allowed(kNode1, attrs("get", "coordination.k8s.io", "leases", "kube-system", "n1")));
  // What every kubelet and node agent reads.
  EXPECT_TRUE(allowed(kNode1, attrs("list", "", "pods", "")));
  EXPECT_TRUE(allowed(kNode1, attrs("watch", "", "services", "")));
  EXPECT_TRUE(allowed(kNode1, attrs("list", "discovery.k8s.io", "endpointslices", "")));
  EXPECT_TRUE(allowed(kNode1, attrs("patch", "", "nodes", "", "n1", "status")));
  EXPECT_TRUE(allowed(kNode1, attrs("create", "certificates.k8s.io", "certificatesigningrequests")));
  EXPECT_FALSE(allowed(kNode1, attrs("create", "apps", "deployments", "y")));
  EXPECT_FALSE(allowed(kNode1, attrs("list", "rbac.authorization.k8s.io", "clusterroles")));
}

TEST_F(NodeAuthorization, OtherUsersKeepRbacsAnswers) {
  const UserInfo alice{"alice", "", {"system:authenticated"}};
  EXPECT_EQ(message(alice, attrs("get", "", "secrets", "y", "s1")),
            "secrets \"s1\" is forbidden: User \"alice\" cannot get resource \"secrets\" in API group \"\" in the namespace \"y\"");
  // A user named like a node but outside system:nodes is no node.
  EXPECT_FALSE(allowed(UserInfo{"system:node:n1", "", {"system:authenticated"}}, attrs("get", "", "secrets", "y", "s1")));
  EXPECT_TRUE(allowed(UserInfo{"admin", "", {"system:masters"}}, attrs("get", "", "secrets", "y", "s1")));
}

TEST_F(NodeAuthorization, AccessReviewsAskTheNodeAuthorizerToo) {
  Json review = {{"spec",
                  {{"user", "system:node:n2"},
                   {"groups", {"system:nodes"}},
                   {"resourceAttributes", {{"namespace", "y"}, {"verb", "get"}, {"resource", "secrets"}, {"name", "s3"}}}}}};
  auto yes = access_->subject_access_review(review, "");
  ASSERT_TRUE(yes);
  EXPECT_TRUE((*yes)["status"]["allowed"].get<bool>());
  review["spec"]["resourceAttributes"]["name"] = "s1";
  auto no = access_->subject_access_review(review, "");
  ASSERT_TRUE(no);
  EXPECT_FALSE((*no)["status"]["allowed"].get<bool>());
  EXPECT_EQ((*no)["status"].value("reason", ""), "no relationship found between node 'n2' and this object");
}

TEST_F(NodeAuthorization, TheLegacyGroupBindingLosesItsSubjects) {
  // A data directory from before the Node authorizer: system:node bound to every node.
  const ResourceInfo& crbs = *find_resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings");
  auto old = registry_->get(crbs, "", "system:node");
  ASSERT_FALSE(old);  // a new cluster has none
  ASSERT_TRUE(put("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "",
                  Json::parse(R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding",
                    "metadata":{"name":"system:node","annotations":{"rbac.authorization.kubernetes.io/autoupdate":"true"}},
                    "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"system:node"},
                    "subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"system:nodes"}]})")));
  EXPECT_TRUE(allowed(kNode2, attrs("get", "", "secrets", "y", "s1")));  // what the Node authorizer is there to stop
  ASSERT_TRUE(ensure_bootstrap_rbac(*registry_));
  auto now = registry_->get(crbs, "", "system:node");
  ASSERT_TRUE(now);
  EXPECT_TRUE((*now)["subjects"].empty()) << now->dump();
  EXPECT_FALSE(allowed(kNode2, attrs("get", "", "secrets", "y", "s1")));
}

}  // namespace
}  // namespace switchyard::apiserver
