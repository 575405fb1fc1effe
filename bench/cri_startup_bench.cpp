// Raw CRI pod start-up on this machine: RunPodSandbox + CreateContainer + StartContainer over
// our CriClient against our own containerd (runc, CNI bridge), with no kubelet in between. The
// baseline the kubelet's pod start-up overhead is measured against (issue #16).
//   cri_startup_bench [--sequential N] [--burst N]
// Root: creates a network namespace and a data dir under /tmp, removes both at the end.
// Sequential: one pod at a time, N times (each removed before the next). Burst: N pods started
// at once from N threads; latency is from the burst's start to each pod's container running.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "kubelet/cri/cri_client.h"
#include "kubelet/runtime/command.h"
#include "kubelet/runtime/containerd_supervisor.h"
#include "kubelet/runtime/image_import.h"
#include "kubelet/runtime/runtime_cleanup.h"

namespace {

using namespace switchyard;
using namespace switchyard::kubelet;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

struct PodTimes {
  double sandbox = 0, create = 0, start = 0, total = 0;
  std::string sandbox_id, container_id, error;
};

PodTimes start_pod(cri::CriClient& client, const std::string& name, Clock::time_point since) {
  PodTimes t;
  cri::PodSandboxConfig config;
  config.metadata = {.name = name, .uid = name + "-uid", .namespace_ = "bench", .attempt = 0};
  config.hostname = name;
  auto t0 = Clock::now();
  auto sandbox = client.run_pod_sandbox(config);
  auto t1 = Clock::now();
  if (!sandbox) {
    t.error = sandbox.error().message;
    return t;
  }
  t.sandbox_id = *sandbox;
  cri::ContainerConfig container;
  container.metadata.name = "app";
  container.image = "switchyard.local/busybox:1";
  container.command = {"httpd", "-f", "-p", "80", "-h", "/www"};
  auto id = client.create_container(*sandbox, container, config);
  auto t2 = Clock::now();
  if (!id) {
    t.error = id.error().message;
    return t;
  }
  t.container_id = *id;
  auto started = client.start_container(*id);
  auto t3 = Clock::now();
  if (!started) {
    t.error = started.error().message;
    return t;
  }
  t.sandbox = ms(t1 - t0);
  t.create = ms(t2 - t1);
  t.start = ms(t3 - t2);
  t.total = ms(t3 - since);
  return t;
}

void remove_pod(cri::CriClient& client, const PodTimes& t) {
  if (t.sandbox_id.empty()) return;
  if (auto r = client.stop_pod_sandbox(t.sandbox_id); !r) std::cerr << "warning: " << r.error().message << "\n";
  if (auto r = client.remove_pod_sandbox(t.sandbox_id); !r) std::cerr << "warning: " << r.error().message << "\n";
}

void report(const std::string& title, const std::vector<PodTimes>& pods) {
  std::vector<double> sandbox, create, start, total;
  int failed = 0;
  for (const auto& p : pods) {
    if (!p.error.empty()) {
      ++failed;
      continue;
    }
    sandbox.push_back(p.sandbox);
    create.push_back(p.create);
    start.push_back(p.start);
    total.push_back(p.total);
  }
  std::cout << fmt::format("{} ({} pods, {} failed)\n", title, pods.size(), failed);
  std::cout << fmt::format("  {:<30} {:>9} {:>9} {:>9}\n", "", "p50 ms", "p99 ms", "max ms");
  auto row = [](const char* name, const std::vector<double>& v) {
    std::cout << fmt::format("  {:<30} {:>9.1f} {:>9.1f} {:>9.1f}\n", name, percentile(v, 0.5), percentile(v, 0.99),
                             v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()));
  };
  row("RunPodSandbox", sandbox);
  row("CreateContainer", create);
  row("StartContainer", start);
  row("sandbox to container running", total);
  for (const auto& p : pods)
    if (!p.error.empty()) std::cout << "  error: " << p.error << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  int sequential = 20, burst = 30;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--sequential") == 0)
      sequential = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--burst") == 0)
      burst = std::atoi(argv[i + 1]);
  }
  const std::string tag = std::to_string(::getpid());
  const std::string netns = "sy-cri-bench-" + tag;
  runtime::ContainerdOptions options;
  options.data_dir = fs::path("/tmp") / ("sy-cri-bench-" + tag);
  options.pod_cidr = "10.90.0.0/22";
  options.netns_path = "/run/netns/" + netns;
  auto sh = [](const std::string& c) { return runtime::run_command({"/bin/sh", "-c", c}, std::chrono::seconds(30)); };
  if (auto r = sh("ip netns add " + netns + " && ip -n " + netns + " link set lo up"); !r || r->exit_code != 0) {
    std::cerr << "error: cannot create network namespace " << netns << " (root needed)\n";
    return 1;
  }
  int status = 0;
  {
    auto containerd = runtime::ContainerdSupervisor::start(options);
    if (!containerd) {
      std::cerr << "error: " << containerd.error().message << "\n";
      status = 1;
    } else {
      auto imported = runtime::import_images((*containerd)->endpoint(), {fs::path(SWITCHYARD_TEST_IMAGES_DIR) / "busybox.tar",
                                                                         fs::path(SWITCHYARD_TEST_IMAGES_DIR) / "pause.tar"});
      auto client = cri::CriClient::connect((*containerd)->endpoint());
      if (!imported || !client) {
        std::cerr << "error: " << (imported ? client.error().message : imported.error().message) << "\n";
        status = 1;
      } else {
        // One pod first, not counted: the first sandbox pays for cold caches (image unpack, CNI).
        auto warm = start_pod(**client, "warm-" + tag, Clock::now());
        remove_pod(**client, warm);

        std::vector<PodTimes> one_at_a_time;
        for (int i = 0; i < sequential; ++i) {
          one_at_a_time.push_back(start_pod(**client, fmt::format("seq-{}-{}", tag, i), Clock::now()));
          remove_pod(**client, one_at_a_time.back());
        }
        report(fmt::format("one pod at a time (sequential {})", sequential), one_at_a_time);

        std::vector<PodTimes> together(static_cast<size_t>(burst));
        std::vector<std::thread> threads;
        auto go = Clock::now();
        for (int i = 0; i < burst; ++i)
          threads.emplace_back([&, i] { together[static_cast<size_t>(i)] = start_pod(**client, fmt::format("burst-{}-{}", tag, i), go); });
        for (auto& t : threads) t.join();
        double wall = ms(Clock::now() - go);
        report(fmt::format("burst of {} at once (all running after {:.0f} ms)", burst, wall), together);
        for (const auto& p : together) remove_pod(**client, p);
      }
      (*containerd)->stop();
    }
  }
  if (auto r = runtime::remove_runtime_leftovers(options); !r) std::cerr << "warning: cleanup: " << r.error().message << "\n";
  if (auto r = sh("ip netns del " + netns); !r || r->exit_code != 0) std::cerr << "warning: could not delete " << netns << "\n";
  std::error_code ec;
  fs::remove_all(options.data_dir, ec);
  return status;
}
