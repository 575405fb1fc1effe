// The agent's list+watch against a real `switchyard apiserver` process over HTTPS with its CA and
// token from the kubeconfig: the Snapshot follows kubectl's changes, survives the API server
// going away (last state kept) and catches up after it comes back.
#include <csignal>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "endpoints/informer/cluster_state_feed.h"
#include "netns-tests/support/process.h"

namespace switchyard::informer {
namespace {

using switchyard::testing::ChildProcess;
using switchyard::testing::run;
using switchyard::testing::wait_until;

class InformerAgainstApiserver : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sy-informer-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    port_ = std::to_string(41000 + getpid() % 5000);
    start_server();
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  void start_server() {
    server_ = std::make_unique<ChildProcess>(std::vector<std::string>{SWITCHYARD_BINARY, "apiserver", "--data-dir", dir_.string(), "--listen",
                                                                      "127.0.0.1:" + port_},
                                             dir_.string() + ".log");
    ASSERT_TRUE(wait_until(10, [&] { return kubectl("get ns default -o name").output == "namespace/default\n"; }))
        << run("cat " + dir_.string() + ".log").output;
  }
  switchyard::testing::CommandResult kubectl(const std::string& args) {
    return run("/usr/lib/google-cloud-sdk/bin/kubectl.1.31 --kubeconfig " + (dir_ / "kubeconfig").string() + " " + args);
  }
  void apply(const std::string& yaml) {
    std::ofstream(dir_ / "m.yaml") << yaml;
    auto r = kubectl("apply -f " + (dir_ / "m.yaml").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  std::filesystem::path dir_;
  std::string port_;
  std::unique_ptr<ChildProcess> server_;
};

const char* kObjects = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Node
metadata: {name: node-a, labels: {topology.kubernetes.io/zone: z1}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- addresses: [10.1.0.5]
  nodeName: node-a
  conditions: {ready: true}
ports: [{name: http, port: 8080, protocol: TCP}]
)";

TEST_F(InformerAgainstApiserver, SnapshotFollowsTheApiServerAndSurvivesItsRestart) {
  apply(kObjects);
  auto conn = load_kubeconfig((dir_ / "kubeconfig").string());
  ASSERT_TRUE(conn) << conn.error();
  EXPECT_TRUE(conn->tls);
  EXPECT_FALSE(conn->ca_pem.empty());
  ClusterStateFeed feed(*conn, {.node_name = "node-a"});
  feed.start();
  const endpoints::ServicePortName web{"shop", "web", "http", "TCP"};
  ASSERT_TRUE(wait_until(10, [&] {
    auto s = feed.snapshot();
    return feed.synced() && s->find(web) && s->find(web)->endpoints.size() == 1;
  }));
  auto snap = feed.snapshot();
  EXPECT_EQ(snap->find(web)->endpoints[0].ip, "10.1.0.5");
  EXPECT_TRUE(snap->find(web)->endpoints[0].local);  // nodeName matches this node
  EXPECT_EQ(snap->find(web)->cluster_ips.size(), 1u);
  EXPECT_TRUE(snap->find(endpoints::ServiceKey{"default", "kubernetes"}));

  // A change through kubectl arrives through the watch.
  ASSERT_EQ(kubectl("patch endpointslice web-1 -n shop --type json -p '[{\"op\":\"add\",\"path\":\"/endpoints/-\",\"value\":{\"addresses\":[\"10.1.0.6\"],\"conditions\":{\"ready\":true}}}]'").exit_code, 0);
  ASSERT_TRUE(wait_until(10, [&] { return feed.snapshot()->find(web)->endpoints.size() == 2; }));

  // The API server dies: the last state stays.
  server_->kill_now(SIGKILL);
  server_.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(feed.snapshot()->find(web)->endpoints.size(), 2u);

  // It comes back: the informers reconnect (with backoff) and see what changed since.
  start_server();
  ASSERT_EQ(kubectl("delete svc web -n shop").exit_code, 0);
  EXPECT_TRUE(wait_until(40, [&] { return feed.snapshot()->find(web) == nullptr; }));
  feed.stop();
}

TEST(Rfc3339, ParsesTheApiServersTimestamps) {
  using namespace std::chrono;
  const auto base = sys_days(year(2024) / 5 / 1) + 10h;
  EXPECT_EQ(parse_rfc3339("2024-05-01T10:00:00Z"), base);
  EXPECT_EQ(parse_rfc3339("2024-05-01T10:00:00.25Z"), base + 250ms);
  EXPECT_EQ(parse_rfc3339("2024-05-01T12:00:00+02:00"), base);
  EXPECT_FALSE(parse_rfc3339("yesterday"));
  EXPECT_FALSE(parse_rfc3339("2024-05-01T10:00:00"));  // no zone
}

TEST(Kubeconfig, MissingContextAndInClusterErrorsSayWhy) {
  const auto path = std::filesystem::temp_directory_path() / ("sy-kc-" + std::to_string(getpid()));
  std::ofstream(path) << "apiVersion: v1\nkind: Config\ncurrent-context: nope\ncontexts: []\n";
  auto c = load_kubeconfig(path.string());
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error(), ::testing::HasSubstr("current-context \"nope\" not found"));
  std::filesystem::remove(path);
  unsetenv("KUBERNETES_SERVICE_HOST");
  auto in = load_in_cluster("/nonexistent");
  ASSERT_FALSE(in);
  EXPECT_THAT(in.error(), ::testing::HasSubstr("KUBERNETES_SERVICE_HOST"));
}

}  // namespace
}  // namespace switchyard::informer
