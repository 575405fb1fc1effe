// The addresses `switchyard up` gives Services, in the node namespace of a ServiceTopology with
// the nftables dataplane: the `kubernetes` Service reaches the API server (authenticated, with a
// certificate for its names and IP) from the node, a pod and another host on the link, and its
// name resolves; LoadBalancer Services get addresses from --load-balancer-ip-pool within a
// second (kubectl 1.27 and 1.33), a client on the node's link reaches them through ARP answers
// from the node, and a deleted Service's address goes to the next one; a dual-stack Service gets
// an address of each family, and a client with only IPv6 reaches the IPv6 one through the node's
// Neighbor Advertisements (both dataplanes).
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

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

class UpServiceAddresses : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "needs root for network namespaces";
    auto t = ServiceTopology::create({{"pod-a", "10.244.0.11", 8080, "fd00:244::11"}});
    ASSERT_TRUE(t) << t.error();
    topology_.emplace(std::move(*t));
    dir_ = std::filesystem::temp_directory_path() / ("sy-up-addr-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void start_up(std::vector<std::string> extra_args = {}) {
    // No --listen: up's default (every address, as kube-apiserver's --bind-address).
    std::vector<std::string> argv{"nsenter",
                                  "--net=" + topology_->node().path(),
                                  SWITCHYARD_BINARY,
                                  "up",
                                  "--data-dir",
                                  (dir_ / "cluster").string(),
                                  "--node-name",
                                  "node-up",
                                  "--node-ip",
                                  ServiceTopology::kNodeIp,
                                  "--healthz-bind-address",
                                  "127.0.0.1:10256",
                                  "--load-balancer-ip-pool",
                                  pool_};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    up_ = std::make_unique<ChildProcess>(argv, (dir_ / "up.log").string());
    ASSERT_TRUE(wait_until(60, [&] { return output().find("ready (API server") != std::string::npos; })) << output();
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
  std::string ca() const { return (dir_ / "cluster" / "pki" / "ca.crt").string(); }
  std::string kubectl(const char* version) const {
    return std::string("/usr/lib/google-cloud-sdk/bin/kubectl.") + version + " --kubeconfig " + (dir_ / "cluster" / "kubeconfig").string() +
           " ";
  }
  dataplane::testing::CommandResult in_node(const std::string& command) { return topology_->node().run(command); }

  std::string pool_ = "192.168.50.240/29";
  std::optional<ServiceTopology> topology_;
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> up_;
  std::unique_ptr<dataplane::ebpf::testing::TestBpffs> bpffs_;    // --mode ebpf: pins go there
  std::unique_ptr<dataplane::ebpf::testing::TestCgroup> cgroup_;  // and the socket hooks there
};

TEST_F(UpServiceAddresses, TheKubernetesServiceReachesTheApiServerFromNodePodAndLink) {
  ASSERT_NO_FATAL_FAILURE(start_up());
  EXPECT_TRUE(wait_until(5, [&] {
    return output().find("The kubernetes Service (https://10.96.0.1/) reaches the API server at 192.168.50.1:6443.") != std::string::npos;
  })) << output();
  EXPECT_THAT(output(), HasSubstr("LoadBalancer Services get addresses from 192.168.50.240/29"));
  const std::string readyz = "curl -s --max-time 2 --cacert " + ca() + " https://10.96.0.1/readyz";
  EXPECT_TRUE(wait_until(15, [&] { return in_node(readyz).output == "ok"; })) << in_node(readyz).output << output();
  EXPECT_TRUE(wait_until(5, [&] { return topology_->pod("pod-a").run(readyz).output == "ok"; }))
      << topology_->pod("pod-a").run(readyz + " -v").output;
  // Another host on the link reaches it at the advertised address, which the certificate covers.
  EXPECT_EQ(topology_->client().run("curl -s --max-time 2 --cacert " + ca() + " https://192.168.50.1:6443/readyz").output, "ok");
  // Still authenticated: no token, no list.
  EXPECT_EQ(topology_->pod("pod-a")
                .run("curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert " + ca() + " https://10.96.0.1/api/v1/namespaces")
                .output,
            "401");
  // The name resolves to the Service IP, from the node and from a pod.
  const std::string dig = "dig +short +time=1 +tries=2 @10.96.0.10 kubernetes.default.svc.cluster.local";
  EXPECT_EQ(in_node(dig).output, "10.96.0.1\n");
  EXPECT_EQ(topology_->pod("pod-a").run(dig).output, "10.96.0.1\n");
  // Published as kube-apiserver's endpoint reconciler does, both kinds.
  EXPECT_EQ(in_node(kubectl("1.33") + "get endpointslice kubernetes -o jsonpath='{.endpoints[0].addresses[0]}:{.ports[0].port}'").output,
            "192.168.50.1:6443");
  EXPECT_EQ(in_node(kubectl("1.33") + "get endpointslices -l kubernetes.io/service-name=kubernetes -o name").output,
            "endpointslice.discovery.k8s.io/kubernetes\n")
      << "one slice: the mirroring controller leaves the Endpoints alone";
  EXPECT_EQ(
      in_node(kubectl("1.27") + "get endpoints kubernetes -o jsonpath='{.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}'").output,
      "192.168.50.1:6443");
  const std::string sans =
      in_node("openssl x509 -noout -ext subjectAltName -in " + (dir_ / "cluster" / "pki" / "apiserver.crt").string()).output;
  for (const char* san : {"IP Address:10.96.0.1", "IP Address:192.168.50.1", "DNS:kubernetes,", "DNS:kubernetes.default,",
                          "DNS:kubernetes.default.svc,", "DNS:kubernetes.default.svc.cluster.local"})
    EXPECT_THAT(sans, HasSubstr(san));
}

// A data directory from an API server that listened on loopback only: its certificate lacks the
// node's address; up re-issues it (same CA) and publishes the endpoint it did not have.
TEST_F(UpServiceAddresses, AnEarlierLoopbackOnlyCertificateIsReissuedForTheAdvertisedAddress) {
  const std::string cert = (dir_ / "cluster" / "pki" / "apiserver.crt").string();
  {
    ChildProcess apiserver({"nsenter", "--net=" + topology_->node().path(), SWITCHYARD_BINARY, "apiserver", "--data-dir",
                            (dir_ / "cluster").string(), "--listen", "127.0.0.1:6443"},
                           (dir_ / "apiserver.log").string());
    ASSERT_TRUE(wait_until(30, [&] { return std::filesystem::exists(dir_ / "cluster" / "kubeconfig"); }));
    ASSERT_TRUE(wait_until(10, [&] { return in_node(kubectl("1.33") + "get svc kubernetes").ok(); }));
    EXPECT_THAT(in_node(kubectl("1.33") + "get endpoints kubernetes").output, ::testing::Not(HasSubstr("192.168.50.1")));
    apiserver.kill_now(SIGINT);
    EXPECT_EQ(apiserver.wait_exit(15), 0);
  }
  const std::string ca_before = in_node("cat " + ca()).output;
  EXPECT_THAT(in_node("openssl x509 -noout -ext subjectAltName -in " + cert).output, ::testing::Not(HasSubstr("192.168.50.1")));
  ASSERT_NO_FATAL_FAILURE(start_up());
  EXPECT_THAT(in_node("openssl x509 -noout -ext subjectAltName -in " + cert).output, HasSubstr("IP Address:192.168.50.1"));
  EXPECT_EQ(in_node("cat " + ca()).output, ca_before) << "the same CA";
  EXPECT_TRUE(wait_until(15, [&] {
    return topology_->pod("pod-a").run("curl -s --max-time 2 --cacert " + ca() + " https://10.96.0.1/readyz").output == "ok";
  })) << output();
}

// An EndpointSlice for `name` in default, to pod-a's server.
std::string slice_for(const std::string& name) {
  return "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: " + name +
         "-1, labels: {kubernetes.io/service-name: " + name +
         "}}\naddressType: IPv4\nendpoints:\n- {addresses: [10.244.0.11], conditions: {ready: true}}\n"
         "ports: [{name: 80-8080, port: 8080, protocol: TCP}]\n";
}

TEST_F(UpServiceAddresses, LoadBalancerServicesGetPoolAddressesThatAnswerOnTheLink) {
  ASSERT_NO_FATAL_FAILURE(start_up());
  // The client once saw another host at the first pool address (a stale neighbour entry).
  ASSERT_TRUE(topology_->client().run("ip neigh replace 192.168.50.241 lladdr 02:00:00:00:00:01 dev eth0 nud stale").ok());
  std::map<std::string, std::string> address;
  for (const char* version : {"1.27", "1.33"}) {
    const std::string name = std::string("web-") + (version[2] == '2' ? "old" : "new");
    std::ofstream(dir_ / (name + ".yaml")) << slice_for(name);
    ASSERT_TRUE(in_node(kubectl(version) + "apply -f " + (dir_ / (name + ".yaml")).string()).ok());
    const auto created = std::chrono::steady_clock::now();
    auto made = in_node(kubectl(version) + "create service loadbalancer " + name + " --tcp=80:8080");
    ASSERT_TRUE(made.ok()) << made.output;
    const std::string get_ip = kubectl(version) + "get svc " + name + " -o jsonpath='{.status.loadBalancer.ingress[0].ip}'";
    ASSERT_TRUE(wait_until(5, [&] { return !(address[name] = in_node(get_ip).output).empty(); })) << output();
    const auto waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - created).count();
    std::cout << "kubectl " << version << ": " << name << " got " << address[name] << " after " << waited << " s\n";
    EXPECT_LT(waited, 1.0) << "kubectl " << version << ": the address came after " << waited << " s";
    EXPECT_THAT(in_node(kubectl(version) + "get svc " + name).output, HasSubstr(address[name])) << "EXTERNAL-IP, not <pending>";
  }
  EXPECT_EQ(address["web-old"], "192.168.50.241");
  EXPECT_EQ(address["web-new"], "192.168.50.242");

  // The node's gratuitous ARP corrects the client's entry before it sends anything there.
  const std::string node_mac = in_node("ip -br link show vclient | awk '{printf $3}'").output;  // /sys is the host's under nsenter
  EXPECT_TRUE(wait_until(5, [&] {
    return topology_->client().run("ip neigh show 192.168.50.241").output.find("lladdr " + node_mac + " ") != std::string::npos;
  })) << topology_->client().run("ip neigh show 192.168.50.241").output;

  // A client on the node's link, not routed through the node: it asks ARP, the node answers.
  for (const auto& [name, ip] : address)
    EXPECT_TRUE(wait_until(10, [&] { return topology_->get(topology_->client(), ip, 80).pod == "pod-a"; })) << name << " " << output();
  EXPECT_THAT(topology_->client().run("ip neigh show 192.168.50.242").output, HasSubstr("lladdr " + node_mac + " "));

  // Deleted: its address goes to the next Service, and answers for it.
  ASSERT_TRUE(in_node(kubectl("1.33") + "delete svc web-old").ok());
  std::ofstream(dir_ / "next.yaml") << slice_for("next");
  ASSERT_TRUE(in_node(kubectl("1.33") + "apply -f " + (dir_ / "next.yaml").string()).ok());
  ASSERT_TRUE(in_node(kubectl("1.33") + "create service loadbalancer next --tcp=80:8080").ok());
  EXPECT_TRUE(wait_until(5, [&] {
    return in_node(kubectl("1.33") + "get svc next -o jsonpath='{.status.loadBalancer.ingress[0].ip}'").output == "192.168.50.241";
  }));
  EXPECT_TRUE(wait_until(10, [&] { return topology_->get(topology_->client(), "192.168.50.241", 80).pod == "pod-a"; }));
}

// The same from the link with the eBPF dataplane (its tc programs on the interfaces it finds):
// the ARP answers do not depend on the dataplane.
TEST_F(UpServiceAddresses, LoadBalancerAddressesAnswerOnTheLinkWithTheEbpfDataplane) {
  auto bpffs = dataplane::ebpf::testing::TestBpffs::mount();
  ASSERT_TRUE(bpffs) << bpffs.error();
  bpffs_ = std::move(*bpffs);
  auto cgroup = dataplane::ebpf::testing::TestCgroup::create();
  ASSERT_TRUE(cgroup) << cgroup.error();
  cgroup_ = std::move(*cgroup);
  ASSERT_NO_FATAL_FAILURE(start_up({"--mode", "ebpf", "--cgroup-root", cgroup_->path(), "--bpf-root", bpffs_->path()}));
  std::ofstream(dir_ / "web.yaml") << slice_for("web");
  ASSERT_TRUE(in_node(kubectl("1.33") + "apply -f " + (dir_ / "web.yaml").string()).ok());
  ASSERT_TRUE(in_node(kubectl("1.33") + "create service loadbalancer web --tcp=80:8080").ok());
  EXPECT_TRUE(wait_until(5, [&] {
    return in_node(kubectl("1.33") + "get svc web -o jsonpath='{.status.loadBalancer.ingress[0].ip}'").output == "192.168.50.241";
  }));
  EXPECT_TRUE(wait_until(15, [&] { return topology_->get(topology_->client(), "192.168.50.241", 80).pod == "pod-a"; })) << output();
}

// A dual-stack LoadBalancer Service with both IPv4 and IPv6 endpoints on pod-a.
const char* kDualStackLoadBalancer = R"(apiVersion: v1
kind: Service
metadata: {name: dual}
spec:
  type: LoadBalancer
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dual-v4, labels: {kubernetes.io/service-name: dual}}
addressType: IPv4
endpoints: [{addresses: [10.244.0.11], conditions: {ready: true}}]
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dual-v6, labels: {kubernetes.io/service-name: dual}}
addressType: IPv6
endpoints: [{addresses: ["fd00:244::11"], conditions: {ready: true}}]
ports: [{name: http, port: 8080, protocol: TCP}]
)";

class UpIpv6LoadBalancer : public UpServiceAddresses {
 protected:
  // A dual-stack cluster with a pool of both families; the client keeps only its IPv6 address
  // on the node's link and no route through the node, so the pool address is on-link to it and
  // reached through Neighbor Discovery alone.
  void reaches_the_ipv6_address(std::vector<std::string> extra_args) {
    pool_ = "192.168.50.240/29,fd00:50::f0/124";
    extra_args.insert(extra_args.end(), {"--service-cidr", "10.96.0.0/12,fd00:96::/108"});
    ASSERT_NO_FATAL_FAILURE(start_up(extra_args));
    auto& client = topology_->client();
    auto alone = client.run(
        "ip -4 addr flush dev eth0 && ip -6 route del default && ip -6 neigh replace fd00:50::f1 lladdr "
        "02:00:00:00:00:01 dev eth0 nud stale");
    ASSERT_TRUE(alone.ok()) << alone.output;
    std::ofstream(dir_ / "dual.yaml") << kDualStackLoadBalancer;
    auto applied = in_node(kubectl("1.33") + "apply -f " + (dir_ / "dual.yaml").string());
    ASSERT_TRUE(applied.ok()) << applied.output;
    const std::string get_ips = kubectl("1.33") + "get svc dual -o jsonpath='{.status.loadBalancer.ingress[*].ip}'";
    EXPECT_TRUE(wait_until(5, [&] { return in_node(get_ips).output == "192.168.50.241 fd00:50::f1"; })) << in_node(get_ips).output;
    // The unsolicited advertisement corrects the client's stale entry before it sends anything.
    const std::string node_mac = in_node("ip -br link show vclient | awk '{printf $3}'").output;
    EXPECT_TRUE(wait_until(5, [&] {
      return client.run("ip -6 neigh show fd00:50::f1").output.find("lladdr " + node_mac + " ") != std::string::npos;
    })) << client.run("ip -6 neigh show fd00:50::f1").output;
    // Forgotten, then asked for: the node answers the solicitation, and the Service answers.
    ASSERT_TRUE(client.run("ip -6 neigh del fd00:50::f1 dev eth0").ok());
    EXPECT_TRUE(wait_until(15, [&] { return topology_->get(client, "fd00:50::f1", 80).pod == "pod-a"; }))
        << topology_->get(client, "fd00:50::f1", 80).pod << output();
    EXPECT_THAT(client.run("ip -6 neigh show fd00:50::f1").output, HasSubstr("lladdr " + node_mac + " "));
    EXPECT_THAT(client.run("ip -4 addr show dev eth0").output, ::testing::Not(HasSubstr("inet "))) << "IPv6 only";
  }
};

TEST_F(UpIpv6LoadBalancer, AnIpv6PoolAddressAnswersThroughNeighborDiscovery) { reaches_the_ipv6_address({}); }

TEST_F(UpIpv6LoadBalancer, AnIpv6PoolAddressAnswersThroughNeighborDiscoveryWithTheEbpfDataplane) {
  auto bpffs = dataplane::ebpf::testing::TestBpffs::mount();
  ASSERT_TRUE(bpffs) << bpffs.error();
  bpffs_ = std::move(*bpffs);
  auto cgroup = dataplane::ebpf::testing::TestCgroup::create();
  ASSERT_TRUE(cgroup) << cgroup.error();
  cgroup_ = std::move(*cgroup);
  reaches_the_ipv6_address({"--mode", "ebpf", "--cgroup-root", cgroup_->path(), "--bpf-root", bpffs_->path()});
}

}  // namespace
}  // namespace switchyard
