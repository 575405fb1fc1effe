// The README's pod walk-through, as a new user types it, against `switchyard up --images-dir` in
// a node namespace of its own: `kubectl run` (no node named: the scheduler binds it), `kubectl
// expose`, and another pod that reaches the Service by its ClusterIP and by its name through the
// cluster DNS (the pod's resolv.conf, search list and all), `nslookup` included.
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
using ::testing::Not;
using testing::run;
using testing::wait_until;

class ReadmeFlow : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path("/tmp") / ("sy-readme-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // The node's address: one end of a veth pair, both ends in the namespace.
    auto link = run("ip -n " + netns_.name() + " link add sy-rd-a type veth peer name sy-rd-b && ip -n " + netns_.name() +
                    " addr add 10.82.0.2/24 dev sy-rd-a && ip -n " + netns_.name() + " link set sy-rd-a up && ip -n " + netns_.name() +
                    " link set sy-rd-b up && ip -n " + netns_.name() + " link set lo up 2>&1");
    ASSERT_EQ(link.exit_code, 0) << link.output;
  }
  void TearDown() override {
    up_.reset();  // SIGTERM, then SIGKILL: up stops its containerd
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
  bool running(const std::string& pod) {
    return wait_until(90, [&] { return k("get pod " + pod + " --no-headers").output.find("1/1   Running") != std::string::npos; });
  }

  testing::NetworkNamespace netns_{"readme"};
  fs::path dir_;
  std::unique_ptr<ChildProcess> up_;
};

TEST_F(ReadmeFlow, RunExposeAndReachByClusterIpAndNameFromAnotherPod) {
  up_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"nsenter", "--net=/run/netns/" + netns_.name(), SWITCHYARD_BINARY, "up", "--data-dir",
                               (dir_ / "cluster").string(), "--node-name", "node-readme", "--node-ip", "10.82.0.2",
                               "--healthz-bind-address", "127.0.0.1:10256", "--images-dir", SWITCHYARD_TEST_IMAGES_DIR},
      (dir_ / "up.log").string());
  ASSERT_TRUE(wait_until(90, [&] { return output().find("Container runtime:") != std::string::npos; })) << output();

  // The README's commands, as written there.
  auto web = k("run web --image=switchyard.local/busybox:1 --image-pull-policy=Never --command -- httpd -f -p 80 -h /www");
  ASSERT_EQ(web.exit_code, 0) << web.output;
  ASSERT_TRUE(running("web")) << k("describe pod web").output << output();
  EXPECT_EQ(k("get pod web -o jsonpath={.spec.nodeName}").output, "node-readme") << "the scheduler bound it";
  EXPECT_THAT(k("get events --field-selector involvedObject.name=web").output,
              HasSubstr("Successfully assigned default/web to node-readme"));
  auto exposed = k("expose pod web --port 80");
  ASSERT_EQ(exposed.exit_code, 0) << exposed.output;
  const std::string cluster_ip = k("get service web -o jsonpath={.spec.clusterIP}").output;
  ASSERT_THAT(cluster_ip, ::testing::MatchesRegex("10\\.[0-9.]+"));

  ASSERT_EQ(k("run client --image=switchyard.local/busybox:1 --image-pull-policy=Never --command -- sleep 3600").exit_code, 0);
  ASSERT_TRUE(running("client")) << k("describe pod client").output;
  EXPECT_TRUE(wait_until(20, [&] {
    return k("exec client -- timeout 3 wget -qO- http://" + cluster_ip + "/").output == "hello from switchyard busybox\n";
  })) << k("exec client -- timeout 3 wget -qO- http://" + cluster_ip + "/").output;
  // (busybox 1.35's static wget crashes with -T, hence the timeout applet.)
  // By name: the pod's resolv.conf points at the cluster DNS with the namespace's search list.
  EXPECT_THAT(k("exec client -- cat /etc/resolv.conf").output,
              HasSubstr("search default.svc.cluster.local svc.cluster.local cluster.local"));
  EXPECT_TRUE(wait_until(20, [&] {
    return k("exec client -- timeout 3 wget -qO- http://web/").output == "hello from switchyard busybox\n";
  })) << k("exec client -- timeout 3 wget -qO- http://web/").output;
  auto lookup = k("exec client -- nslookup web.default.svc.cluster.local");
  EXPECT_THAT(lookup.output, HasSubstr(cluster_ip)) << lookup.output;

  // The kubelet and the agent did all of it with their own least-privilege identities: the
  // server refused them nothing, and neither may do what only the admin may.
  EXPECT_THAT(output(), Not(HasSubstr("forbidden"))) << output();
  EXPECT_THAT(output(), Not(HasSubstr("Forbidden"))) << output();
  EXPECT_EQ(k("get clusterrolebinding system:switchyard-agent -o jsonpath={.subjects[0].name}").output, "system:switchyard-agent");
  EXPECT_EQ(k("auth can-i list pods -A --as system:switchyard-agent").output, "yes\n");
  EXPECT_EQ(k("auth can-i delete services -A --as system:switchyard-agent").output, "no\n");
  EXPECT_EQ(k("auth can-i patch pods --subresource=status --as system:node:node-readme --as-group system:nodes").output, "yes\n");
  EXPECT_EQ(k("auth can-i create clusterrolebindings -A --as system:node:node-readme --as-group system:nodes").output, "no\n");

  up_->kill_now(SIGINT);
  EXPECT_EQ(up_->wait_exit(30), 0) << output();
}

}  // namespace
}  // namespace switchyard
