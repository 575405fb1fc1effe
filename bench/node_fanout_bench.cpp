// Watch fan-out from one `switchyard apiserver` to N simulated nodes (issue #22):
//
//   ./build/bench/node_fanout_bench [--binary ./build/switchyard] [--nodes 100,500,1000]
//       [--profile node|join] [--events 20] [--stores sqlite,etcd] [--idle-seconds 5]
//
// A simulated node opens the watches a node opens, over raw sockets read by one epoll thread
// (bench/raw_watch.h), from the resourceVersion of a list, with bookmarks, as an informer does:
//   node: its own pods (fieldSelector spec.nodeName=NODE), its own Node (metadata.name=NODE),
//         every Service and every EndpointSlice: 4 watches;
//   join: what `switchyard join` opens today, the agent and the kubelet each with its own
//         informers: agent Services, EndpointSlices, its Node, Namespaces; kubelet its pods,
//         ConfigMaps, Services, EndpointSlices, PVCs, PVs, StorageClasses: 11 watches.
// Per node count, a fresh server (SQLite, or etcd started by the bench) with `--no-controllers
// --no-scheduler`, so that only the API server's watch work is measured; one Service, one
// EndpointSlice of 10 endpoints, one pod bound to each node. Then:
//   - RSS, threads and fds of the server before and after opening every watch: per watch;
//   - idle CPU with every watch open;
//   - per event kind (a Service, the EndpointSlice: every node sees it; one node's pod: one
//     watch sees it, all N pod watches are tested), `--events` merge PATCHes one after the
//     other, each waiting until every watch that should see it has it: latency from the PATCH's
//     sending to each receipt (p50 / p99 / max), and the server's CPU per event.
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/controller_bench_client.h"
#include "bench/raw_watch.h"
#include "netns-tests/support/process.h"
#include "orchestrator/store/etcd_process.h"

namespace sy = switchyard;
using sy::bench::Clock;
using sy::bench::HttpConnection;
using Json = nlohmann::json;

namespace {

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5))];
}

constexpr const char* kNs = "fanout";

struct WatchKind {
  std::string resource;  // services, pods, ...
  std::string path;      // collection path, all namespaces
  std::string selector;  // a field selector with {} for the node's name, or empty
};

std::vector<WatchKind> profile_kinds(const std::string& profile) {
  const WatchKind pods{"pods", "/api/v1/pods", "spec.nodeName%3D{}"}, node{"nodes", "/api/v1/nodes", "metadata.name%3D{}"},
      services{"services", "/api/v1/services", ""}, slices{"endpointslices", "/apis/discovery.k8s.io/v1/endpointslices", ""};
  if (profile == "node") return {pods, node, services, slices};
  if (profile == "join")
    return {services,
            slices,
            node,
            {"namespaces", "/api/v1/namespaces", ""},
            pods,
            {"configmaps", "/api/v1/configmaps", ""},
            services,
            slices,
            {"persistentvolumeclaims", "/api/v1/persistentvolumeclaims", ""},
            {"persistentvolumes", "/api/v1/persistentvolumes", ""},
            {"storageclasses", "/apis/storage.k8s.io/v1/storageclasses", ""}};
  throw std::runtime_error("unknown profile " + profile + " (node or join)");
}

std::string node_name(int i) { return fmt::format("node-{:05}", i); }

std::string pod_body(int i) {
  Json env = Json::array();
  for (int e = 0; e < 6; ++e) env.push_back({{"name", fmt::format("SETTING_{}", e)}, {"value", fmt::format("value-{}-{}", i, e)}});
  return Json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", fmt::format("pod-{:05}", i)}, {"labels", {{"app", "web"}, {"tier", "frontend"}}}}},
              {"spec",
               {{"nodeName", node_name(i)},
                {"containers",
                 {{{"name", "web"},
                   {"image", "registry.example/web:1.25"},
                   {"ports", {{{"containerPort", 8080}, {"name", "http"}}}},
                   {"env", env},
                   {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "64Mi"}}}, {"limits", {{"memory", "128Mi"}}}}},
                   {"readinessProbe", {{"httpGet", {{"path", "/healthz"}, {"port", 8080}}}, {"periodSeconds", 5}}}}}}}}}
      .dump();
}

std::string slice_body() {
  Json endpoints = Json::array();
  for (int e = 0; e < 10; ++e)
    endpoints.push_back({{"addresses", {fmt::format("10.244.{}.{}", e, 10 + e)}},
                         {"conditions", {{"ready", true}}},
                         {"nodeName", node_name(e)},
                         {"targetRef", {{"kind", "Pod"}, {"namespace", kNs}, {"name", fmt::format("pod-{:05}", e)}}}});
  return Json{{"apiVersion", "discovery.k8s.io/v1"},
              {"kind", "EndpointSlice"},
              {"metadata", {{"name", "web-abcde"}, {"labels", {{"kubernetes.io/service-name", "web"}}}}},
              {"addressType", "IPv4"},
              {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}},
              {"endpoints", endpoints}}
      .dump();
}

// From /proc/PID: a "Key:" line of status (kB), or the number of open fds.
long status_field(pid_t pid, const std::string& key) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
  return -1;
}
long open_fds(pid_t pid) {
  long n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid))) ++n;
  return n;
}
std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// Every watch's receipts, by resourceVersion: (watch index, time).
class Receipts {
 public:
  void add(long rv, int watch, Clock::time_point at) {
    std::lock_guard lock(mu_);
    by_rv_[rv].emplace_back(watch, at);
    cv_.notify_all();
  }
  void failed() {
    std::lock_guard lock(mu_);
    ++failed_;
    cv_.notify_all();
  }
  int failed_count() {
    std::lock_guard lock(mu_);
    return failed_;
  }
  // Waits until `want` receipts of rv arrived (fewer if watches failed); returns them.
  std::vector<std::pair<int, Clock::time_point>> wait(long rv, std::size_t want, std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return by_rv_[rv].size() + static_cast<std::size_t>(failed_) >= want; });
    return by_rv_[rv];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<long, std::vector<std::pair<int, Clock::time_point>>> by_rv_;
  int failed_ = 0;
};

struct Options {
  std::string binary = SWITCHYARD_BINARY;
  std::vector<int> nodes{100, 500, 1000};
  std::string profile = "node";
  std::vector<std::string> stores{"sqlite"};
  int events = 20;
  double idle_seconds = 5;
};

void run_one(const Options& o, const std::string& store, int nodes) {
  const auto kinds = profile_kinds(o.profile);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("sy-fanout-bench-{}", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  struct RemoveDir {  // declared before the server: removed after it stopped, however the run ends
    std::filesystem::path dir;
    ~RemoveDir() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } remove_dir{dir};
  std::unique_ptr<sy::store::testing::EtcdProcess> etcd;
  std::vector<std::string> argv{
      o.binary,           "apiserver",     "--data-dir", (dir / "data").string(), "--listen", "", "--insecure-plain-http",
      "--no-controllers", "--no-scheduler"};
  if (store == "etcd") {
    std::string error;
    etcd = sy::store::testing::EtcdProcess::start(error);
    if (!etcd) throw std::runtime_error("etcd: " + error);
    argv.push_back("--store");
    argv.push_back("etcd=" + etcd->client_url());
  } else if (store != "sqlite") {
    throw std::runtime_error("unknown store " + store);
  }
  const int port = sy::testing::free_loopback_port();
  argv[5] = fmt::format("127.0.0.1:{}", port);
  sy::testing::ChildProcess server(argv, (dir / "apiserver.log").string());
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
    if (r.status >= 300) throw std::runtime_error(fmt::format("{} {}: {} {}", method, target, r.status, r.body.substr(0, 300)));
    return r;
  };
  must("POST", "/api/v1/namespaces", fmt::format(R"({{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{}"}}}})", kNs));
  // No controllers: the service account the pods' admission looks for is made here.
  must("POST", fmt::format("/api/v1/namespaces/{}/serviceaccounts", kNs),
       R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default"}})");
  must(
      "POST", fmt::format("/api/v1/namespaces/{}/services", kNs),
      R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":8080}]}})");
  must("POST", fmt::format("/apis/discovery.k8s.io/v1/namespaces/{}/endpointslices", kNs), slice_body());
  for (int i = 0; i < nodes; ++i) must("POST", fmt::format("/api/v1/namespaces/{}/pods", kNs), pod_body(i));
  const std::string rv = Json::parse(must("GET", "/api/v1/pods?limit=1", "").body)["metadata"]["resourceVersion"];

  const sy::bench::ProcessUsage usage(server.pid());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const long rss0 = status_field(server.pid(), "VmRSS"), threads0 = status_field(server.pid(), "Threads"), fds0 = open_fds(server.pid());

  // Node by node, each node's watches in the profile's order.
  const int per_node = static_cast<int>(kinds.size());
  const int total = nodes * per_node;
  std::vector<sy::bench::RawWatch> ws(static_cast<std::size_t>(total));
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  const auto c0 = Clock::now();
  for (int n = 0; n < nodes; ++n)
    for (int k = 0; k < per_node; ++k) {
      const auto& kind = kinds[static_cast<std::size_t>(k)];
      std::string target = kind.path + "?watch=true&allowWatchBookmarks=true&timeoutSeconds=3600&resourceVersion=" + rv;
      if (!kind.selector.empty()) target += "&fieldSelector=" + fmt::format(fmt::runtime(kind.selector), node_name(n));
      const int i = n * per_node + k;
      ws[static_cast<std::size_t>(i)].fd = sy::bench::connect_raw_watch(port, "127.0.0.1", target);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = static_cast<std::uint32_t>(i);
      ::epoll_ctl(ep, EPOLL_CTL_ADD, ws[static_cast<std::size_t>(i)].fd, &ev);
    }
  const double connect_s = seconds_since(c0);

  Receipts receipts;
  std::atomic<bool> stop{false};
  std::atomic<long> bookmarks{0};
  std::thread reader([&] {
    std::vector<epoll_event> evs(512);
    std::vector<char> buf(1 << 16);
    while (!stop) {
      const int n = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
      for (int e = 0; e < n; ++e) {
        const int i = static_cast<int>(evs[static_cast<std::size_t>(e)].data.u32);
        auto& w = ws[static_cast<std::size_t>(i)];
        while (true) {
          const ssize_t got = ::read(w.fd, buf.data(), buf.size());
          if (got <= 0) {
            if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
              ::epoll_ctl(ep, EPOLL_CTL_DEL, w.fd, nullptr);
              receipts.failed();
            }
            break;
          }
          const auto at = Clock::now();
          w.in.append(buf.data(), static_cast<std::size_t>(got));
          sy::bench::decode_watch(w, [&](std::string_view line) {
            if (line.ends_with("\"type\":\"BOOKMARK\"}")) {
              ++bookmarks;
              return;
            }
            receipts.add(sy::bench::resource_version_of(line), i, at);
          });
        }
      }
    }
  });

  // The reader stops and the sockets close however this run ends (an error is rethrown).
  struct Cleanup {
    std::atomic<bool>& stop;
    std::thread& reader;
    std::vector<sy::bench::RawWatch>& ws;
    int ep;
    ~Cleanup() {
      stop = true;
      reader.join();
      for (auto& w : ws) ::close(w.fd);
      ::close(ep);
    }
  } cleanup{stop, reader, ws, ep};
  // What each kind of event is, and which watches must see it.
  struct EventKind {
    std::string name, resource;
    std::function<std::string(int)> target;
  };
  const std::vector<EventKind> event_kinds{
      {"Service", "services", [](int) { return fmt::format("/api/v1/namespaces/{}/services/web", kNs); }},
      {"EndpointSlice", "endpointslices",
       [](int) { return fmt::format("/apis/discovery.k8s.io/v1/namespaces/{}/endpointslices/web-abcde", kNs); }},
      {"one node's Pod", "pods", [](int e) { return fmt::format("/api/v1/namespaces/{}/pods/pod-{:05}", kNs, e); }},
  };
  int round = 0;
  // PATCHes one object (for a pod, `node`'s); returns its new resourceVersion, the sending time and the watches that must see it.
  auto fire = [&](const EventKind& ek, int node, Clock::time_point& sent) {
    sent = Clock::now();
    auto r = must("PATCH", ek.target(node), fmt::format(R"({{"metadata":{{"labels":{{"round":"r{}"}}}}}})", ++round),
                  "application/merge-patch+json");
    const long v = std::strtol(Json::parse(r.body)["metadata"]["resourceVersion"].get<std::string>().c_str(), nullptr, 10);
    std::size_t want = 0;
    for (const auto& k : kinds)
      if (k.resource == ek.resource) want += k.selector.empty() ? static_cast<std::size_t>(nodes) : 1;
    return std::pair{v, want};
  };
  // Warm-up: one event of each kind reaches every watch that should see it (the last node's pod).
  for (const auto& ek : event_kinds) {
    Clock::time_point sent;
    auto [v, want] = fire(ek, nodes - 1, sent);
    if (receipts.wait(v, want, std::chrono::seconds(300)).size() < want)
      std::cerr << fmt::format("  warm-up {} event did not reach every watch\n", ek.name);
  }
  const double ready_s = seconds_since(c0);
  const long rss1 = status_field(server.pid(), "VmRSS"), threads1 = status_field(server.pid(), "Threads"), fds1 = open_fds(server.pid());
  const double idle0 = usage.cpu_seconds();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.idle_seconds));
  const double idle_cpu = (usage.cpu_seconds() - idle0) / o.idle_seconds;

  fmt::print("{} store, {} nodes x {} watches ({} profile) = {} watches; load {}\n", store, nodes, per_node, o.profile, total, loadavg());
  fmt::print(
      "  opened in {:.2f} s, all delivering after {:.2f} s; server RSS {:.1f} -> {:.1f} MiB ({:.1f} KiB per watch, {:.1f} KiB "
      "per node); threads {} -> {}; fds {} -> {}\n",
      connect_s, ready_s, rss0 / 1024.0, rss1 / 1024.0, static_cast<double>(rss1 - rss0) / total, static_cast<double>(rss1 - rss0) / nodes,
      threads0, threads1, fds0, fds1);
  fmt::print("  idle with every watch open: server CPU {:.1f} % of a core ({:.2f} µs/s per watch)\n", idle_cpu * 100,
             idle_cpu * 1e6 / total);
  for (const auto& ek : event_kinds) {
    std::vector<double> lat, last;
    int missing = 0;
    std::size_t receivers = 0;
    const double cpu0 = usage.cpu_seconds();  // in clock ticks: summed over every event of the kind
    for (int e = 0; e < o.events; ++e) {
      Clock::time_point sent;
      auto [v, want] = fire(ek, (e * 7919) % nodes, sent);  // a different node each time
      auto got = receipts.wait(v, want, std::chrono::seconds(60));
      receivers = want;
      if (got.size() < want) missing += static_cast<int>(want - got.size());
      double worst = 0;
      for (const auto& [w, at] : got) {
        lat.push_back(ms(at - sent));
        worst = std::max(worst, ms(at - sent));
      }
      last.push_back(worst);
    }
    const double per_event_ms = (usage.cpu_seconds() - cpu0) * 1000 / o.events;
    fmt::print(
        "  {:<15} -> {:>5} watches: latency p50 {:.1f} / p99 {:.1f} / max {:.1f} ms; last watch p50 {:.1f} ms; server CPU "
        "{:.2f} ms per event ({:.1f} µs per watch of its resource){}\n",
        ek.name, receivers, percentile(lat, 50), percentile(lat, 99), percentile(lat, 100), percentile(last, 50), per_event_ms,
        per_event_ms * 1000 / static_cast<double>(ek.resource == "pods" ? nodes : receivers),
        missing ? fmt::format(", {} receipts MISSING", missing) : "");
  }
  if (int f = receipts.failed_count()) fmt::print("  {} watch connections ENDED early\n", f);
  fmt::print("  bookmarks received: {}; load at end {}\n", bookmarks.load(), loadavg());
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) out.push_back(part);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--binary") {
      o.binary = value;
    } else if (flag == "--nodes") {
      o.nodes.clear();
      for (const auto& n : split(value)) o.nodes.push_back(std::stoi(n));
    } else if (flag == "--profile") {
      o.profile = value;
    } else if (flag == "--stores") {
      o.stores = split(value);
    } else if (flag == "--events") {
      o.events = std::stoi(value);
    } else if (flag == "--idle-seconds") {
      o.idle_seconds = std::stod(value);
    } else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  // Thousands of sockets here and in the server (which inherits the limit).
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &nofile);
  try {
    for (const auto& store : o.stores)
      for (int n : o.nodes) run_one(o, store, n);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
