// Two nodes, each a network namespace running `switchyard agent`, node-a in nftables mode and
// node-b in eBPF mode, with routed pods on per-node pod CIDRs (10.244.1.0/24 on node-a,
// 10.244.2.0/24 on node-b) and a control-plane namespace running `switchyard apiserver` on a
// bridge the nodes share. node-b's agent attaches its socket hooks to a cgroup the test created
// (node-b's pod processes, servers and clients, run in it; the test process does not), pins in a
// private bpffs and puts its tc programs on node-b's eth0. Real traffic: cross-node ClusterIP from
// pods on both nodes, NodePort on node-a reaching a pod on node-b, Local policy on both nodes
// (source kept where the endpoint is, nothing where it is not, the health-check node port's
// 200/503), cluster DNS from pods on both nodes through the kube-dns Service IP (served by the
// agents), the eBPF agent killed with kill -9 and restarted while clients keep connecting (no
// failure) and long TCP streams stay up, and the API server killed and restarted while the nodes
// keep forwarding and then program a new Service.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dataplane/ebpf/testing/ebpf_test_env.h"
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

// Answers "<pod name> <client address>" over HTTP, and echoes lines on port 9000 (long streams).
constexpr const char* kServer = R"PY(
import http.server, socketserver, sys, threading
name, port = sys.argv[1], int(sys.argv[2])
class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line)
class EchoServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
threading.Thread(target=EchoServer(("0.0.0.0", 9000), Echo).serve_forever, daemon=True).start()
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

// Opens a new connection to http://HOST:PORT/ every 10 ms for SECONDS while one long connection to
// STREAM_HOST:STREAM_PORT echoes a line each round; prints "ok=N failed=N stream=alive|broken".
constexpr const char* kChurnClient = R"PY(
import socket, sys, time
host, port, stream_host, stream_port, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
stream = socket.create_connection((stream_host, stream_port), timeout=3)
stream_ok, echoes, ok, failed = True, 0, 0, 0
end = time.time() + seconds
while time.time() < end:
    try:
        with socket.create_connection((host, port), timeout=3) as c:
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            reply = b""
            while chunk := c.recv(4096):
                reply += chunk
            ok, failed = (ok + 1, failed) if reply.startswith(b"HTTP/1.0 200") else (ok, failed + 1)
    except OSError:
        failed += 1
    if stream_ok:
        try:
            stream.sendall(b"ping %d\n" % echoes)
            stream_ok = stream.recv(64) == b"ping %d\n" % echoes
            echoes += 1
        except OSError:
            stream_ok = False
    time.sleep(0.01)
print(f"ok={ok} failed={failed} stream={'alive' if stream_ok else 'broken'} echoes={echoes}")
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
metadata: {name: stream, namespace: shop}
spec:
  ports: [{name: echo, port: 9000, targetPort: 9000}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: stream-1, namespace: shop, labels: {kubernetes.io/service-name: stream}}
addressType: IPv4
endpoints:
- {addresses: [10.244.1.11], nodeName: node-a, conditions: {ready: true}}
ports: [{name: echo, port: 9000, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: local-b, namespace: shop}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30081}, {name: echo, port: 9000, targetPort: 9000, nodePort: 30091}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: local-b-1, namespace: shop, labels: {kubernetes.io/service-name: local-b}}
addressType: IPv4
endpoints:
- {addresses: [10.244.2.11], nodeName: node-b, conditions: {ready: true}}
ports: [{name: http, port: 8080, protocol: TCP}, {name: echo, port: 9000, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: local-a, namespace: shop}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30083}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: local-a-1, namespace: shop, labels: {kubernetes.io/service-name: local-a}}
addressType: IPv4
endpoints:
- {addresses: [10.244.1.11], nodeName: node-a, conditions: {ready: true}}
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

const char* kWhileDown = R"(apiVersion: v1
kind: Service
metadata: {name: while-down, namespace: shop}
spec:
  ports: [{name: http, port: 8082, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: while-down-1, namespace: shop, labels: {kubernetes.io/service-name: while-down}}
addressType: IPv4
endpoints:
- {addresses: [10.244.2.11], nodeName: node-b, conditions: {ready: true}}
ports: [{name: http, port: 8080, protocol: TCP}]
)";

class TwoNodes : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
    dir_ = std::filesystem::temp_directory_path() / ("sy-2nodes-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    // node-b's eBPF agent: a cgroup and a bpffs of the test's own.
    auto bpffs = dataplane::ebpf::testing::TestBpffs::mount();
    ASSERT_TRUE(bpffs) << bpffs.error();
    bpffs_ = std::move(*bpffs);
    auto cgroup = dataplane::ebpf::testing::TestCgroup::create();
    ASSERT_TRUE(cgroup) << cgroup.error();
    cgroup_ = std::move(*cgroup);
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
    pods_.clear();  // their processes end, so the cgroup is empty
    nodes_.clear();
    cp_.reset();
    cgroup_.reset();
    bpffs_.reset();
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
  // node-b's pods run their processes in the eBPF agent's cgroup: that is where its socket hooks are.
  std::string cgroup_prefix(const std::string& pod) const { return pod.starts_with("pod-b") ? cgroup_->enter_command() : ""; }
  void add_pod(const Node& n, const std::string& name, const std::string& ip) {
    auto ns = make_ns(name);
    ASSERT_TRUE(ns);
    const std::string link = "v" + name;
    must(nodes_.at(n.name), "ip link add " + link + " type veth peer name eth0 netns " + ns->name() +
                                " && ip addr add 169.254.1.1/32 dev " + link + " && ip link set " + link + " up && ip route add " + ip +
                                "/32 dev " + link);
    must(*ns,
         "ip addr add " + ip +
             "/32 dev eth0 && ip link set eth0 up && ip route add 169.254.1.1 dev eth0 && ip route add default via 169.254.1.1 dev eth0");
    ASSERT_TRUE(ns->spawn({"sh", "-c", cgroup_prefix(name) + "exec python3 -c \"$0\" \"$1\" 8080", kServer, name}));
    ASSERT_TRUE(wait_until(10, [&] { return ns->run("curl -s --max-time 1 http://127.0.0.1:8080/").ok(); }));
    pods_.emplace(name, std::move(*ns));
  }
  // A command in the control-plane namespace ("cp", the clients from outside the nodes) or in a pod.
  dataplane::testing::CommandResult run_at(const std::string& where, const std::string& command) {
    return where == "cp" ? cp_->run(command) : pods_.at(where).run(cgroup_prefix(where) + command);
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
  // node-a: nftables; node-b: eBPF in the test's cgroup and bpffs, tc on its eth0.
  std::vector<std::string> mode_flags(const Node& n) const {
    if (&n == &kNodeA) return {"--mode", "nftables"};
    return {"--mode", "ebpf", "--cgroup-root", cgroup_->path(), "--bpf-root", bpffs_->path(), "--external-interfaces", "eth0"};
  }
  void start_agent(const Node& n) {
    std::vector<std::string> argv{SWITCHYARD_BINARY,
                                  "agent",
                                  "--node-name",
                                  n.name,
                                  "--kubeconfig",
                                  (dir_ / "api/kubeconfig").string(),
                                  "--cluster-cidr",
                                  "10.244.0.0/16",
                                  "--dns-listen",
                                  n.ip + ":53",
                                  "--dns-resolv-conf",
                                  "",
                                  "--healthz-bind-address",
                                  n.ip + ":10256",
                                  "--min-sync-period",
                                  "200ms"};
    for (auto& f : mode_flags(n)) argv.push_back(f);
    agents_[n.name] = std::make_unique<ChildProcess>(in_ns(nodes_.at(n.name), argv), (dir_ / (n.name + ".log")).string());
  }
  bool agent_ready(const Node& n) { return cp_->run("curl -sf --max-time 1 http://" + n.ip + ":10256/readyz").ok(); }
  dataplane::testing::CommandResult kubectl(const std::string& args) {
    return cp_->run(std::string(kKubectl) + " --kubeconfig " + (dir_ / "api/kubeconfig").string() + " " + args);
  }
  void apply(const std::string& yaml) {
    std::ofstream(dir_ / "m.yaml") << yaml;
    auto r = kubectl("apply -f " + (dir_ / "m.yaml").string());
    ASSERT_TRUE(r.ok()) << r.output;
  }
  std::string svc_field(const std::string& svc, const std::string& field) {
    return kubectl("get svc " + svc + " -n shop -o jsonpath={" + field + "}").output;
  }
  std::string log(const std::string& name) {
    std::ifstream in(dir_ / name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // "<pod> <client>" from one GET, or "" on failure.
  std::string get(const std::string& from, const std::string& host, int port, int timeout = 2) {
    auto r = run_at(from, "curl -s --max-time " + std::to_string(timeout) + " http://" + host + ":" + std::to_string(port) + "/");
    return r.ok() ? r.output : "";
  }
  std::set<std::string> answering_pods(const std::string& from, const std::string& host, int port, int count) {
    std::set<std::string> pods;
    for (int i = 0; i < count; ++i) {
      const auto reply = get(from, host, port);
      if (!reply.empty()) pods.insert(reply.substr(0, reply.find(' ')));
    }
    return pods;
  }
  // The health-check node port of a Local service on one node: "<body> <status>".
  std::string health_check(const Node& n, const std::string& svc) {
    return cp_->run("curl -sS --max-time 2 -w ' %{http_code}' http://" + n.ip + ":" + svc_field(svc, ".spec.healthCheckNodePort") + "/")
        .output;
  }
  // kChurnClient in the background from `from`; its last line when it ends.
  std::future<std::string> churn(const std::string& from, const std::string& host, int port, const std::string& stream_host,
                                 int stream_port, double seconds) {
    return std::async(std::launch::async, [=, this] {
      return run_at(from, "python3 -c " + dataplane::testing::shell_quote(kChurnClient) + " " + host + " " + std::to_string(port) + " " +
                              stream_host + " " + std::to_string(stream_port) + " " + std::to_string(seconds))
          .output;
    });
  }

  std::unique_ptr<dataplane::ebpf::testing::TestBpffs> bpffs_;
  std::unique_ptr<dataplane::ebpf::testing::TestCgroup> cgroup_;
  std::filesystem::path dir_;
  std::optional<NetworkNamespace> cp_;
  std::map<std::string, NetworkNamespace> nodes_, pods_;
  std::unique_ptr<ChildProcess> apiserver_;
  std::map<std::string, std::unique_ptr<ChildProcess>> agents_;
};

TEST_F(TwoNodes, NftablesAndEbpfNodesServeTheClusterAndSurviveAgentAndApiServerRestarts) {
  ASSERT_TRUE(cp_ && nodes_.size() == 2 && pods_.size() == 2);
  apply(kObjects);
  const std::string web_ip = svc_field("web", ".spec.clusterIP"), stream_ip = svc_field("stream", ".spec.clusterIP");
  start_agent(kNodeA);
  start_agent(kNodeB);
  ASSERT_TRUE(wait_until(20, [&] { return !get("pod-a1", web_ip, 80).empty() && !get("pod-b1", web_ip, 80).empty(); }))
      << log("node-a.log") << log("node-b.log");
  // node-b programs no nftables rules: its ClusterIPs are translated at connect().
  EXPECT_THAT(nodes_.at("node-b").run("nft list tables").output, ::testing::Not(HasSubstr("switchyard")));
  EXPECT_TRUE(nodes_.at("node-a").run("nft list table ip switchyard").ok());

  // Cross-node ClusterIP: from a pod on each node, both pods answer.
  const std::set<std::string> both = {"pod-a1", "pod-b1"};
  EXPECT_EQ(answering_pods("pod-a1", web_ip, 80, 16), both);
  EXPECT_EQ(answering_pods("pod-b1", web_ip, 80, 16), both);
  // NodePort on node A (nftables) reaches the pod on node B (and its own); on node B (eBPF tc,
  // Cluster policy) likewise: the pod on node A is reached with node B's address as the source
  // (SNAT with a port of its own), so its replies come back through node B.
  EXPECT_EQ(answering_pods("cp", kNodeA.ip, 30080, 16), both);
  EXPECT_EQ(answering_pods("cp", kNodeB.ip, 30080, 16), both);

  // Local policy, with the client's address kept where the endpoint is: node-b's tc programs
  // for local-b, node-a's nftables for local-a. Where there is none, nothing answers.
  EXPECT_EQ(get("cp", kNodeB.ip, 30081), std::string("pod-b1 ") + kApiIp + "\n");
  EXPECT_EQ(get("cp", kNodeA.ip, 30083), std::string("pod-a1 ") + kApiIp + "\n");
  EXPECT_EQ(get("cp", kNodeA.ip, 30081, 1), "");
  EXPECT_EQ(get("cp", kNodeB.ip, 30083, 1), "");
  // Their health-check node ports, on both nodes.
  EXPECT_THAT(health_check(kNodeB, "local-b"),
              HasSubstr(R"({"service":{"namespace":"shop","name":"local-b"},"localEndpoints":1,"serviceProxyHealthy":true} 200)"));
  EXPECT_THAT(health_check(kNodeA, "local-b"),
              HasSubstr(R"({"service":{"namespace":"shop","name":"local-b"},"localEndpoints":0,"serviceProxyHealthy":true} 503)"));
  EXPECT_THAT(health_check(kNodeA, "local-a"), HasSubstr(R"("localEndpoints":1,"serviceProxyHealthy":true} 200)"));
  EXPECT_THAT(health_check(kNodeB, "local-a"), HasSubstr(R"("localEndpoints":0,"serviceProxyHealthy":true} 503)"));

  // `switchyard status --mode ebpf` reads node-b's pinned maps back: the ClusterIP with both
  // backends, the Local node ports with the local endpoint or none.
  auto status = nodes_.at("node-b").run(std::string(SWITCHYARD_BINARY) + " status --mode ebpf --bpf-root " + bpffs_->path());
  EXPECT_TRUE(status.ok()) << status.output;
  EXPECT_THAT(status.output, HasSubstr("SERVICE  "));
  EXPECT_THAT(status.output, ::testing::ContainsRegex("\nid [0-9]+ +" + web_ip +
                                                      ":80/tcp +(10.244.1.11:8080, 10.244.2.11:8080|10.244.2.11:8080, 10.244.1.11:8080)\n"))
      << status.output;
  EXPECT_THAT(status.output, ::testing::ContainsRegex("\nid [0-9]+ +\\*:30081/tcp \\(node port, Local\\) +10.244.2.11:8080\n"))
      << status.output;
  EXPECT_THAT(status.output, ::testing::ContainsRegex(
                                 "\nid [0-9]+ +\\*:30083/tcp \\(node port, Local\\) +\\(no endpoints for its traffic policy: dropped\\)\n"))
      << status.output;
  EXPECT_THAT(
      status.output,
      ::testing::ContainsRegex("\nid [0-9]+ +10.96.0.10:53/udp +(192.168.60.11:53, 192.168.60.12:53|192.168.60.12:53, 192.168.60.11:53)\n"))
      << status.output;
  EXPECT_THAT(nodes_.at("node-b")
                  .run(std::string(SWITCHYARD_BINARY) + " status --mode ebpf --node-name node-x --bpf-root " + bpffs_->path())
                  .output,
              HasSubstr("no services programmed"));

  // Cluster DNS through the kube-dns Service IP, from pods on both nodes.
  for (const char* pod : {"pod-a1", "pod-b1"})
    EXPECT_EQ(run_at(pod, "dig +short +time=2 +tries=2 @10.96.0.10 web.shop.svc.cluster.local").output, web_ip + "\n") << pod;

  // kill -9 of node-b's eBPF agent while clients keep connecting: new ClusterIP connections from
  // its pod, new NodePort connections from outside through its tc programs, and a long stream each.
  auto from_pod = churn("pod-b1", web_ip, 80, stream_ip, 9000, 6);
  auto from_outside = churn("cp", kNodeB.ip, 30081, kNodeB.ip, 30091, 6);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  agents_.at("node-b")->kill_now(SIGKILL);
  ASSERT_TRUE(agents_.at("node-b")->wait_exit(5));
  apply(kWhileDown);  // made while no agent runs on node-b
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  start_agent(kNodeB);
  EXPECT_TRUE(wait_until(15, [&] { return agent_ready(kNodeB); })) << log("node-b.log");
  const std::string inside = from_pod.get(), outside = from_outside.get();
  std::cout << "churn across the kill -9, from pod-b1 to the ClusterIP: " << inside << "from outside to node-b's NodePort: " << outside;
  EXPECT_THAT(inside, ::testing::MatchesRegex("ok=[1-9][0-9]+ failed=0 stream=alive echoes=[1-9][0-9]+\n")) << inside;
  EXPECT_THAT(outside, ::testing::MatchesRegex("ok=[1-9][0-9]+ failed=0 stream=alive echoes=[1-9][0-9]+\n")) << outside;
  // The restarted agent took over the pinned maps and programs what changed meanwhile.
  EXPECT_THAT(log("node-b.log"), HasSubstr("event=ebpf_backend_opened pin_dir=" + bpffs_->path() + "/node-b reused_pins=true"));
  EXPECT_TRUE(wait_until(10, [&] { return get("pod-b1", svc_field("while-down", ".spec.clusterIP"), 8082).starts_with("pod-b1"); }))
      << log("node-b.log");

  // The API server dies: both nodes keep forwarding.
  apiserver_->kill_now(SIGKILL);
  ASSERT_TRUE(apiserver_->wait_exit(5));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(answering_pods("pod-a1", web_ip, 80, 12), both);
  EXPECT_EQ(answering_pods("pod-b1", web_ip, 80, 12), both);
  EXPECT_EQ(answering_pods("cp", kNodeA.ip, 30080, 12), both);
  EXPECT_EQ(get("cp", kNodeB.ip, 30081), std::string("pod-b1 ") + kApiIp + "\n");
  // It comes back: both agents resync and program a Service created after.
  start_apiserver();
  apply(kLate);
  const std::string late_ip = svc_field("late", ".spec.clusterIP");
  EXPECT_TRUE(wait_until(
      45, [&] { return get("pod-a1", late_ip, 8081).starts_with("pod-a1") && get("pod-b1", late_ip, 8081).starts_with("pod-a1"); }))
      << log("node-a.log") << log("node-b.log");
  for (const auto& [name, agent] : agents_) EXPECT_TRUE(agent->running()) << name;
}

}  // namespace
}  // namespace switchyard
