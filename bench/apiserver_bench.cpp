// The API server's performance figures through its real HTTP API, for the SQLite store and for
// etcd: create and update throughput (1 and N client threads, each on its own keep-alive
// connection), the time to list every service (whole and paged), and watch fan-out latency
// (one service updated while many watchers follow the namespace). Optionally, create throughput
// over HTTPS against the real `switchyard apiserver` binary, beside plain HTTP to the same binary.
//
//   ./build/bench/apiserver_bench --services 10000 --watchers 1000
//   ./build/bench/apiserver_bench --services 1000 --watchers 100 --updates 500   (quick)
//
// Not Google Benchmark: the figures are throughputs and latency distributions of a server.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>  // Boost 1.74 asio/awaitable.hpp uses std::exchange without it
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "orchestrator/apiserver/allocators.h"
#include "orchestrator/apiserver/api_handler.h"
#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/apiserver/object_registry.h"
#include "orchestrator/http/client.h"
#include "orchestrator/store/etcd_process.h"
#include "orchestrator/store/etcd_store.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

#include "bench/apiserver_bench_client.h"
#include "bench/apiserver_bench_fanout.h"
#include "bench/apiserver_bench_wire.h"

using Json = nlohmann::json;
using namespace switchyard;
using namespace switchyard::bench;

namespace {
struct Options {
  int services = 10000;
  int watchers = 1000;
  int events = 50;
  int updates = 2000;        // per thread setting
  int early_creates = 1000;  // per thread setting, into an empty namespace
  int late_creates = 100;    // per thread setting, once --services exist
  std::vector<int> threads{1, 8};
  std::vector<std::string> stores{"sqlite", "etcd"};
  int https_creates = 2000;  // per thread setting, against the binary; 0: skip
  std::string binary = SWITCHYARD_BINARY;
  // Each also measures the full list and the watch fan-out asked for in that type (Accept).
  std::vector<std::string> content_types;
};

// cluster_ip: empty for a dynamic allocation, as most Services are made.
std::string service_body(int i, const std::string& cluster_ip = "") {
  Json spec = {{"selector", {{"app", service_name(i)}}},
               {"ports", {{{"name", "http"}, {"port", 80}, {"targetPort", 8080}, {"protocol", "TCP"}}}}};
  if (!cluster_ip.empty()) spec["clusterIP"] = cluster_ip;
  return Json{
      {"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", {{"name", service_name(i)}, {"labels", {{"app", "bench"}}}}}, {"spec", spec}}
      .dump();
}

// An address of 10.96.0.0/12 above its static band (the first 256), for the fill with explicit cluster IPs.
std::string explicit_ip(std::uint32_t n) {
  const std::uint32_t ip = 0x0A600000u + 4096u + n % 1000000u;
  return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

void create_namespace(const Target& t) {
  Client c(t);
  auto r = c.request("POST", "/api/v1/namespaces",
                     Json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", kNamespace}}}}.dump());
  if (r.status != 201 && r.status != 409) throw std::runtime_error(fmt::format("create namespace: {} {}", r.status, r.body));
}

struct Throughput {
  int threads = 0, done = 0, errors = 0;
  double seconds = 0;
  std::vector<double> latencies_ms;
  double per_second() const { return seconds > 0 ? done / seconds : 0; }
};

// Creates services [first, first + count) with `threads` clients; connections are made before the clock starts.
// explicit_ips: each Service names its clusterIP (another one is tried when that one was taken).
Throughput run_creates(const Target& t, int threads, int first, int count, bool explicit_ips = false) {
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < threads; ++i) clients.push_back(std::make_unique<Client>(t));
  std::atomic<int> next{first};
  std::mutex mu;
  Throughput out;
  out.threads = threads;
  std::string first_error;
  const auto t0 = Clock::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < threads; ++w)
    workers.emplace_back([&, w] {
      std::vector<double> lat;
      int done = 0, errors = 0;
      for (int i = next++; i < first + count; i = next++) {
        const auto s = Clock::now();
        auto r = clients[w]->request("POST", kServices, service_body(i, explicit_ips ? explicit_ip(i) : ""));
        for (std::uint32_t retry = 1; explicit_ips && r.status == 422 && retry < 5; ++retry)
          r = clients[w]->request("POST", kServices, service_body(i, explicit_ip(i + retry * 200000)));
        lat.push_back(ms(Clock::now() - s));
        if (r.status == 201)
          ++done;
        else {
          ++errors;
          std::lock_guard lock(mu);
          if (first_error.empty()) first_error = fmt::format("{} {}", r.status, r.body.substr(0, 300));
        }
      }
      std::lock_guard lock(mu);
      out.done += done;
      out.errors += errors;
      out.latencies_ms.insert(out.latencies_ms.end(), lat.begin(), lat.end());
    });
  for (auto& w : workers) w.join();
  out.seconds = seconds_since(t0);
  if (!first_error.empty()) std::cerr << "  first create error: " << first_error << "\n";
  return out;
}

// Each thread PUTs its own service (svc-<thread>) `count / threads` times, changing a label.
Throughput run_updates(const Target& t, int threads, int count) {
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<Json> objects;
  for (int i = 0; i < threads; ++i) {
    clients.push_back(std::make_unique<Client>(t));
    auto r = clients.back()->request("GET", kServices + "/" + service_name(i));
    if (r.status != 200) throw std::runtime_error(fmt::format("get {}: {} {}", service_name(i), r.status, r.body));
    objects.push_back(Json::parse(r.body));
  }
  std::mutex mu;
  Throughput out;
  out.threads = threads;
  std::string first_error;
  const int per_thread = count / threads;
  const auto t0 = Clock::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < threads; ++w)
    workers.emplace_back([&, w] {
      std::vector<double> lat;
      int done = 0, errors = 0;
      Json obj = objects[w];
      const std::string path = kServices + "/" + service_name(w);
      for (int k = 0; k < per_thread; ++k) {
        obj["metadata"]["labels"]["generation"] = std::to_string(k);
        const auto body = obj.dump();
        const auto s = Clock::now();
        auto r = clients[w]->request("PUT", path, body);
        lat.push_back(ms(Clock::now() - s));
        if (r.status == 200) {
          ++done;
          const auto before = obj["metadata"]["resourceVersion"];
          obj = Json::parse(r.body);
          if (obj["metadata"]["resourceVersion"] == before) {  // a no-op update would not be a write
            ++errors;
            std::lock_guard lock(mu);
            if (first_error.empty()) first_error = "the update did not change the resourceVersion";
          }
        } else {
          ++errors;
          std::lock_guard lock(mu);
          if (first_error.empty()) first_error = fmt::format("{} {}", r.status, r.body.substr(0, 300));
        }
      }
      std::lock_guard lock(mu);
      out.done += done;
      out.errors += errors;
      out.latencies_ms.insert(out.latencies_ms.end(), lat.begin(), lat.end());
    });
  for (auto& w : workers) w.join();
  out.seconds = seconds_since(t0);
  if (!first_error.empty()) std::cerr << "  first update error: " << first_error << "\n";
  return out;
}

struct ListFigures {
  double full_ms = 0, paged_ms = 0;
  std::size_t full_bytes = 0, items = 0, paged_items = 0;
  int pages = 0;
};

// The median of three full lists and three paged lists (limit=500).
ListFigures run_lists(const Target& t) {
  Client c(t);
  ListFigures f;
  std::vector<double> full, paged;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = Clock::now();
    auto r = c.request("GET", kServices);
    full.push_back(ms(Clock::now() - t0));
    if (r.status != 200) throw std::runtime_error(fmt::format("list: {} {}", r.status, r.body.substr(0, 300)));
    f.full_bytes = r.body.size();
    f.items = Json::parse(r.body)["items"].size();

    std::size_t items = 0;
    int pages = 0;
    std::string cont;
    double elapsed = 0;
    do {
      const std::string target = kServices + "?limit=500" + (cont.empty() ? "" : "&continue=" + cont);
      t0 = Clock::now();
      auto p = c.request("GET", target);
      elapsed += ms(Clock::now() - t0);  // the client's parsing of each page is not counted
      if (p.status != 200) throw std::runtime_error(fmt::format("paged list: {} {}", p.status, p.body.substr(0, 300)));
      auto j = Json::parse(p.body);
      items += j["items"].size();
      ++pages;
      cont = j["metadata"].value("continue", "");
    } while (!cont.empty());
    paged.push_back(elapsed);
    f.paged_items = items;
    f.pages = pages;
  }
  f.full_ms = percentile(full, 50);
  f.paged_ms = percentile(paged, 50);
  return f;
}

// ---- Servers under test ---------------------------------------------------------------------

int thread_count() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("Threads:")) return std::atoi(line.c_str() + 8);
  return -1;
}

// An in-process API server on plain HTTP over `store`, with ClusterIP and NodePort allocation as
// the binary has it.
struct InProcessServer {
  std::unique_ptr<apiserver::ClusterIpAllocator> ips;
  std::unique_ptr<apiserver::NodePortAllocator> ports;
  std::unique_ptr<apiserver::ServiceAllocators> allocators;
  std::unique_ptr<apiserver::ObjectRegistry> registry;
  std::unique_ptr<apiserver::ApiHandler> handler;
  std::unique_ptr<apiserver::HttpServer> server;
  int baseline_threads = 0;

  explicit InProcessServer(store::Store& st) {
    api::ClusterNetworkConfig net;
    ips = std::move(apiserver::ClusterIpAllocator::create(st, "10.96.0.0/12").value());
    ports = std::move(apiserver::NodePortAllocator::create(st, net.node_port_min, net.node_port_max).value());
    allocators = std::make_unique<apiserver::ServiceAllocators>(apiserver::ServiceAllocators{{ips.get()}, ports.get()});
    registry = std::make_unique<apiserver::ObjectRegistry>(st, net, allocators.get());
    handler = std::make_unique<apiserver::ApiHandler>(*registry, "");
    baseline_threads = thread_count();
    auto s = apiserver::HttpServer::start(*handler, {"127.0.0.1:0", "", ""});
    if (!s) throw std::runtime_error(s.error().message);
    server = std::move(*s);
  }

  // Connection threads are detached and use the handler: wait until they are gone.
  ~InProcessServer() {
    server->stop();
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (thread_count() > baseline_threads && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (thread_count() > baseline_threads)
      std::cerr << fmt::format("  {} threads still running after stop\n", thread_count() - baseline_threads);
    server.reset();
  }
};

// The `switchyard apiserver` binary on a SQLite store in a temporary directory.
struct BinaryServer {
  store::testing::TempDir dir;
  pid_t pid = -1;
  int port = 0;

  BinaryServer(const std::string& binary, bool plain_http) {
    const std::string data = dir.path().string(), log = data + "/stdout";
    pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 1);
      std::vector<const char*> argv{binary.c_str(), "apiserver", "--data-dir", data.c_str(), "--listen", "127.0.0.1:0"};
      if (plain_http) argv.push_back("--insecure-plain-http");
      argv.push_back(nullptr);
      ::execv(binary.c_str(), const_cast<char* const*>(argv.data()));
      ::_exit(127);
    }
    // It prints "serving HTTP(S) on 127.0.0.1:PORT" once it listens.
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    std::string text;
    while (Clock::now() < deadline) {
      std::ifstream in(log);
      text.assign(std::istreambuf_iterator<char>(in), {});
      if (auto at = text.find("serving "); at != std::string::npos && text.find('\n', at) != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    auto p = text.find("127.0.0.1:", text.find("serving "));
    if (p == std::string::npos) throw std::runtime_error("switchyard apiserver did not start: " + text);
    port = std::atoi(text.c_str() + p + 10);
  }
  ~BinaryServer() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  }
};

// ---- Report -------------------------------------------------------------------------------------

struct StoreFigures {
  std::string store;
  std::vector<Throughput> creates, late_creates, updates;
  Throughput fill;
  ListFigures lists;
  std::optional<FanOutFigures> fan;
  std::vector<WireFigures> wire;
};

void print_throughput(const char* what, const Throughput& t) {
  std::cout << fmt::format("  {} {} thread(s): {:>7.0f}/s  ({} in {:.2f} s, {} errors; request p50 {:.2f} ms, p99 {:.2f} ms)\n", what,
                           t.threads, t.per_second(), t.done, t.seconds, t.errors, percentile(t.latencies_ms, 50),
                           percentile(t.latencies_ms, 99));
}

StoreFigures measure(const std::string& name, store::Store& st, const Options& o) {
  StoreFigures f;
  f.store = name;
  InProcessServer server(st);
  Target t;
  t.port = server.server->port();
  create_namespace(t);

  // Creates with dynamic cluster IPs into the empty namespace, then a fill up to --services with
  // explicit cluster IPs (the dynamic allocation lists every allocated IP, so its cost grows
  // with the number of Services), then dynamic creates again at that size.
  int made = 0;
  for (int threads : o.threads) {
    f.creates.push_back(run_creates(t, threads, made, o.early_creates));
    print_throughput("create", f.creates.back());
    made += o.early_creates;
  }
  const int late_total = o.late_creates * static_cast<int>(o.threads.size());
  const int fill = std::max(0, o.services - made - late_total);
  f.fill = run_creates(t, *std::max_element(o.threads.begin(), o.threads.end()), made, fill, true);
  made += fill;
  std::cout << fmt::format("  fill to {} services with explicit cluster IPs:\n", made);
  print_throughput("create", f.fill);
  for (int threads : o.threads) {
    f.late_creates.push_back(run_creates(t, threads, made, o.late_creates));
    made += o.late_creates;
    std::cout << fmt::format("  at {} services:\n", made);
    print_throughput("create", f.late_creates.back());
  }
  for (int threads : o.threads) {
    f.updates.push_back(run_updates(t, threads, o.updates));
    print_throughput("update", f.updates.back());
  }
  f.lists = run_lists(t);
  std::cout << fmt::format("  list {} services: {:.0f} ms ({:.1f} MB); paged by 500: {:.0f} ms ({} pages, {} items)\n", f.lists.items,
                           f.lists.full_ms, f.lists.full_bytes / 1e6, f.lists.paged_ms, f.lists.pages, f.lists.paged_items);
  if (o.watchers > 0) {
    f.fan = run_fan_out(t, o.watchers, o.events);
    const auto& w = *f.fan;
    std::cout << fmt::format(
        "  watch fan-out to {} watchers ({} events, connect+first event {:.1f} s): p50 {:.1f} ms, p99 {:.1f} ms, max {:.1f} ms; "
        "last watcher per event p50 {:.1f} ms, max {:.1f} ms; PUT p50 {:.1f} ms; {} receipts before the ack, {} missing; "
        "from the PUT's sending: p50 {:.1f} ms, p99 {:.1f} ms\n",
        w.watchers, w.events, w.connect_s, percentile(w.latencies_ms, 50), percentile(w.latencies_ms, 99), percentile(w.latencies_ms, 100),
        percentile(w.last_ms, 50), percentile(w.last_ms, 100), percentile(w.write_ms, 50), w.before_ack, w.missing,
        percentile(w.from_send_ms, 50), percentile(w.from_send_ms, 99));
    // Every client connection is closed now: what the server still runs is a leak until stop().
    std::this_thread::sleep_for(std::chrono::seconds(2));
    std::cout << fmt::format("  server threads 2 s after every client disconnected: {}\n", thread_count() - server.baseline_threads);
  }
  for (const auto& type : o.content_types) {
    f.wire.push_back(run_wire(t, type == "protobuf" ? "application/vnd.kubernetes.protobuf" : "application/json", o.watchers, o.events));
    const auto& w = f.wire.back();
    std::cout << fmt::format(
        "  {}: list {} items {:.2f} MB in {:.0f} ms, process CPU {:.0f} ms ({:.1f} us per object); watch {} x {} events: {:.0f} bytes "
        "per event per watcher, process CPU {:.1f} us per delivered event, p50 {:.1f} ms p99 {:.1f} ms, {} missing\n",
        type, w.list_items, w.list_bytes / 1e6, w.list_ms, w.list_cpu_ms, 1e3 * w.list_cpu_ms / std::max<std::size_t>(1, w.list_items),
        w.watchers, w.events, static_cast<double>(w.watch_bytes) / std::max(1, w.watchers * w.events),
        w.watch_cpu_ms * 1e3 / std::max(1, w.watchers * w.events), w.latency_p50_ms, w.latency_p99_ms, w.missing);
  }
  return f;
}

std::vector<int> parse_ints(const std::string& s) {
  std::vector<int> v;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) v.push_back(std::stoi(item));
  return v;
}

std::vector<std::string> parse_strings(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) v.push_back(item);
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (auto eq = a.find('='); eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= argc) throw std::runtime_error(a + ": missing value");
      return argv[++i];
    };
    const std::string key = a.substr(0, a.find('='));
    if (key == "--services")
      o.services = std::stoi(value());
    else if (key == "--watchers")
      o.watchers = std::stoi(value());
    else if (key == "--events")
      o.events = std::stoi(value());
    else if (key == "--updates")
      o.updates = std::stoi(value());
    else if (key == "--early-creates")
      o.early_creates = std::stoi(value());
    else if (key == "--late-creates")
      o.late_creates = std::stoi(value());
    else if (key == "--threads")
      o.threads = parse_ints(value());
    else if (key == "--stores")
      o.stores = parse_strings(value());
    else if (key == "--https-creates")
      o.https_creates = std::stoi(value());
    else if (key == "--binary")
      o.binary = value();
    else if (key == "--content-types")
      o.content_types = parse_strings(value());
    else {
      std::cerr << "usage: apiserver_bench [--services N] [--watchers N] [--events N] [--updates N]\n"
                   "                       [--early-creates N] [--late-creates N]"
                   "                       [--threads 1,8] [--stores sqlite,etcd] [--https-creates N] [--binary PATH]\n"
                   "                       [--content-types json,protobuf]\n";
      std::exit(2);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::cout << std::unitbuf;
  ::signal(SIGPIPE, SIG_IGN);
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &nofile);
  {
    std::ifstream load("/proc/loadavg");
    std::string l;
    std::getline(load, l);
    std::cout << fmt::format(
        "apiserver_bench: {} services, {} watchers, {} events, {} updates per thread setting; "
        "nofile {}; {} cores; /proc/loadavg at start: {}\n",
        o.services, o.watchers, o.events, o.updates, nofile.rlim_cur, std::thread::hardware_concurrency(), l);
  }
  const auto t0 = Clock::now();
  std::vector<StoreFigures> all;
  for (const auto& name : o.stores) {
    std::cout << "store " << name << " (in-process HttpServer, plain HTTP)\n" << std::flush;
    if (name == "sqlite") {
      store::testing::TempDir dir;
      auto st = store::SqliteStore::open((dir.path() / "store.db").string());
      if (!st) throw std::runtime_error(st.error().message);
      all.push_back(measure(name, **st, o));
    } else if (name == "etcd") {
      std::string error;
      auto etcd = store::testing::EtcdProcess::start(error);
      if (!etcd) throw std::runtime_error("etcd: " + error);
      auto st = store::EtcdStore::connect(etcd->client_url());
      if (!st) throw std::runtime_error(st.error().message);
      all.push_back(measure(name, **st, o));
    } else {
      throw std::runtime_error("unknown store " + name);
    }
  }

  // HTTPS as users get it: the binary, against the same binary on plain HTTP in the same run.
  std::vector<std::pair<std::string, Throughput>> binary_rows;
  if (o.https_creates > 0 && std::filesystem::exists(o.binary)) {
    for (bool plain : {true, false}) {
      const char* label = plain ? "binary, plain HTTP" : "binary, HTTPS";
      std::cout << "switchyard apiserver (" << label << ", sqlite)\n" << std::flush;
      BinaryServer b(o.binary, plain);
      Target t;
      t.port = b.port;
      if (!plain) {
        std::ifstream ca(b.dir.path() / "pki" / "ca.crt");
        t.ca_pem.assign(std::istreambuf_iterator<char>(ca), {});
        t.tls = true;
        std::ifstream tok(b.dir.path() / "admin.token");
        std::getline(tok, t.token);
      }
      create_namespace(t);
      int made = 0;
      for (int threads : o.threads) {
        binary_rows.emplace_back(label, run_creates(t, threads, made, o.https_creates));
        print_throughput("create", binary_rows.back().second);
        made += o.https_creates;
      }
    }
  }

  std::cout << fmt::format("\nSummary ({:.0f} s in all)\n\n", seconds_since(t0));
  std::cout << "| figure |";
  for (const auto& f : all) std::cout << " " << f.store << " |";
  std::cout << "\n|---|";
  for (std::size_t i = 0; i < all.size(); ++i) std::cout << "---|";
  std::cout << "\n";
  auto row = [&](const std::string& name, auto&& cell) {
    std::cout << "| " << name << " |";
    for (const auto& f : all) std::cout << " " << cell(f) << " |";
    std::cout << "\n";
  };
  for (std::size_t i = 0; i < o.threads.size(); ++i) {
    row(fmt::format("creates/s, {} thread(s), from {} services", o.threads[i], o.early_creates * i), [&](const StoreFigures& f) {
      return fmt::format("{:.0f} (p50 {:.1f} ms, p99 {:.1f} ms)", f.creates[i].per_second(), percentile(f.creates[i].latencies_ms, 50),
                         percentile(f.creates[i].latencies_ms, 99));
    });
  }
  row(fmt::format("creates/s, explicit clusterIP, {} threads, fill", *std::max_element(o.threads.begin(), o.threads.end())),
      [&](const StoreFigures& f) {
        return fmt::format("{:.0f} (p50 {:.1f} ms, p99 {:.1f} ms)", f.fill.per_second(), percentile(f.fill.latencies_ms, 50),
                           percentile(f.fill.latencies_ms, 99));
      });
  for (std::size_t i = 0; i < o.threads.size(); ++i) {
    row(fmt::format("creates/s, {} thread(s), at {} services", o.threads[i], o.services), [&](const StoreFigures& f) {
      return fmt::format("{:.0f} (p50 {:.1f} ms, p99 {:.1f} ms)", f.late_creates[i].per_second(),
                         percentile(f.late_creates[i].latencies_ms, 50), percentile(f.late_creates[i].latencies_ms, 99));
    });
  }
  for (std::size_t i = 0; i < o.threads.size(); ++i) {
    row(fmt::format("updates/s, {} thread(s)", o.threads[i]), [&](const StoreFigures& f) {
      return fmt::format("{:.0f} (p50 {:.1f} ms, p99 {:.1f} ms)", f.updates[i].per_second(), percentile(f.updates[i].latencies_ms, 50),
                         percentile(f.updates[i].latencies_ms, 99));
    });
  }
  row(fmt::format("list all {} services", o.services),
      [](const StoreFigures& f) { return fmt::format("{:.0f} ms ({:.1f} MB)", f.lists.full_ms, f.lists.full_bytes / 1e6); });
  row("list paged, limit=500", [](const StoreFigures& f) { return fmt::format("{:.0f} ms ({} pages)", f.lists.paged_ms, f.lists.pages); });
  if (o.watchers > 0) {
    row(fmt::format("watch fan-out to {}: p50 / p99 / max", o.watchers), [](const StoreFigures& f) {
      return fmt::format("{:.1f} / {:.1f} / {:.1f} ms", percentile(f.fan->latencies_ms, 50), percentile(f.fan->latencies_ms, 99),
                         percentile(f.fan->latencies_ms, 100));
    });
    row("the same from the PUT's sending: p50 / p99 / max", [](const StoreFigures& f) {
      return fmt::format("{:.1f} / {:.1f} / {:.1f} ms", percentile(f.fan->from_send_ms, 50), percentile(f.fan->from_send_ms, 99),
                         percentile(f.fan->from_send_ms, 100));
    });
    row("receipts before the PUT's response",
        [](const StoreFigures& f) { return fmt::format("{} of {}", f.fan->before_ack, f.fan->latencies_ms.size()); });
    row("PUT latency during fan-out, p50", [](const StoreFigures& f) { return fmt::format("{:.1f} ms", percentile(f.fan->write_ms, 50)); });
    row("all watchers reached (from ack): p50 / max", [](const StoreFigures& f) {
      return fmt::format("{:.1f} / {:.1f} ms", percentile(f.fan->last_ms, 50), percentile(f.fan->last_ms, 100));
    });
  }
  for (std::size_t i = 0; i < o.content_types.size(); ++i) {
    const std::string& type = o.content_types[i];
    row(fmt::format("list all {} services in {}: bytes / ms / process CPU per object", o.services, type), [&](const StoreFigures& f) {
      const auto& w = f.wire[i];
      return fmt::format("{:.2f} MB / {:.0f} ms / {:.1f} us", w.list_bytes / 1e6, w.list_ms,
                         1e3 * w.list_cpu_ms / std::max<std::size_t>(1, w.list_items));
    });
    if (o.watchers > 0)
      row(fmt::format("watch fan-out in {}: bytes / process CPU per delivered event, p50", type), [&](const StoreFigures& f) {
        const auto& w = f.wire[i];
        const int n = std::max(1, w.watchers * w.events);
        return fmt::format("{:.0f} B / {:.1f} us, {:.1f} ms", static_cast<double>(w.watch_bytes) / n, w.watch_cpu_ms * 1e3 / n,
                           w.latency_p50_ms);
      });
  }
  if (!binary_rows.empty()) {
    std::cout << "\n| `switchyard apiserver`, sqlite | creates/s | request p50 | p99 |\n|---|---|---|---|\n";
    for (const auto& [label, t] : binary_rows)
      std::cout << fmt::format("| {}, {} thread(s) | {:.0f} | {:.1f} ms | {:.1f} ms |\n", label, t.threads, t.per_second(),
                               percentile(t.latencies_ms, 50), percentile(t.latencies_ms, 99));
  }
  std::ifstream load("/proc/loadavg");
  std::string l;
  std::getline(load, l);
  std::cout << "\n/proc/loadavg at end: " << l << "\n";
  return 0;
}
