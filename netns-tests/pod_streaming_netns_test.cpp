// kubectl logs, exec, attach and port-forward through the API server to the kubelet, for every
// kubectl 1.27–1.33: `switchyard up --images-dir` in a node namespace of its own runs real pods
// on its own containerd; the API server proxies to the kubelet's HTTPS endpoint, which reads the
// CRI log files or hands the connection to containerd's streaming server. kubectl 1.30 and later
// try WebSocket first and fall back to SPDY when containerd 1.6 refuses it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>

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

constexpr const char* kNodeIp = "10.83.0.2";
const std::vector<int> kKubectlVersions = {27, 28, 29, 30, 31, 32, 33};

class PodStreaming : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::path("/tmp") / ("sy-streaming-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    netns_ = new testing::NetworkNamespace("stream");
    auto link = run("ip -n " + netns_->name() + " link add sy-st-a type veth peer name sy-st-b && ip -n " + netns_->name() + " addr add " +
                    kNodeIp + "/24 dev sy-st-a && ip -n " + netns_->name() + " link set sy-st-a up && ip -n " + netns_->name() +
                    " link set sy-st-b up && ip -n " + netns_->name() + " link set lo up 2>&1");
    ASSERT_EQ(link.exit_code, 0) << link.output;
    up_ = new ChildProcess(
        {"nsenter", "--net=/run/netns/" + netns_->name(), SWITCHYARD_BINARY, "up", "--data-dir", (dir_ / "cluster").string(), "--node-name",
         "node-st", "--node-ip", kNodeIp, "--healthz-bind-address", "127.0.0.1:10256", "--images-dir", SWITCHYARD_TEST_IMAGES_DIR,
         // The in-process kubelet's certificate is the cluster CA's: checked.
         "--kubelet-certificate-authority", (dir_ / "cluster" / "pki" / "ca.crt").string()},
        (dir_ / "up.log").string());
    ASSERT_TRUE(wait_until(90, [] { return up_output().find("Container runtime:") != std::string::npos; })) << up_output();
    // web: two containers (an httpd that logs two lines, a ticker); crash: exits every second;
    // unbound: no node (a scheduler nobody runs, so up's scheduler leaves it alone).
    std::ofstream(dir_ / "pods.yaml") <<
        R"(apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  nodeName: node-st
  terminationGracePeriodSeconds: 0
  containers:
  - name: web
    image: switchyard.local/busybox:1
    command: [sh, -c, 'echo hello from web; sleep 0.5; echo to stderr >&2; mkdir -p /www; echo page > /www/index.html; exec httpd -f -p 8080 -h /www']
  - name: ticker
    image: switchyard.local/busybox:1
    command: [sh, -c, 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done']
---
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  nodeName: node-st
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: switchyard.local/busybox:1
    command: [sh, -c, 'echo run at $(cat /proc/uptime); sleep 1; exit 1']
---
apiVersion: v1
kind: Pod
metadata: {name: unbound}
spec:
  schedulerName: nobody
  containers: [{name: c, image: switchyard.local/busybox:1}]
)";
    auto applied = run(kubectl(33) + "apply -f " + (dir_ / "pods.yaml").string() + " 2>&1");
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
    ASSERT_TRUE(
        wait_until(60, [] { return run(kubectl(33) + "get pod web --no-headers").output.find("2/2   Running") != std::string::npos; }))
        << run(kubectl(33) + "get pod web -o yaml").output << up_output();
    // The web container writes its stderr line half a second after its stdout line, so that
    // the two cannot swap places in the log (the runtime copies the two pipes separately).
    ASSERT_TRUE(wait_until(10, [] { return run(kubectl(33) + "logs web -c web").output.ends_with("to stderr\n"); }));
  }

  static void TearDownTestSuite() {
    if (up_) {
      run(kubectl(33) + "delete pod web crash unbound --grace-period=0 --force --wait=false >/dev/null 2>&1");
      delete up_;  // SIGTERM, then SIGKILL: up stops its containerd
      up_ = nullptr;
    }
    kubelet::runtime::ContainerdOptions ours;
    ours.data_dir = kubelet::runtime::node_containerd_dir(dir_ / "cluster");
    if (auto r = kubelet::runtime::remove_runtime_leftovers(ours); !r) ADD_FAILURE() << r.error().message;
    if (auto r = kubelet::runtime::unmount_all_under(dir_); !r) ADD_FAILURE() << r.error().message;  // pods' volumes
    delete netns_;
    netns_ = nullptr;
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::string up_output() {
    std::ifstream in(dir_ / "up.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static std::string in_netns() { return "nsenter --net=/run/netns/" + netns_->name() + " "; }
  static std::string kubectl(int minor) {
    return in_netns() + "/usr/lib/google-cloud-sdk/bin/kubectl.1." + std::to_string(minor) + " --kubeconfig " +
           (dir_ / "cluster" / "kubeconfig").string() + " ";
  }

  static inline fs::path dir_;
  static inline testing::NetworkNamespace* netns_ = nullptr;
  static inline ChildProcess* up_ = nullptr;
};

TEST_F(PodStreaming, LogsOfEachContainerWithTailAndTimestamps) {
  for (int v : kKubectlVersions) {
    SCOPED_TRACE("kubectl 1." + std::to_string(v));
    auto logs = run(kubectl(v) + "logs web -c web 2>&1");
    EXPECT_EQ(logs.exit_code, 0);
    EXPECT_EQ(logs.output, "hello from web\nto stderr\n");
    EXPECT_EQ(run(kubectl(v) + "logs web -c web --tail=1 2>&1").output, "to stderr\n");
    EXPECT_THAT(run(kubectl(v) + "logs web -c ticker --tail=1 2>&1").output, ::testing::MatchesRegex("tick [0-9]+\n"));
    // --timestamps: the runtime's RFC 3339 time before each line.
    EXPECT_THAT(run(kubectl(v) + "logs web -c web --timestamps 2>&1").output,
                ::testing::MatchesRegex("20[0-9-]+T[0-9:.]+Z hello from web\n20[0-9-]+T[0-9:.]+Z to stderr\n"));
  }
  // Two containers and none named: the API server's message.
  auto unnamed = run(kubectl(33) + "get --raw /api/v1/namespaces/default/pods/web/log 2>&1");
  EXPECT_NE(unnamed.exit_code, 0);
  EXPECT_THAT(unnamed.output, HasSubstr("a container name must be specified for pod web, choose one of: [web ticker]"));
  auto limited = run(kubectl(33) + "logs web -c web --limit-bytes=5 2>&1");
  EXPECT_EQ(limited.output, "hello");
}

TEST_F(PodStreaming, LogsFollowSeesNewLines) {
  for (int v : {27, 33}) {
    SCOPED_TRACE("kubectl 1." + std::to_string(v));
    auto followed = run("timeout 3 " + kubectl(v) + "logs -f web -c ticker --tail=1 2>&1");
    EXPECT_EQ(followed.exit_code, 124) << "logs -f ended by itself: " << followed.output;
    // Lines written after the command started arrived: several ticks, in order.
    std::vector<int> ticks;
    static const std::regex tick("tick ([0-9]+)");
    for (auto it = std::sregex_iterator(followed.output.begin(), followed.output.end(), tick); it != std::sregex_iterator(); ++it)
      ticks.push_back(std::stoi((*it)[1]));
    ASSERT_GE(ticks.size(), 4u) << followed.output;
    for (std::size_t i = 1; i < ticks.size(); ++i) EXPECT_EQ(ticks[i], ticks[i - 1] + 1) << followed.output;
  }
}

TEST_F(PodStreaming, LogsPreviousAfterARestart) {
  ASSERT_TRUE(wait_until(30, [] {
    return std::atoi(run(kubectl(33) + "get pod crash -o jsonpath={.status.containerStatuses[0].restartCount}").output.c_str()) >= 1;
  })) << run(kubectl(33) + "get pod crash -o yaml").output;
  for (int v : {27, 33}) {
    SCOPED_TRACE("kubectl 1." + std::to_string(v));
    auto previous = run(kubectl(v) + "logs crash --previous 2>&1");
    EXPECT_EQ(previous.exit_code, 0) << previous.output;
    EXPECT_THAT(previous.output, ::testing::MatchesRegex("run at [0-9. ]+\n"));
    // The current container's line is another (a later uptime).
    EXPECT_NE(run(kubectl(v) + "logs crash 2>&1").output, previous.output);
    auto none = run(kubectl(v) + "logs web -c web --previous 2>&1");
    EXPECT_NE(none.exit_code, 0);
    EXPECT_THAT(none.output, HasSubstr("previous terminated container \"web\" in pod \"web\" not found"));
  }
}

TEST_F(PodStreaming, ExecRunsInThePodAndPropagatesExitCodes) {
  for (int v : kKubectlVersions) {
    SCOPED_TRACE("kubectl 1." + std::to_string(v));
    auto hostname = run(kubectl(v) + "exec web -c web -- cat /etc/hostname 2>&1");
    EXPECT_EQ(hostname.exit_code, 0);
    EXPECT_EQ(hostname.output, "web\n");
    auto three = run(kubectl(v) + "exec web -c web -- sh -c 'exit 3' 2>/dev/null");
    EXPECT_EQ(three.exit_code, 3);
    auto input = run("echo from-stdin | " + kubectl(v) + "exec -i web -c ticker -- sh -c 'read x; echo got $x' 2>&1");
    EXPECT_EQ(input.exit_code, 0);
    EXPECT_EQ(input.output, "got from-stdin\n");
    auto missing = run(kubectl(v) + "exec web -c nope -- true 2>&1");
    EXPECT_NE(missing.exit_code, 0);
    EXPECT_THAT(missing.output, HasSubstr("Error from server (BadRequest): container nope is not valid for pod web"));
  }
  // A terminal: the process sees a tty.
  auto tty = run("script -qec \"" + kubectl(33) + "exec -it web -c web -- tty\" /dev/null 2>&1");
  EXPECT_EQ(tty.exit_code, 0) << tty.output;
  EXPECT_THAT(tty.output, HasSubstr("/dev/pts/"));
  auto unbound = run(kubectl(33) + "exec unbound -- true 2>&1");
  EXPECT_THAT(unbound.output, HasSubstr("pod unbound does not have a host assigned"));
}

TEST_F(PodStreaming, PortForwardReachesThePodsServer) {
  for (int v : kKubectlVersions) {
    SCOPED_TRACE("kubectl 1." + std::to_string(v));
    const std::string port = std::to_string(18000 + v);
    auto forward = std::make_unique<ChildProcess>(
        std::vector<std::string>{"nsenter", "--net=/run/netns/" + netns_->name(),
                                 "/usr/lib/google-cloud-sdk/bin/kubectl.1." + std::to_string(v), "--kubeconfig",
                                 (dir_ / "cluster" / "kubeconfig").string(), "port-forward", "pod/web", port + ":8080"},
        (dir_ / ("port-forward-" + port + ".log")).string());
    std::string page;
    EXPECT_TRUE(wait_until(15, [&] {
      page = run(in_netns() + "curl -s -m 3 http://127.0.0.1:" + port + "/index.html").output;
      return page == "page\n";
    })) << page;
    // A second connection through the same session.
    EXPECT_EQ(run(in_netns() + "curl -s -m 3 http://127.0.0.1:" + port + "/index.html").output, "page\n");
  }
}

TEST_F(PodStreaming, AttachSeesTheRunningProcess) {
  for (int v : {27, 33}) {
    SCOPED_TRACE("kubectl 1." + std::to_string(v));
    auto attached = run("timeout 3 " + kubectl(v) + "attach web -c ticker 2>/dev/null");
    EXPECT_EQ(attached.exit_code, 124);
    EXPECT_THAT(attached.output, ::testing::ContainsRegex("tick [0-9]+\ntick [0-9]+\n"));
  }
}

TEST_F(PodStreaming, TheKubeletServesOnlyTheApiServer) {
  EXPECT_EQ(run(kubectl(33) + "get node node-st -o jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}").output, "10250");
  const std::string url = std::string("https://") + kNodeIp + ":10250/containerLogs/default/web/web";
  const fs::path pki = dir_ / "cluster" / "pki";
  // No client certificate, or the admin's bearer token: 401.
  EXPECT_EQ(run(in_netns() + "curl -sk -o /dev/null -w %{http_code} " + url).output, "401");
  EXPECT_EQ(run(in_netns() + "curl -sk -o /dev/null -w %{http_code} -H \"Authorization: Bearer $(cat " +
                (dir_ / "cluster" / "admin.token").string() + ")\" " + url)
                .output,
            "401");
  // The API server's subresources take the same authentication as every request.
  EXPECT_EQ(run(in_netns() + "curl -sk -o /dev/null -w %{http_code} https://127.0.0.1:6443/api/v1/namespaces/default/pods/web/log").output,
            "401");
  // The API server's client certificate, and the kubelet's serving certificate checks out
  // against the cluster CA for the node's address.
  auto ok = run(in_netns() + "curl -s --cacert " + (pki / "ca.crt").string() + " --cert " +
                (pki / "apiserver-kubelet-client.crt").string() + " --key " + (pki / "apiserver-kubelet-client.key").string() + " " + url);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(ok.output, "hello from web\nto stderr\n");
}

}  // namespace
}  // namespace switchyard
