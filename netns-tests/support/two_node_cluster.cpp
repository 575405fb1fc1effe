#include "netns-tests/support/two_node_cluster.h"

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <regex>

#include "kubelet/runtime/containerd_config.h"
#include "kubelet/runtime/runtime_cleanup.h"

namespace switchyard::testing {

namespace fs = std::filesystem;

namespace {
constexpr const char* kKubectl = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";
}

TwoNodeCluster::TwoNodeCluster(TwoNodeClusterOptions options)
    : options_(std::move(options)), dir_(fs::path("/tmp") / ("sy-" + options_.purpose + "-" + std::to_string(::getpid()))) {}

std::string TwoNodeCluster::start() {
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  control_ = std::make_unique<NetworkNamespace>(options_.purpose + "cp");
  node_ = std::make_unique<NetworkNamespace>(options_.purpose + "node");
  const std::string id = std::to_string(::getpid() % 100000);
  const std::string a = "syj" + id + "a", b = "syj" + id + "b";
  const std::string cp = control_->name(), nn = node_->name();
  auto link =
      run("ip link add " + a + " netns " + cp + " type veth peer name " + b + " netns " + nn + " && ip -n " + cp + " addr add " +
          options_.control_ip + "/24 dev " + a + " && ip -n " + nn + " addr add " + options_.node_ip + "/24 dev " + b + " && ip -n " + cp +
          " link set " + a + " up && ip -n " + nn + " link set " + b + " up && ip -n " + cp + " link set lo up && ip -n " + nn +
          " link set lo up && ip -n " + cp + " route add default dev " + a + " && ip -n " + nn + " route add default dev " + b + " 2>&1");
  if (link.exit_code != 0) return "linking the namespaces: " + link.output;
  std::vector<std::string> argv = {"nsenter",
                                   "--net=/run/netns/" + cp,
                                   options_.binary,
                                   "up",
                                   "--data-dir",
                                   (dir_ / "cluster").string(),
                                   "--node-name",
                                   "node-a",
                                   "--node-ip",
                                   options_.control_ip,
                                   "--healthz-bind-address",
                                   "127.0.0.1:10256",
                                   "--images-dir",
                                   options_.images_dir};
  argv.insert(argv.end(), options_.up_flags.begin(), options_.up_flags.end());
  up_ = std::make_unique<ChildProcess>(argv, (dir_ / "up.log").string());
  if (!wait_until(120, [this] { return log("up.log").find("switchyard join --server") != std::string::npos; }))
    return "up printed no join command:\n" + log("up.log");
  std::smatch m;
  const std::string out = log("up.log");
  if (!std::regex_search(out, m, std::regex("switchyard join --server (\\S+) --token (\\S+) --ca-cert-hash (\\S+)")))
    return "no join command in:\n" + out;
  server_ = m[1];
  token_ = m[2];
  ca_hash_ = m[3];
  if (!wait_until(30, [this] { return kubectl("get sa default -o name").output == "serviceaccount/default\n"; }))
    return "no default ServiceAccount: " + kubectl("get sa").output;
  return "";
}

std::unique_ptr<ChildProcess> TwoNodeCluster::join(const std::string& name, const std::string& log_name,
                                                   const std::vector<std::string>& extra_flags, const std::string& token,
                                                   const std::string& servers) const {
  std::vector<std::string> argv = {"nsenter",
                                   "--net=/run/netns/" + node_->name(),
                                   options_.binary,
                                   "join",
                                   "--server",
                                   servers.empty() ? server_ : servers,
                                   "--token",
                                   token.empty() ? token_ : token,
                                   "--ca-cert-hash",
                                   ca_hash_,
                                   "--data-dir",
                                   (dir_ / "node").string(),
                                   "--node-name",
                                   name,
                                   "--node-ip",
                                   options_.node_ip,
                                   "--healthz-bind-address",
                                   "127.0.0.1:10256",
                                   "--images-dir",
                                   options_.images_dir};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  return std::make_unique<ChildProcess>(argv, (dir_ / log_name).string());
}

std::string TwoNodeCluster::join_and_wait(const std::string& name, const std::vector<std::string>& extra_flags) {
  joined_ = join(name, "join.log", extra_flags);
  if (!wait_until(120, [this] { return log("join.log").find("joined the cluster") != std::string::npos; }))
    return "join did not finish:\n" + log("join.log");
  if (!wait_until(60, [&] {
        return kubectl("get node " + name + " -o 'jsonpath={.status.conditions[?(@.type==\"Ready\")].status}'").output == "True";
      }))
    return "node " + name + " not Ready:\n" + kubectl("get nodes -o wide").output + log("join.log");
  return "";
}

TwoNodeCluster::~TwoNodeCluster() {
  if (up_) kubectl("delete pod --all --grace-period=0 --force --wait=false");
  joined_.reset();  // SIGTERM: the node's containerd stops
  up_.reset();
  for (const char* data : {"cluster", "node"}) {
    kubelet::runtime::ContainerdOptions ours;
    ours.data_dir = kubelet::runtime::node_containerd_dir(dir_ / data);
    if (auto r = kubelet::runtime::remove_runtime_leftovers(ours); !r) std::cerr << "leftovers: " << r.error().message << "\n";
  }
  run("grep -o ' " + dir_.string() + "/[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null");
  node_.reset();
  control_.reset();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

CommandResult TwoNodeCluster::kubectl(const std::string& args) const {
  return run("nsenter --net=/run/netns/" + control_->name() + " " + kKubectl + " --kubeconfig " +
             (dir_ / "cluster" / "kubeconfig").string() + " " + args + " 2>&1");
}

CommandResult TwoNodeCluster::node_kubectl(const std::string& args) const {
  return run("nsenter --net=/run/netns/" + node_->name() + " " + kKubectl + " --kubeconfig " +
             (dir_ / "node" / "kubelet.kubeconfig").string() + " " + args + " 2>&1");
}

std::string TwoNodeCluster::apply(const std::string& file_name, const std::string& yaml) const {
  std::ofstream(dir_ / file_name) << yaml;
  return kubectl("apply -f " + (dir_ / file_name).string()).output;
}

std::string TwoNodeCluster::log(const std::string& name) const {
  std::ifstream in(dir_ / name);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

CommandResult TwoNodeCluster::in_control(const std::string& command) const {
  return run("nsenter --net=/run/netns/" + control_->name() + " " + command + " 2>&1");
}

CommandResult TwoNodeCluster::in_node(const std::string& command) const {
  return run("nsenter --net=/run/netns/" + node_->name() + " " + command + " 2>&1");
}

}  // namespace switchyard::testing
