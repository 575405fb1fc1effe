// `switchyard up --images-dir DIR` in a node namespace of its own: it runs a containerd under
// its data dir, imports the archives of DIR, says so, and that containerd runs a pod sandbox on
// the node's pod range (its podCIDR, the first /24 of --cluster-cidr from the node IPAM controller); `switchyard images list --data-dir`
// finds it; its kubelet runs a Pod there; Ctrl-C stops containerd with the rest.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "kubelet/cri/cri_client.h"
#include "kubelet/runtime/containerd_config.h"
#include "kubelet/runtime/runtime_cleanup.h"
#include "netns-tests/support/process.h"

namespace switchyard {
namespace {

namespace fs = std::filesystem;
using testing::ChildProcess;
using ::testing::HasSubstr;
using testing::run;
using testing::wait_until;

int lines_of(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

class UpWithContainerd : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path("/tmp") / ("sy-up-containerd-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // A node address for up's DNS server: one end of a veth pair, both ends in the namespace.
    auto link = run("ip -n " + netns_.name() + " link add sy-up-a type veth peer name sy-up-b && ip -n " + netns_.name() +
                    " addr add 10.81.0.2/24 dev sy-up-a && ip -n " + netns_.name() + " link set sy-up-a up && ip -n " + netns_.name() +
                    " link set sy-up-b up 2>&1");
    ASSERT_EQ(link.exit_code, 0) << link.output;
  }
  void TearDown() override {
    up_.reset();  // SIGTERM, then SIGKILL: up stops its containerd
    kubelet::runtime::ContainerdOptions ours;
    ours.data_dir = kubelet::runtime::node_containerd_dir(dir_ / "cluster");
    if (auto r = kubelet::runtime::remove_runtime_leftovers(ours); !r) ADD_FAILURE() << r.error().message;
    if (auto r = kubelet::runtime::unmount_all_under(dir_); !r) ADD_FAILURE() << r.error().message;  // pods' volumes
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string output() {
    std::ifstream in(dir_ / "up.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  testing::NetworkNamespace netns_{"upcri"};
  fs::path dir_;
  std::unique_ptr<ChildProcess> up_;
};

TEST_F(UpWithContainerd, RunsItsOwnContainerdWithTheImagesOfImagesDir) {
  up_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"nsenter", "--net=/run/netns/" + netns_.name(), SWITCHYARD_BINARY, "up", "--data-dir",
                               (dir_ / "cluster").string(), "--node-name", "node-cri", "--node-ip", "10.81.0.2", "--healthz-bind-address",
                               "127.0.0.1:10256", "--images-dir", SWITCHYARD_TEST_IMAGES_DIR},
      (dir_ / "up.log").string());
  ASSERT_TRUE(wait_until(90, [&] { return output().find("Container runtime:") != std::string::npos; })) << output();
  const std::string socket = (kubelet::runtime::node_containerd_dir(dir_ / "cluster") / "containerd.sock").string();
  EXPECT_THAT(output(), HasSubstr("Container runtime: containerd 1.6"));
  EXPECT_THAT(output(), HasSubstr("at " + socket + ", run by switchyard, pods in 10.244.0.0/24 (3 images imported)"));

  auto listed = run(std::string(SWITCHYARD_BINARY) + " images list --data-dir " + (dir_ / "cluster").string() + " 2>&1");
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("switchyard.local/busybox:1 "));
  EXPECT_THAT(listed.output, HasSubstr("switchyard.local/pause:1 "));

  // The runtime works: a sandbox (the imported pause image) gets an address on the pod range.
  auto client = kubelet::cri::CriClient::connect(socket);
  ASSERT_TRUE(client.has_value());
  kubelet::cri::PodSandboxConfig config;
  config.metadata = {.name = "probe", .uid = "up-probe-" + std::to_string(::getpid()), .namespace_ = "default", .attempt = 0};
  config.hostname = "probe";
  auto sandbox = (*client)->run_pod_sandbox(config);
  ASSERT_TRUE(sandbox.has_value()) << sandbox.error().message;
  auto status = (*client)->pod_sandbox_status(*sandbox);
  ASSERT_TRUE(status.has_value()) << status.error().message;
  EXPECT_THAT(status->ip, ::testing::StartsWith("10.244.0."));
  EXPECT_TRUE((*client)->stop_pod_sandbox(*sandbox).has_value());
  EXPECT_TRUE((*client)->remove_pod_sandbox(*sandbox).has_value());

  // up's kubelet runs a Pod bound to the node on that containerd.
  const std::string kubectl = "nsenter --net=/run/netns/" + netns_.name() + " /usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig " +
                              (dir_ / "cluster" / "kubeconfig").string() + " ";
  std::ofstream(dir_ / "pod.yaml") << "apiVersion: v1\nkind: Pod\nmetadata: {name: sleeper}\nspec:\n  nodeName: node-cri\n"
                                      "  terminationGracePeriodSeconds: 0\n"
                                      "  containers: [{name: c, image: switchyard.local/busybox:1, command: [sleep, '3600']}]\n";
  auto applied = run(kubectl + "apply -f " + (dir_ / "pod.yaml").string() + " 2>&1");
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_TRUE(wait_until(60, [&] {
    return run(kubectl + "get pod sleeper --no-headers").output.find("1/1   Running   0") != std::string::npos;
  })) << run(kubectl + "get pod sleeper -o yaml").output;
  EXPECT_THAT(run(kubectl + "get pod sleeper -o jsonpath={.status.podIP}").output, ::testing::StartsWith("10.244.0."));
  ASSERT_EQ(run(kubectl + "delete pod sleeper 2>&1").exit_code, 0);
  EXPECT_TRUE(wait_until(30, [&] {
    auto sandboxes = (*client)->list_pod_sandbox();
    return sandboxes && sandboxes->empty();
  })) << "the deleted pod's sandbox stayed";

  up_->kill_now(SIGINT);
  EXPECT_EQ(up_->wait_exit(30), 0) << output();
  EXPECT_EQ(run("pgrep -f '[-]-config " + (kubelet::runtime::node_containerd_dir(dir_ / "cluster") / "config.toml").string() + "'").output,
            "")
      << "containerd outlived up";
  EXPECT_THAT(kubelet::runtime::mounts_under(dir_), ::testing::IsEmpty());
}

TEST_F(UpWithContainerd, AKilledUpStartsAgainAndAdoptsItsRunningPods) {
  const std::vector<std::string> argv{"nsenter",
                                      "--net=/run/netns/" + netns_.name(),
                                      SWITCHYARD_BINARY,
                                      "up",
                                      "--data-dir",
                                      (dir_ / "cluster").string(),
                                      "--node-name",
                                      "node-cri",
                                      "--node-ip",
                                      "10.81.0.2",
                                      "--healthz-bind-address",
                                      "127.0.0.1:10256",
                                      "--images-dir",
                                      SWITCHYARD_TEST_IMAGES_DIR};
  up_ = std::make_unique<ChildProcess>(argv, (dir_ / "up.log").string());
  ASSERT_TRUE(wait_until(90, [&] { return output().find("Container runtime:") != std::string::npos; })) << output();
  const std::string kubectl = "nsenter --net=/run/netns/" + netns_.name() + " /usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig " +
                              (dir_ / "cluster" / "kubeconfig").string() + " ";
  auto created = run(kubectl + "run sleeper --image=switchyard.local/busybox:1 --command -- sleep 3600 2>&1");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  auto container_id = [&] { return run(kubectl + "get pod sleeper -o jsonpath={.status.containerStatuses[0].containerID}").output; };
  ASSERT_TRUE(wait_until(60, [&] {
    return run(kubectl + "get pod sleeper --no-headers").output.find("1/1   Running   0") != std::string::npos;
  })) << run(kubectl + "get pod sleeper -o yaml").output;
  const std::string before = container_id();
  ASSERT_THAT(before, ::testing::StartsWith("containerd://"));

  // kill -9: nothing stops containerd, which keeps running without its supervisor.
  up_->kill_now(SIGKILL);
  ASSERT_TRUE(up_->wait_exit(30).has_value());
  const std::string config = (kubelet::runtime::node_containerd_dir(dir_ / "cluster") / "config.toml").string();
  EXPECT_NE(run("pgrep -f '[-]-config " + config + "'").output, "") << "containerd went with up";

  // The next up stops the orphaned containerd, starts its own, and adopts the pod: same
  // container, no restart.
  std::ofstream(dir_ / "up.log", std::ios::trunc);
  up_ = std::make_unique<ChildProcess>(argv, (dir_ / "up.log").string());
  ASSERT_TRUE(wait_until(90, [&] { return output().find("Container runtime:") != std::string::npos; })) << output();
  EXPECT_THAT(output(), HasSubstr("event=orphaned_containerd_stopped"));
  EXPECT_TRUE(wait_until(30, [&] {
    return run(kubectl + "get pod sleeper --no-headers").output.find("1/1   Running   0") != std::string::npos;
  })) << run(kubectl + "get pod sleeper -o yaml").output;
  EXPECT_EQ(container_id(), before);
  EXPECT_EQ(run(kubectl + "exec sleeper -- echo still here 2>&1").output, "still here\n");
  EXPECT_EQ(lines_of(run("pgrep -f '[-]-config " + config + "'").output), 1) << "one containerd";
}

}  // namespace
}  // namespace switchyard
