// The agent's list+watch against a real `switchyard apiserver` process over HTTPS with its CA and
// token from the kubeconfig: the Snapshot follows kubectl's changes, survives the API server
// going away (last state kept) and catches up after it comes back.
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/cluster_state_feed.h"
#include "node/node_pods_feed.h"
#include "netns-tests/support/process.h"

namespace switchyard::node {
namespace {

using client::load_in_cluster;
using client::load_kubeconfig;
using switchyard::testing::ChildProcess;
using switchyard::testing::run;
using switchyard::testing::wait_until;

class InformerAgainstApiserver : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sy-informer-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    port_ = std::to_string(switchyard::testing::free_loopback_port());
    start_server();
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
    std::filesystem::remove(dir_.string() + ".log");  // the server's log: shown by a failed start, not kept
  }
  void start_server(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{SWITCHYARD_BINARY, "apiserver", "--data-dir", dir_.string(), "--listen", "127.0.0.1:" + port_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ChildProcess>(argv, dir_.string() + ".log");
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
  ASSERT_TRUE(conn) << conn.error().describe();
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
  ASSERT_EQ(
      kubectl("patch endpointslice web-1 -n shop --type json -p "
              "'[{\"op\":\"add\",\"path\":\"/endpoints/-\",\"value\":{\"addresses\":[\"10.1.0.6\"],\"conditions\":{\"ready\":true}}}]'")
          .exit_code,
      0);
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

// Pods selected by a Service, their readiness flipped through the status subresource as a
// kubelet would: the API server's EndpointSlice controller turns that into slices, and the
// agent-side Snapshot follows.
const char* kPodsAndService = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
---
apiVersion: v1
kind: Node
metadata: {name: node-b}
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec:
  selector: {app: cart}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: cart-0, namespace: shop, labels: {app: cart}}
spec:
  nodeName: node-a
  containers: [{name: c, image: cart}]
---
apiVersion: v1
kind: Pod
metadata: {name: cart-1, namespace: shop, labels: {app: cart}}
spec:
  nodeName: node-b
  containers: [{name: c, image: cart}]
)";

std::string pod_status(const std::string& ip, bool ready) {
  return R"({"status":{"phase":"Running","podIP":")" + ip + R"(","podIPs":[{"ip":")" + ip +
         R"("}],"conditions":[{"type":"Ready","status":")" + (ready ? "True" : "False") + R"("}]}})";
}

TEST_F(InformerAgainstApiserver, PodReadinessFlipsReachTheSnapshotAndAResumedWatchRelistsOn410) {
  // Compact every second, so that a watch resumed from an old resourceVersion is refused.
  server_.reset();
  start_server({"--compaction-interval", "1"});
  apply(kPodsAndService);
  auto conn = load_kubeconfig((dir_ / "kubeconfig").string());
  ASSERT_TRUE(conn) << conn.error().describe();
  ClusterStateFeed feed(*conn, {.node_name = "node-a"});
  feed.start();
  const endpoints::ServicePortName cart{"shop", "cart", "http", "TCP"};
  auto endpoints_of = [&] {
    auto s = feed.snapshot();
    const auto* p = s->find(cart);
    return p ? p->endpoints : std::vector<endpoints::Endpoint>{};
  };
  ASSERT_TRUE(wait_until(10, [&] { return feed.synced() && feed.snapshot()->find(cart); }));
  EXPECT_TRUE(endpoints_of().empty());  // no pod has an IP yet

  auto patch_status = [&](const std::string& pod, const std::string& ip, bool ready) {
    auto r = kubectl("patch pod " + pod + " -n shop --subresource=status --type merge -p '" + pod_status(ip, ready) + "'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  };
  patch_status("cart-0", "10.1.0.10", true);
  patch_status("cart-1", "10.1.1.11", false);
  ASSERT_TRUE(wait_until(10, [&] { return endpoints_of().size() == 2; })) << endpoints_of().size();
  {
    auto eps = endpoints_of();
    EXPECT_EQ(eps[0].ip, "10.1.0.10");
    EXPECT_TRUE(eps[0].ready);
    EXPECT_TRUE(eps[0].local);
    EXPECT_EQ(eps[0].pod_name, "cart-0");
    EXPECT_EQ(eps[1].ip, "10.1.1.11");
    EXPECT_FALSE(eps[1].ready);
    EXPECT_FALSE(eps[1].local);
    auto snap = feed.snapshot();
    ASSERT_EQ(snap->find(cart)->ipv4.cluster.size(), 1u);  // only the ready one takes traffic
    EXPECT_EQ(snap->find(cart)->ipv4.cluster[0].ip, "10.1.0.10");
  }
  // Readiness flips both ways.
  patch_status("cart-0", "10.1.0.10", false);
  patch_status("cart-1", "10.1.1.11", true);
  ASSERT_TRUE(wait_until(10, [&] {
    auto eps = endpoints_of();
    return eps.size() == 2 && !eps[0].ready && eps[1].ready;
  }));
  EXPECT_EQ(feed.snapshot()->find(cart)->ipv4.cluster.at(0).ip, "10.1.1.11");

  // The agent is away while things change and the history it would resume from is compacted:
  // its watch is refused with 410 Expired, it relists, and the Snapshot catches up.
  feed.stop();
  const auto lists_before = feed.lists();
  // The list's resourceVersion is the store's revision now: no informer has seen a later one.
  const std::string list = kubectl("get --raw /api/v1/namespaces/shop/pods").output;
  // The list's own resourceVersion comes last (keys are sorted: items before metadata).
  const std::regex rv_field(R"re("resourceVersion":"([0-9]+)")re");
  std::string old_rv;
  for (std::sregex_iterator it(list.begin(), list.end(), rv_field), end; it != end; ++it) old_rv = (*it)[1];
  ASSERT_FALSE(old_rv.empty()) << list;
  ASSERT_FALSE(old_rv.empty());
  patch_status("cart-0", "10.1.0.10", true);
  ASSERT_EQ(kubectl("delete pod cart-1 -n shop --grace-period=0 --force").exit_code, 0);
  // Wait until the server itself refuses a watch from before those changes.
  ASSERT_TRUE(wait_until(10, [&] {
    // The answer is an ERROR event "too old resource version: R (C)", C the compacted revision;
    // wait until C is past R, so that every informer's watch is refused whatever its position.
    auto r = kubectl("get --request-timeout=3s --raw '/api/v1/services?watch=true&timeoutSeconds=1&resourceVersion=" + old_rv + "'");
    std::smatch c;
    return std::regex_search(r.output, c, std::regex(R"re(too old resource version: [0-9]+ \(([0-9]+)\))re")) &&
           std::stoll(c[1]) > std::stoll(old_rv);
  }));
  feed.start();
  ASSERT_TRUE(wait_until(15, [&] {
    auto eps = endpoints_of();
    return eps.size() == 1 && eps[0].ip == "10.1.0.10" && eps[0].ready;
  })) << endpoints_of().size();
  // A relist, not an incremental catch-up (the count moves just after the list is applied).
  EXPECT_TRUE(wait_until(5, [&] { return feed.lists() > lists_before; })) << feed.lists();
  feed.stop();
}

std::string describe(const std::vector<PodAddress>& addresses) {
  std::string out;
  for (const auto& a : addresses) out += a.ip + " in " + a.namespace_ + "; ";
  return out;
}

// What the DNS server's autopath knows about who is asking: the addresses of this node's pods
// (both families), not other nodes' pods, not host-network or finished pods, following changes.
TEST_F(InformerAgainstApiserver, NodePodsFeedKeepsTheAddressesOfThisNodesRunningPods) {
  apply(kPodsAndService);
  apply(R"(apiVersion: v1
kind: Namespace
metadata: {name: batch}
---
apiVersion: v1
kind: Pod
metadata: {name: job, namespace: batch}
spec: {nodeName: node-a, containers: [{name: c, image: job}]}
---
apiVersion: v1
kind: Pod
metadata: {name: host, namespace: kube-system}
spec: {nodeName: node-a, hostNetwork: true, containers: [{name: c, image: agent}]}
)");
  auto set_status = [&](const std::string& ns, const std::string& pod, const std::string& status) {
    auto r = kubectl("patch pod " + pod + " -n " + ns + " --subresource=status --type merge -p '" + status + "'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  };
  set_status("shop", "cart-0", pod_status("10.1.0.10", true));
  set_status("shop", "cart-1", pod_status("10.1.1.11", true));  // on node-b
  set_status("kube-system", "host", pod_status("192.168.0.1", true));
  set_status("batch", "job", R"({"status":{"phase":"Running","podIP":"10.1.0.20","podIPs":[{"ip":"10.1.0.20"},{"ip":"fd00:1::20"}]}})");

  auto conn = load_kubeconfig((dir_ / "kubeconfig").string());
  ASSERT_TRUE(conn) << conn.error().describe();
  NodePodsFeed feed(*conn, "node-a");
  std::atomic<int> changes{0};
  feed.set_on_change([&] { ++changes; });
  feed.start();
  using A = PodAddress;
  const std::vector<A> both{{"10.1.0.10", "shop"}, {"10.1.0.20", "batch"}, {"fd00:1::20", "batch"}};
  ASSERT_TRUE(wait_until(10, [&] { return feed.synced() && feed.addresses() == both; })) << describe(feed.addresses());
  EXPECT_GE(changes.load(), 1);

  // The job finishes: its addresses may go to another pod now.
  set_status("batch", "job", R"({"status":{"phase":"Succeeded"}})");
  EXPECT_TRUE(wait_until(10, [&] { return feed.addresses() == std::vector<A>{{"10.1.0.10", "shop"}}; })) << describe(feed.addresses());
  ASSERT_EQ(kubectl("delete pod cart-0 -n shop --grace-period=0 --force").exit_code, 0);
  EXPECT_TRUE(wait_until(10, [&] { return feed.addresses().empty(); })) << describe(feed.addresses());
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
  EXPECT_THAT(c.error().message, ::testing::HasSubstr("current-context \"nope\" not found"));
  std::filesystem::remove(path);
  unsetenv("KUBERNETES_SERVICE_HOST");
  auto in = load_in_cluster("/nonexistent");
  ASSERT_FALSE(in);
  EXPECT_THAT(in.error().message, ::testing::HasSubstr("KUBERNETES_SERVICE_HOST"));
}

}  // namespace
}  // namespace switchyard::node
