// `switchyard agent --mode ebpf` with no flags but the mode (and the test's cgroup), as on a
// fresh host: no bpf filesystem mounted, no --external-interfaces. The agent runs in a private
// mount namespace (unshare -m, propagation private) where /sys/fs/bpf is a plain sysfs
// directory: any bpffs there is lazily unmounted in that copy only, so the host's /sys/fs/bpf
// is never touched, and the bpffs the agent mounts goes away with the namespace. Everything
// else lives in network namespaces of the test (ServiceTopology) and a cgroup of its own.
#include <sys/statfs.h>

#include <filesystem>
#include <csignal>
#include <fstream>
#include <regex>

#include <fmt/format.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dataplane/ebpf/testing/ebpf_test_env.h"
#include "dataplane/testing/service_topology.h"
#include "netns-tests/support/process.h"

namespace switchyard {
namespace {

using dataplane::testing::NetworkNamespace;
using dataplane::testing::ServiceTopology;
using switchyard::testing::ChildProcess;
using switchyard::testing::wait_until;
using ::testing::HasSubstr;

constexpr const char* kKubectl = "/usr/lib/google-cloud-sdk/bin/kubectl.1.31";

const char* kShop = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
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
- {addresses: [10.244.0.11], nodeName: node-a, conditions: {ready: true}}
ports: [{name: http, port: 8080, protocol: TCP}]
)";

// An echo service on pod-a:9000 behind NodePort 30090, for a long-lived connection.
const char* kEcho = R"(apiVersion: v1
kind: Service
metadata: {name: echo, namespace: shop}
spec:
  type: NodePort
  ports: [{name: echo, port: 9000, targetPort: 9000, nodePort: 30090}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-1, namespace: shop, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
endpoints:
- {addresses: [10.244.0.11], nodeName: node-a, conditions: {ready: true}}
ports: [{name: echo, port: 9000, protocol: TCP}]
)";

const char* kEchoServer = R"PY(
import socket, threading
srv = socket.socket(socket.AF_INET6)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("::", 9000))
srv.listen(64)
def serve(c):
    while (d := c.recv(4096)):
        c.sendall(d)
    c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
)PY";

// One long-lived connection to the echo NodePort, `n` short HTTP/1.0 connections to the web
// NodePort (each closed with FINs), then, once `flag` exists, one more echo on the long one.
const char* kChurnClient = R"PY(
import os, socket, sys, time
node, n, flag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
long = socket.create_connection((node, 30090), timeout=5)
def echo(tag):
    long.sendall(tag.encode() + b"\n")
    got = b""
    while not got.endswith(b"\n"):
        chunk = long.recv(100)
        if not chunk:
            sys.exit("the long connection was closed")
        got += chunk
    if got != tag.encode() + b"\n":
        sys.exit(f"the long connection answered {got!r}")
echo("start")
failed = 0
for i in range(n):
    try:
        s = socket.create_connection((node, 30080), timeout=5)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while (c := s.recv(4096)):
            data += c
        s.close()
        failed += b"pod-a" not in data
    except OSError:
        failed += 1
    if i % 500 == 0:
        echo(f"during {i}")
print(f"short connections done failed={failed}", flush=True)
while not os.path.exists(flag):
    time.sleep(0.2)
echo("after")
print("long connection ok", flush=True)
)PY";

// A sample's value in Prometheus text ("" when absent).
std::string sample(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return "";
  const auto start = at + name.size() + 2;
  return text.substr(start, text.find('\n', start) - start);
}

long fs_magic(const char* path) {
  struct statfs fs {};
  return statfs(path, &fs) == 0 ? static_cast<long>(fs.f_type) : -1;
}

class EbpfOnAFreshHost : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
    host_bpf_magic_ = fs_magic("/sys/fs/bpf");
    auto t = ServiceTopology::create({{"pod-a", "10.244.0.11"}});
    ASSERT_TRUE(t) << t.error();
    topology_.emplace(std::move(*t));
    dir_ = std::filesystem::temp_directory_path() / ("sy-ebpf-fresh-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto cgroup = dataplane::ebpf::testing::TestCgroup::create_and_enter();  // curl and the agent run inside
    ASSERT_TRUE(cgroup) << cgroup.error();
    cgroup_ = std::move(*cgroup);
  }
  void start_apiserver() {
    apiserver_ = std::make_unique<ChildProcess>(
        in_node({SWITCHYARD_BINARY, "apiserver", "--data-dir", (dir_ / "api").string(), "--listen", "127.0.0.1:6443"}),
        (dir_ / "apiserver.log").string());
    kubeconfig_ = dir_ / "api/kubeconfig";
    ASSERT_TRUE(wait_until(20, [&] { return kubectl("get ns default -o name").output == "namespace/default\n"; })) << log("apiserver.log");
  }
  void TearDown() override {
    agent_.reset();  // its mount namespace, and the bpffs it mounted there, go with it
    apiserver_.reset();
    cgroup_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
    extra_clients_.clear();
    topology_.reset();
    EXPECT_EQ(fs_magic("/sys/fs/bpf"), host_bpf_magic_) << "the host's /sys/fs/bpf changed";
  }

  std::vector<std::string> in_node(std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"nsenter", "--net=" + topology_->node().path()});
    return argv;
  }
  // The agent in a private copy of the mount namespace without any bpffs at /sys/fs/bpf;
  // `prefix` runs before it (e.g. setpriv).
  void start_agent(const std::string& prefix = "") {
    const std::string script = fmt::format(
        "{}exec {}{} agent --node-name node-a --mode ebpf "
        "--cgroup-root {} --kubeconfig {} --cluster-cidr {} --healthz-bind-address 127.0.0.1:10256 --metrics-bind-address "
        "127.0.0.1:10249 --min-sync-period 200ms",
        kNoBpffs, prefix, SWITCHYARD_BINARY, cgroup_->path(), (dir_ / "api/kubeconfig").string(), ServiceTopology::kPodCidr);
    agent_ = std::make_unique<ChildProcess>(in_node({"unshare", "-m", "--propagation", "private", "sh", "-c", script}),
                                            (dir_ / "agent.log").string());
  }
  dataplane::testing::CommandResult kubectl(const std::string& args) {
    return topology_->node().run(std::string(kKubectl) + " --kubeconfig " + kubeconfig_.string() + " " + args);
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
  bool answers(NetworkNamespace& from, const std::string& ip, int port) {
    auto r = topology_->get(from, ip, port, 2);
    return r.ok && r.pod == "pod-a";
  }

  // Lazily unmounts every bpffs at /sys/fs/bpf, in the private mount namespace only.
  static constexpr const char* kNoBpffs = "while mountpoint -q /sys/fs/bpf; do umount -l /sys/fs/bpf || exit 99; done; ";
  long host_bpf_magic_ = -1;
  std::filesystem::path kubeconfig_;
  std::optional<ServiceTopology> topology_;
  std::vector<NetworkNamespace> extra_clients_;
  std::filesystem::path dir_;
  std::unique_ptr<dataplane::ebpf::testing::TestCgroup> cgroup_;
  std::unique_ptr<ChildProcess> apiserver_, agent_;
};

TEST_F(EbpfOnAFreshHost, MountsTheBpfFilesystemAndFindsItsExternalInterfaces) {
  start_apiserver();
  apply(kShop);
  const std::string web_ip = kubectl("get svc web -n shop -o jsonpath={.spec.clusterIP}").output;
  start_agent();
  ASSERT_TRUE(wait_until(20, [&] { return answers(topology_->node(), web_ip, 80); })) << log("agent.log");
  EXPECT_TRUE(agent_->running());
  EXPECT_THAT(log("agent.log"), HasSubstr("event=bpffs_mounted at=/sys/fs/bpf"));
  EXPECT_THAT(log("agent.log"), HasSubstr("event=ebpf_backend_opened pin_dir=/sys/fs/bpf/switchyard/node-a"));

  // No --external-interfaces: the link with the node's address and default route gets the tc
  // programs, the pod veths (no default route) do not, and a NodePort answers from outside.
  EXPECT_TRUE(wait_until(10, [&] { return answers(topology_->client(), ServiceTopology::kNodeIp, 30080); })) << log("agent.log");
  EXPECT_THAT(log("agent.log"), HasSubstr("event=external_interfaces_changed interfaces=vclient attached=vclient\n"));

  // A second uplink comes later (its own subnet and a backup default route): it gets them too,
  // and a client behind it reaches the NodePort at the node's address there.
  auto far = NetworkNamespace::create(NetworkNamespace::unique_name("sy-ebpf", "far"));
  ASSERT_TRUE(far) << far.error();
  extra_clients_.push_back(std::move(*far));
  auto& client2 = extra_clients_.back();
  auto wired = topology_->node().run("ip link add vext0 type veth peer name eth0 netns " + client2.name() +
                                     " && ip addr add 192.168.51.1/24 dev vext0 && ip link set vext0 up && ip route add default via "
                                     "192.168.51.2 metric 200");
  ASSERT_TRUE(wired.ok()) << wired.output;
  ASSERT_TRUE(client2.run("ip addr add 192.168.51.2/24 dev eth0 && ip link set eth0 up && ip route add default via 192.168.51.1").ok());
  EXPECT_TRUE(wait_until(10, [&] { return answers(client2, "192.168.51.1", 30080); })) << log("agent.log");
  EXPECT_THAT(log("agent.log"), HasSubstr("event=external_interfaces_changed interfaces=vclient,vext0 attached=vclient,vext0\n"));

  // It goes away again: the agent follows, and the first link keeps working.
  ASSERT_TRUE(topology_->node().run("ip link del vext0").ok());
  EXPECT_TRUE(wait_until(5, [&] {
    const std::string l = log("agent.log");
    return l.rfind("interfaces=vclient attached=vclient\n") > l.rfind("interfaces=vclient,vext0");
  })) << log("agent.log");
  EXPECT_TRUE(answers(topology_->client(), ServiceTopology::kNodeIp, 30080));
  EXPECT_TRUE(agent_->running());
}

// Conntrack that expires: 5,000 short connections through a NodePort, each tracked by the tc
// programs and closed with FINs, are collected by the agent's garbage collector (10 s after
// their close, on its next pass), so the tracked flows return to the one long-lived connection,
// which answers throughout and after.
TEST_F(EbpfOnAFreshHost, ShortConnectionsAreCollectedWhileALongOneSurvives) {
  constexpr int kShort = 5000;
  start_apiserver();
  apply(kShop);
  apply(kEcho);
  auto echo_server = topology_->pod("pod-a").spawn({"python3", "-c", kEchoServer});
  ASSERT_TRUE(echo_server) << echo_server.error();
  start_agent();
  ASSERT_TRUE(wait_until(20, [&] { return answers(topology_->client(), ServiceTopology::kNodeIp, 30080); })) << log("agent.log");
  auto metrics = [&] { return topology_->node().run("curl -sS --max-time 2 http://127.0.0.1:10249/metrics").output; };
  const auto flag = dir_ / "long-done";
  ChildProcess client({"nsenter", "--net=" + topology_->client().path(), "python3", "-c", kChurnClient, ServiceTopology::kNodeIp,
                       std::to_string(kShort), flag.string()},
                      (dir_ / "client.log").string());
  ASSERT_TRUE(wait_until(120, [&] { return log("client.log").find("short connections done") != std::string::npos; })) << log("client.log");
  EXPECT_THAT(log("client.log"), HasSubstr("short connections done failed=0"));
  // Back near zero: the long connection's flow (and perhaps the probe's) is all that is left.
  EXPECT_TRUE(wait_until(60, [&] {
    const std::string flows = sample(metrics(), "switchyard_ebpf_conntrack_flows");
    return !flows.empty() && std::stoll(flows) <= 2;
  })) << metrics();
  const std::string m = metrics();
  // Every flow the programs tracked (fewer than the connections: a client port that comes round
  // again while its old flow is closing reopens that flow) ended by expiring, none by eviction.
  const long long created = std::stoll(sample(m, "switchyard_ebpf_conntrack_created_flows_total"));
  EXPECT_GE(created, kShort / 2) << m;
  EXPECT_GE(std::stoll(sample(m, "switchyard_ebpf_conntrack_gc_flows_total")), created - 2) << m;
  EXPECT_EQ(sample(m, "switchyard_ebpf_conntrack_evictions_total"), "0") << m;
  // The long-lived connection, idle through several passes, still answers.
  std::ofstream(flag) << "done";
  EXPECT_EQ(client.wait_exit(15), 0) << log("client.log");
  EXPECT_THAT(log("client.log"), HasSubstr("long connection ok"));
}

// `switchyard up --mode ebpf` the same way (only --cgroup-root, the test's cgroup): it mounts the
// bpf filesystem, and a ClusterIP and a NodePort from the client namespace answer.
TEST_F(EbpfOnAFreshHost, UpStartsAndServesClusterIpsAndNodePorts) {
  const std::string script = fmt::format(
      "{}exec {} up --data-dir {} --node-name node-up --node-ip {} --healthz-bind-address 127.0.0.1:10256 --mode ebpf "
      "--cgroup-root {}",
      kNoBpffs, SWITCHYARD_BINARY, (dir_ / "cluster").string(), ServiceTopology::kNodeIp, cgroup_->path());
  agent_ = std::make_unique<ChildProcess>(in_node({"unshare", "-m", "--propagation", "private", "sh", "-c", script}),
                                          (dir_ / "up.log").string());
  ASSERT_TRUE(wait_until(60, [&] { return log("up.log").find("ready (API server") != std::string::npos; })) << log("up.log");
  EXPECT_THAT(log("up.log"), HasSubstr("event=bpffs_mounted at=/sys/fs/bpf"));
  std::smatch m;
  const std::string printed = log("up.log");
  ASSERT_TRUE(std::regex_search(printed, m, std::regex("export KUBECONFIG=(\\S+)"))) << printed;
  kubeconfig_ = m[1].str();
  apply(kShop);
  const std::string web_ip = kubectl("get svc web -n shop -o jsonpath={.spec.clusterIP}").output;
  EXPECT_TRUE(wait_until(20, [&] { return answers(topology_->node(), web_ip, 80); })) << log("up.log");
  EXPECT_TRUE(wait_until(10, [&] { return answers(topology_->client(), ServiceTopology::kNodeIp, 30080); })) << log("up.log");
  agent_->kill_now(SIGINT);
  EXPECT_EQ(agent_->wait_exit(15), 0) << log("up.log");
}

// When mounting really fails (here: no CAP_SYS_ADMIN after exec), the agent stops and says why.
TEST_F(EbpfOnAFreshHost, SaysSoWhenTheBpfFilesystemCannotBeMounted) {
  start_apiserver();
  start_agent("setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin ");
  ASSERT_TRUE(agent_->wait_exit(20).has_value()) << log("agent.log");
  EXPECT_THAT(log("agent.log"), HasSubstr("no bpf filesystem at /sys/fs/bpf, and mounting one there failed (mount -t bpf bpffs "
                                          "/sys/fs/bpf): Operation not permitted"));
}

}  // namespace
}  // namespace switchyard
