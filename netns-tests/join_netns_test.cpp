// `switchyard join` end to end: `up` in one network namespace, a second node in another (its own
// containerd and data directory), linked by a veth pair, joined only with what `up` printed (the
// token and the CA pin). The node turns Ready, runs a pod bound to it, is system:node:NAME with
// the kubeconfig it wrote, reads its own pod's Secret but gets the Node authorizer's 403 for a
// Secret that only a pod on the other node uses. Unknown, expired and malformed tokens, and a
// wrong CA pin, are refused with a clear message and an exit code, before anything starts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <regex>

#include "netns-tests/support/two_node_cluster.h"

namespace switchyard {
namespace {

using testing::ChildProcess;
using ::testing::HasSubstr;
using testing::run;
using testing::wait_until;

constexpr const char* kControlIp = "10.86.0.1";
constexpr const char* kNodeIp = "10.86.0.2";

class Join : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new testing::TwoNodeCluster(
        {.purpose = "join", .binary = SWITCHYARD_BINARY, .images_dir = SWITCHYARD_TEST_IMAGES_DIR, .up_flags = {}});
    const std::string started = cluster_->start();
    ASSERT_EQ(started, "");
    server_ = cluster_->server();
    token_ = cluster_->token();
    ca_hash_ = cluster_->ca_hash();
  }

  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  static std::string log(const std::string& name) { return cluster_->log(name); }
  static testing::CommandResult kubectl(const std::string& args) { return cluster_->kubectl(args); }
  static testing::CommandResult node_kubectl(const std::string& args) { return cluster_->node_kubectl(args); }
  // A join that is expected to stop on its own (refused): its output and exit code.
  static testing::CommandResult join_once(const std::string& token, const std::string& hash, const std::string& name,
                                          const std::string& servers = "") {
    return run("timeout 60 nsenter --net=/run/netns/" + cluster_->node().name() + " " + SWITCHYARD_BINARY + " join --server " +
               (servers.empty() ? server_ : servers) + " --token " + token + " --ca-cert-hash " + hash + " --data-dir " +
               (cluster_->dir() / name).string() + " --node-name " + name + " --node-ip " + kNodeIp + " 2>&1");
  }
  static std::string apply(const std::string& name, const std::string& yaml) { return cluster_->apply(name, yaml); }

  static inline testing::TwoNodeCluster* cluster_ = nullptr;
  static inline std::string server_, token_, ca_hash_;
};

TEST_F(Join, UpPrintsAKubeadmStyleTokenAndPin) {
  EXPECT_EQ(server_, std::string("https://") + kControlIp + ":6443");
  EXPECT_TRUE(std::regex_match(token_, std::regex("[a-z0-9]{6}\\.[a-z0-9]{16}"))) << token_;
  EXPECT_TRUE(std::regex_match(ca_hash_, std::regex("sha256:[0-9a-f]{64}"))) << ca_hash_;
  // Stored as kubeadm stores it, and the pin is the CA's, as kubeadm's docs compute it.
  EXPECT_EQ(kubectl("-n kube-system get secret bootstrap-token-" + token_.substr(0, 6) + " -o jsonpath={.type}").output,
            "bootstrap.kubernetes.io/token");
  const auto pin = run("openssl x509 -pubkey -in " + (cluster_->dir() / "cluster" / "pki" / "ca.crt").string() +
                       " | openssl pkey -pubin -outform der | openssl dgst -sha256 -hex | sed 's/^.* //'");
  EXPECT_EQ("sha256:" + pin.output.substr(0, pin.output.find('\n')), ca_hash_);
}

TEST_F(Join, RefusedTokensAndAWrongPinStopWithAClearMessage) {
  auto malformed = join_once("not-a-token", ca_hash_, "bad-1");
  EXPECT_EQ(malformed.exit_code, 2) << malformed.output;
  EXPECT_THAT(malformed.output, HasSubstr("--token: not a bootstrap token"));

  auto unknown = join_once("abcdef.0123456789abcdef", ca_hash_, "bad-2");
  std::cout << "join with an unknown token (exit " << unknown.exit_code << "): " << unknown.output;
  EXPECT_EQ(unknown.exit_code, 3) << unknown.output;
  EXPECT_THAT(unknown.output, HasSubstr("the API server refused the join token abcdef.…: it is unknown to this cluster or has expired"));

  // An expired token (its Secret still there: the token cleaner removes it a moment later).
  ASSERT_THAT(apply("expired.yaml", R"(apiVersion: v1
kind: Secret
metadata: {name: bootstrap-token-expird, namespace: kube-system}
type: bootstrap.kubernetes.io/token
stringData:
  token-id: expird
  token-secret: 0123456789abcdef
  expiration: "2020-01-01T00:00:00Z"
  usage-bootstrap-authentication: "true"
  auth-extra-groups: system:bootstrappers:kubeadm:default-node-token
)"),
              HasSubstr("created"));
  auto expired = join_once("expird.0123456789abcdef", ca_hash_, "bad-3");
  EXPECT_EQ(expired.exit_code, 3) << expired.output;
  EXPECT_THAT(expired.output, HasSubstr("the API server refused the join token expird.…: it is unknown to this cluster or has expired"));

  // A server whose CA is not the pinned one never sees the token.
  auto pin = join_once(token_, "sha256:" + std::string(64, '0'), "bad-4");
  EXPECT_EQ(pin.exit_code, 3) << pin.output;
  EXPECT_THAT(pin.output, HasSubstr("refusing to trust the API server at " + server_ + "; the token was not sent"));
  // Several API servers, the first not answering (nothing listens on 127.0.0.1:1 in the node's
  // namespace): discovery moves on to the next, whose CA has the pin, and only then is the token
  // sent (and refused, being unknown).
  auto listed = join_once("abcdef.0123456789abcdef", ca_hash_, "bad-5", "https://127.0.0.1:1," + server_);
  EXPECT_EQ(listed.exit_code, 3) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("the API server refused the join token abcdef.…"));
  // None of them became a node or left a request behind.
  EXPECT_EQ(kubectl("get nodes -o name").output, "node/node-a\n");
  EXPECT_EQ(kubectl("get csr -o name").output, "");
}

TEST_F(Join, TheNodeJoinsRunsItsPodAndReadsOnlyItsOwnPodsSecrets) {
  const auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(cluster_->join_and_wait("node-b"), "");
  std::cout << "join to Ready: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count() << " ms\n";
  EXPECT_THAT(kubectl("get nodes").output, HasSubstr("node-b"));
  // The request it made was approved by the approver and issued by the signer.
  const std::string csr = kubectl("get csr -o jsonpath={.items[0].spec.username}/{.items[0].status.conditions[0].reason}").output;
  EXPECT_THAT(csr, ::testing::MatchesRegex("system:bootstrap:[a-z0-9]{6}/AutoApproved")) << csr;

  // Who the node is now.
  const auto whoami = node_kubectl("auth whoami -o jsonpath={.status.userInfo.username}/{.status.userInfo.groups}");
  EXPECT_EQ(whoami.output, "system:node:node-b/[\"system:nodes\",\"system:authenticated\"]") << whoami.output;

  // A pod on each node, each with a Secret only it uses.
  ASSERT_THAT(apply("pods.yaml", R"(apiVersion: v1
kind: Secret
metadata: {name: only-a}
stringData: {v: a}
---
apiVersion: v1
kind: Secret
metadata: {name: only-b}
stringData: {v: b}
---
apiVersion: v1
kind: Pod
metadata: {name: on-a}
spec:
  nodeName: node-a
  terminationGracePeriodSeconds: 0
  containers: [{name: main, image: switchyard.local/busybox:1, command: [sh, -c, 'echo secret=$(cat /s/v); exec sleep 3600'], volumeMounts: [{name: s, mountPath: /s}]}]
  volumes: [{name: s, secret: {secretName: only-a}}]
---
apiVersion: v1
kind: Pod
metadata: {name: on-b}
spec:
  nodeSelector: {kubernetes.io/hostname: node-b}
  terminationGracePeriodSeconds: 0
  containers: [{name: main, image: switchyard.local/busybox:1, command: [sh, -c, 'echo secret=$(cat /s/v); exec sleep 3600'], volumeMounts: [{name: s, mountPath: /s}]}]
  volumes: [{name: s, secret: {secretName: only-b}}]
)"),
              HasSubstr("pod/on-b created"));
  for (const char* pod : {"on-a", "on-b"})
    EXPECT_TRUE(wait_until(90, [&] { return kubectl(std::string("get pod ") + pod + " -o jsonpath={.status.phase}").output == "Running"; }))
        << kubectl(std::string("describe pod ") + pod).output << log("join.log");
  EXPECT_EQ(kubectl("get pod on-b -o jsonpath={.spec.nodeName}").output, "node-b");
  // Its log comes through the API server from node-b's kubelet: the Secret's value.
  EXPECT_TRUE(wait_until(30, [] { return kubectl("logs on-b").output == "secret=b\n"; })) << kubectl("logs on-b").output;

  // With the node's own credential: its pod's Secret yes, the other node's pod's Secret no.
  EXPECT_EQ(node_kubectl("get secret only-b -o jsonpath={.metadata.name}").output, "only-b");
  const auto denied = node_kubectl("get secret only-a");
  std::cout << "node-b: kubectl auth whoami: " << whoami.output << "\nnode-b: kubectl get secret only-a: " << denied.output;
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_EQ(denied.output,
            "Error from server (Forbidden): secrets \"only-a\" is forbidden: User \"system:node:node-b\" cannot get resource \"secrets\" "
            "in API group \"\" in the namespace \"default\": no relationship found between node 'node-b' and this object\n");
  const auto listed = node_kubectl("get secrets");
  EXPECT_NE(listed.exit_code, 0);
  EXPECT_THAT(listed.output, HasSubstr("cannot list resource \"secrets\""));
  // And `up`'s own kubelet is held to the same rule.
  EXPECT_THAT(kubectl("auth can-i get secret/only-b --as system:node:node-a --as-group system:nodes").output, HasSubstr("no"));
  EXPECT_THAT(kubectl("auth can-i get secret/only-a --as system:node:node-a --as-group system:nodes").output, HasSubstr("yes"));
}

TEST_F(Join, ARestartedNodeUsesItsOwnCredentialNotTheToken) {
  ASSERT_NE(cluster_->joined(), nullptr) << "runs after the join test";
  cluster_->joined().reset();  // SIGTERM: the node stops (its pods keep running)
  // The token is not needed any more: a wrong one is never sent. Given two API servers, the first
  // not answering, the node's clients use the second.
  cluster_->joined() = cluster_->join("node-b", "rejoin.log", {}, "zzzzzz.zzzzzzzzzzzzzzzz", "https://127.0.0.1:1," + server_);
  ASSERT_TRUE(wait_until(120, [] { return log("rejoin.log").find("joined the cluster") != std::string::npos; })) << log("rejoin.log");
  EXPECT_THAT(log("rejoin.log"), HasSubstr("event=node_credentials_reused"));
  EXPECT_EQ(kubectl("get csr -o name").output.find('\n'), kubectl("get csr -o name").output.size() - 1) << "one request, the first";
  EXPECT_TRUE(wait_until(30, [] { return kubectl("get pod on-b -o jsonpath={.status.phase}").output == "Running"; }));
  EXPECT_EQ(node_kubectl("auth whoami -o jsonpath={.status.userInfo.username}").output, "system:node:node-b");
  // The node keeps reporting through the second server: its Lease is renewed after the restart.
  const std::string renewed = kubectl("get lease -n kube-node-lease node-b -o jsonpath={.spec.renewTime}").output;
  EXPECT_TRUE(wait_until(30, [&] {
    return kubectl("get lease -n kube-node-lease node-b -o jsonpath={.spec.renewTime}").output != renewed;
  })) << log("rejoin.log");
}

}  // namespace
}  // namespace switchyard
