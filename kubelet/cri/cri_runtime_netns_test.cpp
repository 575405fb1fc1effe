// CriClient and ContainerdSupervisor against a real containerd (+ runc, CNI bridge/host-local),
// run by us inside a network namespace this test creates, with its data dir under /tmp. A pod
// goes through its whole life over CRI: sandbox with an IP from the pod CIDR, a busybox httpd
// that answers HTTP from the node namespace, exec, the CRI log file, stop and removal. Needs
// root. Everything is removed at the end (and on SIGINT/SIGTERM), and the last test checks
// that no mount or process is left behind.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "kubelet/cri/cri_client.h"
#include "kubelet/runtime/command.h"
#include "kubelet/runtime/containerd_supervisor.h"
#include "kubelet/runtime/image_import.h"
#include "kubelet/runtime/runtime_cleanup.h"

namespace switchyard::kubelet {
namespace {

namespace fs = std::filesystem;
using cri::ContainerState;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kBusybox = "switchyard.local/busybox:1";
const std::string kPause = "switchyard.local/pause:1";

std::string unique(const std::string& what) { return "sy-cri-" + what + "-" + std::to_string(::getpid()); }

runtime::CommandOutput sh(const std::string& command) {
  auto r = runtime::run_command({"/bin/sh", "-c", command}, std::chrono::seconds(30));
  return r ? *r : runtime::CommandOutput{-1, r.error().message};
}

bool wait_until(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The suite's node: one namespace, one containerd, shared by the tests in order.
struct Node {
  std::string netns = unique("node");
  fs::path data_dir = fs::path("/tmp") / unique("containerd");
  std::string pod_cidr = "10.77.0.0/24";
  runtime::ContainerdOptions options;
  std::unique_ptr<runtime::ContainerdSupervisor> containerd;
  std::unique_ptr<cri::CriClient> client;
  std::vector<runtime::ImportedImage> imported;
  fs::path cleanup_script = fs::path("/tmp") / (unique("cleanup") + ".sh");
};
Node* node = nullptr;

// On SIGINT/SIGTERM the process is ending: replace it with a shell that removes what we made
// (execv is async-signal-safe; the script was written at set-up).
char cleanup_script_path[256];
void cleanup_on_signal(int) {
  char* argv[] = {const_cast<char*>("/bin/sh"), cleanup_script_path, nullptr};
  ::execv("/bin/sh", argv);
  ::_exit(1);
}

void write_cleanup_script(const Node& n) {
  std::string socket = (n.data_dir / "containerd.sock").string();
  std::string runc_root = (n.data_dir / "runc" / "k8s.io").string();
  // The same order as remove_runtime_leftovers: containerd, containers through runc (which
  // also removes their cgroups), shims, mounts; then the namespace and the directory.
  std::ofstream(n.cleanup_script) << "#!/bin/sh\n"
                                  << "pkill -KILL -f -- '--config " << (n.data_dir / "config.toml").string() << "'\n"
                                  << "for id in $(ls " << runc_root << " 2>/dev/null); do /usr/sbin/runc --root " << runc_root
                                  << " delete --force $id; rm -f /var/lib/cni/results/*-$id-*; done\n"
                                  << "for p in $(pgrep -f -- '-address " << socket << "'); do pkill -KILL -P $p; kill -KILL $p; done\n"
                                  << "grep -o ' " << n.data_dir.string() << "[^ ]*' /proc/self/mountinfo | sort -r | "
                                  << "while read m; do umount -l \"$m\"; done\n"
                                  << "ip netns del " << n.netns << " 2>/dev/null\n"
                                  << "rm -rf " << n.data_dir.string() << " " << n.cleanup_script.string() << "\n"
                                  << "exit 1\n";
  std::snprintf(cleanup_script_path, sizeof cleanup_script_path, "%s", n.cleanup_script.c_str());
  struct sigaction action {};
  action.sa_handler = cleanup_on_signal;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

void tear_down_node() {
  if (!node) return;
  node->client.reset();
  if (node->containerd) node->containerd->stop(std::chrono::seconds(10));
  if (auto r = runtime::remove_runtime_leftovers(node->options); !r) ADD_FAILURE() << "runtime cleanup: " << r.error().message;
  sh("ip netns del " + node->netns + " 2>/dev/null");
  std::error_code ec;
  fs::remove_all(node->data_dir, ec);
  fs::remove(node->cleanup_script, ec);
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  delete node;
  node = nullptr;
}

class CriRuntime : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    node = new Node();
    write_cleanup_script(*node);
    auto made = sh("ip netns add " + node->netns + " && ip -n " + node->netns + " link set lo up");
    ASSERT_EQ(made.exit_code, 0) << made.output;
    node->options.data_dir = node->data_dir;
    node->options.pod_cidr = node->pod_cidr;
    node->options.sandbox_image = kPause;
    node->options.bridge_name = "sy-cri0";
    node->options.netns_path = "/run/netns/" + node->netns;
    auto started = runtime::ContainerdSupervisor::start(node->options);
    ASSERT_TRUE(started.has_value()) << started.error().message;
    node->containerd = std::move(*started);
    auto client = cri::CriClient::connect("unix://" + node->containerd->endpoint());
    ASSERT_TRUE(client.has_value()) << client.error().message;
    node->client = std::move(*client);
    auto imported = runtime::import_images(node->containerd->endpoint(), {fs::path(SWITCHYARD_TEST_IMAGES_DIR) / "busybox.tar",
                                                                          fs::path(SWITCHYARD_TEST_IMAGES_DIR) / "pause.tar"});
    ASSERT_TRUE(imported.has_value()) << imported.error().message;
    node->imported = *imported;
  }
  static void TearDownTestSuite() { tear_down_node(); }

  void SetUp() override { ASSERT_TRUE(node && node->client) << "the suite's containerd did not start"; }

  cri::CriClient& client() { return *node->client; }

  cri::PodSandboxConfig sandbox_config(const std::string& name) {
    cri::PodSandboxConfig config;
    config.metadata = {.name = name, .uid = unique(name) + "-uid", .namespace_ = "default", .attempt = 0};
    config.hostname = name;
    config.log_directory = (node->data_dir / "pods" / config.metadata.uid).string();
    config.labels = {{"switchyard.io/test", unique("suite")}};
    return config;
  }
};

TEST_F(CriRuntime, ContainerdAnswersVersionAndIsReady) {
  auto version = client().version();
  ASSERT_TRUE(version.has_value()) << version.error().message;
  EXPECT_EQ(version->runtime_name, "containerd");
  EXPECT_EQ(version->runtime_api_version, "v1");
  auto status = client().status();
  ASSERT_TRUE(status.has_value()) << status.error().message;
  EXPECT_TRUE(status->condition("RuntimeReady"));
  EXPECT_TRUE(status->condition("NetworkReady")) << "the CNI conflist under the data dir was not picked up";
}

TEST_F(CriRuntime, ImportedImagesAreVisibleOverCri) {
  ASSERT_EQ(node->imported.size(), 2u);
  EXPECT_EQ(node->imported[0].name, kBusybox);
  EXPECT_EQ(node->imported[1].name, kPause);
  auto busybox = client().image_status(kBusybox);
  ASSERT_TRUE(busybox.has_value()) << busybox.error().message;
  ASSERT_TRUE(busybox->has_value());
  EXPECT_THAT((*busybox)->repo_tags, ::testing::Contains(kBusybox));
  EXPECT_EQ((*busybox)->id, node->imported[0].id);
  auto images = client().list_images();
  ASSERT_TRUE(images.has_value()) << images.error().message;
  EXPECT_GE(images->size(), 2u);
}

TEST_F(CriRuntime, AMissingImageIsAbsentAndCreatingFromItFailsWithNotFound) {
  const std::string missing = "switchyard.local/does-not-exist:1";
  auto status = client().image_status(missing);
  ASSERT_TRUE(status.has_value()) << status.error().message;
  EXPECT_FALSE(status->has_value());

  auto config = sandbox_config("missing-image");
  auto sandbox = client().run_pod_sandbox(config);
  ASSERT_TRUE(sandbox.has_value()) << sandbox.error().message;
  cri::ContainerConfig container;
  container.metadata.name = "app";
  container.image = missing;
  auto created = client().create_container(*sandbox, container, config);
  ASSERT_FALSE(created.has_value());
  EXPECT_EQ(created.error().code, ErrorCode::NotFound) << created.error().message;
  EXPECT_THAT(created.error().message, HasSubstr("CreateContainer app"));
  EXPECT_THAT(created.error().message, HasSubstr(missing));
  EXPECT_TRUE(client().stop_pod_sandbox(*sandbox).has_value());
  EXPECT_TRUE(client().remove_pod_sandbox(*sandbox).has_value());
  auto gone = client().pod_sandbox_status(*sandbox);
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().code, ErrorCode::NotFound) << gone.error().message;
}

TEST_F(CriRuntime, APodRunsServesHttpExecsLogsAndIsRemoved) {
  auto config = sandbox_config("web");
  auto sandbox = client().run_pod_sandbox(config);
  ASSERT_TRUE(sandbox.has_value()) << sandbox.error().message;

  auto sandbox_status = client().pod_sandbox_status(*sandbox);
  ASSERT_TRUE(sandbox_status.has_value()) << sandbox_status.error().message;
  EXPECT_EQ(sandbox_status->state, cri::SandboxState::Ready);
  EXPECT_EQ(sandbox_status->metadata.name, "web");
  const std::string ip = sandbox_status->ip;
  EXPECT_THAT(ip, ::testing::StartsWith("10.77.0.")) << "pod IP outside the pod CIDR " << node->pod_cidr;
  EXPECT_NE(ip, "10.77.0.1");  // the bridge's gateway address

  cri::ContainerConfig container;
  container.metadata.name = "httpd";
  container.image = kBusybox;
  container.command = {"/bin/sh", "-c", "echo serving on 80; exec httpd -f -p 80 -h /www"};
  container.log_path = "httpd/0.log";
  container.labels = {{"switchyard.io/container", "httpd"}};
  auto id = client().create_container(*sandbox, container, config);
  ASSERT_TRUE(id.has_value()) << id.error().message;
  auto started = client().start_container(*id);
  ASSERT_TRUE(started.has_value()) << started.error().message;

  auto status = client().container_status(*id);
  ASSERT_TRUE(status.has_value()) << status.error().message;
  EXPECT_EQ(status->state, ContainerState::Running);
  EXPECT_EQ(status->metadata.name, "httpd");
  EXPECT_EQ(status->log_path, config.log_directory + "/httpd/0.log");

  auto listed = client().list_containers({.id = "", .state = ContainerState::Running, .pod_sandbox_id = *sandbox, .label_selector = {}});
  ASSERT_TRUE(listed.has_value()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, *id);
  EXPECT_EQ((*listed)[0].labels.at("switchyard.io/container"), "httpd");

  // From the node's namespace to the pod, across the CNI bridge.
  runtime::CommandOutput page;
  EXPECT_TRUE(wait_until(std::chrono::seconds(10), [&] {
    page = sh("nsenter --net=/run/netns/" + node->netns + " curl -s -m 2 http://" + ip + "/index.html");
    return page.exit_code == 0;
  })) << page.output;
  EXPECT_EQ(page.output, "hello from switchyard busybox\n");

  auto hostname = client().exec_sync(*id, {"cat", "/etc/hostname"}, std::chrono::seconds(10));
  ASSERT_TRUE(hostname.has_value()) << hostname.error().message;
  EXPECT_EQ(hostname->exit_code, 0);
  EXPECT_EQ(hostname->stdout_, "web\n");
  auto failing = client().exec_sync(*id, {"sh", "-c", "echo oops >&2; exit 3"}, std::chrono::seconds(10));
  ASSERT_TRUE(failing.has_value()) << failing.error().message;
  EXPECT_EQ(failing->exit_code, 3);
  EXPECT_EQ(failing->stderr_, "oops\n");

  // The CRI log format: "<RFC 3339 time> <stream> <F|P> <line>".
  std::string log;
  EXPECT_TRUE(wait_until(std::chrono::seconds(5), [&] {
    log = read_file(status->log_path);
    return log.find("serving on 80") != std::string::npos;
  })) << log;
  EXPECT_TRUE(std::regex_search(log, std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) stdout F serving on 80\n)")))
      << log;

  auto url = client().exec({.container_id = *id, .cmd = {"sh"}, .tty = false, .stdin = true, .stdout_ = true, .stderr_ = true});
  ASSERT_TRUE(url.has_value()) << url.error().message;
  EXPECT_THAT(*url, ::testing::StartsWith("http://127.0.0.1:"));

  ASSERT_TRUE(client().stop_container(*id, std::chrono::seconds(2)).has_value());
  status = client().container_status(*id);
  ASSERT_TRUE(status.has_value()) << status.error().message;
  EXPECT_EQ(status->state, ContainerState::Exited);
  ASSERT_TRUE(client().remove_container(*id).has_value());
  auto removed = client().container_status(*id);
  ASSERT_FALSE(removed.has_value());
  EXPECT_EQ(removed.error().code, ErrorCode::NotFound);

  ASSERT_TRUE(client().stop_pod_sandbox(*sandbox).has_value());
  sandbox_status = client().pod_sandbox_status(*sandbox);
  ASSERT_TRUE(sandbox_status.has_value()) << sandbox_status.error().message;
  EXPECT_EQ(sandbox_status->state, cri::SandboxState::NotReady);
  ASSERT_TRUE(client().remove_pod_sandbox(*sandbox).has_value());
  auto sandboxes = client().list_pod_sandbox();
  ASSERT_TRUE(sandboxes.has_value()) << sandboxes.error().message;
  EXPECT_THAT(*sandboxes, IsEmpty());
}

TEST_F(CriRuntime, ContainerdIsRestartedWhenItDiesAndKeepsItsPods) {
  auto config = sandbox_config("survivor");
  auto sandbox = client().run_pod_sandbox(config);
  ASSERT_TRUE(sandbox.has_value()) << sandbox.error().message;

  pid_t before = node->containerd->pid();
  ASSERT_GT(before, 0);
  ASSERT_EQ(::kill(before, SIGKILL), 0);
  EXPECT_TRUE(wait_until(std::chrono::seconds(10), [&] { return node->containerd->restarts() == 1; }));
  auto ready = node->containerd->wait_ready(std::chrono::seconds(30));
  ASSERT_TRUE(ready.has_value()) << ready.error().message;
  EXPECT_NE(node->containerd->pid(), before);

  auto status = client().pod_sandbox_status(*sandbox);
  ASSERT_TRUE(status.has_value()) << status.error().message;
  EXPECT_EQ(status->state, cri::SandboxState::Ready) << "the restarted containerd lost the running sandbox";
  EXPECT_TRUE(client().stop_pod_sandbox(*sandbox).has_value());
  EXPECT_TRUE(client().remove_pod_sandbox(*sandbox).has_value());
}

TEST_F(CriRuntime, AnUnreachableRuntimeIsUnavailable) {
  auto client = cri::CriClient::connect("/tmp/" + unique("nothing") + ".sock", {.timeout = std::chrono::milliseconds(500)});
  ASSERT_TRUE(client.has_value());
  auto version = (*client)->version();
  ASSERT_FALSE(version.has_value());
  EXPECT_EQ(version.error().code, ErrorCode::Unavailable) << version.error().message;
  EXPECT_THAT(version.error().message, HasSubstr("CRI Version"));
}

// Runs last: a clean stop leaves nothing mounted and no shim behind.
TEST_F(CriRuntime, StoppingLeavesNoMountsAndNoShims) {
  auto sandboxes = client().list_pod_sandbox();
  ASSERT_TRUE(sandboxes.has_value()) << sandboxes.error().message;
  EXPECT_THAT(*sandboxes, IsEmpty());
  std::string data_dir = node->data_dir.string();
  std::string socket = node->containerd->endpoint();
  node->containerd->stop();
  EXPECT_EQ(node->containerd->pid(), -1);
  EXPECT_THAT(runtime::mounts_under(data_dir), IsEmpty());
  EXPECT_EQ(sh("pgrep -f -- '[-]address " + socket + "'").output, "");  // [-]: not this shell itself
  tear_down_node();
  EXPECT_EQ(sh("mount | grep -F '" + data_dir + "'").output, "");
  EXPECT_FALSE(fs::exists(data_dir));
}

// What `switchyard up` relies on after a crash: with containerd gone and a pod still running,
// remove_runtime_leftovers kills the pod's processes and shim and unmounts everything.
TEST(RuntimeLeftovers, APodOfAStoppedContainerdIsKilledAndUnmounted) {
  runtime::ContainerdOptions options;
  options.data_dir = fs::path("/tmp") / unique("leftovers");
  options.pod_cidr = "10.78.0.0/24";
  options.sandbox_image = kPause;
  std::string netns = unique("leftovers");
  options.netns_path = "/run/netns/" + netns;
  struct Guard {  // runs even when an assertion below returns early
    runtime::ContainerdOptions& options;
    std::string netns;
    ~Guard() {
      if (auto r = runtime::remove_runtime_leftovers(options); !r) ADD_FAILURE() << r.error().message;
      sh("ip netns del " + netns + " 2>/dev/null");
      std::error_code ec;
      fs::remove_all(options.data_dir, ec);
    }
  } guard{options, netns};
  ASSERT_EQ(sh("ip netns add " + netns).exit_code, 0);
  auto containerd = runtime::ContainerdSupervisor::start(options);
  ASSERT_TRUE(containerd.has_value()) << containerd.error().message;
  auto imported = runtime::import_images((*containerd)->endpoint(), {fs::path(SWITCHYARD_TEST_IMAGES_DIR) / "busybox.tar",
                                                                     fs::path(SWITCHYARD_TEST_IMAGES_DIR) / "pause.tar"});
  ASSERT_TRUE(imported.has_value()) << imported.error().message;
  auto client = cri::CriClient::connect((*containerd)->endpoint());
  ASSERT_TRUE(client.has_value());
  cri::PodSandboxConfig config;
  config.metadata = {.name = "orphan", .uid = unique("orphan"), .namespace_ = "default", .attempt = 0};
  config.hostname = "orphan";
  auto sandbox = (*client)->run_pod_sandbox(config);
  ASSERT_TRUE(sandbox.has_value()) << sandbox.error().message;
  cri::ContainerConfig container;
  container.metadata.name = "sleeper";
  container.image = kBusybox;
  const std::string sleep_seconds = std::to_string(100000 + ::getpid());  // names this test's process
  container.command = {"sleep", sleep_seconds};
  auto id = (*client)->create_container(*sandbox, container, config);
  ASSERT_TRUE(id.has_value()) << id.error().message;
  ASSERT_TRUE((*client)->start_container(*id).has_value());

  (*containerd)->stop();
  std::string socket_pattern = "'[-]address " + (*containerd)->endpoint() + "'";
  EXPECT_NE(sh("pgrep -f -- " + socket_pattern).output, "") << "the shim should outlive containerd";
  EXPECT_FALSE(runtime::mounts_under(options.data_dir).empty());
  EXPECT_EQ(sh("pgrep -x sleep -a | grep -c ' " + sleep_seconds + "$'").output, "1\n");

  auto cleaned = runtime::remove_runtime_leftovers(options);
  EXPECT_TRUE(cleaned.has_value()) << cleaned.error().message;
  EXPECT_EQ(sh("pgrep -f -- " + socket_pattern).output, "");
  EXPECT_THAT(runtime::mounts_under(options.data_dir), IsEmpty());
  EXPECT_EQ(sh("pgrep -x sleep -a | grep -c ' " + sleep_seconds + "$'").output, "0\n");
  EXPECT_EQ(sh("ls -d /sys/fs/cgroup/memory/k8s.io/" + *id + " 2>/dev/null").output, "") << "runc delete left the cgroup";
  EXPECT_EQ(sh("ls /var/lib/cni/results 2>/dev/null | grep -c " + *sandbox).output, "0\n") << "libcni's cached result stayed";
}

}  // namespace
}  // namespace switchyard::kubelet
