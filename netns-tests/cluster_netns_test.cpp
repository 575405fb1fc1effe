// The cluster test of issue #22: `switchyard up` in a control-plane namespace and three nodes,
// each in its own namespace with its own containerd and data directory, joined only with the
// token and CA pin `up` printed, all on one bridge (netns-tests/support/cluster_fixture.h).
// `up`'s own node is tainted NoSchedule as kubeadm taints a control-plane node, so the
// Deployment's pods run on the three joined nodes only (the spread constraint honours taints).
// Checked with real traffic: a 6-replica Deployment spread 2/2/2 by topology spread, pod to pod
// on a node and across nodes, the Service's ClusterIP and its name (cluster DNS) from a pod on
// every node (answered by each node's own DNS server, also with the control plane's cut off), a
// NodePort on one node reaching pods on the others. Then a node dies (its
// processes killed, its link cut) while a client in the control plane's namespace keeps asking
// the NodePort of a surviving node: NotReady after the (shortened) grace period, its pods
// evicted after the test's tolerationSeconds and rescheduled on the two others; the failed
// requests are counted and printed; the node comes back with `join` on its data dir and is Ready.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "netns-tests/support/cluster_fixture.h"

namespace switchyard {
namespace {

using ::testing::HasSubstr;
using testing::wait_until;
using Clock = std::chrono::steady_clock;

constexpr int kGraceSeconds = 20;       // up --node-monitor-grace-period (two missed Lease renewals)
constexpr int kTolerationSeconds = 10;  // the pods' NoExecute tolerations of not-ready/unreachable

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Answers {
  std::set<std::string> nodes;  // nodes of the pods that answered
  int failed = 0;
};
class Cluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    c_ = new testing::ClusterFixture("clu", 3, 87);
    const std::string up = c_->start_up({"--node-monitor-grace-period", std::to_string(kGraceSeconds)});
    ASSERT_EQ(up, "");
  }
  static void TearDownTestSuite() {
    if (::testing::UnitTest::GetInstance()->failed_test_count() > 0) std::cout << c_->logs_tail();
    delete c_;
    c_ = nullptr;
  }
  static testing::CommandResult k(const std::string& args) { return c_->kubectl(args); }
  // Pod name -> node name of the Deployment's running and ready pods (not being deleted).
  static std::map<std::string, std::string> web_pods() {
    std::map<std::string, std::string> out;
    std::istringstream in(k("get pods -l app=web -o 'jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase} "
                            "{.status.conditions[?(@.type==\"Ready\")].status} {.metadata.deletionTimestamp}{\"\\n\"}{end}'")
                              .output);
    std::string name, node, phase, ready, deleting;
    for (std::string line; std::getline(in, line);) {
      std::istringstream f(line);
      if (f >> name >> node >> phase >> ready && phase == "Running" && ready == "True" && !(f >> deleting)) out[name] = node;
    }
    return out;
  }
  // "name=deletionTimestamp" of the Deployment's pods bound to `node`.
  static std::vector<std::string> pods_on(const std::string& node) {
    std::istringstream in(k("get pods -l app=web --field-selector spec.nodeName=" + node +
                            " -o 'jsonpath={range .items[*]}{.metadata.name}={.metadata.deletionTimestamp}{\"\\n\"}{end}'")
                              .output);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  static std::map<std::string, int> per_node(const std::map<std::string, std::string>& pods) {
    std::map<std::string, int> n;
    for (const auto& [pod, node] : pods) ++n[node];
    return n;
  }
  static std::string pod_ip(const std::string& pod) { return k("get pod " + pod + " -o jsonpath={.status.podIP}").output; }
  // From the client pod on node i (1-based).
  static testing::CommandResult from_client(int i, const std::string& command) {
    return k("exec client-" + std::to_string(i) + " -- " + command);
  }
  // Answers (the web pods' names) of `count` requests made by `client` ("" for the control plane's
  // namespace) to `url`, each a new connection, in one shell; a failed request answers "FAILED".
  static Answers ask(const std::map<std::string, std::string>& pods, int node, const std::string& url, int count) {
    const std::string get = node == 0 ? "curl -s -m 3 " : "timeout 3 wget -qO- ";
    const std::string loop = "for n in $(seq " + std::to_string(count) + "); do " + get + url + " || echo FAILED; done";
    const auto r = node == 0 ? c_->exec(0, "sh -c '" + loop + "'") : from_client(node, "sh -c '" + loop + "'");
    Answers a;
    std::istringstream in(r.output);
    int lines = 0;
    for (std::string line; std::getline(in, line) && lines < count; ++lines) {
      auto it = pods.find(line);
      if (it != pods.end())
        a.nodes.insert(it->second);
      else
        ++a.failed;
    }
    a.failed += count - lines;
    return a;
  }
  static inline testing::ClusterFixture* c_ = nullptr;
};

TEST_F(Cluster, ThreeNodesJoinWithThePrintedToken) {
  for (int i = 1; i <= 3; ++i) {
    const auto started = Clock::now();
    ASSERT_EQ(c_->join(i), "");
    ASSERT_TRUE(c_->wait_ready(i, "True", 60)) << k("get nodes -o wide").output << c_->logs_tail();
    std::cout << c_->node_name(i) << ": join to Ready in " << since(started) << " s\n";
  }
  // A control-plane node, as kubeadm marks it: workloads go to the joined nodes.
  ASSERT_EQ(k("taint node cp node-role.kubernetes.io/control-plane=:NoSchedule").exit_code, 0);
  const auto nodes =
      k("get nodes -o custom-columns=NAME:.metadata.name,CIDR:.spec.podCIDR,READY:.status.conditions[-1].status --no-headers");
  std::cout << nodes.output;
  EXPECT_THAT(nodes.output, HasSubstr("node-3"));
  // Each its own pod range.
  std::set<std::string> cidrs;
  for (int i = 0; i <= 3; ++i) cidrs.insert(k("get node " + c_->node_name(i) + " -o jsonpath={.spec.podCIDR}").output);
  EXPECT_EQ(cidrs.size(), 4u) << nodes.output;
}

TEST_F(Cluster, SixReplicasSpreadTwoPerNode) {
  ASSERT_EQ(k("get node node-3 -o name").output, "node/node-3\n") << "runs after the joins";
  const std::string tolerations = std::to_string(kTolerationSeconds);
  const auto applied = c_->apply("web.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 6
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor,
         labelSelector: {matchLabels: {app: web}}}
      tolerations:
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: )" +
                                                 tolerations + R"(}
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: )" +
                                                 tolerations + R"(}
      containers:
      - name: web
        image: switchyard.local/busybox:1
        command: [sh, -c, 'mkdir -p /w && hostname > /w/index.html && trap "exit 0" TERM; httpd -f -p 8080 -h /w & wait']
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  // A client pod on each joined node.
  for (int i = 1; i <= 3; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_EQ(c_->apply("client-" + n + ".yaml", R"(apiVersion: v1
kind: Pod
metadata: {name: client-)" + n + R"(, labels: {app: client}}
spec:
  nodeName: node-)" + n + R"(
  terminationGracePeriodSeconds: 0
  containers: [{name: main, image: switchyard.local/busybox:1, command: [sleep, "3600"]}]
)")
                  .exit_code,
              0);
  }
  const auto started = Clock::now();
  ASSERT_TRUE(wait_until(180, [] { return web_pods().size() == 6; })) << k("get pods -o wide").output << c_->logs_tail();
  std::cout << "6 web pods Running and Ready in " << since(started) << " s\n" << k("get pods -o wide").output;
  const auto counts = per_node(web_pods());
  EXPECT_EQ(counts, (std::map<std::string, int>{{"node-1", 2}, {"node-2", 2}, {"node-3", 2}}));
  for (int i = 1; i <= 3; ++i)
    ASSERT_TRUE(wait_until(60, [&] {
      return k("get pod client-" + std::to_string(i) + " -o jsonpath={.status.phase}").output == "Running";
    })) << k("describe pod client-" + std::to_string(i)).output;
}

// Every client reaches every web pod by its IP: the two on its own node and the four on others.
TEST_F(Cluster, PodToPodOnANodeAndAcrossNodes) {
  const auto pods = web_pods();
  ASSERT_EQ(pods.size(), 6u);
  for (int i = 1; i <= 3; ++i)
    for (const auto& [pod, node] : pods) {
      const std::string url = "http://" + pod_ip(pod) + ":8080/";
      EXPECT_TRUE(wait_until(20, [&] { return from_client(i, "timeout 3 wget -qO- " + url).output == pod + "\n"; }))
          << "client on node-" << i << " to " << pod << " on " << node << " (" << url
          << "): " << from_client(i, "timeout 3 wget -qO- " + url).output;
    }
}

// The ClusterIP from a pod on every node; the answers come from pods on every node.
TEST_F(Cluster, ServiceFromEveryNode) {
  const auto cluster_ip = k("get service web -o jsonpath={.spec.clusterIP}").output;
  ASSERT_FALSE(cluster_ip.empty());
  const auto pods = web_pods();
  ASSERT_EQ(pods.size(), 6u);
  for (int i = 1; i <= 3; ++i) {
    const Answers a = ask(pods, i, "http://" + cluster_ip + "/", 30);
    std::cout << "node-" << i << ": 30 requests to http://" << cluster_ip << "/: answered from " << a.nodes.size() << " nodes, " << a.failed
              << " failed\n";
    EXPECT_EQ(a.failed, 0) << "node-" << i;
    EXPECT_EQ(a.nodes.size(), 3u) << "node-" << i;
  }
}

// The Service's name through cluster DNS, from a pod on every node.
TEST_F(Cluster, DnsFromEveryNode) {
  const auto cluster_ip = k("get service web -o jsonpath={.spec.clusterIP}").output;
  const auto pods = web_pods();
  ASSERT_EQ(pods.size(), 6u);
  for (int i = 1; i <= 3; ++i) {
    const auto lookup = from_client(i, "nslookup web.default.svc.cluster.local");
    std::cout << "node-" << i << ": nslookup web.default.svc.cluster.local:\n" << lookup.output;
    EXPECT_THAT(lookup.output, HasSubstr("Address: " + cluster_ip)) << "node-" << i;
    // The short name, through the pod's search list.
    const Answers a = ask(pods, i, "http://web/", 5);
    EXPECT_EQ(a.failed, 0) << "node-" << i << ": http://web/";
  }
}

// Cluster DNS is every node's own: kube-dns (internalTrafficPolicy Local) has one endpoint per
// Node, each node's agent answers on its address, and with the control plane's DNS server cut off
// (port 53 dropped in its namespace) pods on the joined nodes still resolve names through the
// kube-dns ClusterIP, while asking the control plane's server directly fails.
TEST_F(Cluster, DnsAnsweredByEachNodesOwnServer) {
  const auto cluster_ip = k("get service web -o jsonpath={.spec.clusterIP}").output;
  EXPECT_EQ(k("-n kube-system get service kube-dns -o jsonpath={.spec.internalTrafficPolicy}").output, "Local");
  const auto slice =
      k("-n kube-system get endpointslice kube-dns-nodes -o "
        "'jsonpath={range .endpoints[*]}{.nodeName}={.addresses[0]}:{.conditions.ready} {end}'");
  std::cout << "kube-dns-nodes: " << slice.output << "\n";
  EXPECT_EQ(slice.output,
            "cp=" + c_->ip(0) + ":true node-1=" + c_->ip(1) + ":true node-2=" + c_->ip(2) + ":true node-3=" + c_->ip(3) + ":true ");
  EXPECT_THAT(k("-n kube-system get endpointslices -o name").output,
              ::testing::Not(HasSubstr("endpointslice.discovery.k8s.io/kube-dns-node\n")))
      << "up's old single-endpoint slice";
  for (int i = 1; i <= 3; ++i) {
    const auto own = from_client(i, "nslookup web.default.svc.cluster.local " + c_->ip(i));
    EXPECT_THAT(own.output, HasSubstr("Address: " + cluster_ip)) << "node-" << i << "'s own DNS server: " << own.output;
  }
  // The control plane's DNS server cut off: nothing reaches port 53 in its namespace.
  const auto rules = c_->dir() / "block-dns.nft";
  std::ofstream(rules) << "table inet switchyard_test_block_dns {\n"
                          "  chain in { type filter hook input priority -400; udp dport 53 drop; tcp dport 53 drop; }\n"
                          "}\n";
  ASSERT_EQ(c_->exec(0, "nft -f " + rules.string()).exit_code, 0);
  for (int i = 1; i <= 3; ++i) {
    const auto cut = from_client(i, "timeout 6 nslookup web.default.svc.cluster.local " + c_->ip(0));
    EXPECT_THAT(cut.output, ::testing::Not(HasSubstr("Address: " + cluster_ip))) << "node-" << i << ": the cut-off server answered";
    const auto lookup = from_client(i, "nslookup web.default.svc.cluster.local");
    std::cout << "node-" << i << ", control plane's DNS cut off: nslookup web.default.svc.cluster.local:\n" << lookup.output;
    EXPECT_THAT(lookup.output, HasSubstr("Address: " + cluster_ip)) << "node-" << i;
  }
  EXPECT_EQ(c_->exec(0, "nft delete table inet switchyard_test_block_dns").exit_code, 0);
}

// A NodePort on node-1, asked from the control plane's namespace, reaches pods on every node.
TEST_F(Cluster, ANodePortOnOneNodeReachesPodsOnTheOthers) {
  const auto pods = web_pods();
  ASSERT_EQ(pods.size(), 6u);
  const Answers a = ask(pods, 0, "http://" + c_->ip(1) + ":30080/", 40);
  std::cout << "40 requests to node-1's NodePort from the control plane: answered from " << a.nodes.size() << " nodes, " << a.failed
            << " failed\n";
  EXPECT_EQ(a.failed, 0);
  EXPECT_EQ(a.nodes.size(), 3u);
}

TEST_F(Cluster, ANodeDiesItsPodsMoveAndItRejoins) {
  ASSERT_EQ(web_pods().size(), 6u);
  // The client: one request at a time to node-1's NodePort, from the control plane's namespace.
  const auto counts = c_->dir() / "counts";
  auto loop = std::make_unique<testing::ChildProcess>(
      std::vector<std::string>{"sh", "-c",
                               "ok=0; failed=0; while true; do if " + c_->exec_prefix(0) + " curl -s -o /dev/null -m 1 http://" +
                                   c_->ip(1) + ":30080/; then ok=$((ok+1)); else failed=$((failed+1)); fi; echo \"$ok $failed\" > " +
                                   counts.string() + ".tmp; mv " + counts.string() + ".tmp " + counts.string() + "; done"},
      (c_->dir() / "client.log").string());
  auto read_counts = [&] {
    std::ifstream in(counts);
    std::pair<int, int> ok_failed{0, 0};
    in >> ok_failed.first >> ok_failed.second;
    return ok_failed;
  };
  ASSERT_TRUE(wait_until(30, [&] { return read_counts().first > 10; })) << c_->log("client.log");
  const auto before = read_counts();

  const auto died = Clock::now();
  c_->kill_node(3);
  ASSERT_EQ(c_->set_link(3, false).exit_code, 0);
  EXPECT_TRUE(c_->wait_ready(3, "Unknown", kGraceSeconds + 30)) << k("get nodes").output;
  const double not_ready = since(died);
  std::cout << "node-3 killed and cut off: NotReady (Ready=Unknown) after " << not_ready << " s\n";
  EXPECT_GE(not_ready, kGraceSeconds - 11) << "not before the grace period (less a Lease renewal interval)";
  EXPECT_TRUE(wait_until(kTolerationSeconds + 30, [] {
    const auto pods = pods_on("node-3");
    return !pods.empty() && std::all_of(pods.begin(), pods.end(), [](const std::string& p) { return p.back() != '='; });
  })) << k("get pods -o wide").output;
  std::cout << "node-3's two pods evicted after " << since(died) << " s\n";
  EXPECT_TRUE(wait_until(90, [] {
    const auto pods = web_pods();
    const auto n = per_node(pods);
    return pods.size() == 6 && n.count("node-3") == 0;
  })) << k("get pods -o wide").output;
  std::cout << "6 web pods Running and Ready on node-1 and node-2 after " << since(died) << " s\n" << k("get pods -o wide").output;
  EXPECT_EQ(per_node(web_pods()), (std::map<std::string, int>{{"node-1", 3}, {"node-2", 3}}));
  // Some more requests once the endpoints settled.
  const auto settled = read_counts();
  ASSERT_TRUE(wait_until(30, [&] { return read_counts().first > settled.first + 20; }));
  const auto after = read_counts();
  loop.reset();
  std::cout << "client to node-1's NodePort during the node's death: " << after.first - before.first << " answered, "
            << after.second - before.second << " failed (" << after.second - settled.second << " failed after the pods moved)\n";
  // The Service answers at the end: ten requests in a row.
  int answered = 0;
  for (int n = 0; n < 10; ++n) answered += c_->exec(0, "curl -s -o /dev/null -m 3 http://" + c_->ip(1) + ":30080/").exit_code == 0;
  EXPECT_EQ(answered, 10);

  // It comes back: the link, then `join` again on its data dir (its credential reused).
  const auto back = Clock::now();
  ASSERT_EQ(c_->set_link(3, true).exit_code, 0);
  ASSERT_EQ(c_->join(3), "");
  EXPECT_TRUE(c_->wait_ready(3, "True", 60)) << k("get nodes").output;
  std::cout << "node-3 rejoined and Ready in " << since(back) << " s\n";
  // Its own credential, not the token (which may have expired by the time a node comes back).
  const std::string rejoin = c_->log("join-node-3-2.log");
  for (std::size_t at = rejoin.find("event=node_credentials"); at != std::string::npos; at = rejoin.find("event=node_credentials", at + 1))
    std::cout << "node-3's second join: " << rejoin.substr(at, rejoin.find('\n', at) - at) << "\n";
  EXPECT_THAT(rejoin, HasSubstr("event=node_credentials_reused"));
  EXPECT_THAT(rejoin, ::testing::Not(HasSubstr("event=csr_created")));
  // The pods evicted from it are gone from the API once its kubelet is back.
  EXPECT_TRUE(wait_until(60, [] { return k("get pods -l app=web --field-selector spec.nodeName=node-3 -o name").output.empty(); }))
      << k("get pods -o wide").output;
  EXPECT_THAT(k("get node node-3 -o jsonpath={.spec.taints}").output, ::testing::Not(HasSubstr("unreachable")));
  // Its own pod (client-3, bound to it, killed with it) runs again and reaches the Service's
  // pods, now all on the other two nodes, and its name.
  const auto pods = web_pods();
  Answers a;
  EXPECT_TRUE(wait_until(60,
                         [&] {
                           a = ask(pods, 3, "http://web/", 20);
                           return a.failed == 0;
                         }))
      << k("get pods -o wide").output << k("describe pod client-3").output;
  std::cout << "client-3 on the rejoined node: 20 requests to http://web/: answered from " << a.nodes.size() << " nodes, " << a.failed
            << " failed; restarts " << k("get pod client-3 -o jsonpath={.status.containerStatuses[0].restartCount}").output << "\n";
  EXPECT_EQ(a.nodes, (std::set<std::string>{"node-1", "node-2"}));
}

}  // namespace
}  // namespace switchyard
