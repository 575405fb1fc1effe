// The cost of answering one query in process (DnsServer::handle: parse, Snapshot lookup, write),
// without sockets: what the server spends per query apart from the kernel. 10,000 ClusterIP
// services, the queries asked round-robin; forwarded names answered from the cache.
#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include "dns/server.h"
#include "dns/test_messages.h"
#include "orchestrator/api/defaults.h"

namespace {

using namespace switchyard;

std::unique_ptr<dns::DnsServer> server_with_services(int n) {
  endpoints::ClusterState state({});
  for (int i = 0; i < n; ++i) {
    api::Service s;
    s.metadata.name = fmt::format("svc{}", i);
    s.metadata.namespace_ = fmt::format("ns{}", i % 100);
    s.spec.selector = {{"app", s.metadata.name}};
    s.spec.cluster_ip = fmt::format("10.96.{}.{}", i / 250, i % 250 + 1);
    s.spec.ports = {api::ServicePort{.name = "http", .port = 80}};
    api::apply_defaults(s, {});
    state.upsert(s);
  }
  dns::ServerOptions o;
  o.listen = {"127.0.0.1:0"};
  o.workers = 1;
  auto server = dns::DnsServer::create(o);
  if (!server) throw std::runtime_error(server.error().message);
  (*server)->set_snapshot(state.build());
  return std::move(*server);
}

void BM_AnswerClusterName(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  auto server = server_with_services(n);
  std::vector<std::vector<std::uint8_t>> queries;
  for (int i = 0; i < n; ++i) queries.push_back(dns::testing::make_query(fmt::format("svc{}.ns{}.svc.cluster.local", i, i % 100), dns::kA));
  std::array<std::uint8_t, 4096> out;
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(server->handle(queries[i], out, out.size(), false));
    if (++i == queries.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AnswerClusterName)->Arg(1)->Arg(10000);

// What the agent pays per new Snapshot: set_snapshot builds the DNS service index (and, with
// autopath, the pod index) on the caller's thread.
void BM_SetSnapshot(benchmark::State& state) {
  auto server = server_with_services(0);
  endpoints::ClusterState cluster({});
  for (int i = 0; i < state.range(0); ++i) {
    api::Service s;
    s.metadata.name = fmt::format("svc{}", i);
    s.metadata.namespace_ = fmt::format("ns{}", i % 100);
    s.spec.cluster_ip = fmt::format("10.96.{}.{}", i / 250, i % 250 + 1);
    s.spec.ports = {api::ServicePort{.name = "http", .port = 80}};
    api::apply_defaults(s, {});
    cluster.upsert(s);
  }
  auto snapshot = cluster.build();
  for (auto _ : state) server->set_snapshot(snapshot);
}
BENCHMARK(BM_SetSnapshot)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
