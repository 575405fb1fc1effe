// `switchyard up` as a new user runs it, inside the node namespace of a ServiceTopology (so its
// rules stay there): following only what it prints, kubectl sees the `kubernetes` and `kube-dns`
// Services, the kube-dns Service IP answers from the node and from a pod, and a Service created
// with kubectl gets a reachable ClusterIP and a resolvable name.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dataplane/ebpf/testing/ebpf_test_env.h"
#include "dataplane/testing/service_topology.h"
#include "netns-tests/support/process.h"

namespace switchyard {
namespace {

using dataplane::testing::ServiceTopology;
using switchyard::testing::ChildProcess;
using switchyard::testing::wait_until;
using ::testing::HasSubstr;

const char* kWeb = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- {addresses: [10.244.0.11], conditions: {ready: true}}
ports: [{name: http, port: 8080, protocol: TCP}]
)";

class UpInNodeNamespace : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
    auto t = ServiceTopology::create({{"pod-a", "10.244.0.11"}});
    ASSERT_TRUE(t) << t.error();
    topology_.emplace(std::move(*t));
    dir_ = std::filesystem::temp_directory_path() / ("sy-up-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    up_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
    topology_.reset();
    cgroup_.reset();
    bpffs_.reset();
  }
  std::string output() {
    std::ifstream in(dir_ / "up.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  dataplane::testing::CommandResult in_node(const std::string& command) { return topology_->node().run(command); }

  std::optional<ServiceTopology> topology_;
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> up_;
  std::unique_ptr<dataplane::ebpf::testing::TestBpffs> bpffs_;    // --mode ebpf: pins go there
  std::unique_ptr<dataplane::ebpf::testing::TestCgroup> cgroup_;  // and the socket hooks there
};

TEST_F(UpInNodeNamespace, WhatItPrintsGetsANewUserAWorkingServiceAndName) {
  up_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"nsenter", "--net=" + topology_->node().path(), SWITCHYARD_BINARY, "up", "--data-dir",
                               (dir_ / "cluster").string(), "--node-name", "node-up", "--node-ip", ServiceTopology::kNodeIp,
                               "--healthz-bind-address", "127.0.0.1:10256"},
      (dir_ / "up.log").string());
  ASSERT_TRUE(wait_until(60, [&] { return output().find("ready (API server") != std::string::npos; })) << output();
  const std::string printed = output();

  // The lines it tells the user to run, run as printed (kubectl 1.31 as `kubectl`).
  std::smatch m;
  ASSERT_TRUE(std::regex_search(printed, m, std::regex("export KUBECONFIG=(\\S+)"))) << printed;
  const std::string env = "KUBECONFIG=" + m[1].str() + " PATH=" + dir_.string() + "/bin:$PATH ";
  std::filesystem::create_directories(dir_ / "bin");
  std::filesystem::create_symlink("/usr/lib/google-cloud-sdk/bin/kubectl.1.31", dir_ / "bin/kubectl");
  auto services = in_node(env + "kubectl get services -A");
  EXPECT_THAT(services.output, HasSubstr("kubernetes"));
  EXPECT_THAT(services.output, HasSubstr("kube-dns"));
  EXPECT_THAT(services.output, HasSubstr("10.96.0.10"));
  // The node registered itself as a kubelet does: Ready, its address, a Lease renewed in kube-node-lease.
  auto nodes = in_node(env + "kubectl get nodes -o wide");
  EXPECT_THAT(nodes.output,
              ::testing::ContainsRegex(std::string("node-up +Ready +<none> +[0-9]+s +v1\\.31\\.0-switchyard +") + ServiceTopology::kNodeIp))
      << nodes.output;
  EXPECT_THAT(in_node(env + "kubectl get lease -n kube-node-lease").output, ::testing::ContainsRegex("node-up +node-up"));
  EXPECT_EQ(in_node(env + "kubectl get node node-up -o jsonpath={.spec.podCIDR}").output, "10.244.0.0/24");
  ASSERT_TRUE(
      std::regex_search(printed, m, std::regex("\n  (dig @10\\.96\\.0\\.10 kube-dns\\.kube-system\\.svc\\.cluster\\.local \\+short)")))
      << printed;
  // The kube-dns Service IP reaches the node's own DNS server.
  EXPECT_TRUE(wait_until(10, [&] { return in_node(m[1].str() + " +time=1 +tries=1").output == "10.96.0.10\n"; }))
      << in_node(m[1].str()).output;

  // A Service and its endpoints, the way the printed text says.
  std::ofstream(dir_ / "web.yaml") << kWeb;
  ASSERT_TRUE(in_node(env + "kubectl apply -f " + (dir_ / "web.yaml").string()).ok());
  const std::string web_ip = in_node(env + "kubectl get svc web -n shop -o jsonpath={.spec.clusterIP}").output;
  EXPECT_TRUE(wait_until(15, [&] { return topology_->get(topology_->node(), web_ip, 80).pod == "pod-a"; }));
  // Resolvable through the kube-dns IP from the node and from a pod.
  EXPECT_TRUE(wait_until(
      10, [&] { return in_node("dig +short +time=1 +tries=1 @10.96.0.10 web.shop.svc.cluster.local").output == web_ip + "\n"; }));
  auto from_pod = topology_->pod("pod-a").run("dig +short +time=2 +tries=1 @10.96.0.10 web.shop.svc.cluster.local");
  EXPECT_EQ(from_pod.output, web_ip + "\n");

  // Ctrl-C: everything stops, the rules stay.
  up_->kill_now(SIGINT);
  EXPECT_EQ(up_->wait_exit(15), 0) << output();
  EXPECT_EQ(topology_->get(topology_->node(), web_ip, 80).pod, "pod-a");
}

// A Service whose type changes, with the nftables dataplane and DNS following each change: a new
// node port starts answering from the client's namespace, the VIP and node port of a Service
// turned ExternalName stop answering and its name becomes a CNAME, and turning it back gives it a
// new VIP that answers and resolves.
TEST_F(UpInNodeNamespace, ServiceTypeChangesMoveVipsNodePortsAndNames) {
  up_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"nsenter", "--net=" + topology_->node().path(), SWITCHYARD_BINARY, "up", "--data-dir",
                               (dir_ / "cluster").string(), "--node-name", "node-up", "--node-ip", ServiceTopology::kNodeIp,
                               "--healthz-bind-address", "127.0.0.1:10256"},
      (dir_ / "up.log").string());
  ASSERT_TRUE(wait_until(60, [&] { return output().find("ready (API server") != std::string::npos; })) << output();
  const std::string kubectl =
      "/usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig " + (dir_ / "cluster" / "kubeconfig").string() + " -n shop ";
  std::ofstream(dir_ / "web.yaml") << kWeb;
  ASSERT_TRUE(in_node(kubectl + "apply -f " + (dir_ / "web.yaml").string()).ok());
  const std::string first_ip = in_node(kubectl + "get svc web -o jsonpath={.spec.clusterIP}").output;
  ASSERT_TRUE(wait_until(15, [&] { return topology_->get(topology_->node(), first_ip, 80).pod == "pod-a"; })) << output();
  auto dig = [&](const std::string& args) {
    return in_node("dig +short +norecurse +time=1 +tries=1 @10.96.0.10 web.shop.svc.cluster.local " + args).output;
  };

  ASSERT_TRUE(in_node(kubectl + "patch svc web --type=merge -p '{\"spec\":{\"type\":\"NodePort\"}}'").ok());
  const std::string node_port_text = in_node(kubectl + "get svc web -o jsonpath={.spec.ports[0].nodePort}").output;
  ASSERT_FALSE(node_port_text.empty());
  const int node_port = std::stoi(node_port_text);
  EXPECT_TRUE(wait_until(15, [&] { return topology_->get(topology_->client(), ServiceTopology::kNodeIp, node_port).pod == "pod-a"; }))
      << "the node port answers from outside";
  EXPECT_EQ(topology_->get(topology_->node(), first_ip, 80).pod, "pod-a") << "the VIP is kept";

  ASSERT_TRUE(in_node(kubectl + "patch svc web --type=merge -p "
                                "'{\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"db.example.com\",\"clusterIP\":\"\"}}'")
                  .ok());
  EXPECT_TRUE(wait_until(15, [&] { return dig("") == "db.example.com.\n"; })) << dig("");
  EXPECT_TRUE(wait_until(15, [&] { return !topology_->get(topology_->node(), first_ip, 80, 1).ok; })) << "the old VIP stops answering";
  EXPECT_FALSE(topology_->get(topology_->client(), ServiceTopology::kNodeIp, node_port, 1).ok) << "the node port stops answering";

  ASSERT_TRUE(in_node(kubectl + "patch svc web --type=merge -p "
                                "'{\"spec\":{\"type\":\"ClusterIP\",\"externalName\":null,\"ports\":[{\"name\":\"http\",\"port\":80,"
                                "\"targetPort\":8080}]}}'")
                  .ok());
  const std::string second_ip = in_node(kubectl + "get svc web -o jsonpath={.spec.clusterIP}").output;
  ASSERT_THAT(second_ip, ::testing::MatchesRegex("10\\.[0-9.]+"));
  EXPECT_TRUE(wait_until(15, [&] { return topology_->get(topology_->node(), second_ip, 80).pod == "pod-a"; })) << output();
  EXPECT_TRUE(wait_until(10, [&] { return dig("") == second_ip + "\n"; })) << dig("");
}

// --mode ebpf with --cgroup-root and --bpf-root: the socket hooks go on a cgroup the test made
// (the clients below run in it; the test process does not) and the pins in a private bpffs. A
// new user's Service is reachable at its ClusterIP and resolvable through the kube-dns IP, with
// no nftables rule anywhere; `switchyard status` and the printed cleanup command work as printed.
TEST_F(UpInNodeNamespace, EbpfModeServesClusterIpsAndNamesToTheProcessesOfItsCgroup) {
  auto bpffs = dataplane::ebpf::testing::TestBpffs::mount();
  ASSERT_TRUE(bpffs) << bpffs.error();
  bpffs_ = std::move(*bpffs);
  auto cgroup = dataplane::ebpf::testing::TestCgroup::create();
  ASSERT_TRUE(cgroup) << cgroup.error();
  cgroup_ = std::move(*cgroup);
  up_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"nsenter", "--net=" + topology_->node().path(), SWITCHYARD_BINARY, "up", "--data-dir",
                               (dir_ / "cluster").string(), "--node-name", "node-up", "--node-ip", ServiceTopology::kNodeIp,
                               "--healthz-bind-address", "127.0.0.1:10256", "--mode", "ebpf", "--cgroup-root", cgroup_->path(),
                               "--bpf-root", bpffs_->path()},
      (dir_ / "up.log").string());
  ASSERT_TRUE(wait_until(60, [&] { return output().find("ready (API server") != std::string::npos; })) << output();
  const std::string printed = output();
  EXPECT_THAT(printed, HasSubstr("ebpf dataplane"));
  const std::string in_cgroup = cgroup_->enter_command();

  std::smatch m;
  ASSERT_TRUE(std::regex_search(printed, m, std::regex("export KUBECONFIG=(\\S+)"))) << printed;
  const std::string kubectl = std::string("/usr/lib/google-cloud-sdk/bin/kubectl.1.31 --kubeconfig ") + m[1].str() + " ";
  std::ofstream(dir_ / "web.yaml") << kWeb;
  ASSERT_TRUE(in_node(kubectl + "apply -f " + (dir_ / "web.yaml").string()).ok());
  const std::string web_ip = in_node(kubectl + "get svc web -n shop -o jsonpath={.spec.clusterIP}").output;
  EXPECT_TRUE(wait_until(15, [&] {
    return in_node(in_cgroup + "curl -s --max-time 1 http://" + web_ip + "/").output.starts_with("pod-a");
  })) << output();
  EXPECT_TRUE(wait_until(10, [&] {
    return in_node(in_cgroup + "dig +short +time=1 +tries=1 @10.96.0.10 web.shop.svc.cluster.local").output == web_ip + "\n";
  })) << output();
  // The translation is the cgroup's: no nftables rule, and a process outside the cgroup is not served.
  EXPECT_THAT(in_node("nft list tables").output, ::testing::Not(HasSubstr("switchyard")));
  EXPECT_FALSE(in_node("curl -s --max-time 1 http://" + web_ip + "/").output.starts_with("pod-a"));

  // The status command it prints reads the pinned maps.
  ASSERT_TRUE(std::regex_search(printed, m, std::regex("`(switchyard status --mode ebpf --bpf-root \\S+)`"))) << printed;
  auto status = in_node(std::string(SWITCHYARD_BINARY) + m[1].str().substr(std::string("switchyard").size()));
  EXPECT_THAT(status.output, ::testing::ContainsRegex("\nid [0-9]+ +" + web_ip + ":80/tcp +10.244.0.11:8080\n")) << status.output;

  // Ctrl-C keeps the hooks; the cleanup command it prints removes them.
  up_->kill_now(SIGINT);
  EXPECT_EQ(up_->wait_exit(15), 0) << output();
  EXPECT_TRUE(in_node(in_cgroup + "curl -s --max-time 1 http://" + web_ip + "/").output.starts_with("pod-a"));
  ASSERT_TRUE(std::regex_search(printed, m, std::regex("`(switchyard agent --cleanup [^`]+)`"))) << printed;
  auto cleanup = in_node(std::string(SWITCHYARD_BINARY) + m[1].str().substr(std::string("switchyard").size()));
  EXPECT_TRUE(cleanup.ok()) << cleanup.output;
  EXPECT_FALSE(in_node(in_cgroup + "curl -s --max-time 1 http://" + web_ip + "/").output.starts_with("pod-a"));
  EXPECT_FALSE(std::filesystem::exists(bpffs_->path() + "/node-up"));
}

}  // namespace
}  // namespace switchyard
