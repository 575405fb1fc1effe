// A DaemonSet on `switchyard up` with real containers (containerd, busybox) in a node namespace
// of its own: its pod lands on the node and runs (`kubectl rollout status ds`), then `kubectl
// set image` rolls a new image out (the old pod replaced, `rollout status` and `rollout
// history` report it).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "kubelet/runtime/containerd_config.h"
#include "kubelet/runtime/runtime_cleanup.h"
#include "netns-tests/support/process.h"

namespace switchyard {
namespace {

namespace fs = std::filesystem;
using testing::ChildProcess;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using testing::run;
using testing::wait_until;

class DaemonSetOnUp : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path("/tmp") / ("sy-ds-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "images");
    auto link = run("ip -n " + netns_.name() + " link add sy-ds-a type veth peer name sy-ds-b && ip -n " + netns_.name() +
                    " addr add 10.84.0.2/24 dev sy-ds-a && ip -n " + netns_.name() + " link set sy-ds-a up && ip -n " + netns_.name() +
                    " link set sy-ds-b up && ip -n " + netns_.name() + " link set lo up 2>&1");
    ASSERT_EQ(link.exit_code, 0) << link.output;
    // The test images, and busybox once more under a second tag: the image the rollout moves to.
    const std::string images = SWITCHYARD_TEST_IMAGES_DIR;
    auto copied = run("cp " + images + "/busybox.tar " + images + "/pause.tar " + (dir_ / "images").string() +
                      "/ && skopeo --insecure-policy copy --quiet docker-archive:" + images +
                      "/busybox.tar docker-archive:" + (dir_ / "images" / "busybox2.tar").string() + ":switchyard.local/busybox:2 2>&1");
    ASSERT_EQ(copied.exit_code, 0) << copied.output;
  }
  void TearDown() override {
    up_.reset();
    kubelet::runtime::ContainerdOptions ours;
    ours.data_dir = kubelet::runtime::node_containerd_dir(dir_ / "cluster");
    if (auto r = kubelet::runtime::remove_runtime_leftovers(ours); !r) ADD_FAILURE() << r.error().message;
    if (auto r = kubelet::runtime::unmount_all_under(dir_); !r) ADD_FAILURE() << r.error().message;  // pods' volumes
    std::error_code ec;
    if (!HasFailure()) fs::remove_all(dir_, ec);
  }
  std::string output() {
    std::ifstream in(dir_ / "up.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  testing::CommandResult k(const std::string& args) {
    return run("nsenter --net=/run/netns/" + netns_.name() + " /usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig " +
               (dir_ / "cluster" / "kubeconfig").string() + " " + args + " 2>&1");
  }
  std::string file(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  testing::NetworkNamespace netns_{"daemonset"};
  fs::path dir_;
  std::unique_ptr<ChildProcess> up_;
};

TEST_F(DaemonSetOnUp, LandsOnePodOnTheNodeAndRollsOutANewImage) {
  up_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"nsenter", "--net=/run/netns/" + netns_.name(), SWITCHYARD_BINARY, "up", "--data-dir",
                               (dir_ / "cluster").string(), "--node-name", "node-ds", "--node-ip", "10.84.0.2", "--healthz-bind-address",
                               "127.0.0.1:10256", "--images-dir", (dir_ / "images").string()},
      (dir_ / "up.log").string());
  ASSERT_TRUE(wait_until(90, [&] { return output().find("Container runtime:") != std::string::npos; })) << output();

  const auto ds = file("ds.yaml", R"(apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: switchyard.local/busybox:1
        imagePullPolicy: Never
        command: ["sh", "-c", "echo started; exec sleep 3600"]
)");
  auto applied = k("apply -f " + ds);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  auto status = k("rollout status ds/agent --timeout=120s");
  ASSERT_EQ(status.exit_code, 0) << status.output << k("get pods -o wide").output << k("get ds agent -o yaml").output << output();
  EXPECT_THAT(status.output, HasSubstr("daemon set \"agent\" successfully rolled out"));
  EXPECT_EQ(k("get pods -l app=agent -o jsonpath={range.items[*]}{.spec.nodeName}={.status.phase}{end}").output, "node-ds=Running");
  EXPECT_THAT(k("get ds agent --no-headers").output, MatchesRegex("agent +1 +1 +1 +1 +1 +<none> +[0-9]+s\n"));
  const std::string first = k("get pods -l app=agent -o jsonpath={.items[0].metadata.name}").output;
  EXPECT_TRUE(wait_until(20, [&] { return k("logs " + first).output == "started\n"; })) << k("logs " + first).output;

  auto set = k("set image ds/agent c=switchyard.local/busybox:2");
  ASSERT_EQ(set.exit_code, 0) << set.output;
  status = k("rollout status ds/agent --timeout=120s");
  ASSERT_EQ(status.exit_code, 0) << status.output << k("get pods -o wide").output << k("get ds agent -o yaml").output << output();
  EXPECT_THAT(status.output, HasSubstr("daemon set \"agent\" successfully rolled out"));
  // One pod, the new one, running the new image; the old one gone.
  EXPECT_TRUE(wait_until(30, [&] {
    return k("get pods -l app=agent -o jsonpath={range.items[*]}{.spec.containers[0].image}={.status.phase}{end}").output ==
           "switchyard.local/busybox:2=Running";
  })) << k("get pods -o wide").output;
  const std::string second = k("get pods -l app=agent -o jsonpath={.items[0].metadata.name}").output;
  EXPECT_NE(second, first);
  EXPECT_TRUE(wait_until(20, [&] { return k("logs " + second).output == "started\n"; }));
  EXPECT_THAT(k("rollout history ds/agent").output, HasSubstr("\nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n"));

  up_->kill_now(SIGINT);
  EXPECT_EQ(up_->wait_exit(30), 0) << output();
}

}  // namespace
}  // namespace switchyard
