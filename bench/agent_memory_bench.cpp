// The node agent's memory and latency at N services × 10 endpoints, nftables or eBPF dataplane
// (issue #25). Each size runs in a child process of its own (so RSS is that size's alone) and
// holds what the agent holds: the informer caches, the ClusterState fed from them, the
// Snapshot, and a backend: an NftablesBackend that programs a network namespace this program
// creates (never the host's), or an EbpfBackend pinned in a private bpf filesystem and attached
// to a cgroup of its own (dataplane/ebpf/testing). Needs root.
//
//   agent_memory_bench [--services=1000,10000] [--endpoints=10] [--changes=21] [--mode=nftables|ebpf]
//                      [--informer-cache=keys|whole] [--no-trim]
//
// The informer caches: `keys` is what the agent's informers keep since issue #25 (each object
// goes whole to the ClusterState, the informer keeps its key: SharedIndexInformer::
// keep_keys_only), `whole` what they kept before (every decoded object). Each object is made
// anew where the informer decodes one (the list, a relist); the wire and its JSON are left out.
// After the initial full sync the agent hands freed memory back with malloc_trim
// (node_agent.cpp); --no-trim leaves that out, as older agents did.
// The same source builds against older code (it uses no newer API), so that both can be
// measured in one run.
//
// Per size it prints: heap (mallinfo2) of each part after the initial sync; the process's RSS
// after the initial sync; its peak RSS (VmHWM, reset through /proc/self/clear_refs) during a
// full resync (every object handed to the ClusterState again as after a relist, a new Snapshot,
// and a full sync, while the previous Snapshot is still held as the sync loop holds it); and one
// endpoint change from the informer event to the kernel: event → Snapshot rebuilt → diff
// (the node side), then the partial sync (the kernel), median of `changes`.
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "dataplane/ebpf/testing/ebpf_test_env.h"
#include "dataplane/iptables/nftables_backend.h"
#include "dataplane/testing/network_namespace.h"
#include "endpoints/node/snapshot_diff.h"
#include "orchestrator/api/defaults.h"

namespace {

using namespace switchyard;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

double cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) { return t.tv_sec * 1e3 + t.tv_usec / 1e3; };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

double heap_mib() { return static_cast<double>(mallinfo2().uordblks) / (1 << 20); }

// VmRSS or VmHWM of this process, MiB.
double status_mib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(field + ":")) return std::stod(line.substr(field.size() + 1)) / 1024;
  return -1;
}

void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

std::string address(int first_octet, int index) {
  return fmt::format("{}.{}.{}.{}", first_octet + (index >> 24), (index >> 16) & 255, (index >> 8) & 255, index & 255);
}

// A Service as an informer caches it (metadata included).
api::Service make_service(int i) {
  api::Service s;
  s.metadata.name = fmt::format("svc-{}", i);
  s.metadata.namespace_ = "bench";
  s.metadata.uid = fmt::format("0b7e3a6c-5d1f-4c2a-9e8b-{:012d}", i);
  s.metadata.resource_version = std::to_string(1000 + i);
  s.metadata.creation_timestamp = "2026-12-07T06:00:00Z";
  s.metadata.labels = {{"app", s.metadata.name}};
  s.spec.selector = {{"app", s.metadata.name}};
  s.spec.cluster_ip = address(10, (96 << 16) + i + 1);
  s.spec.ports = {api::ServicePort{.name = "http", .port = 80, .target_port = api::IntOrString::of(8080)}};
  api::apply_defaults(s, {});
  return s;
}

// Its EndpointSlice: `endpoints` ready pods spread over 100 nodes in 3 zones; `variant` moves the
// first endpoint's address (one endpoint change).
api::EndpointSlice make_slice(int i, int endpoints, int variant = 0) {
  api::EndpointSlice s;
  s.metadata.name = fmt::format("svc-{}-x7k2p", i);
  s.metadata.namespace_ = "bench";
  s.metadata.uid = fmt::format("6f1c2d3e-4b5a-4c6d-8e7f-{:012d}", i);
  s.metadata.resource_version = std::to_string(2000000 + i + variant);
  s.metadata.creation_timestamp = "2026-12-07T06:00:01Z";
  s.metadata.labels = {{endpoints::kServiceNameLabel, fmt::format("svc-{}", i)},
                       {"endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io"}};
  s.metadata.owner_references = {api::OwnerReference{.api_version = "v1",
                                                     .kind = "Service",
                                                     .name = fmt::format("svc-{}", i),
                                                     .uid = s.metadata.uid,
                                                     .controller = true,
                                                     .block_owner_deletion = true}};
  s.address_type = "IPv4";
  for (int e = 0; e < endpoints; ++e) {
    api::SliceEndpoint ep;
    const int index = i * endpoints + e + 1 + (e == 0 ? variant * 4'000'000 : 0);
    ep.addresses = {address(11, index)};
    ep.conditions.ready = true;
    ep.conditions.serving = true;
    ep.conditions.terminating = false;
    const int node = (i * endpoints + e) % 100;
    ep.node_name = fmt::format("node-{:03d}", node);
    ep.zone = fmt::format("zone-{}", static_cast<char>('a' + node % 3));
    ep.target_ref = api::ObjectReference{.kind = "Pod", .namespace_ = "bench", .name = fmt::format("svc-{}-7d9f8b6c5-{:05d}", i, e)};
    s.endpoints.push_back(std::move(ep));
  }
  s.ports = {api::SlicePort{.name = "http", .protocol = "TCP", .port = 8080}};
  return s;
}

// What an informer holds: every object by key, or (keys only) the keys.
template <class T>
struct InformerCache {
  std::unordered_map<std::string, std::shared_ptr<const T>> objects;
  std::unordered_set<std::string> keys;
  void put(std::shared_ptr<const T> object, bool whole) {
    std::string key = object->metadata.namespace_ + "/" + object->metadata.name;
    if (whole)
      objects[std::move(key)] = std::move(object);
    else
      keys.insert(std::move(key));
  }
};

struct Config {
  int endpoints_per_service = 10, changes = 21;
  bool ebpf = false, whole_cache = false, trim = true;
};

struct Figures {
  int services = 0;
  double rss_before_trim = 0;
  double informer_mib = 0, state_mib = 0, snapshot_mib = 0, backend_mib = 0;
  double rss_start = 0, rss_initial = 0, peak_resync = 0, rss_after_resync = 0;
  double initial_build_ms = 0, initial_sync_ms = 0, initial_cpu_ms = 0;
  double resync_ms = 0, resync_cpu_ms = 0;
  double change_node_median_ms = 0, change_node_max_ms = 0, change_kernel_median_ms = 0, change_total_median_ms = 0;
};

double median(std::vector<double> v) {
  std::ranges::sort(v);
  return v[v.size() / 2];
}

// Runs in the child; the namespace (nftables) or the bpf filesystem and cgroup (eBPF) are
// created and removed here.
int measure(int services, const Config& config, int out_fd) {
  const int endpoints_per_service = config.endpoints_per_service, changes = config.changes;
  Figures f;
  f.services = services;
  f.rss_start = status_mib("VmRSS");
  std::optional<dataplane::testing::NetworkNamespace> ns;
  std::optional<dataplane::ebpf::testing::EbpfTestEnv> ebpf_env;
  std::unique_ptr<dataplane::Backend> owned;
  if (config.ebpf) {
    auto env = dataplane::ebpf::testing::EbpfTestEnv::create();
    if (!env) {
      std::fprintf(stderr, "%s\n", env.error().c_str());
      return 1;
    }
    ebpf_env = std::move(*env);
    auto options = ebpf_env->options("bench");
    // Room for every frontend and backend (the defaults fit 10,000 services × 10).
    const auto entries = static_cast<std::uint32_t>(services) * (endpoints_per_service + 1) * 5 / 4;
    options.sizes.service_entries = std::max(options.sizes.service_entries, entries);
    options.sizes.backends = std::max(options.sizes.backends, entries);
    auto created = dataplane::ebpf::EbpfBackend::create(options);
    if (!created) {
      std::fprintf(stderr, "%s\n", created.error().message.c_str());
      return 1;
    }
    owned = std::move(*created);
  } else {
    auto made = dataplane::testing::NetworkNamespace::create(dataplane::testing::NetworkNamespace::unique_name("sy-agm", "bench"));
    if (!made) {
      std::fprintf(stderr, "%s\n", made.error().c_str());
      return 1;
    }
    ns.emplace(std::move(*made));
    dataplane::nft::NftablesBackendOptions options;
    options.generator.cluster_cidrs = {"11.0.0.0/8"};
    Result<std::unique_ptr<dataplane::nft::NftablesBackend>> created = std::unexpected(Error{ErrorCode::Internal, "not created"});
    if (auto entered = ns->enter([&] { created = dataplane::nft::NftablesBackend::create(options); }); !entered) {
      std::fprintf(stderr, "entering %s failed\n", ns->name().c_str());
      return 1;
    }
    if (!created) {
      std::fprintf(stderr, "%s\n", created.error().message.c_str());
      return 1;
    }
    owned = std::move(*created);
  }
  auto& backend = *owned;

  // The informer caches, filled as a list fills them: each object decoded (made here), handed
  // to the ClusterState, and cached whole or as its key.
  InformerCache<api::Service> service_cache;
  InformerCache<api::EndpointSlice> slice_cache;
  endpoints::ClusterState state({.node_name = "node-000"});
  auto fill_caches = [&](auto& services_to, auto& slices_to, bool feed) {
    for (int i = 0; i < services; ++i) {
      auto s = std::make_shared<const api::Service>(make_service(i));
      if (feed) state.upsert(*s);
      services_to.put(std::move(s), config.whole_cache);
    }
    for (int i = 0; i < services; ++i) {
      auto s = std::make_shared<const api::EndpointSlice>(make_slice(i, endpoints_per_service));
      if (feed) state.upsert(*s);
      slices_to.put(std::move(s), config.whole_cache);
    }
  };
  auto feed_all = [&] { fill_caches(service_cache, slice_cache, true); };

  const double cpu0 = cpu_ms();
  double h = heap_mib();
  auto start = Clock::now();
  feed_all();
  const double caches_and_state = heap_mib() - h;  // told apart at the end
  h = heap_mib();
  auto snapshot = state.build();
  f.initial_build_ms = ms_since(start);
  f.snapshot_mib = heap_mib() - h;
  h = heap_mib();
  start = Clock::now();
  if (auto ok = backend.full_sync(*snapshot); !ok) {
    std::fprintf(stderr, "full sync: %s\n", ok.error().message.c_str());
    return 1;
  }
  f.initial_sync_ms = ms_since(start);
  f.initial_cpu_ms = cpu_ms() - cpu0;
  f.backend_mib = heap_mib() - h;
  f.rss_before_trim = status_mib("VmRSS");
  if (config.trim) malloc_trim(0);  // as the agent does after a full sync
  f.rss_initial = status_mib("VmRSS");

  // Full resync: everything handed over again (a relist), a new Snapshot while the old one is
  // still held, and a full sync of it.
  reset_peak_rss();
  const double cpu1 = cpu_ms();
  start = Clock::now();
  feed_all();
  {
    auto next = state.build();
    if (auto ok = backend.full_sync(*next); !ok) {
      std::fprintf(stderr, "resync: %s\n", ok.error().message.c_str());
      return 1;
    }
    snapshot = std::move(next);
  }
  f.resync_ms = ms_since(start);
  f.resync_cpu_ms = cpu_ms() - cpu1;
  f.peak_resync = status_mib("VmHWM");
  f.rss_after_resync = status_mib("VmRSS");

  // One endpoint change: the informer replaces the slice in its cache and hands it over.
  std::vector<double> node_side, kernel, total;
  const int target = services / 2;
  for (int c = 0; c < changes; ++c) {
    auto changed = std::make_shared<const api::EndpointSlice>(make_slice(target, endpoints_per_service, c % 2 + 1));
    start = Clock::now();
    state.upsert(*changed);
    slice_cache.put(changed, config.whole_cache);
    auto next = state.build();
    auto diff = endpoints::diff_snapshots(*snapshot, *next);
    const double node_ms = ms_since(start);
    if (diff.changes.size() != 1) {
      std::fprintf(stderr, "expected one changed port, got %zu\n", diff.changes.size());
      return 1;
    }
    const auto kernel_start = Clock::now();
    if (auto ok = backend.sync(*snapshot, *next, diff); !ok) {
      std::fprintf(stderr, "partial sync: %s\n", ok.error().message.c_str());
      return 1;
    }
    kernel.push_back(ms_since(kernel_start));
    node_side.push_back(node_ms);
    total.push_back(ms_since(start));
    snapshot = std::move(next);
  }
  f.change_node_median_ms = median(node_side);
  f.change_node_max_ms = *std::ranges::max_element(node_side);
  f.change_kernel_median_ms = median(kernel);
  f.change_total_median_ms = median(total);
  // The caches' share of the heap: a second copy made the same way, measured on its own.
  {
    h = heap_mib();
    InformerCache<api::Service> services_copy;
    InformerCache<api::EndpointSlice> slices_copy;
    fill_caches(services_copy, slices_copy, false);
    f.informer_mib = heap_mib() - h;
    f.state_mib = caches_and_state - f.informer_mib;
  }
  if (auto ok = backend.cleanup(); !ok) std::fprintf(stderr, "cleanup: %s\n", ok.error().message.c_str());
  return write(out_fd, &f, sizeof f) == static_cast<ssize_t>(sizeof f) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {1000, 10000};
  Config config;
  int& endpoints_per_service = config.endpoints_per_service;
  int& changes = config.changes;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.starts_with("--services=")) {
      sizes.clear();
      for (std::size_t p = 11; p <= a.size();) {
        auto comma = a.find(',', p);
        if (comma == std::string::npos) comma = a.size();
        sizes.push_back(std::stoi(a.substr(p, comma - p)));
        p = comma + 1;
      }
    } else if (a.starts_with("--endpoints=")) {
      endpoints_per_service = std::stoi(a.substr(12));
    } else if (a.starts_with("--changes=")) {
      changes = std::max(1, std::stoi(a.substr(10)));
    } else if (a == "--mode=nftables" || a == "--mode=ebpf") {
      config.ebpf = a == "--mode=ebpf";
    } else if (a == "--informer-cache=keys" || a == "--informer-cache=whole") {
      config.whole_cache = a == "--informer-cache=whole";
    } else if (a == "--no-trim") {
      config.trim = false;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--services=1000,10000] [--endpoints=10] [--changes=21] [--mode=nftables|ebpf] "
                   "[--informer-cache=keys|whole] [--no-trim]\n",
                   argv[0]);
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "agent_memory_bench needs root (it creates a network namespace, or a bpf filesystem and a cgroup)\n");
    return 0;
  }
  std::printf("%s dataplane, informer caches %s, %s\n", config.ebpf ? "eBPF" : "nftables",
              config.whole_cache ? "whole objects" : "keys only", config.trim ? "malloc_trim after the initial sync" : "no malloc_trim");
  std::printf(
      "| services × %d | heap: informer caches / ClusterState / Snapshot / backend (MiB) | RSS after initial sync (MiB): before "
      "/ after trim "
      "| initial: Snapshot build / full sync / CPU (ms) | full resync: peak RSS (MiB) / wall / CPU (ms) "
      "| one endpoint change, median of %d: event → Snapshot + diff (max) / partial sync / total (ms) |\n",
      endpoints_per_service, changes);
  std::printf("|---|---|---|---|---|---|\n");
  for (int n : sizes) {
    int fds[2];
    if (pipe(fds) != 0) return 1;
    std::fflush(stdout);
    const pid_t child = fork();
    if (child == 0) {
      close(fds[0]);
      _exit(measure(n, config, fds[1]));
    }
    close(fds[1]);
    Figures f;
    const bool got = read(fds[0], &f, sizeof f) == static_cast<ssize_t>(sizeof f);
    close(fds[0]);
    int status = 0;
    waitpid(child, &status, 0);
    if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "size %d failed\n", n);
      return 1;
    }
    std::printf("| %d | %.1f / %.1f / %.1f / %.1f | %.0f / %.0f | %.0f / %.0f / %.0f | %.0f / %.0f / %.0f | %.2f (%.2f) / %.2f / %.2f |\n",
                n, f.informer_mib, f.state_mib, f.snapshot_mib, f.backend_mib, f.rss_before_trim, f.rss_initial, f.initial_build_ms,
                f.initial_sync_ms, f.initial_cpu_ms, f.peak_resync, f.resync_ms, f.resync_cpu_ms, f.change_node_median_ms,
                f.change_node_max_ms, f.change_kernel_median_ms, f.change_total_median_ms);
    std::fflush(stdout);
  }
  return 0;
}
