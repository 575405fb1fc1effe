// Time to program N services × 10 endpoints into the eBPF backend's maps (socket load
// balancing), in a cgroup and a bpf filesystem this program creates and removes: a full sync
// into empty maps, one endpoint change as a partial sync, and the full sync a restarted agent
// runs over the maps it finds pinned (read back and compared; nothing to change). Needs root.
//
//   ebpf_map_bench [--services=1000,10000] [--endpoints=10] [--changes=21]
//
// Arguments starting with --benchmark_ (from bench/run.sh) are ignored.
#include <unistd.h>

#include <sys/resource.h>
#include <time.h>

#include <bpf/bpf.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/ebpf/ebpf_backend.h"
#include "dataplane/ebpf/testing/ebpf_test_env.h"
#include "dataplane/iptables/test_cluster.h"
#include "dataplane/testing/network_namespace.h"
#include "endpoints/node/snapshot_diff.h"

namespace {

using namespace switchyard;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

// CPU time of this thread, user and kernel (the syscalls that write the maps): on a shared,
// loaded machine it says more than wall time.
double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

std::string ip(int base, int index) {
  return std::to_string(base) + "." + std::to_string((index >> 16) & 255) + "." + std::to_string((index >> 8) & 255) + "." +
         std::to_string(index & 255);
}

// Minor page faults of this thread so far: first touches of fresh memory, the dominant cost of
// a large sync on this VM.
long thread_minor_faults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt;
}

// Kernel memory that maps live in (slab, vmalloc, per-CPU), from /proc/meminfo: the measure
// bench/packet uses for every dataplane (a delta, noisy on a shared machine).
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

// Waits (at most 5 s) until it stops moving (freed maps go after an RCU grace period).
std::int64_t settled_kernel_memory_kib() {
  auto last = kernel_memory_kib();
  for (int i = 0; i < 25; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto now = kernel_memory_kib();
    if (std::llabs(now - last) < 512) return now;
    last = now;
  }
  return last;
}

// What the kernel charges for each map pinned under `dir` (fdinfo memlock), by name; exact.
std::vector<std::pair<std::string, std::int64_t>> memlock_by_map(const std::string& dir) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const int fd = bpf_obj_get(entry.path().c_str());
    if (fd < 0) continue;
    std::ifstream info("/proc/self/fdinfo/" + std::to_string(fd));
    for (std::string line; std::getline(info, line);)
      if (line.starts_with("memlock:")) out.emplace_back(entry.path().filename(), std::stoll(line.substr(8)));
    close(fd);
  }
  std::ranges::sort(out, [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

struct Figures {
  int services = 0;
  double full_sync_ms = 0, full_sync_cpu_ms = 0, restart_cpu_ms = 0, partial_median_ms = 0, partial_max_ms = 0, restart_sync_ms = 0;
  std::uint64_t elements = 0, full_changes = 0, partial_changes = 0, restart_changes = 0;
  long full_sync_faults = 0, restart_faults = 0;
  std::int64_t memlock_kib = 0, cluster_maps_kib = 0, kernel_delta_kib = 0;
  std::string breakdown;
};

std::optional<Figures> run(int services, int endpoints_per_service, int changes) {
  auto env = dataplane::ebpf::testing::EbpfTestEnv::create();
  if (!env) {
    std::fprintf(stderr, "%s\n", env.error().c_str());
    return std::nullopt;
  }
  endpoints::ClusterState state({.node_name = "node-a"});
  for (int s = 0; s < services; ++s) {
    const std::string name = "svc" + std::to_string(s);
    state.upsert(dataplane::test_cluster::service(name, ip(10, s + 1)));
    std::vector<std::pair<std::string, std::string>> eps;
    for (int e = 0; e < endpoints_per_service; ++e) eps.emplace_back(ip(11, s * endpoints_per_service + e + 1), "node-b");
    state.upsert(dataplane::test_cluster::slice(name, eps));
  }
  auto snapshot = state.build();
  auto options = env->options("bench");
  options.sizes = {};  // the agent's defaults: floors grown with the cluster, LRU maps by memory ratio
  options.ipv6 = false;
  // The tc programs too (their conntrack maps are most of the LRU memory), on a veth
  // of a namespace of our own, as the agent loads them on the node's external interfaces.
  auto ns = dataplane::testing::NetworkNamespace::create(dataplane::testing::NetworkNamespace::unique_name("sy-mapb", "node"));
  if (!ns || !ns->run("ip link add ext0 type veth peer name ext1 && ip link set ext0 up && ip link set ext1 up").ok()) {
    std::fprintf(stderr, "network namespace for the tc programs\n");
    return std::nullopt;
  }
  options.external_interfaces = {"ext0"};
  auto create = [&] {
    switchyard::Result<std::unique_ptr<dataplane::ebpf::EbpfBackend>> b =
        std::unexpected(switchyard::Error{switchyard::ErrorCode::Internal, "not run"});
    if (auto entered = ns->enter([&] { b = dataplane::ebpf::EbpfBackend::create(options); }); !entered)
      b = std::unexpected(switchyard::Error{switchyard::ErrorCode::Internal, entered.error()});
    return b;
  };
  const auto kernel_before = settled_kernel_memory_kib();
  auto created = create();
  if (!created) {
    std::fprintf(stderr, "%s\n", created.error().message.c_str());
    return std::nullopt;
  }
  auto backend = std::move(*created);
  Figures r;
  r.services = services;
  auto start = Clock::now();
  double cpu = thread_cpu_ms();
  const long faults = thread_minor_faults();
  if (auto ok = backend->full_sync(*snapshot); !ok) {
    std::fprintf(stderr, "full sync: %s\n", ok.error().message.c_str());
    return std::nullopt;
  }
  r.full_sync_ms = ms_since(start);
  r.full_sync_cpu_ms = thread_cpu_ms() - cpu;
  r.full_sync_faults = thread_minor_faults() - faults;
  r.elements = backend->stats().map_elements;
  r.full_changes = backend->stats().last_batch_messages;
  r.kernel_delta_kib = settled_kernel_memory_kib() - kernel_before;
  for (const auto& [name, bytes] : memlock_by_map(backend->pin_dir())) {
    r.memlock_kib += bytes / 1024;
    if (!name.starts_with("ct") && !name.starts_with("lb_affinity") && name.find("reverse") == std::string::npos)
      r.cluster_maps_kib += bytes / 1024;
    if (bytes >= 64 * 1024) r.breakdown += (r.breakdown.empty() ? "" : ", ") + name + " " + std::to_string(bytes / 1024) + " KiB";
  }

  std::vector<double> partial;
  const std::string target = "svc" + std::to_string(services / 2);
  for (int i = 0; i < changes; ++i) {
    std::vector<std::pair<std::string, std::string>> eps;
    for (int e = 0; e < endpoints_per_service; ++e)
      eps.emplace_back(ip(11, (services / 2) * endpoints_per_service + e + 1 + (e == 0 ? 200000 + i : 0)), "node-b");
    state.upsert(dataplane::test_cluster::slice(target, eps));
    auto next = state.build();
    auto diff = endpoints::diff_snapshots(*snapshot, *next);
    start = Clock::now();
    if (auto ok = backend->sync(*snapshot, *next, diff); !ok) {
      std::fprintf(stderr, "partial sync: %s\n", ok.error().message.c_str());
      return std::nullopt;
    }
    partial.push_back(ms_since(start));
    r.partial_changes = backend->stats().last_batch_messages;
    snapshot = next;
  }
  std::ranges::sort(partial);
  r.partial_median_ms = partial[partial.size() / 2];
  r.partial_max_ms = partial.back();

  backend.reset();  // an agent restart: the pins stay
  created = create();
  if (!created) {
    std::fprintf(stderr, "%s\n", created.error().message.c_str());
    return std::nullopt;
  }
  backend = std::move(*created);
  start = Clock::now();
  cpu = thread_cpu_ms();
  const long restart_faults = thread_minor_faults();
  if (auto ok = backend->full_sync(*snapshot); !ok) {
    std::fprintf(stderr, "restart sync: %s\n", ok.error().message.c_str());
    return std::nullopt;
  }
  r.restart_sync_ms = ms_since(start);
  r.restart_cpu_ms = thread_cpu_ms() - cpu;
  r.restart_faults = thread_minor_faults() - restart_faults;
  r.restart_changes = backend->stats().last_batch_messages;
  if (auto ok = backend->cleanup(); !ok) std::fprintf(stderr, "cleanup: %s\n", ok.error().message.c_str());
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {1000, 10000};
  int endpoints_per_service = 10;
  int changes = 21;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.starts_with("--services=")) {
      sizes.clear();
      std::string list = a.substr(11);
      for (std::size_t p = 0; p <= list.size();) {
        auto comma = list.find(',', p);
        if (comma == std::string::npos) comma = list.size();
        sizes.push_back(std::stoi(list.substr(p, comma - p)));
        p = comma + 1;
      }
    } else if (a.starts_with("--endpoints=")) {
      endpoints_per_service = std::stoi(a.substr(12));
    } else if (a.starts_with("--changes=")) {
      changes = std::max(1, std::stoi(a.substr(10)));
    } else if (!a.starts_with("--benchmark_")) {
      std::fprintf(stderr, "usage: %s [--services=1000,10000] [--endpoints=10] [--changes=21]\n", argv[0]);
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "ebpf_map_bench needs root (it creates a cgroup and mounts a bpf filesystem)\n");
    return 0;
  }
  std::printf(
      "| services × %d endpoints | map entries | full sync (empty maps): wall / CPU | page faults | entries written | one endpoint change "
      "(median / max of %d) | entries changed | restart: full sync over the pinned maps, wall / CPU | page faults | entries changed |\n",
      endpoints_per_service, changes);
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  std::vector<Figures> memory;
  for (int n : sizes) {
    auto r = run(n, endpoints_per_service, changes);
    if (!r) return 1;
    std::printf("| %d | %llu | %.1f ms / %.1f ms | %ld | %llu | %.3f ms / %.3f ms | %llu | %.1f ms / %.1f ms | %ld | %llu |\n", r->services,
                static_cast<unsigned long long>(r->elements), r->full_sync_ms, r->full_sync_cpu_ms, r->full_sync_faults,
                static_cast<unsigned long long>(r->full_changes), r->partial_median_ms, r->partial_max_ms,
                static_cast<unsigned long long>(r->partial_changes), r->restart_sync_ms, r->restart_cpu_ms, r->restart_faults,
                static_cast<unsigned long long>(r->restart_changes));
    std::fflush(stdout);
    memory.push_back(*r);
  }
  std::printf(
      "\n| services × %d endpoints | kernel memory of the maps (memlock) | of which the maps that hold the cluster | LRU maps "
      "(conntrack, socket reverse NAT, affinity) | /proc/meminfo slab+vmalloc+percpu delta | largest maps |\n|---|---|---|---|---|---|\n",
      endpoints_per_service);
  for (const auto& r : memory)
    std::printf("| %d | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB | %s |\n", r.services, r.memlock_kib / 1024.0,
                r.cluster_maps_kib / 1024.0, (r.memlock_kib - r.cluster_maps_kib) / 1024.0, r.kernel_delta_kib / 1024.0,
                r.breakdown.c_str());
  return 0;
}
