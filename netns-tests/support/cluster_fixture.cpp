#include "netns-tests/support/cluster_fixture.h"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <stdexcept>
#include <regex>

#include "kubelet/runtime/containerd_config.h"
#include "kubelet/runtime/runtime_cleanup.h"

namespace switchyard::testing {

namespace fs = std::filesystem;

namespace {
constexpr const char* kKubectl = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";
}

ClusterFixture::ClusterFixture(const std::string& purpose, int nodes, int subnet)
    : dir_(fs::path("/tmp") / ("sy-" + purpose + "-" + std::to_string(::getpid()))), prefix_("10." + std::to_string(subnet) + ".0.") {
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  try {
    make_network(purpose, nodes);
  } catch (...) {
    // No destructor runs after a throwing constructor: the members go (namespaces first), the
    // directory here.
    namespaces_.clear();
    switch_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw;
  }
  joins_.resize(nodes + 1);
  starts_.assign(nodes + 1, 0);
}

void ClusterFixture::make_network(const std::string& purpose, int nodes) {
  switch_ = std::make_unique<NetworkNamespace>(purpose + "sw");
  auto bridge = run("ip -n " + switch_->name() + " link add br0 type bridge && ip -n " + switch_->name() + " link set br0 up");
  if (bridge.exit_code != 0) throw std::runtime_error("bridge: " + bridge.output);
  for (int i = 0; i <= nodes; ++i) {
    namespaces_.push_back(std::make_unique<NetworkNamespace>(purpose + std::to_string(i)));
    const std::string& ns = namespaces_.back()->name();
    // The switch's end has the pid in its name (unique among concurrent runs); the member's end
    // is eth0 inside its own namespace.
    const std::string port = port_name(i);
    auto link = run("ip link add " + port + " netns " + switch_->name() + " type veth peer name eth0 netns " + ns + " && ip -n " +
                    switch_->name() + " link set " + port + " master br0 up && ip -n " + ns + " addr add " + ip(i) +
                    "/24 dev eth0 && ip -n " + ns + " link set eth0 up && ip -n " + ns + " route add default dev eth0");
    if (link.exit_code != 0) throw std::runtime_error("link for " + ns + ": " + link.output);
  }
}

std::string ClusterFixture::port_name(int i) const { return "syc" + std::to_string(::getpid() % 100000) + "p" + std::to_string(i); }

ClusterFixture::~ClusterFixture() {
  if (up_) kubectl("delete pod --all -A --grace-period=0 --force --wait=false");
  for (auto& j : joins_) j.reset();  // SIGTERM: the node's containerd stops
  up_.reset();
  // What a killed node left: its containerd and shims (in its namespace), then the containers.
  for (std::size_t i = 1; i < namespaces_.size(); ++i) run("ip netns pids " + namespaces_[i]->name() + " | xargs -r kill -9");
  for (int i = 0; i <= nodes(); ++i) {
    kubelet::runtime::ContainerdOptions ours;
    ours.data_dir = kubelet::runtime::node_containerd_dir(dir_ / node_name(i));
    if (auto r = kubelet::runtime::remove_runtime_leftovers(ours); !r) std::cerr << "cleanup: " << r.error().message << "\n";
  }
  run("grep -o ' " + dir_.string() + "/[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null");
  namespaces_.clear();
  switch_.reset();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string ClusterFixture::start_up(const std::vector<std::string>& extra_flags) {
  std::vector<std::string> argv{"nsenter",
                                "--net=/run/netns/" + namespaces_[0]->name(),
                                SWITCHYARD_BINARY,
                                "up",
                                "--data-dir",
                                (dir_ / node_name(0)).string(),
                                "--node-name",
                                node_name(0),
                                "--node-ip",
                                ip(0),
                                "--healthz-bind-address",
                                "127.0.0.1:10256",
                                "--images-dir",
                                SWITCHYARD_TEST_IMAGES_DIR};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  up_ = std::make_unique<ChildProcess>(argv, (dir_ / "up.log").string());
  if (!wait_until(120, [&] { return log("up.log").find("switchyard join --server") != std::string::npos; }))
    return "up printed no join command:\n" + log("up.log");
  std::smatch m;
  const std::string out = log("up.log");
  if (!std::regex_search(out, m, std::regex("switchyard join --server (\\S+) --token (\\S+) --ca-cert-hash (\\S+)")))
    return "no join command in:\n" + out;
  server_ = m[1];
  token_ = m[2];
  ca_hash_ = m[3];
  if (!wait_until(30, [&] { return kubectl("get sa default -o name").output == "serviceaccount/default\n"; }))
    return "no default ServiceAccount: " + kubectl("get sa").output;
  return "";
}

std::string ClusterFixture::join(int i, double timeout_seconds) {
  const std::string log_name = "join-" + node_name(i) + "-" + std::to_string(++starts_[i]) + ".log";
  joins_[i] = std::make_unique<ChildProcess>(std::vector<std::string>{"nsenter",
                                                                      "--net=/run/netns/" + namespaces_[i]->name(),
                                                                      SWITCHYARD_BINARY,
                                                                      "join",
                                                                      "--server",
                                                                      server_,
                                                                      "--token",
                                                                      token_,
                                                                      "--ca-cert-hash",
                                                                      ca_hash_,
                                                                      "--data-dir",
                                                                      (dir_ / node_name(i)).string(),
                                                                      "--node-name",
                                                                      node_name(i),
                                                                      "--node-ip",
                                                                      ip(i),
                                                                      "--healthz-bind-address",
                                                                      "127.0.0.1:10256",
                                                                      "--images-dir",
                                                                      SWITCHYARD_TEST_IMAGES_DIR},
                                             (dir_ / log_name).string());
  if (!wait_until(timeout_seconds,
                  [&] { return log(log_name).find("joined the cluster") != std::string::npos || !joins_[i]->running(); }) ||
      log(log_name).find("joined the cluster") == std::string::npos)
    return node_name(i) + " did not join:\n" + log(log_name);
  return "";
}

bool ClusterFixture::wait_ready(int i, const std::string& status, double seconds) {
  return wait_until(seconds, [&] {
    return kubectl("get node " + node_name(i) + " -o 'jsonpath={.status.conditions[?(@.type==\"Ready\")].status}'").output == status;
  });
}

void ClusterFixture::kill_node(int i) {
  run("ip netns pids " + namespaces_[i]->name() + " | xargs -r kill -9");
  if (joins_[i]) joins_[i]->wait_exit(10);
}

CommandResult ClusterFixture::set_link(int i, bool up) { return switch_->exec("ip link set " + port_name(i) + (up ? " up" : " down")); }

CommandResult ClusterFixture::kubectl(const std::string& args) const {
  return exec(0, std::string(kKubectl) + " --kubeconfig " + (dir_ / node_name(0) / "kubeconfig").string() + " " + args);
}

CommandResult ClusterFixture::apply(const std::string& name, const std::string& yaml) const {
  std::ofstream(dir_ / name) << yaml;
  return kubectl("apply -f " + (dir_ / name).string());
}

CommandResult ClusterFixture::exec(int i, const std::string& command) const {
  // nsenter, not `ip netns exec`: the host's /sys and /etc stay as they are.
  return run(exec_prefix(i) + " " + command);
}

std::string ClusterFixture::exec_prefix(int i) const { return "nsenter --net=/run/netns/" + namespaces_[i]->name(); }

std::string ClusterFixture::log(const std::string& name) const {
  std::ifstream in(dir_ / name);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string ClusterFixture::logs_tail(std::size_t bytes_each) const {
  std::string out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (e.path().extension() != ".log") continue;
    const std::string text = log(e.path().filename().string());
    out +=
        "--- " + e.path().filename().string() + " (tail)\n" + text.substr(text.size() > bytes_each ? text.size() - bytes_each : 0) + "\n";
  }
  return out;
}

}  // namespace switchyard::testing
