// RBAC end to end: real kubectl (1.27 and 1.33) against a real `switchyard apiserver` with a
// --token-auth-file user, a user from a client certificate signed by the data directory's CA
// (made with openssl here), a ServiceAccount's token from `kubectl create token`, and users and
// groups impersonated with --as/--as-group. Each may do exactly what its bindings grant and gets
// kube-apiserver's 403 text otherwise; `kubectl auth can-i` and `can-i --list` answer as the
// bindings say.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netns-tests/support/apiserver_process.h"

namespace switchyard::apiserver {
namespace {

using switchyard::testing::ApiserverProcess;
using switchyard::testing::run;
using ::testing::HasSubstr;
using ::testing::Not;

// kubectl's can-i --list table with each run of spaces squeezed to one, so that rows compare
// without depending on column widths: "pods [] [] [get list watch]".
std::string squeezed(const std::string& table) {
  std::string out;
  for (char c : table)
    if (c != ' ' || out.empty() || out.back() != ' ') out += c;
  return out;
}

// What every authenticated user may do (system:basic-user, system:discovery and
// system:public-info-viewer), as kube-apiserver's can-i --list shows it: its resource rows, and
// its non-resource rows (each health path twice, from two roles, as upstream prints them).
constexpr const char* kEveryonesResourceRows =
    "selfsubjectreviews.authentication.k8s.io [] [] [create]\n"
    "selfsubjectaccessreviews.authorization.k8s.io [] [] [create]\n"
    "selfsubjectrulesreviews.authorization.k8s.io [] [] [create]\n";
constexpr const char* kEveryonesNonResourceRows =
    " [/api/*] [] [get]\n [/api] [] [get]\n [/apis/*] [] [get]\n [/apis] [] [get]\n [/healthz] [] [get]\n [/healthz] [] [get]\n"
    " [/livez] [] [get]\n [/livez] [] [get]\n [/openapi/*] [] [get]\n [/openapi] [] [get]\n [/readyz] [] [get]\n"
    " [/readyz] [] [get]\n [/version/] [] [get]\n [/version/] [] [get]\n [/version] [] [get]\n [/version] [] [get]\n";

class RbacKubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    tokens_ = std::filesystem::temp_directory_path() / ("sy-rbac-tokens-" + GetParam() + "-" + std::to_string(getpid()) + ".csv");
    std::ofstream(tokens_) << "tok-alice-" << getpid() << ",alice,1001,\"dev,qa\"\n";
    server_ = std::make_unique<ApiserverProcess>(SWITCHYARD_BINARY, "rbac-" + GetParam(),
                                                 std::vector<std::string>{"--token-auth-file", tokens_.string()});
    ASSERT_TRUE(server_->wait_ready(kubectl_)) << server_->log();
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove(tokens_);
  }
  testing::CommandResult admin(const std::string& args) { return server_->run_kubectl(kubectl_, args); }
  // kubectl with another user's credentials (flags that name them and the server).
  testing::CommandResult as_user(const std::string& user_flags, const std::string& args) {
    return run(kubectl_ + " " + user_flags + " " + args);
  }
  // The admin kubeconfig's cluster with the token file's user.
  std::string alice() { return "--kubeconfig " + server_->kubeconfig() + " --token tok-alice-" + std::to_string(getpid()); }
  // A client certificate for CN=carol, O=auditors signed by the data directory's CA.
  std::string carol() {
    const auto dir = server_->dir(), pki = dir / "data" / "pki";
    const std::string key = (dir / "carol.key").string(), csr = (dir / "carol.csr").string(), crt = (dir / "carol.crt").string();
    EXPECT_EQ(run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/O=auditors/CN=carol' -keyout " + key +
                  " -out " + csr)
                  .exit_code,
              0);
    auto signed_ = run("openssl x509 -req -days 1 -in " + csr + " -CA " + (pki / "ca.crt").string() + " -CAkey " +
                       (pki / "ca.key").string() + " -CAcreateserial -out " + crt);
    EXPECT_EQ(signed_.exit_code, 0) << signed_.output;
    // No kubeconfig credentials at all: only the certificate speaks for carol.
    const std::string server = admin("config view -o jsonpath='{.clusters[0].cluster.server}'").output;
    const std::string empty = server_->file("empty.kubeconfig", "");
    return "--kubeconfig " + empty + " --server " + server + " --certificate-authority " + (pki / "ca.crt").string() +
           " --client-certificate " + crt + " --client-key " + key;
  }

  std::string kubectl_;
  std::filesystem::path tokens_;
  std::unique_ptr<ApiserverProcess> server_;
};

TEST_P(RbacKubectl, TokenFileUserGetsWhatItsRoleBindingGrants) {
  ASSERT_EQ(admin("create namespace team").exit_code, 0);
  auto denied = as_user(alice(), "get pods -n team");
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_THAT(denied.output, HasSubstr("Error from server (Forbidden): pods is forbidden: User \"alice\" cannot list resource \"pods\" in "
                                       "API group \"\" in the namespace \"team\""));
  auto created = admin("create role pod-reader -n team --verb=get,list,watch --resource=pods");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  created = admin("create rolebinding alice-reads -n team --role=pod-reader --user=alice");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  auto listed = as_user(alice(), "get pods -n team");
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("No resources found in team namespace."));
  // Only reading, only pods, only in team.
  auto other_ns = as_user(alice(), "get pods -n default");
  EXPECT_THAT(other_ns.output, HasSubstr("pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the "
                                         "namespace \"default\""));
  auto services = as_user(alice(), "get services -n team");
  EXPECT_THAT(services.output, HasSubstr("services is forbidden: User \"alice\" cannot list resource \"services\""));
  auto create = as_user(alice(), "create configmap c -n team --from-literal=a=b");
  EXPECT_NE(create.exit_code, 0);
  auto write = as_user(alice(), "run p -n team --image=busybox");
  EXPECT_THAT(write.output, HasSubstr("pods is forbidden: User \"alice\" cannot create resource \"pods\" in API group \"\" in the "
                                      "namespace \"team\""));
  // A group from the token file's fourth column binds too.
  ASSERT_EQ(admin("create clusterrolebinding qa-view --clusterrole=view --group=qa").exit_code, 0);
  auto viewed = as_user(alice(), "get services -n default -o name");
  EXPECT_EQ(viewed.exit_code, 0) << viewed.output;
  EXPECT_THAT(viewed.output, HasSubstr("service/kubernetes"));
  // can-i as the user itself (SelfSubjectAccessReview).
  EXPECT_EQ(as_user(alice(), "auth can-i list pods -n team").output, "yes\n");
  auto no = as_user(alice(), "auth can-i delete pods -n team");
  EXPECT_EQ(no.output, "no\n");
  EXPECT_NE(no.exit_code, 0);
  // can-i --list (SelfSubjectRulesReview) shows the Role's rule.
  auto list = as_user(alice(), "auth can-i --list -n team");
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("pods "));
  EXPECT_THAT(list.output, HasSubstr("[get list watch]"));
}

TEST_P(RbacKubectl, ClientCertificateUserIsItsCommonNameInItsOrganizations) {
  const std::string cert = carol();
  auto denied = as_user(cert, "get nodes");
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_THAT(denied.output, HasSubstr("nodes is forbidden: User \"carol\" cannot list resource \"nodes\" in API group \"\" at the cluster "
                                       "scope"));
  // Bound through its O (a group).
  auto bound = admin("create clusterrole node-reader --verb=get,list --resource=nodes");
  ASSERT_EQ(bound.exit_code, 0) << bound.output;
  ASSERT_EQ(admin("create clusterrolebinding auditors-nodes --clusterrole=node-reader --group=auditors").exit_code, 0);
  auto listed = as_user(cert, "get nodes");
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("No resources found"));
  auto del = as_user(cert, "delete node n1");
  EXPECT_THAT(del.output, HasSubstr("nodes \"n1\" is forbidden: User \"carol\" cannot delete resource \"nodes\" in API group \"\" at "
                                    "the cluster scope"));
  EXPECT_EQ(as_user(cert, "auth can-i list nodes -A").output, "yes\n");
  EXPECT_EQ(as_user(cert, "auth can-i list pods").output, "no\n");
  // can-i --list: exactly what everyone may, plus the node-reader rule.
  EXPECT_EQ(squeezed(as_user(cert, "auth can-i --list").output), std::string("Resources Non-Resource URLs Resource Names Verbs\n") +
                                                                     kEveryonesResourceRows + "nodes [] [] [get list]\n" +
                                                                     kEveryonesNonResourceRows);
  // An unknown token is 401 whatever it asks.
  auto stranger = as_user("--kubeconfig " + server_->kubeconfig() + " --token nobody", "get ns");
  EXPECT_THAT(stranger.output, HasSubstr("error: You must be logged in to the server (Unauthorized)"));
}

TEST_P(RbacKubectl, AdminImpersonatesUsersAndGroups) {
  ASSERT_EQ(admin("create namespace imp").exit_code, 0);
  auto as_x = admin("get pods -n imp --as x");
  EXPECT_THAT(as_x.output, HasSubstr("pods is forbidden: User \"x\" cannot list resource \"pods\" in API group \"\" in the namespace "
                                     "\"imp\""));
  EXPECT_EQ(admin("auth can-i list pods -n imp --as x").output, "no\n");
  ASSERT_EQ(admin("create rolebinding x-edit -n imp --clusterrole=edit --user=x").exit_code, 0);
  EXPECT_EQ(admin("auth can-i list pods -n imp --as x").output, "yes\n");
  EXPECT_EQ(admin("auth can-i create services -n imp --as x").output, "yes\n");
  EXPECT_EQ(admin("auth can-i create roles -n imp --as x").output, "no\n");  // edit, not admin
  EXPECT_EQ(admin("auth can-i list pods -n default --as x").output, "no\n");
  // can-i --list as x: edit's rules in imp (kubectl compacts them per resource), nothing in default.
  const std::string x_rules = squeezed(admin("auth can-i --list -n imp --as x").output);
  EXPECT_THAT(x_rules, HasSubstr("\npods [] [] [create delete deletecollection patch update get list watch]\n"));
  EXPECT_THAT(x_rules, HasSubstr("\ndeployments.apps [] [] [create delete deletecollection patch update get list watch]\n"));
  EXPECT_THAT(x_rules, HasSubstr("\npods/log [] [] [get list watch]\n"));
  EXPECT_THAT(x_rules, Not(HasSubstr("roles.rbac.authorization.k8s.io")));
  EXPECT_EQ(squeezed(admin("auth can-i --list -n default --as x").output),
            std::string("Resources Non-Resource URLs Resource Names Verbs\n") + kEveryonesResourceRows + kEveryonesNonResourceRows);
  auto made = admin("create service clusterip web -n imp --tcp=80 --as x");
  EXPECT_EQ(made.exit_code, 0) << made.output;
  EXPECT_EQ(made.output, "service/web created\n");
  // --as-group: the group's bindings apply.
  ASSERT_EQ(admin("create clusterrolebinding ops-admin --clusterrole=cluster-admin --group=ops").exit_code, 0);
  EXPECT_EQ(admin("auth can-i delete nodes -A --as y").output, "no\n");
  EXPECT_EQ(admin("auth can-i delete nodes -A --as y --as-group ops").output, "yes\n");
  auto nodes = admin("get nodes --as y --as-group ops");
  EXPECT_EQ(nodes.exit_code, 0) << nodes.output;
  EXPECT_THAT(squeezed(admin("auth can-i --list --as y --as-group ops").output),
              ::testing::StartsWith("Resources Non-Resource URLs Resource Names Verbs\n*.* [] [] [*]\n [*] [] [*]\n"));
  // Without the group, y is 403 with its own name in the text.
  EXPECT_THAT(admin("get pods -n imp --as y").output,
              HasSubstr("pods is forbidden: User \"y\" cannot list resource \"pods\" in API group \"\" in the namespace \"imp\""));
  // Impersonation needs the impersonate verb: a user without it is refused.
  auto refused = as_user(alice(), "get pods -n imp --as admin");
  EXPECT_THAT(refused.output, HasSubstr("users \"admin\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group "
                                        "\"\" at the cluster scope"));
  // The bootstrap roles are there for kubectl to read.
  auto roles = admin("get clusterrole cluster-admin view edit admin system:kube-scheduler -o name");
  EXPECT_EQ(roles.output,
            "clusterrole.rbac.authorization.k8s.io/cluster-admin\nclusterrole.rbac.authorization.k8s.io/view\n"
            "clusterrole.rbac.authorization.k8s.io/edit\nclusterrole.rbac.authorization.k8s.io/admin\n"
            "clusterrole.rbac.authorization.k8s.io/system:kube-scheduler\n");
}

// A ServiceAccount's token from `kubectl create token` (TokenRequest) speaks for
// system:serviceaccount:NS:NAME, which RoleBindings name with --serviceaccount.
TEST_P(RbacKubectl, ServiceAccountTokenGetsWhatItsRoleBindingGrants) {
  ASSERT_EQ(admin("create namespace robots").exit_code, 0);
  ASSERT_EQ(admin("create serviceaccount robot -n robots").output, "serviceaccount/robot created\n");
  auto token = admin("create token robot -n robots");
  ASSERT_EQ(token.exit_code, 0) << token.output;
  while (!token.output.empty() && token.output.back() == '\n') token.output.pop_back();
  const std::string robot = "--kubeconfig /dev/null --server " + admin("config view -o jsonpath='{.clusters[0].cluster.server}'").output +
                            " --certificate-authority " + (server_->dir() / "data" / "pki" / "ca.crt").string() + " --token " +
                            token.output;
  const std::string who = "User \"system:serviceaccount:robots:robot\"";
  auto denied = as_user(robot, "get pods -n robots");
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_THAT(denied.output, HasSubstr("Error from server (Forbidden): pods is forbidden: " + who +
                                       " cannot list resource \"pods\" in API group \"\" in the namespace \"robots\""));
  ASSERT_EQ(admin("create role pod-reader -n robots --verb=get,list,watch --resource=pods").exit_code, 0);
  ASSERT_EQ(admin("create rolebinding robot-reads -n robots --role=pod-reader --serviceaccount=robots:robot").exit_code, 0);
  auto listed = as_user(robot, "get pods -n robots");
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("No resources found in robots namespace."));
  EXPECT_THAT(as_user(robot, "get pods -n default").output,
              HasSubstr("pods is forbidden: " + who + " cannot list resource \"pods\" in API group \"\" in the namespace \"default\""));
  EXPECT_THAT(as_user(robot, "create configmap c -n robots --from-literal=a=b").output,
              HasSubstr("configmaps is forbidden: " + who +
                        " cannot create resource \"configmaps\" in API group \"\" in the namespace \"robots\""));
  EXPECT_THAT(as_user(robot, "delete serviceaccount robot -n robots").output,
              HasSubstr("serviceaccounts \"robot\" is forbidden: " + who +
                        " cannot delete resource \"serviceaccounts\" in API group \"\" in the namespace \"robots\""));
  EXPECT_EQ(as_user(robot, "auth can-i watch pods -n robots").output, "yes\n");
  EXPECT_EQ(as_user(robot, "auth can-i delete pods -n robots").output, "no\n");
  // can-i --list is exactly everyone's rules plus the Role's, and only in its namespace.
  const std::string header = "Resources Non-Resource URLs Resource Names Verbs\n";
  EXPECT_EQ(squeezed(as_user(robot, "auth can-i --list -n robots").output),
            header + kEveryonesResourceRows + "pods [] [] [get list watch]\n" + kEveryonesNonResourceRows);
  EXPECT_EQ(squeezed(as_user(robot, "auth can-i --list -n default").output), header + kEveryonesResourceRows + kEveryonesNonResourceRows);
  // The admin asking about the ServiceAccount with --as gets the same answers.
  EXPECT_EQ(admin("auth can-i list pods -n robots --as system:serviceaccount:robots:robot").output, "yes\n");
  EXPECT_EQ(admin("auth can-i list pods -n default --as system:serviceaccount:robots:robot").output, "no\n");
}

// A component asks whether one of its clients may do something: SubjectAccessReview (and the
// namespaced LocalSubjectAccessReview), which only system:auth-delegator-like roles may create.
TEST_P(RbacKubectl, SubjectAccessReviewsAnswerForTheNamedUserAndGroups) {
  ASSERT_EQ(admin("create namespace sar").exit_code, 0);
  ASSERT_EQ(admin("create rolebinding dave-view -n sar --clusterrole=view --user=dave").exit_code, 0);
  const auto review = [&](const std::string& who, const std::string& spec, const std::string& kind = "SubjectAccessReview",
                          const std::string& ns = "") {
    const std::string file = server_->file("review.yaml", "apiVersion: authorization.k8s.io/v1\nkind: " + kind + "\nmetadata: {" +
                                                              (ns.empty() ? "" : "namespace: " + ns) + "}\nspec: " + spec + "\n");
    return as_user(who, "create -f " + file + " -o jsonpath={.status.allowed}/{.status.reason}");
  };
  const std::string admin_flags = "--kubeconfig " + server_->kubeconfig();
  EXPECT_EQ(review(admin_flags, "{user: dave, resourceAttributes: {verb: list, resource: pods, namespace: sar}}").output,
            "true/RBAC: allowed by RoleBinding \"dave-view/sar\" of ClusterRole \"view\" to User \"dave\"");
  EXPECT_THAT(review(admin_flags, "{user: dave, resourceAttributes: {verb: delete, resource: pods, namespace: sar}}").output,
              ::testing::StartsWith("false/"));
  EXPECT_THAT(review(admin_flags, "{user: dave, groups: [system:masters], resourceAttributes: {verb: delete, resource: nodes}}").output,
              ::testing::StartsWith("true/"));
  EXPECT_THAT(review(admin_flags, "{user: dave, nonResourceAttributes: {verb: get, path: /healthz}}").output,
              ::testing::StartsWith("false/"));
  // The namespaced form, in its own namespace only.
  EXPECT_THAT(review(admin_flags, "{user: dave, resourceAttributes: {verb: get, resource: pods, namespace: sar}}",
                     "LocalSubjectAccessReview", "sar")
                  .output,
              ::testing::StartsWith("true/"));
  EXPECT_THAT(review(admin_flags, "{user: dave, resourceAttributes: {verb: get, resource: pods, namespace: other}}",
                     "LocalSubjectAccessReview", "sar")
                  .output,
              HasSubstr("spec.resourceAttributes.namespace: Invalid value: \"other\": must match metadata.namespace"));
  EXPECT_THAT(review(admin_flags, "{resourceAttributes: {verb: get, resource: pods}}").output,
              HasSubstr("spec.user: Invalid value: \"\": at least one of user or group must be specified"));
  // Asking needs the right to ask: alice may not until she holds system:auth-delegator.
  EXPECT_THAT(review(alice(), "{user: dave, resourceAttributes: {verb: list, resource: pods, namespace: sar}}").output,
              HasSubstr("User \"alice\" cannot create resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the "
                        "cluster scope"));
  ASSERT_EQ(admin("create clusterrolebinding alice-delegator --clusterrole=system:auth-delegator --user=alice").exit_code, 0);
  EXPECT_THAT(review(alice(), "{user: dave, resourceAttributes: {verb: list, resource: pods, namespace: sar}}").output,
              ::testing::StartsWith("true/"));
}

INSTANTIATE_TEST_SUITE_P(Versions, RbacKubectl, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "kubectl_" + std::string(info.param).replace(1, 1, "_"); });

}  // namespace
}  // namespace switchyard::apiserver
