// Pod start-up through the whole stack: a Pod POSTed to the API server (`switchyard up`) until
// the kubelet (`switchyard kubelet`, its own process) has it Running and Ready, timed through a
// watch on pods, against raw CRI (sandbox + create + start, no kubelet) in the same run on the
// same containerd. Also the kubelet's CPU and RSS with 0 pods and after each burst.
//   pod_startup_bench [--sequential N] [--burst N[,N...]] [--keep-logs DIR] [--switchyard BINARY]   (defaults 10 and 30,100)
// Root: everything runs in a network namespace of its own (this process enters it); the data
// dir is under /tmp; both are removed at the end.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kubelet/cri/cri_client.h"
#include "kubelet/runtime/command.h"
#include "kubelet/runtime/containerd_supervisor.h"
#include "kubelet/runtime/image_import.h"
#include "kubelet/runtime/runtime_cleanup.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/cluster_connection.h"

namespace {

using namespace switchyard;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
using nlohmann::json;

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

pid_t spawn(const std::vector<std::string>& args, const fs::path& log) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

void end(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

// CPU seconds (user + system) and RSS in MiB of a process.
std::pair<double, double> usage(pid_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::vector<std::string> f;
  for (std::string w; rest >> w;) f.push_back(w);
  double cpu = f.size() > 12 ? (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(::sysconf(_SC_CLK_TCK)) : 0;
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  double rss = 0;
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmRSS:")) rss = std::stod(line.substr(6)) / 1024;
  return {cpu, rss};
}

// The kubelet's CPU (percent of one core) and RSS over 10 s.
struct Usage {
  double cpu_percent = 0, rss_mib = 0;
  double anon_mib = 0;  // of the RSS, the process's own memory (the rest: pages of the binary and libraries)
};
Usage measure(pid_t pid) {
  auto a = usage(pid);
  std::this_thread::sleep_for(std::chrono::seconds(10));
  auto b = usage(pid);
  double anon = 0;
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("RssAnon:")) anon = std::stod(line.substr(8)) / 1024;
  return {(b.first - a.first) * 10, b.second, anon};
}

struct BurstFigures {
  std::vector<double> running, ready;
  std::vector<double> raw;  // the same burst over raw CRI
  Usage usage;
  double start_cpu_s = 0;     // the kubelet's CPU seconds from the first POST until all were Ready
  double up_cpu_s = 0;        // and `switchyard up`'s (API server, controllers)
  double events_per_pod = 0;  // watch events per pod until the burst was measured
  bool all_ready = false;
};

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// Running and Ready times per pod name, from a watch.
struct Watcher {
  std::mutex mu;
  std::map<std::string, Clock::time_point> running, ready;
  std::map<std::string, int> events;  // watch events per pod: its creation and every write after
  std::thread thread;
  client::ApiClient api;
  explicit Watcher(const client::ClusterConnection& c) : api(c) {
    thread = std::thread([this] {
      auto r = api.stream("/api/v1/namespaces/default/pods?watch=true", [this](const std::string& line) {
        json e = json::parse(line, nullptr, false);
        if (e.is_discarded() || !e.contains("object")) return true;
        const json& o = e["object"];
        std::string name = o["metadata"].value("name", "");
        const json status = o.value("status", json::object());
        auto now = Clock::now();
        std::lock_guard lock(mu);
        ++events[name];
        if (status.value("phase", "") == "Running") running.emplace(name, now);
        for (const auto& c : status.value("conditions", json::array()))
          if (c.value("type", "") == "Ready" && c.value("status", "") == "True") ready.emplace(name, now);
        return true;
      });
      if (!r) return;  // aborted at the end
    });
  }
  ~Watcher() {
    api.abort();
    thread.join();
  }
  bool wait(const std::vector<std::string>& names, std::chrono::seconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      {
        std::lock_guard lock(mu);
        if (std::ranges::all_of(names, [&](const auto& n) { return ready.contains(n); })) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
};

std::string pod_body(const std::string& name) {
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}}},
              {"spec",
               {{"nodeName", "node-bench"},
                {"terminationGracePeriodSeconds", 0},
                {"containers",
                 {{{"name", "httpd"}, {"image", "switchyard.local/busybox:1"}, {"command", {"httpd", "-f", "-p", "80", "-h", "/www"}}}}}}}};
  return pod.dump();
}

void report(const std::string& title, const std::vector<double>& running, const std::vector<double>& ready) {
  std::cout << fmt::format("{}\n  creation → Running p50 {:.0f} ms, p99 {:.0f} ms; → Ready p50 {:.0f} ms, p99 {:.0f} ms ({} pods)\n", title,
                           percentile(running, 0.5), percentile(running, 0.99), percentile(ready, 0.5), percentile(ready, 0.99),
                           ready.size());
}

// Raw CRI: sandbox + create + start, `n` at once; latencies from the start. The configs are
// those the kubelet gives this pod (hostname, cluster DNS, a log directory and file, the
// termination-log file and a service-account token directory mounted), so the two do the same
// work in containerd and the difference is the kubelet's.
std::vector<double> raw_cri(kubelet::cri::CriClient& cri, int n, const std::string& tag, const fs::path& dir) {
  std::vector<double> out(static_cast<size_t>(n));
  std::vector<std::string> sandboxes(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  auto go = Clock::now();
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      const std::string name = fmt::format("raw-{}-{}", tag, i);
      const fs::path pod_dir = dir / name;
      std::error_code ec;
      fs::create_directories(pod_dir / "httpd", ec);
      fs::create_directories(pod_dir / "token", ec);
      std::ofstream(pod_dir / "token" / "token") << "not-a-token";
      std::ofstream(pod_dir / "httpd" / "0.termination-log");
      kubelet::cri::PodSandboxConfig config;
      config.metadata = {.name = name, .uid = name, .namespace_ = "bench", .attempt = 0};
      config.hostname = name;
      config.log_directory = pod_dir.string();
      config.dns_config =
          kubelet::cri::DnsConfig{{"10.96.0.10"}, {"default.svc.cluster.local", "svc.cluster.local", "cluster.local"}, {"ndots:5"}};
      config.labels = {{"bench", "raw"}};
      auto sandbox = cri.run_pod_sandbox(config);
      if (!sandbox) return;
      sandboxes[static_cast<size_t>(i)] = *sandbox;
      if (auto status = cri.pod_sandbox_status(*sandbox); !status) return;  // the kubelet reads the pod IP
      kubelet::cri::ContainerConfig c;
      c.metadata.name = "httpd";
      c.image = "switchyard.local/busybox:1";
      c.command = {"httpd", "-f", "-p", "80", "-h", "/www"};
      c.log_path = "httpd/0.log";
      c.mounts = {
          {.container_path = "/dev/termination-log", .host_path = (pod_dir / "httpd" / "0.termination-log").string()},
          {.container_path = "/var/run/secrets/kubernetes.io/serviceaccount", .host_path = (pod_dir / "token").string(), .readonly = true}};
      auto id = cri.create_container(*sandbox, c, config);
      if (id && cri.start_container(*id)) out[static_cast<size_t>(i)] = ms(Clock::now() - go);
    });
  for (auto& t : threads) t.join();
  std::erase(out, 0.0);  // failed ones (counted by the caller)
  for (const auto& s : sandboxes)
    if (!s.empty()) {
      if (auto r = cri.stop_pod_sandbox(s); !r) std::cerr << "warning: " << r.error().message << "\n";
      if (auto r = cri.remove_pod_sandbox(s); !r) std::cerr << "warning: " << r.error().message << "\n";
    }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int sequential = 10;
  std::string binary = SWITCHYARD_BINARY;  // another build's, to compare two in the same minutes
  std::string keep_logs;                   // a directory to copy the kubelet's, up's and containerd's logs to
  std::vector<int> burst_sizes = {30, 100};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--switchyard") == 0) binary = argv[i + 1];
    if (std::strcmp(argv[i], "--keep-logs") == 0) keep_logs = argv[i + 1];
    if (std::strcmp(argv[i], "--sequential") == 0) sequential = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--burst") == 0) {
      burst_sizes.clear();
      std::istringstream list(argv[i + 1]);
      for (std::string n; std::getline(list, n, ',');) burst_sizes.push_back(std::atoi(n.c_str()));
    }
  }
  const std::string load_before = load_average();
  const std::string tag = std::to_string(::getpid());
  const std::string netns = "sy-pod-bench-" + tag;
  const fs::path dir = fs::path("/tmp") / ("sy-pod-bench-" + tag);
  auto sh = [](const std::string& c) { return kubelet::runtime::run_command({"/bin/sh", "-c", c}, std::chrono::seconds(30)); };
  if (auto r = sh("ip netns add " + netns + " && ip -n " + netns + " link set lo up && ip -n " + netns +
                  " link add sy-pb-a type veth peer name sy-pb-b && ip -n " + netns + " addr add 10.84.0.2/24 dev sy-pb-a && ip -n " +
                  netns + " link set sy-pb-a up && ip -n " + netns + " link set sy-pb-b up");
      !r || r->exit_code != 0) {
    std::cerr << "error: cannot create network namespace " << netns << " (root needed)\n";
    return 1;
  }
  // This process (single-threaded here) and everything it starts live in the namespace.
  int fd = ::open(("/run/netns/" + netns).c_str(), O_RDONLY);
  if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
    std::cerr << "error: setns " << netns << "\n";
    return 1;
  }
  fs::create_directories(dir);
  kubelet::runtime::ContainerdOptions options;
  options.data_dir = dir / "containerd";
  options.pod_cidr = "10.85.0.0/22";
  options.sandbox_image = "switchyard.local/pause:1";
  options.bridge_name = "sy-pb0";
  pid_t up = -1, kubelet_pid = -1;
  int status = 0;
  {
    auto containerd = kubelet::runtime::ContainerdSupervisor::start(options);
    if (!containerd) {
      std::cerr << "error: " << containerd.error().message << "\n";
      return 1;
    }
    auto imported = kubelet::runtime::import_images((*containerd)->endpoint(), {fs::path(SWITCHYARD_TEST_IMAGES_DIR) / "busybox.tar",
                                                                                fs::path(SWITCHYARD_TEST_IMAGES_DIR) / "pause.tar"});
    auto cri = kubelet::cri::CriClient::connect((*containerd)->endpoint());
    up = spawn({binary, "up", "--data-dir", (dir / "cluster").string(), "--node-name", "node-bench", "--node-ip", "10.84.0.2",
                "--healthz-bind-address", "127.0.0.1:10256"},
               dir / "up.log");
    const fs::path kubeconfig = dir / "cluster" / "kubeconfig";
    for (int i = 0; i < 600 && !fs::exists(kubeconfig); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::this_thread::sleep_for(std::chrono::seconds(2));
    auto connection = client::load_kubeconfig(kubeconfig.string());
    if (!imported || !cri || !connection) {
      std::cerr << "error: set-up failed\n";
      status = 1;
    } else {
      kubelet_pid = spawn({binary, "kubelet", "--node-name", "node-bench", "--node-ip", "10.84.0.2", "--kubeconfig", kubeconfig.string(),
                           "--container-runtime-endpoint", (*containerd)->endpoint(), "--cluster-dns", "10.96.0.10", "--root-dir",
                           (dir / "kubelet").string()},
                          dir / "kubelet.log");
      std::this_thread::sleep_for(std::chrono::seconds(3));
      Watcher watch(*connection);
      client::ApiClient api(*connection);
      const Usage idle = measure(kubelet_pid);

      // Warm-up pod, not counted.
      auto create = [&](const std::string& name) {
        if (auto r = api.send("POST", "/api/v1/namespaces/default/pods", pod_body(name), "application/json"); !r || r->status != 201)
          std::cerr << "warning: create " << name << " failed\n";
      };
      // Deletes every pod (grace 0) and waits until containerd has no sandbox left.
      auto delete_all = [&] {
        if (auto r = api.send("DELETE", "/api/v1/namespaces/default/pods", "", ""); !r) std::cerr << "warning: delete pods failed\n";
        for (int i = 0; i < 1200; ++i) {
          auto list = (*cri)->list_pod_sandbox();
          if (list && list->empty()) return;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        std::cerr << "warning: sandboxes left after deleting the pods\n";
      };
      create("warm");
      watch.wait({"warm"}, std::chrono::seconds(60));
      std::vector<double> seq_running, seq_ready, raw_one;
      for (int i = 0; i < sequential; ++i) {
        std::string name = fmt::format("seq-{}", i);
        auto t0 = Clock::now();
        const auto wall0 = std::chrono::system_clock::now();
        create(name);
        if (!watch.wait({name}, std::chrono::seconds(60))) continue;
        {
          std::lock_guard lock(watch.mu);
          // To line up with the components' logs (UTC) when looking for where the time goes.
          if (!keep_logs.empty()) {
            const auto since_midnight =
                std::chrono::duration_cast<std::chrono::milliseconds>(wall0.time_since_epoch()).count() % 86'400'000;
            std::cerr << fmt::format("{} POST at {:02}:{:02}:{:02}.{:03} UTC, Ready seen +{:.0f} ms\n", name, since_midnight / 3'600'000,
                                     since_midnight / 60'000 % 60, since_midnight / 1000 % 60, since_midnight % 1000,
                                     ms(watch.ready[name] - t0));
          }
          seq_running.push_back(ms(watch.running[name] - t0));
          seq_ready.push_back(ms(watch.ready[name] - t0));
        }
        // Then the same pod over raw CRI, so that both see the same load on the machine.
        for (double v : raw_cri(**cri, 1, fmt::format("{}-{}", tag, i), dir / "raw")) raw_one.push_back(v);
      }
      // A burst of `n` pods POSTed back to back; then the kubelet's CPU and RSS with them running;
      // then all pods deleted and their sandboxes gone, so the next burst starts on an empty node.
      auto run_burst = [&](int n, const std::string& prefix) {
        BurstFigures f;
        std::vector<std::string> names;
        const double cpu0 = usage(kubelet_pid).first, up_cpu0 = usage(up).first;
        auto go = Clock::now();
        for (int i = 0; i < n; ++i) {
          names.push_back(fmt::format("{}-{}", prefix, i));
          create(names.back());
        }
        f.all_ready = watch.wait(names, std::chrono::seconds(300));
        f.start_cpu_s = usage(kubelet_pid).first - cpu0;
        f.up_cpu_s = usage(up).first - up_cpu0;
        {
          std::lock_guard lock(watch.mu);
          for (const auto& name : names)
            if (watch.ready.contains(name)) {
              f.running.push_back(ms(watch.running[name] - go));
              f.ready.push_back(ms(watch.ready[name] - go));
            }
        }
        std::this_thread::sleep_for(std::chrono::seconds(5));
        f.usage = measure(kubelet_pid);
        {
          std::lock_guard lock(watch.mu);
          int total = 0;
          for (const auto& name : names) total += watch.events[name];
          f.events_per_pod = static_cast<double>(total) / std::max(1, n);
        }
        delete_all();
        // Then the same burst over raw CRI, right after on the emptied node.
        f.raw = raw_cri(**cri, n, fmt::format("{}-b{}", tag, n), dir / "raw");
        return f;
      };
      delete_all();  // the warm-up and one-at-a-time pods: the bursts start on an empty node
      std::vector<BurstFigures> bursts;
      for (int n : burst_sizes) bursts.push_back(run_burst(n, fmt::format("burst{}", n)));

      std::cout << fmt::format("pod start-up, kubelet over CRI (load average before: {}, now: {}):\n", load_before, load_average());
      report(fmt::format("one pod at a time ({})", sequential), seq_running, seq_ready);
      std::cout << fmt::format(
          "  raw CRI sandbox+create+start, same containerd, one at a time: p50 {:.0f} ms, p99 {:.0f} ms; ratio "
          "Ready/raw {:.2f}x p50, {:.2f}x p99\n",
          percentile(raw_one, 0.5), percentile(raw_one, 0.99), percentile(seq_ready, 0.5) / std::max(1.0, percentile(raw_one, 0.5)),
          percentile(seq_ready, 0.99) / std::max(1.0, percentile(raw_one, 0.99)));
      std::cout << fmt::format("kubelet, 0 pods: {:.1f}% CPU, {:.1f} MiB RSS ({:.1f} MiB anonymous)\n", idle.cpu_percent, idle.rss_mib,
                               idle.anon_mib);
      for (std::size_t b = 0; b < bursts.size(); ++b) {
        const int n = burst_sizes[b];
        const auto& f = bursts[b];
        const auto& raw = f.raw;
        report(fmt::format("burst of {} (from the first POST){}", n, f.all_ready ? "" : ", NOT ALL READY"), f.running, f.ready);
        std::cout << fmt::format(
            "  raw CRI, burst of {} from {} threads: p50 {:.0f} ms, p99 {:.0f} ms ({} started); ratio Ready/raw "
            "{:.2f}x p50, {:.2f}x p99\n",
            n, n, percentile(raw, 0.5), percentile(raw, 0.99), raw.size(), percentile(f.ready, 0.5) / std::max(1.0, percentile(raw, 0.5)),
            percentile(f.ready, 0.99) / std::max(1.0, percentile(raw, 0.99)));
        std::cout << fmt::format(
            "kubelet, {} pods: {:.1f}% CPU, {:.1f} MiB RSS ({:.1f} MiB anonymous; goal < {:.1f} MiB); {:.2f} CPU s to start them "
            "(up: {:.2f} s); {:.1f} watch events per pod\n",
            n, f.usage.cpu_percent, f.usage.rss_mib, f.usage.anon_mib, 30 + n * 100.0 / 1024, f.start_cpu_s, f.up_cpu_s, f.events_per_pod);
      }
    }
    end(kubelet_pid);
    end(up);
    (*containerd)->stop();
  }
  if (auto r = kubelet::runtime::remove_runtime_leftovers(options); !r) std::cerr << "warning: cleanup: " << r.error().message << "\n";
  if (auto r = sh("ip netns del " + netns); !r || r->exit_code != 0) std::cerr << "warning: could not delete " << netns << "\n";
  std::error_code ec;
  if (!keep_logs.empty()) {
    fs::create_directories(keep_logs, ec);
    for (const char* log : {"kubelet.log", "up.log", "containerd/containerd.log"})
      fs::copy_file(dir / log, fs::path(keep_logs) / fs::path(log).filename(), fs::copy_options::overwrite_existing, ec);
  }
  fs::remove_all(dir, ec);
  return status;
}
