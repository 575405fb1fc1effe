// The ReplicaSet controller of `switchyard apiserver` scaling a ReplicaSet from 0 to N pods with
// no kubelet (pods stay Pending), so that the controller is what is measured:
//
//   ./build/bench/replicaset_scale_bench [--binary ./build/switchyard] [--pods 1000] [--repeat 3]
//
// Per repetition, against a fresh `apiserver --insecure-plain-http` on loopback:
//  1. baseline, in the same run: the bench itself POSTs N pods, one after another over one
//     keep-alive connection (what one sequential client gets from this server);
//  2. the ReplicaSet (replicas 0) is PATCHed to N; the bench polls its status every 20 ms until
//     status.replicas is N (every pod created and seen by the controller's cache), and once more
//     until the pods are all listed. Reported: pods/s, the whole server's CPU over the phase, and
//     the controller's own worker threads' CPU ("rs-controller" in /proc/PID/task/*/comm);
//  3. scale back to 0: time until status.replicas is 0 (deletions).
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
  double baseline_pods_per_s = 0, scale_up_s = 0, pods_per_s = 0, listed_s = 0, server_cpu_s = 0, controller_cpu_s = 0, scale_down_s = 0,
         down_controller_cpu_s = 0;
};

Figures run_once(const std::string& binary, int pods) {
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

  // 3. back to 0.
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
  int pods = 1000, repeat = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--binary") binary = argv[i + 1];
    if (a == "--pods") pods = std::atoi(argv[i + 1]);
    if (a == "--repeat") repeat = std::atoi(argv[i + 1]);
  }
  std::vector<Figures> runs;
  for (int r = 0; r < repeat; ++r) {
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    runs.push_back(run_once(binary, pods));
    const auto& f = runs.back();
    std::cout << fmt::format(
        "run {} (load {:.1f}): baseline {:.0f} pods/s | RS 0->{}: {:.2f} s = {:.0f} pods/s, server CPU {:.2f} s, controller workers CPU "
        "{:.2f} s ({:.2f} ms/pod) | ->0: {:.2f} s, controller CPU {:.2f} s\n",
        r + 1, load[0], f.baseline_pods_per_s, pods, f.scale_up_s, f.pods_per_s, f.server_cpu_s, f.controller_cpu_s,
        1000.0 * f.controller_cpu_s / pods, f.scale_down_s, f.down_controller_cpu_s);
  }
  auto median = [&](auto field) {
    std::vector<double> v;
    for (const auto& f : runs) v.push_back(f.*field);
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::cout << fmt::format(
      "median of {}: baseline {:.0f} pods/s; controller {:.0f} pods/s ({:.2f} of baseline); server CPU {:.2f} s; controller CPU {:.2f} s; "
      "scale-down {:.2f} s\n",
      runs.size(), median(&Figures::baseline_pods_per_s), median(&Figures::pods_per_s),
      median(&Figures::pods_per_s) / median(&Figures::baseline_pods_per_s), median(&Figures::server_cpu_s),
      median(&Figures::controller_cpu_s), median(&Figures::scale_down_s));
  return 0;
}
