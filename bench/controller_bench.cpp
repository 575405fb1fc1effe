// The EndpointSlice controller of `switchyard apiserver`, measured from outside the binary, for one
// or more binaries in the same run (a before and an after), so that the machine's load falls on all:
//
//   ./build/bench/controller_bench --before /work/bin/switchyard-before --after ./build/switchyard
//   ./build/bench/controller_bench --binary A --binary B [--repeat 2]        (columns A, B, A, B)
//   ./build/bench/controller_bench --binary A --services 1000 --flips 200    (quick)
//
// For each binary: `BINARY apiserver --data-dir <fresh tmp> --listen 127.0.0.1:<free port>
// --insecure-plain-http`, then
//  1. setup: a Namespace, 2 Nodes and services × pods-per-service Pods, each POSTed with its podIP
//     and a Ready condition in its status (or PATCHed through /status if the binary drops status
//     on create), over --connections keep-alive connections. No Service selects them yet.
//  2. full resync: a watch on EndpointSlices is opened, the Services are POSTed (same
//     connections), and the bench waits until every Service's slices hold its pods-per-service
//     ready endpoints. Reported from the last Service's creation (every object exists) and from the
//     first Service POST, with the server's CPU time (/proc/PID/stat utime+stime) and peak RSS
//     (VmHWM, reset through /proc/PID/clear_refs when the phase starts) over the phase.
//  3. event to slice: --flips/2 pods chosen at random (seeded, the same for every binary) have their
//     Ready condition set to False through the status subresource, one every --flip-interval-ms
//     (not waiting for the previous one); once all were seen, the same pods are set Ready again,
//     at the same pace. The watch times each flip from the PATCH's sending to the first slice
//     event that shows it. CPU per flip is the server's CPU over the phase / flips.
//  4. restart: SIGTERM, the same binary started again over the same data dir; time to /readyz,
//     time until a new watch's initial listing shows every Service complete, and over
//     --idle-seconds from the exec: CPU time, peak RSS and slice writes (events after the listing;
//     a controller whose slices are already right should write none).
// Then one table: a column per run, and the ratio of the second binary to the first (medians
// over --repeat). The load average is printed before and after each run: the figures are wall
// times on a shared machine.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench/controller_bench_client.h"
#include "netns-tests/support/process.h"

namespace sy = switchyard;
using sy::bench::Clock;
using sy::bench::HttpConnection;
using sy::bench::ProcessUsage;
using sy::bench::SliceWatch;

namespace {

struct Binary {
  std::string label, path;
};

struct Options {
  std::vector<Binary> binaries;
  int services = 10000, pods_per_service = 10, flips = 500, namespaces = 1, connections = 8, repeat = 1;
  double flip_interval_ms = 50, converge_timeout = 1800, flip_timeout = 600, idle_seconds = 60;
  std::string work_dir = std::filesystem::temp_directory_path().string();
  bool keep = false;
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << problem << "\n"
            << "usage: controller_bench (--binary PATH)... | --before PATH --after PATH\n"
               "         [--services 10000] [--pods-per-service 10] [--namespaces 1] [--flips 500] [--flip-interval-ms 50]\n"
               "         [--connections 8] [--repeat 1] [--converge-timeout 1800] [--flip-timeout 600] [--idle-seconds 60]\n"
               "         [--work-dir /tmp] [--keep]\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--keep") {
      o.keep = true;
      continue;
    }
    if (i + 1 >= argc) usage(flag + " needs a value");
    const std::string v = argv[++i];
    if (flag == "--binary")
      o.binaries.push_back({std::filesystem::path(v).filename().string(), v});
    else if (flag == "--before")
      o.binaries.push_back({"before", v});
    else if (flag == "--after")
      o.binaries.push_back({"after", v});
    else if (flag == "--services")
      o.services = std::stoi(v);
    else if (flag == "--pods-per-service")
      o.pods_per_service = std::stoi(v);
    else if (flag == "--namespaces")
      o.namespaces = std::stoi(v);
    else if (flag == "--flips")
      o.flips = std::stoi(v);
    else if (flag == "--flip-interval-ms")
      o.flip_interval_ms = std::stod(v);
    else if (flag == "--connections")
      o.connections = std::stoi(v);
    else if (flag == "--repeat")
      o.repeat = std::stoi(v);
    else if (flag == "--converge-timeout")
      o.converge_timeout = std::stod(v);
    else if (flag == "--flip-timeout")
      o.flip_timeout = std::stod(v);
    else if (flag == "--idle-seconds")
      o.idle_seconds = std::stod(v);
    else if (flag == "--work-dir")
      o.work_dir = v;
    else
      usage("unknown flag " + flag);
  }
  if (o.binaries.empty()) usage("no binary: --binary PATH, or --before PATH --after PATH");
  // The same binary twice (against itself: the run-to-run spread) gets labels of its own.
  for (std::size_t i = 1; i < o.binaries.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (o.binaries[j].label == o.binaries[i].label) o.binaries[i].label += fmt::format(" ({})", i + 1);
  for (const auto& b : o.binaries)
    if (::access(b.path.c_str(), X_OK) != 0) usage(b.path + ": not an executable");
  if (o.services < 1 || o.pods_per_service < 1 || o.namespaces < 1 || o.connections < 1 || o.repeat < 1) usage("counts must be positive");
  return o;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// ---- the objects --------------------------------------------------------------------------------

struct Scale {
  int services, per_service, namespaces;
  std::string ns(int service) const { return namespaces == 1 ? "bench" : fmt::format("bench-{}", service % namespaces); }
  std::string pod_name(int service, int pod) const { return fmt::format("svc-{}-{}", service, pod); }
  // 10.64.0.1 upwards, never .0 or .255 in the last byte.
  std::string pod_ip(int service, int pod) const {
    const int i = service * per_service + pod;
    return fmt::format("10.{}.{}.{}", 64 + i / 62500, i / 250 % 250, i % 250 + 1);
  }
};

std::string pod_status(const std::string& ip, bool ready) {
  return fmt::format(R"({{"phase":"Running","podIP":"{0}","podIPs":[{{"ip":"{0}"}}],"conditions":[{{"type":"Ready","status":"{1}"}}]}})",
                     ip, ready ? "True" : "False");
}

std::string pod_body(const Scale& s, int service, int pod) {
  return fmt::format(
      R"({{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{}","labels":{{"app":"svc-{}"}}}},"spec":{{"nodeName":"node-{}","containers":[{{"name":"c","image":"x"}}]}},"status":{}}})",
      s.pod_name(service, pod), service, pod % 2 ? "a" : "b", pod_status(s.pod_ip(service, pod), true));
}

std::string service_body(int service) {
  return fmt::format(
      R"({{"apiVersion":"v1","kind":"Service","metadata":{{"name":"svc-{0}"}},"spec":{{"selector":{{"app":"svc-{0}"}},"ports":[{{"name":"http","port":80,"targetPort":8080}}]}}}})",
      service);
}

void must(const sy::bench::Reply& r, const std::string& what, bool exists_ok = false) {
  if (r.status < 300 || (exists_ok && r.status == 409)) return;
  throw std::runtime_error(fmt::format("{}: HTTP {} {}", what, r.status, r.body.substr(0, 300)));
}

// Runs fn(connection, i) for i in [0, count) over `connections` connections.
void parallel(const std::string& host, int port, int connections, int count, const std::function<void(HttpConnection&, int)>& fn) {
  std::atomic<int> next{0};
  std::mutex mu;
  std::string first_error;
  std::vector<std::thread> workers;
  for (int w = 0; w < connections; ++w)
    workers.emplace_back([&] {
      try {
        HttpConnection c(host, port);
        for (int i = next++; i < count; i = next++) fn(c, i);
      } catch (const std::exception& e) {
        std::lock_guard lock(mu);
        if (first_error.empty()) first_error = e.what();
        next = count;
      }
    });
  for (auto& t : workers) t.join();
  if (!first_error.empty()) throw std::runtime_error(first_error);
}

// ---- the server ---------------------------------------------------------------------------------

class Server {
 public:
  Server(const Binary& b, std::filesystem::path dir) : binary_(b), dir_(std::move(dir)) {}

  // Starts the binary over the data dir; returns the exec time. Throws if it is not ready in 120 s.
  Clock::time_point start() {
    port_ = sy::testing::free_loopback_port();
    ++starts_;
    const auto t0 = Clock::now();
    process_ = std::make_unique<sy::testing::ChildProcess>(
        std::vector<std::string>{binary_.path, "apiserver", "--data-dir", dir_.string(), "--listen", fmt::format("127.0.0.1:{}", port_),
                                 "--insecure-plain-http"},
        log_path());
    const bool up = sy::testing::wait_until(120, [&] {
      if (!process_->running()) return true;
      try {
        return HttpConnection("127.0.0.1", port_).request("GET", "/readyz").status == 200;
      } catch (const std::exception&) {
        return false;
      }
    });
    if (!up || !process_->running()) throw std::runtime_error(fmt::format("{} did not come up; see {}", binary_.path, log_path()));
    ready_at_ = Clock::now();
    return t0;
  }

  void stop() {
    if (!process_) return;
    process_->kill_now(SIGTERM);
    if (!process_->wait_exit(120)) process_->kill_now(SIGKILL);
    process_.reset();
  }

  ~Server() { stop(); }
  int port() const { return port_; }
  pid_t pid() const { return process_->pid(); }
  Clock::time_point ready_at() const { return ready_at_; }
  std::string log_path() const { return fmt::format("{}.{}.log", dir_.string(), starts_); }

 private:
  Binary binary_;
  std::filesystem::path dir_;
  int port_ = 0, starts_ = 0;
  Clock::time_point ready_at_;
  std::unique_ptr<sy::testing::ChildProcess> process_;
};

// ---- one run ------------------------------------------------------------------------------------

using Figures = std::vector<std::pair<std::string, double>>;  // in print order; NaN: not measured

Figures run_one(const Options& o, const Binary& b, int run) {
  Figures f;
  const Scale scale{o.services, o.pods_per_service, o.namespaces};
  const int pods = o.services * o.pods_per_service;
  const auto dir = std::filesystem::path(o.work_dir) / fmt::format("sy-controller-bench-{}-{}-{}", getpid(), run, b.label);
  std::filesystem::remove_all(dir);
  std::printf("\n== %s (%s), run %d: %d services x %d pods in %d namespace(s); load average %s\n", b.label.c_str(), b.path.c_str(), run,
              o.services, o.pods_per_service, o.namespaces, load_average().c_str());
  std::fflush(stdout);
  Server server(b, dir);
  server.start();
  const std::string host = "127.0.0.1";

  // 1. setup
  auto t0 = Clock::now();
  {
    HttpConnection c(host, server.port());
    for (int n = 0; n < o.namespaces; ++n)
      must(c.request("POST", "/api/v1/namespaces",
                     fmt::format(R"({{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{}"}}}})", scale.ns(n))),
           "namespace", true);
    for (const char* node : {"node-a", "node-b"})
      must(c.request("POST", "/api/v1/nodes", fmt::format(R"({{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{}"}}}})", node)), node,
           true);
  }
  std::atomic<int> status_patches{0};
  parallel(host, server.port(), o.connections, pods, [&](HttpConnection& c, int i) {
    const int s = i / o.pods_per_service, p = i % o.pods_per_service;
    const std::string base = fmt::format("/api/v1/namespaces/{}/pods", scale.ns(s));
    auto r = c.request("POST", base, pod_body(scale, s, p));
    must(r, "pod " + scale.pod_name(s, p), true);
    if (r.status == 409 || r.body.find(scale.pod_ip(s, p)) == std::string::npos) {  // status dropped on create
      ++status_patches;
      must(c.request("PATCH", base + "/" + scale.pod_name(s, p) + "/status",
                     fmt::format(R"({{"status":{}}})", pod_status(scale.pod_ip(s, p), true)), "application/merge-patch+json"),
           "status of " + scale.pod_name(s, p));
    }
  });
  const double setup_s = seconds(Clock::now() - t0);
  std::printf("setup: %d pods in %.1f s (%.0f/s; %d needed a status PATCH)\n", pods, setup_s, pods / setup_s, status_patches.load());
  std::fflush(stdout);
  f.emplace_back("setup: pods created (s)", setup_s);

  // 2. full resync
  ProcessUsage usage(server.pid());
  SliceWatch watch(host, server.port(), "bench", o.pods_per_service);
  usage.reset_peak_rss();
  const double cpu0 = usage.cpu_seconds();
  const auto first_post = Clock::now();
  parallel(host, server.port(), o.connections, o.services, [&](HttpConnection& c, int s) {
    must(c.request("POST", fmt::format("/api/v1/namespaces/{}/services", scale.ns(s)), service_body(s)), fmt::format("service svc-{}", s),
         true);
  });
  const auto all_exist = Clock::now();
  std::printf("services: %d created in %.1f s; waiting for every slice...\n", o.services, seconds(all_exist - first_post));
  std::fflush(stdout);
  const auto complete = watch.wait_complete(o.services, o.converge_timeout);
  const double resync_cpu = usage.cpu_seconds() - cpu0, resync_peak = usage.peak_rss_mib();
  f.emplace_back("services created (s)", seconds(all_exist - first_post));
  if (!complete) {
    std::printf("NOT COMPLETE after %.0f s: %d of %d services complete, %llu slice events, watch: %s\n", o.converge_timeout,
                watch.complete_services(), o.services, static_cast<unsigned long long>(watch.events()),
                watch.ended() ? watch.error().c_str() : "open");
  }
  f.emplace_back("resync: last Service created -> all slices complete (s)", complete ? seconds(*complete - all_exist) : NAN);
  f.emplace_back("resync: first Service POST -> all slices complete (s)", complete ? seconds(*complete - first_post) : NAN);
  f.emplace_back("resync: server CPU (s)", resync_cpu);
  f.emplace_back("resync: server peak RSS (MiB)", resync_peak);
  f.emplace_back("resync: server RSS after (MiB)", usage.rss_mib());
  std::printf("resync: complete %s; CPU %.1f s; peak RSS %.0f MiB\n",
              complete ? fmt::format("{:.2f} s after the last Service", seconds(*complete - all_exist)).c_str() : "never", resync_cpu,
              resync_peak);
  std::fflush(stdout);

  // 3. event to slice: half the flips take random pods out of readiness, then the other half
  // put the same pods back (after the first half was seen, so no pod has two flips in flight).
  if (complete && o.flips > 0) {
    std::mt19937 rng(42);
    std::set<int> chosen;
    std::vector<int> order;
    const int down = std::min((o.flips + 1) / 2, pods);
    while (static_cast<int>(order.size()) < down)
      if (const int idx = static_cast<int>(rng() % static_cast<unsigned>(pods)); chosen.insert(idx).second) order.push_back(idx);
    std::vector<double> patch_ms, met;
    int unmet = 0, sent_flips = 0;
    HttpConnection c(host, server.port());
    const double cpu1 = usage.cpu_seconds();
    const auto start = Clock::now();
    for (const bool want : {false, true}) {
      const int count = want ? o.flips - down : down;
      const auto half_start = Clock::now();
      for (int i = 0; i < count; ++i) {
        const int idx = order[static_cast<std::size_t>(i)];
        const int s = idx / o.pods_per_service, p = idx % o.pods_per_service;
        std::this_thread::sleep_until(
            half_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(i * o.flip_interval_ms)));
        const auto sent = Clock::now();
        watch.expect(scale.pod_ip(s, p), want, sent);
        must(c.request("PATCH", fmt::format("/api/v1/namespaces/{}/pods/{}/status", scale.ns(s), scale.pod_name(s, p)),
                       fmt::format(R"({{"status":{}}})", pod_status(scale.pod_ip(s, p), want)), "application/merge-patch+json"),
             "flip");
        patch_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
        ++sent_flips;
      }
      int missed = 0;
      auto seen = watch.wait_expectations(o.flip_timeout, missed);
      met.insert(met.end(), seen.begin(), seen.end());
      unmet += missed;
    }
    const double flip_cpu = usage.cpu_seconds() - cpu1;
    const double flip_s = seconds(Clock::now() - start);
    f.emplace_back("flips: status PATCH answered p50 (ms)", percentile(patch_ms, 0.5));
    f.emplace_back("flips: status PATCH answered p99 (ms)", percentile(patch_ms, 0.99));
    f.emplace_back("flips: PATCH sent -> slice shows it p50 (ms)", met.empty() ? NAN : percentile(met, 0.5));
    f.emplace_back("flips: PATCH sent -> slice shows it p99 (ms)", met.empty() ? NAN : percentile(met, 0.99));
    f.emplace_back("flips: PATCH sent -> slice shows it max (ms)", met.empty() ? NAN : *std::max_element(met.begin(), met.end()));
    f.emplace_back("flips: not seen in time", unmet);
    f.emplace_back("flips: server CPU per flip (ms)", flip_cpu * 1000.0 / sent_flips);
    std::printf("flips: %zu seen, %d not seen within %.0f s; p50 %.1f ms p99 %.1f ms; %.1f s, CPU %.2f s\n", met.size(), unmet,
                o.flip_timeout, percentile(met, 0.5), percentile(met, 0.99), flip_s, flip_cpu);
    std::fflush(stdout);
  }

  // 4. restart over the same data dir
  bool restart_failed = false;  // then its log stays
  if (o.idle_seconds > 0) try {
      server.stop();
      const auto exec = server.start();
      ProcessUsage after_restart(server.pid());
      const double to_ready = seconds(server.ready_at() - exec);
      SliceWatch again(host, server.port(), "bench", o.pods_per_service);
      const auto listed = again.wait_complete(o.services, std::max(1.0, o.idle_seconds - seconds(Clock::now() - exec)));
      const std::uint64_t listing_events = again.events();
      std::this_thread::sleep_until(exec + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.idle_seconds)));
      f.emplace_back("restart: exec -> /readyz (s)", to_ready);
      f.emplace_back("restart: exec -> a watch lists every slice complete (s)", listed ? seconds(*listed - exec) : NAN);
      f.emplace_back(fmt::format("restart: server CPU in the first {:.0f} s (s)", o.idle_seconds), after_restart.cpu_seconds());
      f.emplace_back(fmt::format("restart: server peak RSS in the first {:.0f} s (MiB)", o.idle_seconds), after_restart.peak_rss_mib());
      f.emplace_back("restart: slice events after the listing", listed ? static_cast<double>(again.events() - listing_events) : NAN);
    } catch (const std::exception& e) {
      // The figures so far stand; the restart rows stay empty for this binary.
      std::printf("restart failed: %s\n", e.what());
      restart_failed = true;
    }
  server.stop();
  std::printf("load average after: %s\n", load_average().c_str());
  if (!o.keep) {
    std::filesystem::remove_all(dir);
    for (const auto& entry : std::filesystem::directory_iterator(dir.parent_path()))  // the server logs, DIR.N.log
      if (!restart_failed && entry.path().filename().string().starts_with(dir.filename().string() + "."))
        std::filesystem::remove(entry.path());
  } else {
    std::printf("kept %s and its logs %s.N.log\n", dir.c_str(), dir.c_str());
  }
  return f;
}

std::string cell(double v) {
  if (std::isnan(v)) return "—";
  if (v >= 100) return fmt::format("{:.0f}", v);
  if (v >= 10) return fmt::format("{:.1f}", v);
  return fmt::format("{:.2f}", v);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::vector<std::pair<std::string, Figures>> columns;  // label, figures
  std::map<std::string, std::vector<Figures>> by_binary;
  for (int r = 1; r <= o.repeat; ++r)
    for (const auto& b : o.binaries) {
      try {
        auto f = run_one(o, b, r);
        columns.emplace_back(o.repeat > 1 ? fmt::format("{} #{}", b.label, r) : b.label, f);
        by_binary[b.label].push_back(std::move(f));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "%s run %d failed: %s\n", b.label.c_str(), r, e.what());
        return 1;
      }
    }

  // Rows by name, in the order they first appear (a run that never completed has fewer).
  std::vector<std::string> rows;
  for (const auto& [label, f] : columns)
    for (const auto& [name, v] : f)
      if (std::find(rows.begin(), rows.end(), name) == rows.end()) rows.push_back(name);
  auto value = [](const Figures& f, const std::string& name) {
    for (const auto& [n, v] : f)
      if (n == name) return v;
    return static_cast<double>(NAN);
  };
  // Medians per binary, for the ratio of the second binary to the first.
  auto median = [&](const std::string& label, const std::string& name) {
    std::vector<double> v;
    for (const auto& f : by_binary[label])
      if (const double x = value(f, name); !std::isnan(x)) v.push_back(x);
    return v.empty() ? static_cast<double>(NAN) : percentile(v, 0.5);
  };
  const bool ratio = o.binaries.size() == 2 && o.binaries[0].label != o.binaries[1].label;
  std::printf("\n%d services x %d pods (%d namespace(s)), %d flips every %.0f ms; load average now %s\n\n", o.services, o.pods_per_service,
              o.namespaces, o.flips, o.flip_interval_ms, load_average().c_str());
  std::string head = "| figure |", rule = "|---|";
  for (const auto& [label, f] : columns) {
    head += " " + label + " |";
    rule += "---|";
  }
  if (ratio) {
    head += fmt::format(" {} / {} |", o.binaries[1].label, o.binaries[0].label);
    rule += "---|";
  }
  std::printf("%s\n%s\n", head.c_str(), rule.c_str());
  for (const auto& name : rows) {
    std::string line = "| " + name + " |";
    for (const auto& [label, f] : columns) line += " " + cell(value(f, name)) + " |";
    if (ratio) {
      const double a = median(o.binaries[0].label, name), b = median(o.binaries[1].label, name);
      std::string r = "—";
      if (!std::isnan(a) && !std::isnan(b) && a != 0 && b != 0)
        r = b / a >= 0.1 ? fmt::format("{:.2f}", b / a) : fmt::format("{:.2g} (1/{:.0f})", b / a, a / b);  // 0.00 would hide 1/20,000
      line += " " + r + " |";
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}
