// The plain structs reach the wire as CRI v1 expects: every field we set lands in the CRI
// field of that name and number (the numbers below are CRI v1's, k8s.io/cri-api
// pkg/apis/runtime/v1/api.proto), and what the runtime answers comes back unchanged.
#include "kubelet/cri/cri_convert.h"

#include "kubelet/cri/api.grpc.pb.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace switchyard::kubelet::cri {
namespace {

namespace v1 = runtime::v1;

int number(const google::protobuf::Descriptor* message, const char* field) {
  const auto* f = message->FindFieldByName(field);
  return f ? f->number() : -1;
}

TEST(CriWireContract, FieldNumbersAreCriV1s) {
  EXPECT_EQ(v1::PodSandboxConfig::descriptor()->full_name(), "runtime.v1.PodSandboxConfig");
  const auto* sandbox = v1::PodSandboxConfig::descriptor();
  EXPECT_EQ(number(sandbox, "metadata"), 1);
  EXPECT_EQ(number(sandbox, "hostname"), 2);
  EXPECT_EQ(number(sandbox, "log_directory"), 3);
  EXPECT_EQ(number(sandbox, "dns_config"), 4);
  EXPECT_EQ(number(sandbox, "port_mappings"), 5);
  EXPECT_EQ(number(sandbox, "labels"), 6);
  EXPECT_EQ(number(sandbox, "annotations"), 7);
  EXPECT_EQ(number(sandbox, "linux"), 8);
  const auto* container = v1::ContainerConfig::descriptor();
  EXPECT_EQ(number(container, "log_path"), 11);
  EXPECT_EQ(number(container, "tty"), 14);
  EXPECT_EQ(number(container, "linux"), 15);
  EXPECT_EQ(number(v1::LinuxSandboxSecurityContext::descriptor(), "run_as_group"), 8);
  EXPECT_EQ(number(v1::LinuxContainerSecurityContext::descriptor(), "run_as_group"), 12);
  EXPECT_EQ(number(v1::LinuxContainerSecurityContext::descriptor(), "seccomp"), 15);
  EXPECT_EQ(number(v1::ImageSpec::descriptor(), "user_specified_image"), 18);
  EXPECT_EQ(number(v1::ContainerStatus::descriptor(), "log_path"), 15);
  EXPECT_EQ(number(v1::PodSandboxStatus::descriptor(), "runtime_handler"), 9);
  // The gRPC method paths: /runtime.v1.RuntimeService/RunPodSandbox and so on.
  EXPECT_STREQ(v1::RuntimeService::service_full_name(), "runtime.v1.RuntimeService");
  EXPECT_STREQ(v1::ImageService::service_full_name(), "runtime.v1.ImageService");
  const auto* runtime_service = sandbox->file()->FindServiceByName("RuntimeService");
  ASSERT_NE(runtime_service, nullptr);
  for (const char* rpc : {"Version", "RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "PodSandboxStatus", "ListPodSandbox",
                          "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer", "ListContainers", "ContainerStatus",
                          "ExecSync", "Exec", "Attach", "PortForward", "Status"})
    EXPECT_NE(runtime_service->FindMethodByName(rpc), nullptr) << rpc;
}

TEST(CriConvert, ASandboxConfigKeepsEveryFieldWeSet) {
  PodSandboxConfig in;
  in.metadata = {.name = "web-0", .uid = "u-1", .namespace_ = "shop", .attempt = 2};
  in.hostname = "web-0";
  in.log_directory = "/var/log/pods/shop_web-0_u-1";
  in.dns_config = DnsConfig{{"10.96.0.10"}, {"shop.svc.cluster.local", "svc.cluster.local"}, {"ndots:5"}};
  in.port_mappings = {{.protocol = Protocol::Udp, .container_port = 53, .host_port = 5353, .host_ip = "127.0.0.1"}};
  in.labels = {{"app", "web"}};
  in.annotations = {{"note", "x"}};
  in.cgroup_parent = "/kubepods/pod-u-1";
  in.namespace_options.network = NamespaceMode::Node;
  in.run_as_user = 1000;
  in.sysctls = {{"net.ipv4.ip_unprivileged_port_start", "0"}};
  v1::PodSandboxConfig out;
  to_proto(in, out);
  EXPECT_EQ(out.metadata().namespace_(), "shop");
  EXPECT_EQ(out.metadata().attempt(), 2u);
  EXPECT_EQ(out.dns_config().searches_size(), 2);
  EXPECT_EQ(out.dns_config().options(0), "ndots:5");
  ASSERT_EQ(out.port_mappings_size(), 1);
  EXPECT_EQ(out.port_mappings(0).protocol(), v1::UDP);
  EXPECT_EQ(out.port_mappings(0).host_port(), 5353);
  EXPECT_EQ(out.labels().at("app"), "web");
  EXPECT_EQ(out.linux().cgroup_parent(), "/kubepods/pod-u-1");
  EXPECT_EQ(out.linux().security_context().namespace_options().network(), v1::NODE);
  EXPECT_EQ(out.linux().security_context().namespace_options().pid(), v1::CONTAINER);
  EXPECT_EQ(out.linux().security_context().run_as_user().value(), 1000);
  EXPECT_FALSE(out.linux().security_context().has_run_as_group());
  EXPECT_EQ(out.linux().sysctls().at("net.ipv4.ip_unprivileged_port_start"), "0");
}

TEST(CriConvert, AContainerConfigKeepsEveryFieldWeSet) {
  ContainerConfig in;
  in.metadata = {"app", 3};
  in.image = "switchyard.local/busybox:1";
  in.command = {"/bin/sh", "-c"};
  in.args = {"echo hi"};
  in.working_dir = "/www";
  in.envs = {{"A", "1"}, {"B", "two"}};
  in.mounts = {{.container_path = "/data",
                .host_path = "/tmp/d",
                .readonly = true,
                .selinux_relabel = false,
                .propagation = MountPropagation::HostToContainer}};
  in.log_path = "app/3.log";
  in.tty = true;
  in.resources = LinuxResources{.cpu_period = 100000, .cpu_quota = 50000, .cpu_shares = 512, .memory_limit_in_bytes = 1 << 26};
  in.run_as_group = 0;
  in.add_capabilities = {"NET_ADMIN"};
  v1::ContainerConfig out;
  to_proto(in, out);
  EXPECT_EQ(out.metadata().attempt(), 3u);
  EXPECT_EQ(out.image().image(), "switchyard.local/busybox:1");
  EXPECT_EQ(out.args(0), "echo hi");
  ASSERT_EQ(out.envs_size(), 2);
  EXPECT_EQ(out.envs(1).key(), "B");
  EXPECT_EQ(out.envs(1).value(), "two");
  ASSERT_EQ(out.mounts_size(), 1);
  EXPECT_TRUE(out.mounts(0).readonly());
  EXPECT_EQ(out.mounts(0).propagation(), v1::PROPAGATION_HOST_TO_CONTAINER);
  EXPECT_EQ(out.log_path(), "app/3.log");
  EXPECT_TRUE(out.tty());
  EXPECT_EQ(out.linux().resources().cpu_quota(), 50000);
  EXPECT_EQ(out.linux().resources().memory_limit_in_bytes(), 1 << 26);
  EXPECT_TRUE(out.linux().security_context().has_run_as_group());  // 0 (root) is set, not absent
  EXPECT_FALSE(out.linux().security_context().has_run_as_user());
  EXPECT_EQ(out.linux().security_context().capabilities().add_capabilities(0), "NET_ADMIN");
}

TEST(CriConvert, StatusesComeBackAsTheRuntimeSentThem) {
  v1::PodSandboxStatus sandbox;
  sandbox.set_id("s1");
  sandbox.set_state(v1::SANDBOX_NOTREADY);
  sandbox.mutable_network()->set_ip("10.244.0.5");
  sandbox.mutable_network()->add_additional_ips()->set_ip("fd00::5");
  sandbox.mutable_linux()->mutable_namespaces()->mutable_options()->set_network(v1::NODE);
  auto s = from_proto(sandbox);
  EXPECT_EQ(s.state, SandboxState::NotReady);
  EXPECT_EQ(s.ip, "10.244.0.5");
  EXPECT_THAT(s.additional_ips, ::testing::ElementsAre("fd00::5"));
  ASSERT_TRUE(s.namespace_options.has_value());
  EXPECT_EQ(s.namespace_options->network, NamespaceMode::Node);

  v1::ContainerStatus container;
  container.set_state(v1::CONTAINER_EXITED);
  container.set_exit_code(137);
  container.set_reason("OOMKilled");
  container.set_finished_at(1700000000000000000);
  auto c = from_proto(container);
  EXPECT_EQ(c.state, ContainerState::Exited);
  EXPECT_EQ(c.exit_code, 137);
  EXPECT_EQ(c.reason, "OOMKilled");
  EXPECT_EQ(c.finished_at, 1700000000000000000);

  v1::Image image;
  image.set_id("sha256:abc");
  image.add_repo_tags("switchyard.local/pause:1");
  auto i = from_proto(image);
  EXPECT_FALSE(i.uid.has_value());
  image.mutable_uid()->set_value(0);
  EXPECT_EQ(from_proto(image).uid, 0);
}

}  // namespace
}  // namespace switchyard::kubelet::cri
