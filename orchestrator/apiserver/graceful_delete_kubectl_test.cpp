// Graceful deletion of Pods as kubectl sees it, against a real `switchyard apiserver` process:
// a Pod bound to a node stays Terminating until its kubelet confirms with a zero grace period
// (simulated here by a raw DELETE ?gracePeriodSeconds=0), `--grace-period=0 --force` removes it
// at once, and a waiting `kubectl delete` returns when the Pod is gone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netns-tests/support/apiserver_process.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/cluster_connection.h"
#include "orchestrator/client/rest.h"

namespace switchyard::apiserver {
namespace {

using switchyard::testing::ApiserverProcess;
using switchyard::testing::ChildProcess;
using switchyard::testing::wait_until;
using ::testing::HasSubstr;

class GracefulDelete : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    server_ = std::make_unique<ApiserverProcess>(SWITCHYARD_BINARY, "graceful-" + GetParam());
    ASSERT_TRUE(server_->wait_ready(kubectl_)) << server_->log();
  }
  testing::CommandResult k(const std::string& args) { return server_->run_kubectl(kubectl_, args); }
  void create_pod(const std::string& name, const std::string& node) {
    const std::string manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + "}\nspec:\n" +
                                 (node.empty() ? "" : "  nodeName: " + node + "\n") +
                                 "  terminationGracePeriodSeconds: 30\n  containers: [{name: c, image: busybox}]\n";
    auto r = k("apply -f " + server_->file(name + ".yaml", manifest));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  std::string kubectl_;
  std::unique_ptr<ApiserverProcess> server_;
};

TEST_P(GracefulDelete, BoundPodStaysTerminatingUntilForcedOrConfirmed) {
  create_pod("web", "node-a");
  auto del = k("delete pod web --wait=false");
  ASSERT_EQ(del.exit_code, 0) << del.output;
  EXPECT_THAT(del.output, HasSubstr("pod \"web\" deleted"));
  auto get = k("get pods");
  EXPECT_THAT(get.output, ::testing::ContainsRegex("web +0/1 +Terminating")) << get.output;
  EXPECT_EQ(k("get pod web -o jsonpath={.metadata.deletionGracePeriodSeconds}").output, "30");

  // A shorter grace period shortens it; a longer one changes nothing.
  ASSERT_EQ(k("delete pod web --grace-period=5 --wait=false").exit_code, 0);
  EXPECT_EQ(k("get pod web -o jsonpath={.metadata.deletionGracePeriodSeconds}").output, "5");
  ASSERT_EQ(k("delete pod web --grace-period=20 --wait=false").exit_code, 0);
  EXPECT_EQ(k("get pod web -o jsonpath={.metadata.deletionGracePeriodSeconds}").output, "5");

  // Updates (the kubelet writing status, a user labelling) cannot end or undo the deletion.
  auto label = k("label pod web tier=front");
  ASSERT_EQ(label.exit_code, 0) << label.output;
  EXPECT_THAT(k("get pod web -o jsonpath={.metadata.deletionTimestamp}").output, ::testing::MatchesRegex("20[0-9-]+T[0-9:]+Z"));
  EXPECT_EQ(k("get pod web -o jsonpath={.metadata.labels.tier}").output, "front");

  auto force = k("delete pod web --grace-period=0 --force");
  ASSERT_EQ(force.exit_code, 0) << force.output;
  EXPECT_THAT(force.output, HasSubstr("pod \"web\" force deleted"));
  auto gone = k("get pod web");
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_THAT(gone.output, HasSubstr("NotFound"));
}

TEST_P(GracefulDelete, WaitingDeleteReturnsWhenTheKubeletConfirms) {
  create_pod("db", "node-a");
  ChildProcess waiting({kubectl_, "--kubeconfig", server_->kubeconfig(), "delete", "pod", "db"}, (server_->dir() / "delete.log").string());
  ASSERT_TRUE(wait_until(10, [&] { return k("get pods").output.find("Terminating") != std::string::npos; })) << k("get pods").output;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_TRUE(waiting.running()) << "kubectl delete returned before the kubelet confirmed";
  // The kubelet's confirmation: containers stopped, delete with a zero grace period.
  auto confirm = k("delete --raw '/api/v1/namespaces/default/pods/db?gracePeriodSeconds=0'");
  ASSERT_EQ(confirm.exit_code, 0) << confirm.output;
  EXPECT_EQ(waiting.wait_exit(15), 0);
  EXPECT_THAT(testing::run("cat " + (server_->dir() / "delete.log").string()).output, HasSubstr("pod \"db\" deleted"));
  EXPECT_NE(k("get pod db").exit_code, 0);
}

TEST_P(GracefulDelete, KubeletConfirmsThroughTheClientLibrary) {
  create_pod("cache", "node-a");
  auto connection = client::load_kubeconfig(server_->kubeconfig());
  ASSERT_TRUE(connection.has_value()) << connection.error();
  client::ApiClient api(*connection);
  // A delete without options is graceful: the Pod stays, Terminating.
  ASSERT_TRUE(client::remove<api::Pod>(api, "default", "cache").has_value());
  EXPECT_THAT(k("get pods").output, ::testing::ContainsRegex("cache +0/1 +Terminating"));
  // The kubelet, having stopped it, confirms with a zero grace period.
  auto confirmed = client::remove<api::Pod>(api, "default", "cache", 0);
  ASSERT_TRUE(confirmed.has_value()) << confirmed.error();
  EXPECT_THAT(k("get pod cache").output, HasSubstr("NotFound"));
}

TEST_P(GracefulDelete, UnboundPodIsDeletedAtOnce) {
  create_pod("pending", "");
  auto del = k("delete pod pending --wait=false");
  ASSERT_EQ(del.exit_code, 0) << del.output;
  auto gone = k("get pod pending");
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_THAT(gone.output, HasSubstr("NotFound"));
}

INSTANTIATE_TEST_SUITE_P(Kubectl, GracefulDelete, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "v" + std::string(info.param).replace(1, 1, "_"); });

}  // namespace
}  // namespace switchyard::apiserver
