// The Job controller of `switchyard apiserver` running a Job of N completions with parallelism P
// and no kubelet: the bench plays the kubelet, marking each Pending pod Succeeded through
// pods/status as soon as it lists it, so what is measured is the controller creating, counting
// (job-tracking finalizer, uncountedTerminatedPods) and completing:
//
//   ./build/bench/job_completion_bench [--binary ./build/switchyard] [--completions 1000] [--parallelism 100] [--repeat 3]
//
// Reported per run: seconds from the Job's creation to its Complete condition, completions/s,
// the time the bench itself spent writing pod statuses, the whole server's CPU, and the Job
// controller's worker threads' CPU ("job-controller" in /proc/PID/task/*/comm).
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
    if (f.size() > 12) ticks += std::stod(f[11]) + std::stod(f[12]);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Figures {
  double complete_s = 0, per_s = 0, status_writes_s = 0, server_cpu_s = 0, controller_cpu_s = 0;
  int max_active = 0;
};

Figures run_once(const std::string& binary, int completions, int parallelism) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("sy-job-bench-{}", getpid());
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
    if (r.status >= 300 && r.status != 404 && r.status != 409)
      throw std::runtime_error(fmt::format("{} {}: {} {}", method, target, r.status, r.body));
    return r;
  };
  must("POST", "/api/v1/namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench"}})");
  Figures f;
  const double cpu0 = threads_cpu(server.pid(), ""), ctl0 = threads_cpu(server.pid(), "job-controller");
  const auto t0 = Clock::now();
  must("POST", "/apis/batch/v1/namespaces/bench/jobs",
       Json{{"apiVersion", "batch/v1"},
            {"kind", "Job"},
            {"metadata", {{"name", "work"}}},
            {"spec",
             {{"completions", completions},
              {"parallelism", parallelism},
              {"template", {{"spec", {{"restartPolicy", "Never"}, {"containers", {{{"name", "c"}, {"image", "busybox"}}}}}}}}}}}
           .dump());
  for (;;) {
    if (seconds_since(t0) > 600) throw std::runtime_error("the Job did not complete in 600 s");
    const Json job = Json::parse(must("GET", "/apis/batch/v1/namespaces/bench/jobs/work", "").body);
    bool complete = false;
    for (const auto& c : job["status"].value("conditions", Json::array()))
      complete = complete || (c.value("type", "") == "Complete" && c.value("status", "") == "True");
    if (complete) break;
    const Json pods = Json::parse(
        must("GET",
             "/api/v1/namespaces/bench/pods?labelSelector=batch.kubernetes.io%2Fjob-name%3Dwork&fieldSelector=status.phase%3DPending", "")
            .body)["items"];
    f.max_active = std::max(f.max_active, static_cast<int>(pods.size()));
    const auto w0 = Clock::now();
    for (const auto& p : pods)
      must("PATCH", fmt::format("/api/v1/namespaces/bench/pods/{}/status", p["metadata"].value("name", "")),
           R"({"status":{"phase":"Succeeded"}})", "application/merge-patch+json");
    f.status_writes_s += seconds_since(w0);
    if (pods.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  f.complete_s = seconds_since(t0);
  f.per_s = completions / f.complete_s;
  f.server_cpu_s = threads_cpu(server.pid(), "") - cpu0;
  f.controller_cpu_s = threads_cpu(server.pid(), "job-controller") - ctl0;
  const Json job = Json::parse(must("GET", "/apis/batch/v1/namespaces/bench/jobs/work", "").body);
  if (job["status"].value("succeeded", 0) != completions)
    throw std::runtime_error(fmt::format("succeeded {}, wanted {}", job["status"].value("succeeded", 0), completions));
  std::filesystem::remove_all(dir);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary = "./build/switchyard";
  int completions = 1000, parallelism = 100, repeat = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--binary") binary = argv[i + 1];
    if (a == "--completions") completions = std::atoi(argv[i + 1]);
    if (a == "--parallelism") parallelism = std::atoi(argv[i + 1]);
    if (a == "--repeat") repeat = std::atoi(argv[i + 1]);
  }
  std::vector<Figures> runs;
  for (int r = 0; r < repeat; ++r) {
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    runs.push_back(run_once(binary, completions, parallelism));
    const auto& f = runs.back();
    std::cout << fmt::format(
        "run {} (load {:.1f}): Job {} completions, parallelism {}: Complete after {:.2f} s = {:.0f} completions/s (bench's own status "
        "writes {:.2f} s, most Pending seen at once {}), server CPU {:.2f} s, Job controller CPU {:.2f} s ({:.2f} ms/completion)\n",
        r + 1, load[0], completions, parallelism, f.complete_s, f.per_s, f.status_writes_s, f.max_active, f.server_cpu_s,
        f.controller_cpu_s, 1000.0 * f.controller_cpu_s / completions);
  }
  std::vector<double> v;
  for (const auto& f : runs) v.push_back(f.per_s);
  std::sort(v.begin(), v.end());
  std::cout << fmt::format("median of {}: {:.0f} completions/s\n", runs.size(), v[v.size() / 2]);
  return 0;
}
