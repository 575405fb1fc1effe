// Two nodes, each a network namespace running `switchyard agent --mode nftables`, with routed
// pods on per-node pod CIDRs (10.244.1.0/24 on node-a, 10.244.2.0/24 on node-b) and a
// control-plane namespace running `switchyard apiserver` on a bridge the nodes share. Real
// traffic: cross-node ClusterIP, NodePort on one node reaching a pod on the other, Local policy
// (source kept on the node with the endpoint, nothing on the node without), cluster DNS from pods
// on both nodes through the kube-dns Service IP (served by the agents), and the API server killed
// and restarted while the nodes keep forwarding and then program a new Service.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dataplane/testing/network_namespace.h"
#include "netns-tests/support/process.h"

namespace switchyard {
namespace {

using dataplane::testing::NetworkNamespace;
using switchyard::testing::ChildProcess;
using switchyard::testing::wait_until;
using ::testing::HasSubstr;

constexpr const char* kKubectl = "/usr/lib/google-cloud-sdk/bin/kubectl.1.31";
constexpr const char* kApiIp = "192.168.60.1";

// Answers "<pod name> <client address>".
constexpr const char* kServer = R"PY(
import http.server, socketserver, sys
name, port = sys.argv[1], int(sys.argv[2])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{name} {self.client_address[0]}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    allow_reuse_address = True
    daemon_threads = True
Server(("0.0.0.0", port), Handler).serve_forever()
)PY";

struct Node {
  std::string name, ip, pod_cidr;
};
const Node kNodeA{"node-a", "192.168.60.11", "10.244.1.0/24"}, kNodeB{"node-b", "192.168.60.12", "10.244.2.0/24"};

const char* kObjects = R"(apiVersion: v1
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
metadata: {name: web, namespace: shop}
spec:
  type: NodePort
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- {addresses: [10.244.1.11], nodeName: node-a, conditions: {ready: true}}
- {addresses: [10.244.2.11], nodeName: node-b, conditions: {ready: true}}
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: local, namespace: shop}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30081}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: local-1, namespace: shop, labels: {kubernetes.io/service-name: local}}
addressType: IPv4
endpoints:
- {addresses: [10.244.2.11], nodeName: node-b, conditions: {ready: true}}
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec:
  clusterIP: 10.96.0.10
  ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: kube-dns-nodes, namespace: kube-system, labels: {kubernetes.io/service-name: kube-dns}}
addressType: IPv4
endpoints:
- {addresses: [192.168.60.11], nodeName: node-a, conditions: {ready: true}}
- {addresses: [192.168.60.12], nodeName: node-b, conditions: {ready: true}}
ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
)";

const char* kLate = R"(apiVersion: v1
kind: Service
metadata: {name: late, namespace: shop}
spec:
  ports: [{name: http, port: 8081, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: late-1, namespace: shop, labels: {kubernetes.io/service-name: late}}
addressType: IPv4
endpoints:
- {addresses: [10.244.1.11], nodeName: node-a, conditions: {ready: true}}
ports: [{name: http, port: 8080, protocol: TCP}]
)";

class TwoNodes : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
    dir_ = std::filesystem::temp_directory_path() / ("sy-2nodes-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    if (auto cp = make_ns("cp")) cp_.emplace(std::move(*cp));
    ASSERT_TRUE(cp_);
    must(*cp_, std::string("ip link add br0 type bridge && ip addr add ") + kApiIp + "/24 dev br0 && ip link set br0 up");
    if (HasFatalFailure()) return;
    for (const Node* n : {&kNodeA, &kNodeB}) wire_node(*n, n == &kNodeA ? kNodeB : kNodeA);
    if (HasFatalFailure()) return;
    add_pod(kNodeA, "pod-a1", "10.244.1.11");
    add_pod(kNodeB, "pod-b1", "10.244.2.11");
    if (HasFatalFailure()) return;
    start_apiserver();
  }
  void TearDown() override {
    agents_.clear();
    apiserver_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
    pods_.clear();
    nodes_.clear();
    cp_.reset();
  }

  std::optional<NetworkNamespace> make_ns(const std::string& role) {
    auto ns = NetworkNamespace::create(NetworkNamespace::unique_name("sy-2n", role));
    if (!ns) ADD_FAILURE() << ns.error();
    return ns ? std::optional<NetworkNamespace>(std::move(*ns)) : std::nullopt;
  }
  void must(NetworkNamespace& ns, const std::string& command) {
    auto r = ns.run(command);
    ASSERT_TRUE(r.ok()) << ns.name() << ": " << command << ": " << r.output;
  }
  void wire_node(const Node& n, const Node& other) {
    auto ns = make_ns(n.name);
    ASSERT_TRUE(ns);
    const std::string link = "v" + n.name;
    must(*cp_, "ip link add " + link + " type veth peer name eth0 netns " + ns->name() + " && ip link set " + link + " master br0 up");
    must(*ns, "sysctl -qw net.ipv4.ip_forward=1 && ip addr add " + n.ip + "/24 dev eth0 && ip link set eth0 up && ip route add " +
                  other.pod_cidr + " via " + other.ip);
    nodes_.emplace(n.name, std::move(*ns));
  }
  void add_pod(const Node& n, const std::string& name, const std::string& ip) {
    auto ns = make_ns(name);
    ASSERT_TRUE(ns);
    const std::string link = "v" + name;
    must(nodes_.at(n.name), "ip link add " + link + " type veth peer name eth0 netns " + ns->name() +
                                " && ip addr add 169.254.1.1/32 dev " + link + " && ip link set " + link + " up && ip route add " + ip + "/32 dev " + link);
    must(*ns, "ip addr add " + ip + "/32 dev eth0 && ip link set eth0 up && ip route add 169.254.1.1 dev eth0 && ip route add default via 169.254.1.1 dev eth0");
    ASSERT_TRUE(ns->spawn({"python3", "-c", kServer, name, "8080"}));
    ASSERT_TRUE(wait_until(10, [&] { return ns->run("curl -s --max-time 1 http://127.0.0.1:8080/").ok(); }));
    pods_.emplace(name, std::move(*ns));
  }
  std::vector<std::string> in_ns(const NetworkNamespace& ns, std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"nsenter", "--net=" + ns.path()});
    return argv;
  }
  void start_apiserver() {
    apiserver_ = std::make_unique<ChildProcess>(
        in_ns(*cp_, {SWITCHYARD_BINARY, "apiserver", "--data-dir", (dir_ / "api").string(), "--listen", std::string(kApiIp) + ":6443"}),
        (dir_ / "apiserver.log").string());
    ASSERT_TRUE(wait_until(20, [&] { return kubectl("get ns default -o name").output == "namespace/default\n"; })) << log("apiserver.log");
  }
  void start_agent(const Node& n) {
    agents_[n.name] = std::make_unique<ChildProcess>(
        in_ns(nodes_.at(n.name), {SWITCHYARD_BINARY, "agent", "--node-name", n.name, "--mode", "nftables", "--kubeconfig",
                                  (dir_ / "api/kubeconfig").string(), "--cluster-cidr", "10.244.0.0/16", "--dns-listen", n.ip + ":53",
                                  "--dns-resolv-conf", "", "--healthz-bind-address", n.ip + ":10256", "--min-sync-period", "200ms"}),
        (dir_ / (n.name + ".log")).string());
  }
  dataplane::testing::CommandResult kubectl(const std::string& args) {
    return cp_->run(std::string(kKubectl) + " --kubeconfig " + (dir_ / "api/kubeconfig").string() + " " + args);
  }
  void apply(const std::string& yaml) {
    std::ofstream(dir_ / "m.yaml") << yaml;
    auto r = kubectl("apply -f " + (dir_ / "m.yaml").string());
    ASSERT_TRUE(r.ok()) << r.output;
  }
  std::string log(const std::string& name) {
    std::ifstream in(dir_ / name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // "<pod> <client>" from one GET, or "" on failure.
  std::string get(const NetworkNamespace& from, const std::string& host, int port, int timeout = 2) {
    auto r = from.run("curl -s --max-time " + std::to_string(timeout) + " http://" + host + ":" + std::to_string(port) + "/");
    return r.ok() ? r.output : "";
  }
  std::set<std::string> answering_pods(const NetworkNamespace& from, const std::string& host, int port, int count) {
    std::set<std::string> pods;
    for (int i = 0; i < count; ++i) {
      const auto reply = get(from, host, port);
      if (!reply.empty()) pods.insert(reply.substr(0, reply.find(' ')));
    }
    return pods;
  }

  std::filesystem::path dir_;
  std::optional<NetworkNamespace> cp_;
  std::map<std::string, NetworkNamespace> nodes_, pods_;
  std::unique_ptr<ChildProcess> apiserver_;
  std::map<std::string, std::unique_ptr<ChildProcess>> agents_;
};

TEST_F(TwoNodes, ServicesWorkAcrossNodesAndSurviveTheApiServer) {
  ASSERT_TRUE(cp_ && nodes_.size() == 2 && pods_.size() == 2);
  apply(kObjects);
  const std::string web_ip = kubectl("get svc web -n shop -o jsonpath={.spec.clusterIP}").output;
  start_agent(kNodeA);
  start_agent(kNodeB);
  const auto& pod_a = pods_.at("pod-a1");
  const auto& pod_b = pods_.at("pod-b1");
  ASSERT_TRUE(wait_until(20, [&] { return !get(pod_a, web_ip, 80).empty() && !get(pod_b, web_ip, 80).empty(); }))
      << log("node-a.log") << log("node-b.log");

  // Cross-node ClusterIP: from a pod on each node, both pods answer.
  const std::set<std::string> both = {"pod-a1", "pod-b1"};
  EXPECT_EQ(answering_pods(pod_a, web_ip, 80, 24), both);
  EXPECT_EQ(answering_pods(pod_b, web_ip, 80, 24), both);
  // NodePort on node A reaches the pod on node B (and its own).
  EXPECT_EQ(answering_pods(*cp_, kNodeA.ip, 30080, 24), both);

  // Local policy: node B has the endpoint and keeps the client's address; node A has none.
  EXPECT_EQ(get(*cp_, kNodeB.ip, 30081), std::string("pod-b1 ") + kApiIp + "\n");
  EXPECT_EQ(get(*cp_, kNodeA.ip, 30081, 1), "");

  // Cluster DNS through the kube-dns Service IP, from pods on both nodes.
  for (const auto* pod : {&pod_a, &pod_b})
    EXPECT_EQ(pod->run("dig +short +time=2 +tries=2 @10.96.0.10 web.shop.svc.cluster.local").output, web_ip + "\n") << pod->name();

  // The API server dies: both nodes keep forwarding.
  apiserver_->kill_now(SIGKILL);
  ASSERT_TRUE(apiserver_->wait_exit(5));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(answering_pods(pod_a, web_ip, 80, 12), both);
  EXPECT_EQ(answering_pods(*cp_, kNodeB.ip, 30080, 12), both);
  // It comes back: both agents resync and program a Service created after.
  start_apiserver();
  apply(kLate);
  const std::string late_ip = kubectl("get svc late -n shop -o jsonpath={.spec.clusterIP}").output;
  EXPECT_TRUE(wait_until(45, [&] {
    return get(pod_a, late_ip, 8081).starts_with("pod-a1") && get(pod_b, late_ip, 8081).starts_with("pod-a1");
  })) << log("node-a.log") << log("node-b.log");
  for (const auto& [name, agent] : agents_) EXPECT_TRUE(agent->running()) << name;
}

}  // namespace
}  // namespace switchyard
