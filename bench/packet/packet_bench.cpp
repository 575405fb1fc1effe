// The packet-throughput benchmark (issue #9): for each dataplane — none ("direct": the client
// pod talks to pod IPs, the ceiling), the eBPF backend, the nftables backend, and kube-proxy's
// iptables layout loaded with iptables-restore (the baseline) — and each number of services,
// program the services into a fresh BenchTopology's node and measure UDP packets per second,
// TCP bulk throughput, new TCP connections per second with their latency, CPU per packet,
// programming time (full and one endpoint change) and memory. Writes one JSON document;
// bench/packet/report.py turns it into tables and plots. Needs root. See bench/packet/run.sh.
//
//   packet_bench --load-tool=PATH --out=FILE [--services=1,100,1000,10000] [--reps=3]
//                [--seconds=1.5] [--dataplanes=direct,ebpf,nftables,iptables]
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "bench/packet/bench_cluster.h"
#include "bench/packet/bench_topology.h"
#include "dataplane/ebpf/ebpf_backend.h"
#include "dataplane/ebpf/testing/ebpf_test_env.h"
#include "dataplane/iptables/nftables_backend.h"
#include "endpoints/node/snapshot_diff.h"

extern char** environ;

namespace {

using namespace switchyard;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr int kPods = 10;

// SIGINT/SIGTERM stop the run between two measurements, so that the destructors remove the
// namespaces, the cgroup and the bpf filesystem.
volatile std::sig_atomic_t stop_requested = 0;

double ms_since(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

// Kernel memory that rules and maps live in (slab, vmalloc, per-CPU), from /proc/meminfo. The
// machine is shared, so this is a noisy delta; eBPF maps are also counted exactly (memlock).
std::int64_t kernel_memory_kib() {
  std::ifstream in("/proc/meminfo");
  std::int64_t total = 0;
  for (std::string key; in >> key;) {
    std::int64_t value = 0;
    in >> value;
    if (key == "Slab:" || key == "VmallocUsed:" || key == "Percpu:") total += value;
    in.ignore(64, '\n');
  }
  return total;
}

// Waits (at most 5 s) until kernel memory stops moving: freed BPF maps and nftables objects are
// released after an RCU grace period, and would otherwise be counted against the next dataplane.
std::int64_t settled_kernel_memory_kib() {
  auto last = kernel_memory_kib();
  for (int i = 0; i < 25; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto now = kernel_memory_kib();
    if (std::llabs(now - last) < 1024) return now;
    last = now;
  }
  return last;
}

// Heap in use by this process (the agent here): exact, unlike RSS, which freed memory hides.
std::int64_t heap_in_use_kib() {
  const auto m = mallinfo2();
  return static_cast<std::int64_t>((m.uordblks + m.hblkhd) / 1024);  // small chunks + mmapped blocks
}

// utime + stime of a process, in seconds.
double process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close_paren + 2));
  std::string f;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stod(f);
    if (i == 15) stime = std::stod(f);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Softirq work the kernel defers to ksoftirqd is charged to it, not to our processes.
std::vector<pid_t> ksoftirqd_pids() {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream comm(entry.path() / "comm");
    std::string c;
    if (std::getline(comm, c) && c.starts_with("ksoftirqd/")) out.push_back(std::stoi(name));
  }
  return out;
}

// Bytes the kernel charges for the BPF maps and programs pinned under `dir` (fdinfo memlock).
std::int64_t bpf_memlock_kib(const std::string& dir) {
  std::int64_t bytes = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); !ec && it != std::filesystem::end(it); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const int fd = bpf_obj_get(it->path().c_str());
    if (fd < 0) continue;
    std::ifstream info("/proc/self/fdinfo/" + std::to_string(fd));
    for (std::string line; std::getline(info, line);)
      if (line.starts_with("memlock:")) bytes += std::stoll(line.substr(8));
    close(fd);
  }
  return bytes / 1024;
}

struct Timed {
  bool ok = false;
  double ms = 0;
  long max_rss_kib = 0;
  std::string output;
};

// Runs argv inside `ns` with stdin from `input_file`: wall time and its peak RSS (through
// `packet_load rusage`, see there why not wait4 here).
Timed run_timed(const dataplane::testing::NetworkNamespace& ns, std::vector<std::string> argv, const std::string& input_file,
                const std::string& load_tool) {
  const std::string rss_file = input_file + ".rusage";
  argv.insert(argv.begin(), {"nsenter", "--net=" + ns.path(), load_tool, "rusage"});
  Timed t;
  const auto start = Clock::now();
  // posix_spawn, not fork: a forked child's peak RSS would start at this (large) process's.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, input_file.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, rss_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return t;
  int status = 0;
  waitpid(pid, &status, 0);
  t.ms = ms_since(start);
  t.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::ifstream rss(rss_file);
  const std::string printed((std::istreambuf_iterator<char>(rss)), {});
  const auto pos = printed.rfind("{\"max_rss_kib\":");
  if (pos != std::string::npos) t.max_rss_kib = std::stol(printed.substr(pos + 15));
  t.output = printed;
  std::filesystem::remove(rss_file);
  return t;
}

json last_json_line(const std::string& output) {
  const auto start = output.rfind('{');
  if (start == std::string::npos) return json::object();
  return json::parse(output.substr(start), nullptr, false);
}

struct Options {
  std::vector<int> services = {1, 100, 1000, 10000};
  std::vector<std::string> dataplanes = {"direct", "ebpf", "nftables", "iptables"};
  int reps = 3;
  double seconds = 1.5;
  std::string load_tool, out;
};

// One dataplane programmed into a topology's node; removed by clear().
class Dataplane {
 public:
  virtual ~Dataplane() = default;
  // Full programming; fills programming figures into `row`.
  virtual std::expected<void, std::string> program(const bench::BenchCluster& cluster, json& row) = 0;
  virtual std::expected<void, std::string> change_one_endpoint(const bench::BenchCluster& cluster, json& row) = 0;
  virtual void clear() = 0;
  virtual bool through_service() const { return true; }
};

class Direct final : public Dataplane {
 public:
  std::expected<void, std::string> program(const bench::BenchCluster&, json&) override { return {}; }
  std::expected<void, std::string> change_one_endpoint(const bench::BenchCluster&, json&) override { return {}; }
  void clear() override {}
  bool through_service() const override { return false; }
};

// The two backends of this project share everything but their creation.
class OurBackend : public Dataplane {
 public:
  explicit OurBackend(bench::BenchTopology& t) : topology_(t) {}
  std::expected<void, std::string> program(const bench::BenchCluster& cluster, json& row) override {
    std::expected<std::unique_ptr<dataplane::Backend>, std::string> created = std::unexpected("not run");
    const auto heap = heap_in_use_kib();  // the Snapshot was built before: not counted
    if (auto entered = topology_.node().enter([&] { created = create(); }); !entered) return std::unexpected(entered.error());
    if (!created) return std::unexpected(created.error());
    backend_ = std::move(*created);
    const auto start = Clock::now();
    if (auto ok = backend_->full_sync(*cluster.snapshot()); !ok) return std::unexpected("full sync: " + ok.error().message);
    row["program_full_ms"] = ms_since(start);
    row["agent_memory_kib"] = heap_in_use_kib() - heap;  // what the backend keeps, programs and all
    return {};
  }
  std::expected<void, std::string> change_one_endpoint(const bench::BenchCluster& cluster, json& row) override {
    const auto& before = *cluster.snapshot();
    const auto& after = *cluster.changed_snapshot();
    const auto diff = endpoints::diff_snapshots(before, after);
    const auto start = Clock::now();
    if (auto ok = backend_->sync(before, after, diff); !ok) return std::unexpected("partial sync: " + ok.error().message);
    row["program_one_change_ms"] = ms_since(start);
    return {};
  }
  void clear() override {
    if (backend_) {
      if (auto ok = backend_->cleanup(); !ok) std::fprintf(stderr, "cleanup: %s\n", ok.error().message.c_str());
      backend_.reset();
    }
  }

 protected:
  virtual std::expected<std::unique_ptr<dataplane::Backend>, std::string> create() = 0;
  bench::BenchTopology& topology_;
  std::unique_ptr<dataplane::Backend> backend_;
};

class Ebpf final : public OurBackend {
 public:
  Ebpf(bench::BenchTopology& t, dataplane::ebpf::testing::EbpfTestEnv& env) : OurBackend(t), env_(env) {}
  std::expected<void, std::string> program(const bench::BenchCluster& cluster, json& row) override {
    auto ok = OurBackend::program(cluster, row);
    if (ok) {
      memlock_kib_ = bpf_memlock_kib(static_cast<dataplane::ebpf::EbpfBackend&>(*backend_).pin_dir());
      row["bpf_memlock_kib"] = memlock_kib_;
    }
    return ok;
  }
  // The maps are freed after the last reference goes and an RCU grace period: wait for most of
  // them (at most 10 s), or the next dataplane's kernel memory figure would be off by ~300 MiB.
  void clear() override {
    const auto before = kernel_memory_kib();
    OurBackend::clear();
    for (int i = 0; i < 100 && kernel_memory_kib() > before - memlock_kib_ * 9 / 10; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

 protected:
  std::expected<std::unique_ptr<dataplane::Backend>, std::string> create() override {
    auto options = env_.options("bench");
    options.sizes = {};  // the defaults: sized for 10,000+ services
    options.ipv6 = false;
    options.scope_netns = {topology_.client().path()};
    options.external_interfaces = {bench::BenchTopology::kExternalInterface};
    auto b = dataplane::ebpf::EbpfBackend::create(options);
    if (!b) return std::unexpected(b.error().message);
    return std::unique_ptr<dataplane::Backend>(std::move(*b));
  }

 private:
  dataplane::ebpf::testing::EbpfTestEnv& env_;
  std::int64_t memlock_kib_ = 0;
};

class Nftables final : public OurBackend {
 public:
  using OurBackend::OurBackend;

 protected:
  std::expected<std::unique_ptr<dataplane::Backend>, std::string> create() override {
    dataplane::nft::NftablesBackendOptions options;
    options.generator.cluster_cidrs = {bench::BenchTopology::kPodCidr};
    options.ipv6 = false;
    auto b = dataplane::nft::NftablesBackend::create(options);
    if (!b) return std::unexpected(b.error().message);
    return std::unique_ptr<dataplane::Backend>(std::move(*b));
  }
};

// kube-proxy's layout through iptables-restore (nf_tables-backed on Debian 12, as in DESIGN.md).
class KubeProxyIptables final : public Dataplane {
 public:
  KubeProxyIptables(bench::BenchTopology& t, std::string load_tool)
      : topology_(t), file_("/tmp/" + t.node().name() + ".iptables"), load_tool_(std::move(load_tool)) {}
  ~KubeProxyIptables() override { std::filesystem::remove(file_); }
  std::expected<void, std::string> program(const bench::BenchCluster& cluster, json& row) override {
    std::ofstream(file_) << bench::kube_proxy_full_restore(cluster.kube_proxy_ports(), bench::BenchTopology::kPodCidr);
    row["iptables_restore_bytes"] = std::filesystem::file_size(file_);
    // Without --noflush (kube-proxy passes it): the tables are kube-proxy's alone here, the
    // result is the same, and iptables-nft's --noflush path is superlinear in the number of
    // chains (1,000 services: 7.8 s against 1.1 s; 10,000: many minutes). A lower bound, then.
    auto t = run_timed(topology_.node(), {"iptables-restore", "-w"}, file_, load_tool_);
    if (!t.ok) return std::unexpected("iptables-restore of the full layout failed: " + t.output);
    for (const auto& c : bench::kube_proxy_jump_commands())
      if (auto r = topology_.node().run(c); !r.ok()) return std::unexpected(c + ": " + r.output);
    row["program_full_ms"] = t.ms;
    row["agent_memory_kib"] = t.max_rss_kib;  // iptables-restore's peak RSS: what kube-proxy hands the work to
    return {};
  }
  std::expected<void, std::string> change_one_endpoint(const bench::BenchCluster& cluster, json& row) override {
    std::ofstream(file_) << cluster.kube_proxy_partial();
    auto t = run_timed(topology_.node(), {"iptables-restore", "-w", "--noflush"}, file_, load_tool_);
    if (!t.ok) return std::unexpected("iptables-restore of the partial sync failed");
    row["program_one_change_ms"] = t.ms;
    return {};
  }
  void clear() override { (void)topology_.node().run("nft flush ruleset"); }

 private:
  bench::BenchTopology& topology_;
  std::string file_, load_tool_;
};

class Runner {
 public:
  Runner(Options o) : o_(std::move(o)), softirq_pids_(ksoftirqd_pids()) {}

  double helpers_cpu(const bench::BenchTopology& t) const {
    double total = 0;
    for (pid_t p : t.server_pids()) total += process_cpu_seconds(p);
    for (pid_t p : softirq_pids_) total += process_cpu_seconds(p);
    return total;
  }

  std::expected<json, std::string> client(bench::BenchTopology& t, dataplane::testing::NetworkNamespace& from, const std::string& args) {
    auto r = from.run(o_.load_tool + " " + args);
    if (!r.ok()) return std::unexpected("packet_load " + args + ": " + r.output);
    auto j = last_json_line(r.output);
    if (j.is_discarded() || j.empty()) return std::unexpected("packet_load " + args + " printed: " + r.output);
    (void)t;
    return j;
  }

  std::expected<void, std::string> measure_traffic(bench::BenchTopology& t, const bench::BenchCluster& cluster, bool service, json& row) {
    const auto& target = cluster.target();
    const std::string secs = std::to_string(o_.seconds);
    const std::string pods = join(t.pod_ips());
    // Small-packet UDP: 10 connected sockets (one per pod when direct; through the VIP each
    // gets an endpoint of its own from the dataplane).
    const auto delivered = t.udp_delivered();
    const double cpu = helpers_cpu(t);
    auto udp = client(t, t.client(),
                      "udp-flood " + (service ? target.cluster_ip : pods) + " " +
                          std::to_string(service ? target.udp_port : bench::BenchPorts::kUdp) + " " + secs);
    if (!udp) return std::unexpected(udp.error());
    const double got = static_cast<double>(t.udp_delivered() - delivered);
    const double udp_cpu = (*udp)["cpu_seconds"].get<double>() + helpers_cpu(t) - cpu;
    row["udp_pps"] = got / (*udp)["seconds"].get<double>();
    row["udp_sent_pps"] = (*udp)["sent"].get<double>() / (*udp)["seconds"].get<double>();
    row["udp_cpu_ns_per_packet"] = got > 0 ? udp_cpu * 1e9 / got : 0;
    // TCP bulk: one stream.
    auto bulk = client(t, t.client(),
                       "bulk " + (service ? target.cluster_ip : t.pod_ips().front()) + " " +
                           std::to_string(service ? target.bulk_port : bench::BenchPorts::kBulk) + " " + secs);
    if (!bulk) return std::unexpected(bulk.error());
    row["tcp_bulk_gbps"] = (*bulk)["gbit_per_second"];
    // New connections, one at a time: rate and connect->reply latency.
    auto crr = client(t, t.client(),
                      "crr " + (service ? target.cluster_ip : pods) + " " +
                          std::to_string(service ? target.crr_port : bench::BenchPorts::kCrr) + " " + secs);
    if (!crr) return std::unexpected(crr.error());
    row["crr_per_s"] = (*crr)["per_second"];
    row["crr_p50_us"] = (*crr)["p50_us"];
    row["crr_p99_us"] = (*crr)["p99_us"];
    row["crr_errors"] = (*crr)["errors"];
    // The same from the external client: NodePort on the node's address (direct: the pod IPs).
    auto ext = client(t, t.external(),
                      "crr " + (service ? std::string(bench::BenchTopology::kNodeExternalIp) : pods) + " " +
                          std::to_string(service ? target.crr_node_port : bench::BenchPorts::kCrr) + " " + secs);
    if (!ext) return std::unexpected(ext.error());
    row["nodeport_crr_per_s"] = (*ext)["per_second"];
    row["nodeport_crr_p50_us"] = (*ext)["p50_us"];
    row["nodeport_crr_p99_us"] = (*ext)["p99_us"];
    return {};
  }

  std::expected<json, std::string> run() {
    json rows = json::array();
    // Built once per size, shared by every dataplane (the pod IPs are the same in every topology).
    std::vector<std::string> pod_ips;
    for (int i = 0; i < kPods; ++i) pod_ips.push_back("10.244.0." + std::to_string(11 + i));
    std::map<int, std::unique_ptr<bench::BenchCluster>> clusters;
    for (int n : o_.services) {
      const auto start = Clock::now();
      clusters[n] = std::make_unique<bench::BenchCluster>(n, kPods, pod_ips);
      std::fprintf(stderr, "cluster of %d services built in %.0f ms\n", n, ms_since(start));
    }
    // One topology per dataplane, all built up front; then every size and repetition measures
    // the dataplanes one after the other, so that the load of a shared machine falls on all alike.
    std::optional<dataplane::ebpf::testing::EbpfTestEnv> env;  // declared first: removed last
    std::vector<std::unique_ptr<bench::BenchTopology>> topologies;
    std::vector<std::unique_ptr<Dataplane>> dataplanes;
    for (const auto& name : o_.dataplanes) {
      if (name == "ebpf" && !env) {
        auto e = dataplane::ebpf::testing::EbpfTestEnv::create();  // moves this process (and its clients) in
        if (!e) return std::unexpected(e.error());
        env.emplace(std::move(*e));
      }
      auto topology = bench::BenchTopology::create(kPods, o_.load_tool);
      if (!topology) return std::unexpected(topology.error());
      topologies.push_back(std::make_unique<bench::BenchTopology>(std::move(*topology)));
      auto& t = *topologies.back();
      if (name == "direct")
        dataplanes.push_back(std::make_unique<Direct>());
      else if (name == "ebpf")
        dataplanes.push_back(std::make_unique<Ebpf>(t, *env));
      else if (name == "nftables")
        dataplanes.push_back(std::make_unique<Nftables>(t));
      else if (name == "iptables")
        dataplanes.push_back(std::make_unique<KubeProxyIptables>(t, o_.load_tool));
      else
        return std::unexpected("unknown dataplane " + name);
    }
    // Repetitions are the outer loop: each one sweeps every size, so the repetitions of one size
    // lie minutes apart and their spread includes the slow swings of this VM's host (±40 % between
    // two quiet runs with sizes as the outer loop). Within a repetition the order of the dataplanes
    // rotates, so that none always runs right after another.
    for (int rep = 0; rep < o_.reps; ++rep)
      for (int n : o_.services)
        for (std::size_t i = 0; i < dataplanes.size(); ++i) {
          const std::size_t d = (i + static_cast<std::size_t>(rep)) % dataplanes.size();
          const auto& name = o_.dataplanes[d];
          auto& dp = *dataplanes[d];
          if (stop_requested) return std::unexpected("stopped by a signal");
          json row = {{"dataplane", name}, {"services", n}, {"rep", rep}};
          const auto& cluster = *clusters[n];
          const auto kernel = dp.through_service() ? settled_kernel_memory_kib() : 0;
          auto ok = dp.program(cluster, row);
          if (ok) {
            if (dp.through_service()) row["kernel_memory_kib"] = kernel_memory_kib() - kernel;
            ok = measure_traffic(*topologies[d], cluster, dp.through_service(), row);
          }
          if (ok) ok = dp.change_one_endpoint(cluster, row);
          dp.clear();
          if (!ok) return std::unexpected(name + " at " + std::to_string(n) + " services: " + ok.error());
          std::fprintf(stderr, "%s\n", row.dump().c_str());
          rows.push_back(row);
        }
    return rows;
  }

 private:
  Options o_;
  std::vector<pid_t> softirq_pids_;
};

std::vector<int> ints(const std::string& list) {
  std::vector<int> out;
  for (const auto& s : split(list)) out.push_back(std::stoi(s));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* name) { return a.substr(std::string(name).size()); };
    if (a.starts_with("--services="))
      o.services = ints(value("--services="));
    else if (a.starts_with("--dataplanes="))
      o.dataplanes = split(value("--dataplanes="));
    else if (a.starts_with("--reps="))
      o.reps = std::stoi(value("--reps="));
    else if (a.starts_with("--seconds="))
      o.seconds = std::stod(value("--seconds="));
    else if (a.starts_with("--load-tool="))
      o.load_tool = value("--load-tool=");
    else if (a.starts_with("--out="))
      o.out = value("--out=");
    else if (a.starts_with("--write-iptables=")) {  // N: print kube-proxy's layout for N services
      const int n = std::stoi(value("--write-iptables="));
      std::vector<std::string> pods;
      for (int p = 0; p < kPods; ++p) pods.push_back("10.244.0." + std::to_string(11 + p));
      std::fputs(
          bench::kube_proxy_full_restore(bench::BenchCluster(n, kPods, pods).kube_proxy_ports(), bench::BenchTopology::kPodCidr).c_str(),
          stdout);
      return 0;
    } else {
      std::fprintf(stderr,
                   "usage: %s --load-tool=PATH --out=FILE [--services=1,100,1000,10000] [--reps=3] [--seconds=1.5] "
                   "[--dataplanes=direct,ebpf,nftables,iptables]\n",
                   argv[0]);
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "packet_bench needs root (network namespaces, a cgroup, a bpf filesystem)\n");
    return 1;
  }
  if (o.load_tool.empty() || o.out.empty()) {
    std::fprintf(stderr, "--load-tool and --out are required\n");
    return 2;
  }
  std::signal(SIGINT, [](int) { stop_requested = 1; });
  std::signal(SIGTERM, [](int) { stop_requested = 1; });
  const auto start = Clock::now();
  auto rows = Runner(o).run();
  if (!rows) {
    std::fprintf(stderr, "packet_bench: %s\n", rows.error().c_str());
    return 1;
  }
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  double load[3] = {};
  getloadavg(load, 3);
  json doc = {{"services", o.services},
              {"dataplanes", o.dataplanes},
              {"repetitions", o.reps},
              {"seconds_per_test", o.seconds},
              {"endpoints_per_service", kPods},
              {"cpus", sysconf(_SC_NPROCESSORS_ONLN)},
              {"load_average_at_end", load[0]},
              {"wall_seconds", ms_since(start) / 1000},
              {"rows", *rows}};
  std::ofstream(o.out) << doc.dump(1) << "\n";
  return 0;
}
