// From a ConfigMap update to the new content in the files of every pod that mounts it:
// `switchyard up` (API server, kubelet on its own containerd) in a network namespace of its own,
// N pods (default 100) of one Deployment mounting ConfigMap `cfg` as a volume. Each round patches
// the ConfigMap and polls, every millisecond, each pod's volume directory on the node (the
// directory the container has bind-mounted, where the kubelet swaps `..data`) until the file
// holds the new value. Reported: p50/p99/max over every pod and round, from the PATCH's answer.
//
//   ./build/bench/configmap_update_bench [--pods 100] [--rounds 5]
//
// Root. The namespace and the data directory under /tmp are removed at the end (KEEP=1 keeps
// them). For scale: the kubelet upstream applies a change at its next pod sync (every 60-90 s, its
// ConfigMap cache TTL included), which the Kubernetes docs give as the delay to expect.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "kubelet/runtime/containerd_config.h"
#include "kubelet/runtime/runtime_cleanup.h"
#include "netns-tests/support/process.h"

namespace {

namespace fs = std::filesystem;
using namespace switchyard;
using Clock = std::chrono::steady_clock;

const char* const kNodeIp = "10.83.0.2";

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5))];
}

// Every pod's configMap volume `cfg` on the node: <kubelet root>/pods/<uid>/volumes/kubernetes.io~configmap/cfg.
std::vector<fs::path> volume_dirs(const fs::path& root) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const fs::path& p = it->path();
    if (p.filename() == "cfg" && p.parent_path().filename() == "kubernetes.io~configmap" && it->is_directory(ec)) {
      out.push_back(p);
      it.disable_recursion_pending();
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int pods = 100, rounds = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--pods" && i + 1 < argc)
      pods = std::clamp(std::atoi(argv[++i]), 1, 105);  // a node runs 110 pods at most
    else if (a == "--rounds" && i + 1 < argc)
      rounds = std::max(1, std::atoi(argv[++i]));
    else {
      std::cerr << "usage: configmap_update_bench [--pods N] [--rounds N]\n";
      return 2;
    }
  }
  testing::NetworkNamespace netns("cmupdate");
  const std::string ns = netns.name();
  const fs::path dir = fs::path("/tmp") / fmt::format("sy-cmupdate-{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto link =
      testing::run(fmt::format("ip -n {0} link add sy-cm-a type veth peer name sy-cm-b && ip -n {0} addr add {1}/24 dev sy-cm-a && "
                               "ip -n {0} link set sy-cm-a up && ip -n {0} link set sy-cm-b up && ip -n {0} link set lo up && "
                               "ip -n {0} route add default via 10.83.0.1 dev sy-cm-a 2>&1",
                               ns, kNodeIp));
  if (link.exit_code != 0) {
    std::cerr << link.output;
    return 1;
  }
  int status = 0;
  {
    testing::ChildProcess up(
        {"nsenter", "--net=/run/netns/" + ns, SWITCHYARD_BINARY, "up", "--data-dir", (dir / "cluster").string(), "--node-name", "node-cm",
         "--node-ip", kNodeIp, "--healthz-bind-address", "127.0.0.1:10256", "--images-dir", SWITCHYARD_TEST_IMAGES_DIR},
        (dir / "up.log").string());
    const auto kubectl = [&](const std::string& args) {
      return testing::run(fmt::format("nsenter --net=/run/netns/{} /usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig {} {} 2>&1", ns,
                                      (dir / "cluster" / "kubeconfig").string(), args));
    };
    std::ofstream(dir / "cm.yaml") << fmt::format(R"(apiVersion: v1
kind: ConfigMap
metadata: {{name: cfg}}
data: {{value: "0"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: readers}}
spec:
  replicas: {}
  selector: {{matchLabels: {{app: readers}}}}
  template:
    metadata: {{labels: {{app: readers}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: reader
        image: switchyard.local/busybox:1
        imagePullPolicy: Never
        command: [sleep, '3600']
        volumeMounts: [{{name: cfg, mountPath: /cfg}}]
      volumes: [{{name: cfg, configMap: {{name: cfg}}}}]
)",
                                                  pods);
    const auto start = Clock::now();
    std::vector<fs::path> dirs;
    if (!testing::wait_until(120, [&] { return read_file(dir / "up.log").find("Container runtime:") != std::string::npos; }) ||
        kubectl("apply -f " + (dir / "cm.yaml").string()).exit_code != 0 ||
        !testing::wait_until(
            600, [&] { return kubectl("get deployment readers -o jsonpath={.status.readyReplicas}").output == std::to_string(pods); }) ||
        (dirs = volume_dirs(dir / "cluster")).size() != static_cast<std::size_t>(pods)) {
      std::cerr << "the pods did not all come up (" << dirs.size() << " volumes found):\n"
                << kubectl("get pods").output << read_file(dir / "up.log").substr(0, 4000);
      status = 1;
    } else {
      std::cout << fmt::format("{} pods running with the ConfigMap mounted after {:.0f} s\n", pods,
                               std::chrono::duration<double>(Clock::now() - start).count());
      std::vector<double> all;
      for (int round = 1; round <= rounds && status == 0; ++round) {
        const std::string value = std::to_string(round);
        const auto patched = kubectl(fmt::format(R"(patch configmap cfg --type merge -p '{{"data":{{"value":"{}"}}}}' -o name)", value));
        const auto t0 = Clock::now();  // the API server has stored the change
        if (patched.exit_code != 0) {
          std::cerr << patched.output;
          status = 1;
          break;
        }
        std::vector<double> seen(dirs.size(), -1);
        std::size_t left = dirs.size();
        while (left > 0 && Clock::now() - t0 < std::chrono::seconds(180)) {
          for (std::size_t i = 0; i < dirs.size(); ++i)
            if (seen[i] < 0 && read_file(dirs[i] / "value") == value) {
              seen[i] = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
              --left;
            }
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (left > 0) {
          std::cerr << fmt::format("round {}: {} of {} pods never saw the new value in 180 s\n", round, left, dirs.size());
          status = 1;
        }
        std::vector<double> round_ms;
        for (double s : seen)
          if (s >= 0) round_ms.push_back(s);
        std::cout << fmt::format("round {}: {} pods, p50 {:.0f} ms, p99 {:.0f} ms, max {:.0f} ms\n", round, round_ms.size(),
                                 percentile(round_ms, 50), percentile(round_ms, 99),
                                 round_ms.empty() ? 0.0 : *std::max_element(round_ms.begin(), round_ms.end()));
        all.insert(all.end(), round_ms.begin(), round_ms.end());
      }
      if (!all.empty())
        std::cout << fmt::format(
            "ConfigMap update -> file changed in the pod's volume, {} pods x {} rounds: p50 {:.0f} ms, p99 {:.0f} ms, "
            "max {:.0f} ms (polled every ~1 ms)\n",
            dirs.size(), rounds, percentile(all, 50), percentile(all, 99), *std::max_element(all.begin(), all.end()));
    }
    kubectl("delete deployment readers --wait=false");
  }  // up stops (SIGTERM), and its containerd with it
  kubelet::runtime::ContainerdOptions ours;
  ours.data_dir = kubelet::runtime::node_containerd_dir(dir / "cluster");
  if (auto r = kubelet::runtime::remove_runtime_leftovers(ours); !r) std::cerr << r.error().message << "\n";
  if (auto r = kubelet::runtime::unmount_all_under(dir); !r) std::cerr << r.error().message << "\n";
  std::error_code ec;
  if (!std::getenv("KEEP")) fs::remove_all(dir, ec);
  return status;
}
