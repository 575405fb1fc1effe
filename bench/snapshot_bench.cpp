// How long the node side takes to turn API objects into a Snapshot and to diff two Snapshots,
// at kube-proxy benchmark scales (services x 10 endpoints). The baseline for "one endpoint
// changed" is a full rebuild + full diff, which is what a tracker without sharing would do.
#include <malloc.h>

#include <memory>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "endpoints/node/snapshot_diff.h"
#include "orchestrator/api/defaults.h"

namespace sy = switchyard;
using sy::endpoints::ClusterState;

namespace {

sy::api::Service make_service(int i) {
  sy::api::Service s;
  s.metadata.name = fmt::format("svc-{}", i);
  s.metadata.namespace_ = "bench";
  s.spec.selector = {{"app", s.metadata.name}};
  s.spec.cluster_ip = fmt::format("10.96.{}.{}", i / 250, i % 250 + 1);
  s.spec.ports = {sy::api::ServicePort{.name = "http", .port = 80, .target_port = sy::api::IntOrString::of(8080)}};
  sy::api::apply_defaults(s, {});
  return s;
}

sy::api::EndpointSlice make_slice(int i, int endpoints, int variant = 0) {
  sy::api::EndpointSlice s;
  s.metadata.name = fmt::format("svc-{}-abcde", i);
  s.metadata.namespace_ = "bench";
  s.metadata.labels = {{sy::endpoints::kServiceNameLabel, fmt::format("svc-{}", i)}};
  s.address_type = "IPv4";
  for (int e = 0; e < endpoints; ++e) {
    sy::api::SliceEndpoint ep;
    ep.addresses = {fmt::format("10.{}.{}.{}", 64 + (i / 256) % 64, i % 256, e + 1 + variant)};
    ep.conditions.ready = true;
    ep.node_name = e % 2 ? "node-a" : "node-b";
    s.endpoints.push_back(std::move(ep));
  }
  s.ports = {sy::api::SlicePort{.name = "http", .protocol = "TCP", .port = 8080}};
  return s;
}

void fill(ClusterState& state, int services) {
  for (int i = 0; i < services; ++i) {
    state.upsert(make_service(i));
    state.upsert(make_slice(i, 10));
  }
}

// Everything from scratch: what the agent does at start.
void BM_BuildSnapshotFromScratch(benchmark::State& st) {
  const int n = static_cast<int>(st.range(0));
  for (auto _ : st) {
    ClusterState state({.node_name = "node-a"});
    fill(state, n);
    benchmark::DoNotOptimize(state.build());
  }
  st.counters["services"] = n;
}

// One endpoint of one service changes: rebuild that service and diff.
void BM_OneEndpointChange(benchmark::State& st) {
  const int n = static_cast<int>(st.range(0));
  ClusterState state({.node_name = "node-a"});
  fill(state, n);
  auto before = state.build();
  int flip = 0;
  for (auto _ : st) {
    state.upsert(make_slice(n / 2, 10, ++flip % 2));
    auto after = state.build();
    auto diff = sy::endpoints::diff_snapshots(*before, *after);
    if (diff.changes.size() != 1) st.SkipWithError("expected one change");
    before = std::move(after);
  }
  st.counters["services"] = n;
}

// The same change without sharing: full rebuild and a diff that compares every port deeply.
void BM_OneEndpointChangeFullRebuild(benchmark::State& st) {
  const int n = static_cast<int>(st.range(0));
  ClusterState base({.node_name = "node-a"});
  fill(base, n);
  auto before = base.build();
  int flip = 0;
  for (auto _ : st) {
    ClusterState state({.node_name = "node-a"});
    fill(state, n);
    state.upsert(make_slice(n / 2, 10, ++flip % 2));
    auto after = state.build();
    benchmark::DoNotOptimize(sy::endpoints::diff_snapshots(*before, *after));
  }
  st.counters["services"] = n;
}

// Heap held by the node side at n services: the ClusterState (what the informers fed it) and
// the Snapshot built from it, measured with mallinfo2 around building both.
void BM_MemoryOfStateAndSnapshot(benchmark::State& st) {
  const int n = static_cast<int>(st.range(0));
  for (auto _ : st) {
    const auto before = mallinfo2().uordblks;
    auto state = std::make_unique<ClusterState>(sy::endpoints::ClusterStateOptions{.node_name = "node-a"});
    fill(*state, n);
    const auto state_only = mallinfo2().uordblks;
    auto snap = state->build();
    const auto with_snapshot = mallinfo2().uordblks;
    st.counters["state_MiB"] = static_cast<double>(state_only - before) / (1 << 20);
    st.counters["snapshot_MiB"] = static_cast<double>(with_snapshot - state_only) / (1 << 20);
    st.counters["bytes_per_service"] = static_cast<double>(with_snapshot - before) / n;
  }
  st.counters["services"] = n;
}

}  // namespace

BENCHMARK(BM_MemoryOfStateAndSnapshot)->Arg(1000)->Arg(10000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BuildSnapshotFromScratch)->Arg(1)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OneEndpointChange)->Arg(1)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_OneEndpointChangeFullRebuild)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
