// The ReplicaSet controller of `switchyard apiserver` scaling a ReplicaSet from 0 to N pods with
// no kubelet (pods stay Pending), so that the controller is what is measured:
//
//   ./build/bench/replicaset_scale_bench [--binary ./build/switchyard] [--pods 1000] [--repeat 3]
//                                        [--cluster-pods 0] [--status-samples 200]
//
// Per repetition, against a fresh `apiserver --insecure-plain-http` on loopback:
//  1. baseline, in the same run: the bench itself POSTs N pods, one after another over one
//     keep-alive connection (what one sequential client gets from this server);
//  2. the ReplicaSet (replicas 0) is PATCHed to N; the bench polls its status every 20 ms until
//     status.replicas is N (every pod created and seen by the controller's cache), and once more
//     until the pods are all listed. Reported: pods/s, the whole server's CPU over the phase, and
//     the controller's own worker threads' CPU ("rs-controller" in /proc/PID/task/*/comm);
//  3. status to owner: one pod at a time is marked Ready (a merge patch of its status, as a
//     kubelet writes it) and the bench polls the ReplicaSet every millisecond until
//     status.readyReplicas counts it: p50/p99 of that delay;
//  4. scale back to 0: time until status.replicas is 0 (deletions).
// --cluster-pods M first creates M other pods (namespace "others", not the ReplicaSet's), to see
// how the figures grow with the number of pods in the cluster.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/controller_bench_client.h"
#include "netns-tests/support/process.h"

namespace sy = switchyard;
using sy::bench::Clock;
using sy::bench::HttpConnection;
using Json = nlohmann::json;

namespace {

// utime + stime of the threads of `pid` whose name is `comm` (all threads when empty), seconds.
double threads_cpu(pid_t pid, const std::string& comm) {
  double ticks = 0;
  for (const auto& task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid))) {
    std::string name;
    std::ifstream(task.path() / "comm") >> name;
    if (!comm.empty() && name != comm) continue;
    std::ifstream stat(task.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), {});
    auto close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 2));
    std::vector<std::string> f((std::istream_iterator<std::string>(rest)), {});
    if (f.size() > 12) ticks += std::stod(f[11]) + std::stod(f[12]);  // utime, stime (fields 14, 15)
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string pod_body(const std::string& name) {
  return Json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}, {"labels", {{"app", "baseline"}}}}},
              {"spec", {{"containers", {{{"name", "web"}, {"image", "nginx:1.25"}}}}}}}
      .dump();
}

struct Figures {
  double status_p50_ms = 0, status_p99_ms = 0;
  double baseline_pods_per_s = 0, scale_up_s = 0, pods_per_s = 0, listed_s = 0, server_cpu_s = 0, controller_cpu_s = 0, scale_down_s = 0,
         down_controller_cpu_s = 0;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

Figures run_once(const std::string& binary, int pods, int cluster_pods, int status_samples) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("sy-rs-bench-{}", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
  const int port = sy::testing::free_loopback_port();
  sy::testing::ChildProcess server(
      {binary, "apiserver", "--data-dir", (dir / "data").string(), "--listen", fmt::format("127.0.0.1:{}", port), "--insecure-plain-http"},
      (dir / "apiserver.log").string());
  if (!sy::testing::wait_until(60, [&] {
        try {
          return HttpConnection("127.0.0.1", port).request("GET", "/readyz").status == 200;
        } catch (const std::exception&) {
          return false;
        }
      }))
    throw std::runtime_error("the server did not come up");
  HttpConnection http("127.0.0.1", port);
  auto must = [&](const std::string& method, const std::string& target, const std::string& body, const char* type = "application/json") {
    auto r = http.request(method, target, body, type);
    if (r.status >= 300) throw std::runtime_error(fmt::format("{} {}: {} {}", method, target, r.status, r.body));
    return r;
  };
  must("POST", "/api/v1/namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench"}})");
  must("POST", "/api/v1/namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"baseline"}})");
  must("POST", "/api/v1/namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"others"}})");
  for (int i = 0; i < cluster_pods; ++i) must("POST", "/api/v1/namespaces/others/pods", pod_body(fmt::format("o-{}", i)));
  Figures f;
  // 1. baseline: sequential creates by one client.
  auto t0 = Clock::now();
  for (int i = 0; i < pods; ++i) must("POST", "/api/v1/namespaces/baseline/pods", pod_body(fmt::format("p-{}", i)));
  f.baseline_pods_per_s = pods / seconds_since(t0);

  // 2. the ReplicaSet from 0 to N.
  must(
      "POST", "/apis/apps/v1/namespaces/bench/replicasets",
      R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web"},"spec":{"replicas":0,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx:1.25"}]}}}})");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto status_replicas = [&] {
    auto r = must("GET", "/apis/apps/v1/namespaces/bench/replicasets/web", "");
    return Json::parse(r.body)["status"].value("replicas", -1);
  };
  const double cpu0 = threads_cpu(server.pid(), ""), ctl0 = threads_cpu(server.pid(), "rs-controller");
  t0 = Clock::now();
  must("PATCH", "/apis/apps/v1/namespaces/bench/replicasets/web", fmt::format(R"({{"spec":{{"replicas":{}}}}})", pods),
       "application/merge-patch+json");
  while (status_replicas() != pods) {
    if (seconds_since(t0) > 600) throw std::runtime_error("scale-up did not finish in 600 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  f.scale_up_s = seconds_since(t0);
  f.pods_per_s = pods / f.scale_up_s;
  f.server_cpu_s = threads_cpu(server.pid(), "") - cpu0;
  f.controller_cpu_s = threads_cpu(server.pid(), "rs-controller") - ctl0;
  const auto listed = Json::parse(must("GET", "/api/v1/namespaces/bench/pods?labelSelector=app%3Dweb", "").body)["items"].size();
  if (listed != static_cast<std::size_t>(pods)) throw std::runtime_error(fmt::format("{} pods listed, {} wanted", listed, pods));
  f.listed_s = seconds_since(t0);

  // 3. a pod's status change → the owner's status.
  const auto names = Json::parse(must("GET", "/api/v1/namespaces/bench/pods?labelSelector=app%3Dweb", "").body)["items"];
  auto ready_replicas = [&] {
    return Json::parse(must("GET", "/apis/apps/v1/namespaces/bench/replicasets/web", "").body)["status"].value("readyReplicas", 0);
  };
  std::vector<double> delays;
  for (int i = 0; i < std::min<int>(status_samples, static_cast<int>(names.size())); ++i) {
    const std::string name = names[i]["metadata"]["name"];
    const auto sent = Clock::now();
    must("PATCH", "/api/v1/namespaces/bench/pods/" + name + "/status",
         R"({"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}})", "application/merge-patch+json");
    while (ready_replicas() < i + 1) {
      if (seconds_since(sent) > 30) throw std::runtime_error("the ReplicaSet's status did not count a ready pod in 30 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    delays.push_back(1000 * seconds_since(sent));
  }
  f.status_p50_ms = percentile(delays, 0.50);
  f.status_p99_ms = percentile(delays, 0.99);

  // 4. back to 0.
  const double ctl1 = threads_cpu(server.pid(), "rs-controller");
  t0 = Clock::now();
  must("PATCH", "/apis/apps/v1/namespaces/bench/replicasets/web", R"({"spec":{"replicas":0}})", "application/merge-patch+json");
  while (status_replicas() != 0) {
    if (seconds_since(t0) > 600) throw std::runtime_error("scale-down did not finish in 600 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  f.scale_down_s = seconds_since(t0);
  f.down_controller_cpu_s = threads_cpu(server.pid(), "rs-controller") - ctl1;
  std::filesystem::remove_all(dir);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary = "./build/switchyard";
  int pods = 1000, repeat = 3, cluster_pods = 0, status_samples = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--binary") binary = argv[i + 1];
    if (a == "--pods") pods = std::atoi(argv[i + 1]);
    if (a == "--repeat") repeat = std::atoi(argv[i + 1]);
    if (a == "--cluster-pods") cluster_pods = std::atoi(argv[i + 1]);
    if (a == "--status-samples") status_samples = std::atoi(argv[i + 1]);
  }
  std::vector<Figures> runs;
  for (int r = 0; r < repeat; ++r) {
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    runs.push_back(run_once(binary, pods, cluster_pods, status_samples));
    const auto& f = runs.back();
    std::cout << fmt::format(
        "run {} (load {:.1f}): baseline {:.0f} pods/s | RS 0->{}: {:.2f} s = {:.0f} pods/s, server CPU {:.2f} s, controller workers CPU "
        "{:.2f} s ({:.2f} ms/pod) | pod status -> RS status p50 {:.1f} ms p99 {:.1f} ms | ->0: {:.2f} s, controller CPU {:.2f} s\n",
        r + 1, load[0], f.baseline_pods_per_s, pods, f.scale_up_s, f.pods_per_s, f.server_cpu_s, f.controller_cpu_s,
        1000.0 * f.controller_cpu_s / pods, f.status_p50_ms, f.status_p99_ms, f.scale_down_s, f.down_controller_cpu_s);
  }
  auto median = [&](auto field) {
    std::vector<double> v;
    for (const auto& f : runs) v.push_back(f.*field);
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::cout << fmt::format(
      "median of {} ({} other pods in the cluster): baseline {:.0f} pods/s; controller {:.0f} pods/s ({:.2f} of baseline); server CPU "
      "{:.2f} s; controller CPU {:.2f} s; status -> owner p50 {:.1f} ms p99 {:.1f} ms; scale-down {:.2f} s\n",
      runs.size(), cluster_pods, median(&Figures::baseline_pods_per_s), median(&Figures::pods_per_s),
      median(&Figures::pods_per_s) / median(&Figures::baseline_pods_per_s), median(&Figures::server_cpu_s),
      median(&Figures::controller_cpu_s), median(&Figures::status_p50_ms), median(&Figures::status_p99_ms), median(&Figures::scale_down_s));
  return 0;
}
