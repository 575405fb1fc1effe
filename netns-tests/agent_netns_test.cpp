// `switchyard agent --mode nftables` as a process in the node namespace of a ServiceTopology
// (routed pods answering HTTP with their names), fed by `switchyard apiserver` running in the
// same namespace and changed with kubectl: ClusterIP traffic, DNS at --dns-listen, /healthz and
// /metrics, the API server killed (traffic keeps flowing) and restarted (a new Service gets
// programmed), SIGTERM (rules stay), --cleanup (rules go). Everything lives in namespaces the
// test created; they and the processes go away even when an assertion fails.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include <ctime>
#include <fmt/format.h>

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
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Key;

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
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- {addresses: [10.244.0.11], nodeName: node-a, conditions: {ready: true}}
- {addresses: [10.244.0.12], nodeName: node-a, conditions: {ready: true}}
ports: [{name: http, port: 8080, protocol: TCP}]
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
- {addresses: [10.244.0.12], nodeName: node-a, conditions: {ready: true}}
ports: [{name: http, port: 8080, protocol: TCP}]
)";

const char* kUpstreamZone = R"(apiVersion: v1
kind: Service
metadata: {name: db, namespace: far}
spec:
  clusterIP: 10.0.0.99
  ports: [{name: pg, port: 5432}]
)";

// externalTrafficPolicy Local LoadBalancers (only they get a healthCheckNodePort): one with its
// endpoint on this node, one with it elsewhere.
const char* kLocalPolicy = R"(apiVersion: v1
kind: Service
metadata: {name: here, namespace: shop}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: here-1, namespace: shop, labels: {kubernetes.io/service-name: here}}
addressType: IPv4
endpoints:
- {addresses: [10.244.0.11], nodeName: node-a, conditions: {ready: true}}
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: elsewhere, namespace: shop}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: elsewhere-1, namespace: shop, labels: {kubernetes.io/service-name: elsewhere}}
addressType: IPv4
endpoints:
- {addresses: [10.244.9.9], nodeName: node-b, conditions: {ready: true}}
ports: [{name: http, port: 8080, protocol: TCP}]
)";

class AgentInNodeNamespace : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
    auto t = ServiceTopology::create({{"pod-a", "10.244.0.11"}, {"pod-b", "10.244.0.12"}});
    ASSERT_TRUE(t) << t.error();
    topology_.emplace(std::move(*t));
    dir_ = std::filesystem::temp_directory_path() / ("sy-agent-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    start_apiserver();
  }
  void TearDown() override {
    agent_.reset();
    apiserver_.reset();
    ebpf_.reset();                                         // after the agent: its cgroup must be empty to go
    if (!HasFailure()) std::filesystem::remove_all(dir_);  // logs stay for a failed run
    topology_.reset();
  }

  // Processes run in the node namespace: nsenter execs, so the pid is the program's own.
  std::vector<std::string> in_node(std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"nsenter", "--net=" + topology_->node().path()});
    return argv;
  }
  void start_apiserver() {
    apiserver_ = std::make_unique<ChildProcess>(
        in_node({SWITCHYARD_BINARY, "apiserver", "--data-dir", (dir_ / "api").string(), "--listen", "127.0.0.1:6443"}),
        (dir_ / "apiserver.log").string());
    ASSERT_TRUE(wait_until(20, [&] { return kubectl("get ns default -o name").output == "namespace/default\n"; })) << log("apiserver.log");
  }
  void start_agent(const std::vector<std::string>& mode = {"--mode", "nftables"}) {
    std::vector<std::string> argv{SWITCHYARD_BINARY,
                                  "agent",
                                  "--node-name",
                                  "node-a",
                                  "--kubeconfig",
                                  (dir_ / "api/kubeconfig").string(),
                                  "--cluster-cidr",
                                  ServiceTopology::kPodCidr,
                                  "--dns-listen",
                                  "127.0.0.1:5353",
                                  "--dns-upstream",
                                  "127.0.0.1:5354",
                                  "--healthz-bind-address",
                                  "127.0.0.1:10256",
                                  "--metrics-bind-address",
                                  "127.0.0.1:10249",
                                  "--min-sync-period",
                                  "200ms"};
    argv.insert(argv.end(), mode.begin(), mode.end());
    agent_ = std::make_unique<ChildProcess>(in_node(argv), (dir_ / "agent.log").string());
  }
  dataplane::testing::CommandResult kubectl(const std::string& args) {
    return topology_->node().run(std::string(kKubectl) + " --kubeconfig " + (dir_ / "api/kubeconfig").string() + " " + args);
  }
  void apply(const std::string& yaml) {
    std::ofstream(dir_ / "m.yaml") << yaml;
    auto r = kubectl("apply -f " + (dir_ / "m.yaml").string());
    ASSERT_TRUE(r.ok()) << r.output;
  }
  std::string cluster_ip(const std::string& svc) { return kubectl("get svc " + svc + " -n shop -o jsonpath={.spec.clusterIP}").output; }
  std::string log(const std::string& name) {
    std::ifstream in(dir_ / name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  dataplane::testing::CommandResult in_node_shell(const std::string& command) { return topology_->node().run(command); }
  bool reaches(const std::string& ip, int port, const std::string& pod = "") {
    auto r = topology_->get(topology_->node(), ip, port, 2);
    return r.ok && (pod.empty() || r.pod == pod);
  }

  std::optional<ServiceTopology> topology_;
  std::filesystem::path dir_;
  std::optional<dataplane::ebpf::testing::EbpfTestEnv> ebpf_;  // --mode ebpf: a cgroup and a bpffs of the test's own
  std::unique_ptr<ChildProcess> apiserver_, agent_;
};

TEST_F(AgentInNodeNamespace, ProgramsServicesServesDnsSurvivesTheApiServerAndCleansUp) {
  apply(kShop);
  const std::string web_ip = cluster_ip("web");
  ASSERT_THAT(web_ip, ::testing::MatchesRegex(R"(10\.(9[6-9]|10[0-9]|11[01])\.[0-9]+\.[0-9]+)"));  // in 10.96.0.0/12
  start_agent();

  // ClusterIP traffic from the node reaches both pods.
  ASSERT_TRUE(wait_until(20, [&] { return reaches(web_ip, 80); })) << log("agent.log");
  EXPECT_THAT(topology_->spread(topology_->node(), web_ip, 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));

  // `switchyard status` reads the same back from the kernel.
  auto status = in_node_shell(std::string(SWITCHYARD_BINARY) + " status");
  EXPECT_THAT(status.output, ::testing::ContainsRegex("shop/web/tcp/http +" + web_ip + ":80/tcp +10.244.0.11:8080, 10.244.0.12:8080\n"))
      << status.output;
  // The `kubernetes` Service has no endpoints here (the API server is on loopback): rejected.
  EXPECT_THAT(status.output, ::testing::ContainsRegex("- +10\\.96\\.0\\.1:443/tcp +\\(no endpoints: rejected\\)\n")) << status.output;

  // DNS at --dns-listen answers from the same Snapshots.
  auto dig = in_node_shell("dig +short +time=2 +tries=1 @127.0.0.1 -p 5353 web.shop.svc.cluster.local A");
  EXPECT_EQ(dig.output, web_ip + "\n");
  EXPECT_THAT(in_node_shell("dig +time=2 +tries=1 @127.0.0.1 -p 5353 nope.shop.svc.cluster.local A").output, HasSubstr("status: NXDOMAIN"));
  // A namespace without Services exists: NODATA (NOERROR, no answer), as CoreDNS answers from its
  // namespace informer; a namespace that does not exist stays NXDOMAIN.
  ASSERT_TRUE(kubectl("create namespace quiet").ok());
  auto ask_namespace = [&](const std::string& ns) {
    return in_node_shell("dig +time=2 +tries=1 @127.0.0.1 -p 5353 " + ns + ".svc.cluster.local A").output;
  };
  EXPECT_TRUE(wait_until(10, [&] { return ask_namespace("quiet").find("status: NOERROR") != std::string::npos; }))
      << ask_namespace("quiet");
  EXPECT_THAT(ask_namespace("quiet"), HasSubstr("ANSWER: 0, AUTHORITY: 1"));
  EXPECT_THAT(ask_namespace("loud"), HasSubstr("status: NXDOMAIN"));

  // Names outside the cluster domain go to the upstream (another `switchyard dns`, serving a zone
  // of its own in the node namespace).
  std::ofstream(dir_ / "upstream.yaml") << kUpstreamZone;
  ChildProcess upstream(in_node({SWITCHYARD_BINARY, "dns", "--manifests", (dir_ / "upstream.yaml").string(), "--listen", "127.0.0.1:5354",
                                 "--cluster-domain", "upstream.test", "--resolv-conf", ""}),
                        (dir_ / "upstream.log").string());
  EXPECT_TRUE(wait_until(
      10,
      [&] { return in_node_shell("dig +short +time=1 +tries=1 @127.0.0.1 -p 5353 db.far.svc.upstream.test A").output == "10.0.0.99\n"; }))
      << log("upstream.log") << log("agent.log");

  // kube-proxy's /healthz body and /metrics names.
  auto healthz = in_node_shell("curl -sS -w ' %{http_code}' http://127.0.0.1:10256/healthz");
  EXPECT_THAT(healthz.output,
              ::testing::MatchesRegex(R"(\{"lastUpdated": "[0-9-]+ [0-9:.]+ \+0000 UTC","currentTime": ".*", "nodeEligible": true\} 200)"));
  EXPECT_THAT(in_node_shell("curl -sS -w ' %{http_code}' http://127.0.0.1:10256/readyz").output, HasSubstr("ok\n 200"));
  auto metrics = in_node_shell("curl -sS http://127.0.0.1:10249/metrics").output;
  EXPECT_THAT(metrics, HasSubstr("kubeproxy_sync_full_proxy_rules_duration_seconds_count 1\n"));
  EXPECT_THAT(metrics, ::testing::ContainsRegex("kubeproxy_sync_proxy_rules_last_timestamp_seconds 1[0-9]{9}"));
  EXPECT_THAT(metrics, HasSubstr("kubeproxy_healthz_total{code=\"200\"} 1\n"));

  // Health-check node ports of Local services, as kube-proxy serves them: 200 with local endpoints,
  // 503 without.
  apply(kLocalPolicy);
  auto health_check = [&](const std::string& svc) {
    const std::string port = kubectl("get svc " + svc + " -n shop -o jsonpath={.spec.healthCheckNodePort}").output;
    return in_node_shell("curl -sS -w ' %{http_code}' http://" + std::string(ServiceTopology::kNodeIp) + ":" + port + "/").output;
  };
  EXPECT_TRUE(wait_until(15, [&] { return health_check("here").ends_with(" 200"); })) << health_check("here");
  EXPECT_THAT(health_check("here"),
              HasSubstr(R"({"service":{"namespace":"shop","name":"here"},"localEndpoints":1,"serviceProxyHealthy":true} 200)"));
  // Each Service's health-check listener opens when the sync that added it commits; the two
  // Services may land in different syncs.
  EXPECT_TRUE(wait_until(15, [&] { return health_check("elsewhere").ends_with(" 503"); })) << health_check("elsewhere");
  EXPECT_THAT(health_check("elsewhere"), HasSubstr(R"("localEndpoints":0,"serviceProxyHealthy":true} 503)"));

  // An endpoint removed through the API leaves the rules at once. The slice says when the change
  // was triggered (as the EndpointSlice controller of a real cluster does): 1 s ago.
  const std::time_t trigger = std::time(nullptr) - 1;
  std::tm tm{};
  gmtime_r(&trigger, &tm);
  char rfc3339[32];
  std::strftime(rfc3339, sizeof rfc3339, "%Y-%m-%dT%H:%M:%SZ", &tm);
  const std::string patch =
      fmt::format(R"([{{"op":"add","path":"/metadata/annotations","value":{{"endpoints.kubernetes.io/last-change-trigger-time":"{}"}}}},)"
                  R"({{"op":"remove","path":"/endpoints/1"}}])",
                  rfc3339);
  ASSERT_TRUE(kubectl("patch endpointslice web-1 -n shop --type json -p '" + patch + "'").ok());
  ASSERT_TRUE(wait_until(10, [&] {
    auto s = topology_->spread(topology_->node(), web_ip, 80, 10);
    return s.size() == 1 && s.contains("pod-a");
  }));

  // kube-proxy's network programming latency: one change, programmed 1-10 s after its trigger.
  metrics = in_node_shell("curl -sS http://127.0.0.1:10249/metrics").output;
  EXPECT_THAT(metrics, HasSubstr("kubeproxy_network_programming_duration_seconds_count 1\n"));
  EXPECT_THAT(metrics, ::testing::ContainsRegex("kubeproxy_network_programming_duration_seconds_bucket\\{le=\"1\"\\} 0\n"));
  EXPECT_THAT(metrics, ::testing::ContainsRegex("kubeproxy_network_programming_duration_seconds_bucket\\{le=\"10\"\\} 1\n"));

  // The API server dies: the last rules stay and traffic keeps flowing.
  apiserver_->kill_now(SIGKILL);
  ASSERT_TRUE(apiserver_->wait_exit(5));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_TRUE(reaches(web_ip, 80, "pod-a"));
  EXPECT_TRUE(agent_->running()) << log("agent.log");

  // It comes back: the agent reconnects and programs a Service created after.
  start_apiserver();
  apply(kLate);
  const std::string late_ip = cluster_ip("late");
  EXPECT_TRUE(wait_until(45, [&] { return reaches(late_ip, 8081, "pod-b"); })) << log("agent.log");
  EXPECT_TRUE(wait_until(10, [&] {
    return in_node_shell("dig +short +time=2 +tries=1 @127.0.0.1 -p 5353 late.shop.svc.cluster.local A").output == late_ip + "\n";
  }));

  // SIGTERM: the agent exits cleanly and leaves the rules in force.
  agent_->kill_now(SIGTERM);
  EXPECT_EQ(agent_->wait_exit(10), 0) << log("agent.log");
  EXPECT_THAT(log("agent.log"), HasSubstr("event=agent_stopping signal=SIGTERM rules=kept"));
  EXPECT_TRUE(in_node_shell("nft list table ip switchyard").ok());
  EXPECT_TRUE(reaches(web_ip, 80, "pod-a"));

  // --cleanup removes every table it made; the ClusterIP stops answering.
  auto cleanup = in_node_shell(std::string(SWITCHYARD_BINARY) + " agent --cleanup --node-name node-a --mode nftables");
  EXPECT_TRUE(cleanup.ok()) << cleanup.output;
  EXPECT_THAT(in_node_shell("nft list tables").output, ::testing::Not(HasSubstr("switchyard")));
  EXPECT_FALSE(reaches(web_ip, 80));
  EXPECT_THAT(in_node_shell(std::string(SWITCHYARD_BINARY) + " status").output, HasSubstr("no services programmed"));
}

// Without --kubeconfig the agent uses the in-cluster configuration: KUBERNETES_SERVICE_HOST/PORT
// and the service-account token and CA at /var/run/secrets/kubernetes.io/serviceaccount, put
// there in a private mount namespace (a tmpfs over /run) so the host's files are not touched.
// The CA is verified: with another CA the agent programs nothing and is not ready.
class InClusterAgent : public AgentInNodeNamespace {
 protected:
  void start_in_cluster_agent(const std::string& ca_file) {
    const auto sa = dir_ / "serviceaccount";
    std::filesystem::create_directories(sa);
    std::filesystem::copy_file(dir_ / "api/admin.token", sa / "token", std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(ca_file, sa / "ca.crt", std::filesystem::copy_options::overwrite_existing);
    std::ofstream(sa / "namespace") << "kube-system";
    const std::string script =
        "mount -t tmpfs switchyard-test /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && cp " + sa.string() +
        "/* /run/secrets/kubernetes.io/serviceaccount/ && KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=6443 exec " +
        SWITCHYARD_BINARY + " agent --node-name node-a --mode nftables --cluster-cidr " + ServiceTopology::kPodCidr +
        " --healthz-bind-address 127.0.0.1:10256 --metrics-bind-address '' --min-sync-period 200ms";
    agent_ = std::make_unique<ChildProcess>(in_node({"unshare", "-m", "--propagation", "private", "sh", "-c", script}),
                                            (dir_ / "agent.log").string());
  }
};

TEST_F(InClusterAgent, UsesTheServiceAccountAndVerifiesTheClusterCa) {
  apply(kShop);
  const std::string web_ip = cluster_ip("web");
  start_in_cluster_agent((dir_ / "api/pki/ca.crt").string());
  EXPECT_TRUE(wait_until(20, [&] { return reaches(web_ip, 80); })) << log("agent.log");
  EXPECT_THAT(log("agent.log"), HasSubstr("api_server=127.0.0.1:6443"));
  agent_.reset();
  ASSERT_TRUE(in_node_shell(std::string(SWITCHYARD_BINARY) + " agent --cleanup --node-name node-a --mode nftables").ok());

  // A CA that did not sign the API server's certificate: nothing is trusted, nothing programmed.
  auto made = in_node_shell("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other-ca -days 1 -keyout " +
                            (dir_ / "other.key").string() + " -out " + (dir_ / "other.crt").string());
  ASSERT_TRUE(made.ok()) << made.output;
  start_in_cluster_agent((dir_ / "other.crt").string());
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_TRUE(agent_->running());
  EXPECT_THAT(in_node_shell("curl -sS -w ' %{http_code}' http://127.0.0.1:10256/readyz").output, HasSubstr(" 503"));
  EXPECT_THAT(in_node_shell("nft list tables").output, ::testing::Not(HasSubstr("switchyard")));
  EXPECT_THAT(log("agent.log"), ::testing::ContainsRegex("event=list_failed .*(certificate|verify)")) << log("agent.log");
}

// --mode ebpf: ClusterIPs balanced on the cgroup socket hooks of a cgroup the test created (the
// test moved in, so the agent, curl and kubectl are inside), pinned under a private bpf
// filesystem. A kill -9 and a restart keep traffic flowing; --cleanup removes hooks and pins.
// --dns-autopath: a pod with ndots:5 asking "web.shop" first asks "web.shop.<its ns>.svc.…";
// the server knows the pod's namespace from the node's pods (its own informer), also for a pod
// that backs no Service, and answers web.shop.svc.cluster.local at once: one round trip.
TEST_F(AgentInNodeNamespace, DnsAutopathAnswersThisNodesPodsInOneRoundTrip) {
  apply(R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: batch}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
)");
  const std::string web_ip = cluster_ip("web");
  const std::string node_dns = std::string(ServiceTopology::kNodeIp) + ":5353";
  start_agent({"--mode", "nftables", "--dns-listen", node_dns, "--dns-autopath"});
  // pod-b (10.244.0.12) is no endpoint of anything, and no Pod object has its address yet.
  auto ask = [&] {
    return topology_->pod("pod-b").run(
        fmt::format("dig +short +time=2 +tries=1 @{} -p 5353 web.shop.batch.svc.cluster.local A", ServiceTopology::kNodeIp));
  };
  ASSERT_TRUE(wait_until(20, [&] {
    return topology_->pod("pod-b")
               .run(fmt::format("dig +short +time=1 +tries=1 @{} -p 5353 web.shop.svc.cluster.local A", ServiceTopology::kNodeIp))
               .output == web_ip + "\n";
  })) << log("agent.log");
  EXPECT_EQ(ask().output, "") << "an unknown client gets the plain NXDOMAIN";

  // The pod is scheduled here and gets its address: now the server knows who is asking.
  apply(R"(apiVersion: v1
kind: Pod
metadata: {name: job, namespace: batch}
spec: {nodeName: node-a, containers: [{name: c, image: job}]}
)");
  ASSERT_TRUE(
      kubectl(
          R"(patch pod job -n batch --subresource=status --type merge -p '{"status":{"phase":"Running","podIP":"10.244.0.12","podIPs":[{"ip":"10.244.0.12"}]}}')")
          .ok());
  EXPECT_TRUE(wait_until(10, [&] { return ask().output == "web.shop.svc.cluster.local.\n" + web_ip + "\n"; })) << ask().output;
  // Only that pod: the same query from pod-a (no Pod object, no endpoint) is still NXDOMAIN.
  EXPECT_EQ(topology_->pod("pod-a")
                .run(fmt::format("dig +short +time=2 +tries=1 @{} -p 5353 web.shop.batch.svc.cluster.local A", ServiceTopology::kNodeIp))
                .output,
            "");
  EXPECT_THAT(in_node_shell("curl -s http://127.0.0.1:10249/metrics").output,
              ::testing::ContainsRegex("switchyard_dns_autopath_total [1-9]"));
}

TEST_F(AgentInNodeNamespace, EbpfModeBalancesClusterIpsSurvivesKill9AndCleansUp) {
  auto env = dataplane::ebpf::testing::EbpfTestEnv::create();
  ASSERT_TRUE(env) << env.error();
  ebpf_.emplace(std::move(*env));
  const std::vector<std::string> ebpf{"--mode", "ebpf", "--cgroup-root", ebpf_->cgroup->path(), "--bpf-root", ebpf_->bpffs->path()};
  apply(kShop);
  const std::string web_ip = cluster_ip("web");
  start_agent(ebpf);
  ASSERT_TRUE(wait_until(20, [&] { return reaches(web_ip, 80); })) << log("agent.log");
  EXPECT_THAT(topology_->spread(topology_->node(), web_ip, 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
  // No nftables rules: the translation happens at connect().
  EXPECT_THAT(in_node_shell("nft list tables").output, ::testing::Not(HasSubstr("switchyard")));

  // An endpoint removed through the API gets no new connections.
  ASSERT_TRUE(kubectl(R"(patch endpointslice web-1 -n shop --type json -p '[{"op":"remove","path":"/endpoints/1"}]')").ok());
  ASSERT_TRUE(wait_until(10, [&] {
    auto s = topology_->spread(topology_->node(), web_ip, 80, 10);
    return s.size() == 1 && s.contains("pod-a");
  }));

  // kill -9: the pinned maps and links keep working; a new agent takes them over.
  agent_->kill_now(SIGKILL);
  ASSERT_TRUE(agent_->wait_exit(5));
  EXPECT_TRUE(reaches(web_ip, 80, "pod-a"));
  start_agent(ebpf);
  apply(kLate);
  const std::string late_ip = cluster_ip("late");
  EXPECT_TRUE(wait_until(20, [&] { return reaches(late_ip, 8081, "pod-b"); })) << log("agent.log");
  EXPECT_TRUE(reaches(web_ip, 80, "pod-a"));

  // SIGTERM leaves the programs in place; --cleanup removes them.
  agent_->kill_now(SIGTERM);
  EXPECT_EQ(agent_->wait_exit(10), 0) << log("agent.log");
  EXPECT_TRUE(reaches(web_ip, 80, "pod-a"));
  auto cleanup = in_node_shell(std::string(SWITCHYARD_BINARY) + " agent --cleanup --node-name node-a --mode ebpf --cgroup-root " +
                               ebpf_->cgroup->path() + " --bpf-root " + ebpf_->bpffs->path());
  EXPECT_TRUE(cleanup.ok()) << cleanup.output;
  EXPECT_FALSE(reaches(web_ip, 80));
}

}  // namespace
}  // namespace switchyard
