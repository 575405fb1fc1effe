// StatefulSets on `switchyard up` with real containers (containerd, busybox) in a node namespace
// of its own: a set of 3 comes up in order (each pod Ready before the next is made), each pod's
// stable name NAME.SERVICE.NS.svc.cluster.local resolves through the headless governing Service
// (from another pod with nslookup, and with dig against the cluster DNS), and scaling down to 2
// removes web-2.
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
using testing::run;
using testing::wait_until;

class StatefulSetsOnUp : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path("/tmp") / ("sy-sts-up-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // The node's address, and a default route so the node's own queries reach the DNS ClusterIP.
    auto link = run("ip -n " + netns_.name() + " link add sy-st-a type veth peer name sy-st-b && ip -n " + netns_.name() +
                    " addr add 10.84.0.2/24 dev sy-st-a && ip -n " + netns_.name() + " link set sy-st-a up && ip -n " + netns_.name() +
                    " link set sy-st-b up && ip -n " + netns_.name() + " link set lo up && ip -n " + netns_.name() +
                    " route add default via 10.84.0.1 dev sy-st-a 2>&1");
    ASSERT_EQ(link.exit_code, 0) << link.output;
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
  testing::CommandResult in_node(const std::string& command) {
    return run("nsenter --net=/run/netns/" + netns_.name() + " " + command + " 2>&1");
  }
  testing::CommandResult k(const std::string& args) {
    return in_node("/usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig " + (dir_ / "cluster" / "kubeconfig").string() + " " + args);
  }
  std::string file(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  std::string ready_of(const std::string& ns, const std::string& pod) {
    return k("-n " + ns + " get pod " + pod + " -o 'jsonpath={.status.conditions[?(@.type==\"Ready\")].status}'").output;
  }

  testing::NetworkNamespace netns_{"sts"};
  fs::path dir_;
  std::unique_ptr<ChildProcess> up_;
};

TEST_F(StatefulSetsOnUp, ComesUpInOrderResolvesStableNamesAndScalesDownFromTheTop) {
  up_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"nsenter", "--net=/run/netns/" + netns_.name(), SWITCHYARD_BINARY, "up", "--data-dir",
                               (dir_ / "cluster").string(), "--node-name", "node-sts", "--node-ip", "10.84.0.2", "--healthz-bind-address",
                               "127.0.0.1:10256", "--images-dir", SWITCHYARD_TEST_IMAGES_DIR},
      (dir_ / "up.log").string());
  ASSERT_TRUE(wait_until(90, [&] { return output().find("Container runtime:") != std::string::npos; })) << output();

  const std::string ns = "sts-" + std::to_string(::getpid());
  ASSERT_EQ(k("create namespace " + ns).exit_code, 0);
  // The readiness probe passes 2 s after start, so each pod is visibly not Ready for a while.
  const auto manifest = file("web.yaml", R"(apiVersion: v1
kind: Service
metadata:
  name: nginx
spec:
  clusterIP: None
  selector:
    app: web
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: nginx
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: switchyard.local/busybox:1
        imagePullPolicy: Never
        command: ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep 3600"]
        readinessProbe:
          exec:
            command: ["cat", "/tmp/ready"]
          periodSeconds: 1
)");
  auto applied = k("-n " + ns + " apply -f " + manifest);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  // In order: whenever web-N exists, web-(N-1) is already Ready.
  for (int i = 1; i < 3; ++i) {
    const std::string pod = "web-" + std::to_string(i), before = "web-" + std::to_string(i - 1);
    ASSERT_TRUE(wait_until(120, [&] { return k("-n " + ns + " get pod " + pod + " -o name").exit_code == 0; }))
        << k("-n " + ns + " get pods -o wide").output << output();
    EXPECT_EQ(ready_of(ns, before), "True") << pod << " was made before " << before << " was Ready";
  }
  auto status = k("-n " + ns + " rollout status sts/web --timeout=120s");
  ASSERT_THAT(status.output, ::testing::EndsWith("partitioned roll out complete: 3 new pods have been updated...\n"))
      << k("-n " + ns + " get pods").output;
  EXPECT_THAT(k("-n " + ns + " get sts web").output, ::testing::ContainsRegex("\nweb +3/3 +"));

  // Each stable name resolves, from another pod, to that pod's IP.
  for (int i = 0; i < 3; ++i) {
    const std::string pod = "web-" + std::to_string(i);
    const std::string ip = k("-n " + ns + " get pod " + pod + " -o jsonpath={.status.podIP}").output;
    ASSERT_THAT(ip, ::testing::MatchesRegex("10\\.[0-9.]+"));
    const std::string name = pod + ".nginx." + ns + ".svc.cluster.local";
    const std::string from = "web-" + std::to_string((i + 1) % 3);
    EXPECT_TRUE(wait_until(20, [&] {
      return k("-n " + ns + " exec " + from + " -- nslookup " + name).output.find(ip) != std::string::npos;
    })) << k("-n " + ns + " exec " + from + " -- nslookup " + name).output;
    EXPECT_EQ(in_node("dig +short +time=2 +tries=1 @10.96.0.10 " + name + " A").output, ip + "\n");
  }
  EXPECT_EQ(k("-n " + ns + " exec web-0 -- hostname").output, "web-0\n");

  // Scale down to 2: web-2 goes, web-0 and web-1 stay.
  ASSERT_EQ(k("-n " + ns + " scale sts web --replicas=2").exit_code, 0);
  ASSERT_TRUE(wait_until(60, [&] { return k("-n " + ns + " get pod web-2 -o name").exit_code != 0; }))
      << k("-n " + ns + " get pods").output;
  EXPECT_EQ(k("-n " + ns + " get pods -l app=web -o name").output, "pod/web-0\npod/web-1\n");
  EXPECT_TRUE(wait_until(
      20, [&] { return in_node("dig +short +time=1 +tries=1 @10.96.0.10 web-2.nginx." + ns + ".svc.cluster.local A").output.empty(); }));

  up_->kill_now(SIGINT);
  EXPECT_EQ(up_->wait_exit(30), 0) << output();
}

}  // namespace
}  // namespace switchyard
