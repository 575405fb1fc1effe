// pod_config: Pod → CRI sandbox and container configs, without a runtime.
#include "kubelet/pods/pod_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "orchestrator/api/json_codec.h"

namespace switchyard::kubelet {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

api::Pod pod_from(const std::string& text) {
  auto d = api::decode_object_as(nlohmann::json::parse(text), "v1", "Pod");
  EXPECT_TRUE(d.has_value()) << d.error().message;
  return std::get<api::Pod>(d->object);
}

NodeSettings node() {
  NodeSettings n;
  n.node_name = "node-a";
  n.node_ip = "10.0.0.5";
  n.cluster_dns = "10.96.0.10";
  n.root_dir = "/var/lib/k";
  n.node_cpu_millis = 2000;
  n.node_memory_bytes = 8LL << 30;
  return n;
}

const char* kWeb = R"json({
  "metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "labels": {"app": "web"}},
  "spec": {"nodeName": "node-a", "containers": [{"name": "httpd", "image": "switchyard.local/busybox:1",
    "command": ["sh", "-c"], "args": ["echo $(GREETING) $$(NOT)"], "workingDir": "/www",
    "ports": [{"containerPort": 80, "hostPort": 8080}],
    "env": [{"name": "GREETING", "value": "hi-$(POD)"}, {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}}],
    "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
    "securityContext": {"runAsUser": 1000, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
                        "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}}}]}
})json";

TEST(PodConfig, Quantities) {
  EXPECT_EQ(parse_cpu_millis("250m"), 250);
  EXPECT_EQ(parse_cpu_millis("1.5"), 1500);
  EXPECT_EQ(parse_cpu_millis("2"), 2000);
  EXPECT_EQ(parse_bytes("64Mi"), 64LL << 20);
  EXPECT_EQ(parse_bytes("1G"), 1000000000);
  EXPECT_EQ(parse_bytes("1e3"), 1000);
  EXPECT_EQ(parse_bytes("12abc"), std::nullopt);
}

TEST(PodConfig, SandboxHasHostnameClusterDnsLabelsAndLogDirectory) {
  auto pod = pod_from(kWeb);
  auto c = make_sandbox_config(pod, node(), 2);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->hostname, "web");
  EXPECT_EQ(c->metadata.attempt, 2u);
  EXPECT_EQ(c->log_directory, "/var/lib/k/pods/shop_web_u-1");
  ASSERT_TRUE(c->dns_config.has_value());
  EXPECT_THAT(c->dns_config->servers, ElementsAre("10.96.0.10"));
  EXPECT_THAT(c->dns_config->searches, ElementsAre("shop.svc.cluster.local", "svc.cluster.local", "cluster.local"));
  EXPECT_THAT(c->dns_config->options, ElementsAre("ndots:5"));
  EXPECT_EQ(c->labels.at(kPodUidLabel), "u-1");
  EXPECT_EQ(c->labels.at("app"), "web");
  ASSERT_EQ(c->port_mappings.size(), 1u);
  EXPECT_EQ(c->port_mappings[0].host_port, 8080);
  EXPECT_EQ(c->namespace_options.network, cri::NamespaceMode::Pod);
}

TEST(PodConfig, DnsPolicies) {
  auto dir = std::filesystem::temp_directory_path() / ("sy-resolv-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "resolv.conf") << "# host\nnameserver 192.0.2.53\nsearch corp.example\noptions edns0\n";
  NodeSettings n = node();
  n.resolv_conf = (dir / "resolv.conf").string();

  auto pod = pod_from(kWeb);
  pod.spec.dns_policy = "Default";
  auto d = pod_dns_config(pod, n);
  ASSERT_TRUE(d.has_value() && d->has_value());
  EXPECT_THAT((*d)->servers, ElementsAre("192.0.2.53"));
  EXPECT_THAT((*d)->searches, ElementsAre("corp.example"));

  pod.spec.dns_policy = "None";
  pod.spec.passthrough["dnsConfig"] = R"({"nameservers":["1.1.1.1"],"searches":["a.example"],"options":[{"name":"ndots","value":"2"}]})";
  d = pod_dns_config(pod, n);
  ASSERT_TRUE(d.has_value() && d->has_value());
  EXPECT_THAT((*d)->servers, ElementsAre("1.1.1.1"));
  EXPECT_THAT((*d)->options, ElementsAre("ndots:2"));

  // ClusterFirst on the host network is Default; ClusterFirstWithHostNet is the cluster's DNS.
  pod.spec.passthrough.erase("dnsConfig");
  pod.spec.host_network = true;
  pod.spec.dns_policy = "ClusterFirst";
  d = pod_dns_config(pod, n);
  ASSERT_TRUE(d.has_value());
  EXPECT_FALSE(d->has_value()) << "a host-network pod keeps the host's resolv.conf";
  pod.spec.dns_policy = "ClusterFirstWithHostNet";
  d = pod_dns_config(pod, n);
  ASSERT_TRUE(d.has_value() && d->has_value());
  EXPECT_THAT((*d)->servers, ElementsAre("10.96.0.10"));
  auto sandbox = make_sandbox_config(pod, n, 0);
  ASSERT_TRUE(sandbox.has_value());
  EXPECT_EQ(sandbox->hostname, "") << "the node's own UTS namespace";
  EXPECT_EQ(sandbox->namespace_options.network, cri::NamespaceMode::Node);
  std::filesystem::remove_all(dir);
}

TEST(PodConfig, ContainerEnvCommandSecurityAndResources) {
  auto pod = pod_from(kWeb);
  auto c = make_container_config(pod, pod.spec.containers[0], 3, {.pod_ip = "10.244.0.7", .pod_ips = {"10.244.0.7"}}, node());
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->metadata.attempt, 3u);
  EXPECT_EQ(c->log_path, "httpd/3.log");
  EXPECT_EQ(c->working_dir, "/www");
  // $(POD) is not defined before GREETING: it stays as written; $$ is a literal $.
  EXPECT_THAT(c->envs, ElementsAre(Pair("GREETING", "hi-$(POD)"), Pair("POD", "web"), Pair("NODE", "node-a"), Pair("IP", "10.244.0.7"),
                                   Pair("APP", "web"), Pair("MEM", "128"), Pair("CPU", "250")));
  EXPECT_THAT(c->args, ElementsAre("echo hi-$(POD) $(NOT)"));
  EXPECT_EQ(c->run_as_user, 1000);
  EXPECT_TRUE(c->supplemental_groups.empty());
  EXPECT_TRUE(c->readonly_rootfs);
  EXPECT_TRUE(c->no_new_privs);
  EXPECT_THAT(c->add_capabilities, ElementsAre("NET_ADMIN"));
  EXPECT_THAT(c->drop_capabilities, ElementsAre("ALL"));
  ASSERT_TRUE(c->resources.has_value());
  EXPECT_EQ(c->resources->cpu_shares, 256);
  EXPECT_EQ(c->resources->cpu_quota, 50000);
  EXPECT_EQ(c->resources->cpu_period, 100000);
  EXPECT_EQ(c->resources->memory_limit_in_bytes, 128LL << 20);
  EXPECT_EQ(c->labels.at(kContainerNameLabel), "httpd");
  // The pod's supplementalGroups and fsGroup are the process's groups (it can read its volumes).
  pod.spec.passthrough["securityContext"] = R"({"supplementalGroups": [5, 6], "fsGroup": 2000})";
  auto grouped = make_container_config(pod, pod.spec.containers[0], 0, {}, node());
  ASSERT_TRUE(grouped.has_value()) << grouped.error().message;
  EXPECT_THAT(grouped->supplemental_groups, ElementsAre(5, 6, 2000));
  EXPECT_EQ(c->annotations.at(kRestartCountAnnotation), "3");
  EXPECT_EQ(c->annotations.at(kContainerHashAnnotation), container_hash(pod.spec.containers[0]));
  ASSERT_EQ(c->mounts.size(), 1u);
  EXPECT_EQ(c->mounts[0].container_path, "/dev/termination-log");
  EXPECT_EQ(c->mounts[0].host_path, "/var/lib/k/pods/shop_web_u-1/httpd/3.termination-log");
}

TEST(PodConfig, QosClasses) {
  auto pod = pod_from(kWeb);
  EXPECT_EQ(qos_class(pod), "Burstable");
  pod.spec.containers[0].passthrough["resources"] = R"({"limits":{"cpu":"1","memory":"1Gi"}})";
  EXPECT_EQ(qos_class(pod), "Guaranteed");
  auto c = make_container_config(pod, pod.spec.containers[0], 0, {}, node());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->resources->oom_score_adj, -997);
  EXPECT_EQ(c->resources->cpu_shares, 1024) << "an unset request is the limit";
  pod.spec.containers[0].passthrough.erase("resources");
  EXPECT_EQ(qos_class(pod), "BestEffort");
}

TEST(PodConfig, AMissingSecretIsAConfigError) {
  auto pod = pod_from(kWeb);
  pod.spec.containers[0].passthrough["env"] = R"([{"name":"X","valueFrom":{"secretKeyRef":{"name":"db","key":"pw"}}}])";
  auto c = make_container_config(pod, pod.spec.containers[0], 0, {}, node());
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, ErrorCode::Invalid);
  EXPECT_EQ(c.error().message, "secret \"db\" not found");
}

TEST(PodConfig, GraceAndHashes) {
  auto pod = pod_from(kWeb);
  EXPECT_EQ(termination_grace(pod), std::chrono::seconds(30));
  pod.spec.termination_grace_period_seconds = 5;
  EXPECT_EQ(termination_grace(pod), std::chrono::seconds(5));
  pod.metadata.deletion_grace_period_seconds = 0;
  EXPECT_EQ(termination_grace(pod), std::chrono::seconds(0));
  auto changed = pod.spec.containers[0];
  changed.image = "switchyard.local/busybox:2";
  EXPECT_NE(container_hash(changed), container_hash(pod.spec.containers[0]));
}

}  // namespace
}  // namespace switchyard::kubelet
