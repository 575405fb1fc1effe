// The node agent's memory and latency at N services × 10 endpoints, nftables dataplane (issue
// #25). Each size runs in a child process of its own (so RSS is that size's alone) and holds
// what the agent holds: the informer caches (shared API objects, as client::SharedIndexInformer
// keeps them), the ClusterState fed from them, the Snapshot, and an NftablesBackend that
// programs a network namespace this program creates (never the host's). Needs root.
//
//   agent_memory_bench [--services=1000,10000] [--endpoints=10] [--changes=21]
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
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

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

struct Figures {
  int services = 0;
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

// Runs in the child; the namespace is created and removed here.
int measure(int services, int endpoints_per_service, int changes, int out_fd) {
  auto ns = dataplane::testing::NetworkNamespace::create(dataplane::testing::NetworkNamespace::unique_name("sy-agm", "bench"));
  if (!ns) {
    std::fprintf(stderr, "%s\n", ns.error().c_str());
    return 1;
  }
  Figures f;
  f.services = services;
  f.rss_start = status_mib("VmRSS");
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
  auto& backend = **created;

  // The informer caches: one shared immutable object per key.
  double h = heap_mib();
  std::map<std::pair<std::string, std::string>, std::shared_ptr<const api::Service>> service_cache;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<const api::EndpointSlice>> slice_cache;
  for (int i = 0; i < services; ++i) {
    auto s = std::make_shared<const api::Service>(make_service(i));
    service_cache[{s->metadata.namespace_, s->metadata.name}] = s;
    auto sl = std::make_shared<const api::EndpointSlice>(make_slice(i, endpoints_per_service));
    slice_cache[{sl->metadata.namespace_, sl->metadata.name}] = sl;
  }
  f.informer_mib = heap_mib() - h;

  const double cpu0 = cpu_ms();
  h = heap_mib();
  endpoints::ClusterState state({.node_name = "node-000"});
  auto feed_all = [&] {
    for (const auto& [_, s] : service_cache) state.upsert(*s);
    for (const auto& [_, s] : slice_cache) state.upsert(*s);
  };
  auto start = Clock::now();
  feed_all();
  f.state_mib = heap_mib() - h;
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
    slice_cache[{changed->metadata.namespace_, changed->metadata.name}] = changed;
    state.upsert(*changed);
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
  if (auto ok = backend.cleanup(); !ok) std::fprintf(stderr, "cleanup: %s\n", ok.error().message.c_str());
  return write(out_fd, &f, sizeof f) == static_cast<ssize_t>(sizeof f) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {1000, 10000};
  int endpoints_per_service = 10, changes = 21;
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
    } else {
      std::fprintf(stderr, "usage: %s [--services=1000,10000] [--endpoints=10] [--changes=21]\n", argv[0]);
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "agent_memory_bench needs root (it creates a network namespace)\n");
    return 0;
  }
  std::printf(
      "| services × %d | heap: informer caches / ClusterState / Snapshot / nft backend (MiB) | RSS after initial sync (MiB) "
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
      _exit(measure(n, endpoints_per_service, changes, fds[1]));
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
    std::printf("| %d | %.1f / %.1f / %.1f / %.1f | %.0f | %.0f / %.0f / %.0f | %.0f / %.0f / %.0f | %.2f (%.2f) / %.2f / %.2f |\n", n,
                f.informer_mib, f.state_mib, f.snapshot_mib, f.backend_mib, f.rss_initial, f.initial_build_ms, f.initial_sync_ms,
                f.initial_cpu_ms, f.peak_resync, f.resync_ms, f.resync_cpu_ms, f.change_node_median_ms, f.change_node_max_ms,
                f.change_kernel_median_ms, f.change_total_median_ms);
    std::fflush(stdout);
  }
  return 0;
}
