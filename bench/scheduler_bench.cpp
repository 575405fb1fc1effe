// The scheduler's throughput, as kube-scheduler's scheduler_perf SchedulingBasic measures it,
// through our API server with the scheduler running in it:
//
//   ./build/bench/scheduler_bench --nodes 5000 --existing 1000 --pods 10000 [--binary ./build/switchyard]
//
// `BINARY apiserver --data-dir <fresh tmp> --listen 127.0.0.1:<free port> --insecure-plain-http`
// (the in-process scheduler with its defaults: Scheduled Events on), then
//  1. --nodes Node objects (4 CPU, 32 GiB, 110 pods each; no kubelet, as scheduler_perf), and
//     --existing pods created already bound, round-robin over the nodes;
//  2. a watch on the namespace's pods, then --pods pods (100m CPU, 500 MiB, as scheduler_perf's
//     pod-default.yaml) POSTed over --creators connections as fast as they are answered;
//  3. each pod's time from its POST being sent to the watch event that shows it bound.
// With --mode cycle only the scheduling cycles run, in memory, without any API server.
// With --mode backlog the pods are created first and the clock starts when a scheduler starts.
// Prints pods/s (measured pods / from the first POST to the last binding seen) and the
// p50/p90/p99 creation → binding latencies, with the CPU time of the server and of this process
// (in backlog mode: the scheduler, its informers and the watch observer). Backlog mode also says
// when the scheduler's caches synced (its initial lists) and the rate after the first binding.
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "netns-tests/support/process.h"
#include "orchestrator/api/json_codec.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/scheduler/scheduler.h"

namespace sy = switchyard;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

namespace {

struct Options {
  std::string binary = SWITCHYARD_BINARY;
  int nodes = 500, existing = 1000, pods = 1000, creators = 4;
  // streaming: the in-process scheduler of `switchyard apiserver` binds pods while they are created.
  // backlog: `apiserver --no-scheduler`; the pods are created first, then a scheduler (this
  // process, the code of `switchyard scheduler`) starts and binds them all.
  std::string mode = "streaming";
  // basic | anti-affinity (each pending pod: required anti-affinity to the others on the hostname,
  // as scheduler_perf's SchedulingPodAntiAffinity; at most one per node) | spread (maxSkew 1 over
  // 5 zones, DoNotSchedule)
  std::string variant = "basic";
  bool scheduled_events = true;  // backlog: the Normal "Scheduled" Event per pod (a second write per pod)
  int binders = 8;
  double timeout_seconds = 600;
};

double cpu_seconds(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string s((std::istreambuf_iterator<char>(in)), {});
  auto close = s.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(s.substr(close + 2));
  std::string field;
  std::vector<std::string> f;
  while (rest >> field) f.push_back(field);
  if (f.size() < 13) return 0;
  return static_cast<double>(std::stoll(f[11]) + std::stoll(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Creates objects[i] for i in [0, n) over `threads` connections.
bool create_all(const sy::client::ClusterConnection& c, int n, int threads, const std::function<std::pair<std::string, Json>(int)>& make,
                const std::function<void(int)>& before_send = {}) {
  std::atomic<int> next{0};
  std::atomic<bool> ok{true};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      sy::client::ApiClient api(c);
      for (int i; (i = next++) < n && ok;) {
        auto [path, body] = make(i);
        const std::string text = body.dump();
        if (before_send) before_send(i);
        auto r = api.send("POST", path, text, "application/json");
        if (!r || r->status != 201) {
          std::cerr << "create failed: " << (r ? r->body : r.error().describe()) << "\n";
          ok = false;
        }
      }
    });
  for (auto& w : workers) w.join();
  return ok;
}

Json node(int i) {
  const Json resources = {{"cpu", "4"}, {"memory", "32Gi"}, {"pods", "110"}};
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata",
           {{"name", fmt::format("node-{}", i)},
            {"labels",
             {{"kubernetes.io/hostname", fmt::format("node-{}", i)}, {"topology.kubernetes.io/zone", fmt::format("zone-{}", i % 5)}}}}},
          {"status", {{"capacity", resources}, {"allocatable", resources}}}};
}

Json pod(const std::string& name, const std::string& node_name) {
  Json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", "bench"}}},
            {"spec",
             {{"containers",
               {{{"name", "pause"},
                 {"image", "registry.k8s.io/pause:3.9"},
                 {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "500Mi"}}}}}}}}}}};
  if (!node_name.empty()) p["spec"]["nodeName"] = node_name;
  return p;
}

// A pending pod of the variant.
Json pending_pod(const std::string& name, const std::string& variant) {
  Json p = pod(name, "");
  const Json selector = {{"matchLabels", {{"color", "green"}}}};
  if (variant == "anti-affinity") {
    p["metadata"]["labels"] = {{"color", "green"}};
    p["spec"]["affinity"] = {
        {"podAntiAffinity",
         {{"requiredDuringSchedulingIgnoredDuringExecution", {{{"labelSelector", selector}, {"topologyKey", "kubernetes.io/hostname"}}}}}}};
  } else if (variant == "spread") {
    p["metadata"]["labels"] = {{"color", "green"}};
    p["spec"]["topologySpreadConstraints"] = {{{"maxSkew", 1},
                                               {"topologyKey", "topology.kubernetes.io/zone"},
                                               {"whenUnsatisfiable", "DoNotSchedule"},
                                               {"labelSelector", selector}}};
  }
  return p;
}

// The watch observer reads only object.metadata.name and object.spec.nodeName of each event,
// without building the document: it shares the 2 cores with what it measures.
struct NameAndNode : nlohmann::json_sax<Json> {
  std::string name, node;
  std::vector<std::string> path;  // the keys of the open objects and arrays, from the event down
  std::string key_;
  bool at(const char* parent, const char* key) const { return path.size() == 3 && path[1] == "object" && path[2] == parent && key_ == key; }
  bool scalar() { return true; }
  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t) override { return scalar(); }
  bool number_unsigned(number_unsigned_t) override { return scalar(); }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool binary(binary_t&) override { return scalar(); }
  bool string(string_t& v) override {
    if (at("metadata", "name")) name = v;
    if (at("spec", "nodeName")) node = v;
    return true;
  }
  bool start_object(std::size_t) override {
    path.push_back(key_);
    key_.clear();
    return true;
  }
  bool key(string_t& k) override {
    key_ = k;
    return true;
  }
  bool end_object() override {
    path.pop_back();
    key_.clear();
    return true;
  }
  bool start_array(std::size_t) override { return start_object(0); }
  bool end_array() override { return end_object(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// --mode cycle: the scheduling cycles alone, in memory (no API server): N NodeInfos, the existing
// pods on them, then each pod filtered, scored and assumed as the scheduler's loop does.
int run_cycles(const Options& o) {
  std::vector<std::unique_ptr<sy::scheduler::NodeInfo>> nodes;
  std::vector<const sy::scheduler::NodeInfo*> list;
  auto info_of = [](const Json& j) {
    auto d = sy::api::decode_object(j);
    return std::make_shared<sy::api::Pod>(std::get<sy::api::Pod>(d->object));
  };
  for (int i = 0; i < o.nodes; ++i) {
    auto d = sy::api::decode_object(node(i));
    nodes.push_back(std::make_unique<sy::scheduler::NodeInfo>());
    nodes.back()->set_node(std::make_shared<sy::api::Node>(std::get<sy::api::Node>(d->object)));
    list.push_back(nodes.back().get());
  }
  for (int i = 0; i < o.existing; ++i)
    nodes[i % o.nodes]->add_pod(
        *sy::scheduler::make_pod_info(info_of(pod(fmt::format("existing-{}", i), fmt::format("node-{}", i % o.nodes)))));
  std::vector<sy::scheduler::PodInfoPtr> pending;
  for (int i = 0; i < o.pods; ++i)
    pending.push_back(*sy::scheduler::make_pod_info(info_of(pending_pod(fmt::format("pod-{}", i), o.variant))));
  bool any_affinity = false;
  std::map<std::string, sy::scheduler::NodeInfo*> by_name;
  for (auto& n : nodes) by_name[n->name()] = n.get();
  sy::scheduler::SchedulingCycle cycle;
  const auto start = Clock::now();
  for (const auto& p : pending) {
    auto r = cycle.schedule(*p, list, {}, any_affinity);
    if (r.node.empty()) {
      std::cerr << "no node for " << p->key << ": " << (r.error ? r.error->message() : "") << "\n";
      return 1;
    }
    any_affinity = any_affinity || p->has_pod_affinity();
    by_name[r.node]->add_pod(p);
  }
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << fmt::format("cycle {} nodes={} existing={} pods={}: {:.0f} pods/s ({:.1f} us per scheduling cycle, in memory, one thread)\n",
                           o.variant, o.nodes, o.existing, o.pods, o.pods / s, s * 1e6 / o.pods);
  return 0;
}

int run(const Options& o) {
  if (o.mode == "cycle") return run_cycles(o);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("scheduler-bench-{}", getpid());
  std::filesystem::create_directories(dir);
  const auto port = std::to_string(sy::testing::free_loopback_port());
  const bool backlog = o.mode == "backlog";
  std::vector<std::string> argv = {o.binary,   "apiserver",         "--data-dir",           dir.string(),
                                   "--listen", "127.0.0.1:" + port, "--insecure-plain-http"};
  if (backlog) argv.push_back("--no-scheduler");
  // Its Node objects have no kubelet: keep the node lifecycle controller from tainting them
  // unreachable while a long run lasts (scheduler_perf runs no such controller).
  for (const char* arg : {"--node-monitor-grace-period", "86400"}) argv.push_back(arg);
  sy::testing::ChildProcess server(argv, (dir / "apiserver.log").string());
  const sy::client::ClusterConnection c{"127.0.0.1", port, "", "", false};
  sy::client::ApiClient api(c);
  if (!sy::testing::wait_until(20, [&] {
        auto r = api.get("/readyz");
        return r && r->status == 200;
      })) {
    std::cerr << "the API server did not become ready; log: " << (dir / "apiserver.log") << "\n";
    return 1;
  }
  auto ns =
      api.send("POST", "/api/v1/namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench"}})", "application/json");
  if (!ns || ns->status != 201) return 1;
  auto t0 = Clock::now();
  if (!create_all(c, o.nodes, o.creators, [](int i) { return std::pair{std::string("/api/v1/nodes"), node(i)}; })) return 1;
  const double nodes_s = std::chrono::duration<double>(Clock::now() - t0).count();
  t0 = Clock::now();
  if (!create_all(c, o.existing, o.creators, [&](int i) {
        return std::pair{std::string("/api/v1/namespaces/bench/pods"),
                         pod(fmt::format("existing-{}", i), fmt::format("node-{}", i % o.nodes))};
      }))
    return 1;
  const double existing_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::cout << fmt::format("setup: {} nodes in {:.1f} s, {} bound pods in {:.1f} s\n", o.nodes, nodes_s, o.existing, existing_s);
  auto list = api.get("/api/v1/namespaces/bench/pods?limit=1");
  if (!list || list->status != 200) return 1;
  const std::string rv = Json::parse(list->body)["metadata"].value("resourceVersion", "");

  // The pods' send and bind times, by index.
  std::vector<Clock::time_point> sent(o.pods), bound(o.pods);
  std::vector<char> seen(o.pods, 0);
  std::atomic<int> bound_count{0};
  sy::client::ApiClient watcher(c);
  std::thread watch([&] {
    // Ends when every pod was seen bound, or when abort() cuts it (a timeout): either way, done.
    auto ended = watcher.stream_watch("/api/v1/namespaces/bench/pods?watch=1&resourceVersion=" + rv, [&](const std::string& line, bool) {
      const auto now = Clock::now();
      NameAndNode e;
      if (!Json::sax_parse(line, &e)) return true;
      const std::string& name = e.name;
      if (!name.starts_with("pod-") || e.node.empty()) return true;
      const int i = std::stoi(name.substr(4));
      if (i < 0 || i >= o.pods || seen[i]) return true;
      seen[i] = 1;
      bound[i] = now;
      return ++bound_count < o.pods;
    });
    if (!ended && bound_count < o.pods) std::cerr << "watch ended: " << ended.error().describe() << "\n";
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  double cpu0 = cpu_seconds(server.pid()), self_cpu0 = cpu_seconds(getpid());
  auto start = Clock::now();
  if (!create_all(
          c, o.pods, o.creators,
          [&](int i) {
            return std::pair{std::string("/api/v1/namespaces/bench/pods"), pending_pod(fmt::format("pod-{}", i), o.variant)};
          },
          [&](int i) { sent[i] = Clock::now(); }))
    return 1;
  const double create_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::unique_ptr<sy::client::SharedInformerFactory> informers;
  std::unique_ptr<sy::scheduler::Scheduler> scheduler;
  if (backlog) {
    // Every pod exists: the clock starts with the scheduler (its initial lists included).
    cpu0 = cpu_seconds(server.pid());
    self_cpu0 = cpu_seconds(getpid());
    start = Clock::now();
    for (auto& t : sent) t = start;
    informers = std::make_unique<sy::client::SharedInformerFactory>(c);
    sy::scheduler::SchedulerOptions so;
    so.record_scheduled_events = o.scheduled_events;
    so.binders = o.binders;
    scheduler = std::make_unique<sy::scheduler::Scheduler>(*informers, c, so);
    scheduler->start();
  }
  // When the scheduler's caches synced (its initial lists done): the rest is scheduling and binding.
  double synced_s = 0;
  if (backlog && informers->wait_for_cache_sync(std::chrono::seconds(static_cast<long>(o.timeout_seconds))))
    synced_s = std::chrono::duration<double>(Clock::now() - start).count();
  const bool done = sy::testing::wait_until(o.timeout_seconds, [&] { return bound_count.load() >= o.pods; });
  const double cpu = cpu_seconds(server.pid()) - cpu0, self_cpu = cpu_seconds(getpid()) - self_cpu0;
  if (scheduler) scheduler->stop();
  if (informers) informers->stop();
  watcher.abort();
  watch.join();
  if (!done) {
    std::cerr << fmt::format("only {} of {} pods bound within {} s\n", bound_count.load(), o.pods, o.timeout_seconds);
    return 1;
  }
  Clock::time_point last = start, first = bound[0];
  std::vector<double> latency;
  for (int i = 0; i < o.pods; ++i) {
    last = std::max(last, bound[i]);
    first = std::min(first, bound[i]);
    latency.push_back(std::chrono::duration<double, std::milli>(bound[i] - sent[i]).count());
  }
  const double total_s = std::chrono::duration<double>(last - start).count();
  std::cout << fmt::format(
      "{}{} {} nodes={} existing={} pods={}: {:.0f} pods/s scheduled+bound ({} pods in {:.2f} s; creation alone {:.2f} s = {:.0f} pods/s); "
      "creation->binding p50 {:.0f} ms, p90 {:.0f} ms, p99 {:.0f} ms; server CPU {:.1f} s ({:.2f} ms per pod); bench process CPU {:.1f} s "
      "({:.2f} ms per pod)\n",
      o.mode, backlog ? fmt::format(" (binders={}, Scheduled events {})", o.binders, o.scheduled_events ? "on" : "off") : "", o.variant,
      o.nodes, o.existing, o.pods, o.pods / total_s, o.pods, total_s, create_s, o.pods / create_s, percentile(latency, 0.5),
      percentile(latency, 0.9), percentile(latency, 0.99), cpu, cpu * 1000 / o.pods, self_cpu, self_cpu * 1000 / o.pods);
  if (backlog) {
    // Where the time went: the initial lists, then the bindings.
    const double first_s = std::chrono::duration<double>(first - start).count();
    std::cout << fmt::format("  caches synced after {:.2f} s, first binding after {:.2f} s, then {:.0f} pods/s\n", synced_s, first_s,
                             (o.pods - 1) / std::max(1e-9, total_s - first_s));
  }
  server.kill_now(SIGTERM);
  if (!server.wait_exit(10)) server.kill_now(SIGKILL);
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--binary")
      o.binary = value;
    else if (flag == "--nodes")
      o.nodes = std::stoi(value);
    else if (flag == "--existing")
      o.existing = std::stoi(value);
    else if (flag == "--pods")
      o.pods = std::stoi(value);
    else if (flag == "--creators")
      o.creators = std::stoi(value);
    else if (flag == "--timeout")
      o.timeout_seconds = std::stod(value);
    else if (flag == "--mode")
      o.mode = value;
    else if (flag == "--variant")
      o.variant = value;
    else if (flag == "--scheduled-events")
      o.scheduled_events = value == "true";
    else if (flag == "--binders")
      o.binders = std::stoi(value);
    else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  return run(o);
}
