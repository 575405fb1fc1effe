// Time to program N services × 10 endpoints into nftables, inside a network namespace this
// program creates: a full sync through libnftnl (one batch), one endpoint change as a partial
// sync, and for comparison the same ruleset loaded with `nft -f`, kube-proxy's iptables layout
// for the same services loaded with `iptables-restore` and kube-proxy's nftables layout loaded
// with `nft -f` (each in a namespace of its own: the kernel's commit visits every table of its
// namespace). Needs root.
//
//   nft_sync_bench [--services=1000,10000] [--endpoints=10] [--changes=21] [--no-nft-cli] [--no-iptables]
//                  [--no-kube-proxy-nft]
//
// Arguments starting with --benchmark_ (from bench/run.sh) are ignored.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "bench/packet/kube_proxy_iptables.h"
#include "dataplane/iptables/nftables_backend.h"
#include "dataplane/iptables/test_cluster.h"
#include "dataplane/testing/network_namespace.h"
#include "endpoints/node/snapshot_diff.h"

namespace {

using namespace switchyard;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

std::string ip(int base, int index) {
  return std::to_string(base) + "." + std::to_string((index >> 16) & 255) + "." + std::to_string((index >> 8) & 255) + "." +
         std::to_string(index & 255);
}

// User + system CPU of this process (RUSAGE_SELF) or of its waited-for children, in ms: on a
// loaded machine wall times stretch, CPU times much less.
double cpu_ms(int who) {
  rusage u{};
  getrusage(who, &u);
  auto ms = [](const timeval& t) { return t.tv_sec * 1e3 + t.tv_usec / 1e3; };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

struct Result {
  int services = 0;
  double full_sync_ms = 0, partial_median_ms = 0, partial_max_ms = 0, nft_cli_ms = -1, iptables_ms = -1;
  double full_sync_cpu_ms = 0, iptables_cpu_ms = -1, kube_proxy_nft_ms = -1;
  std::uint64_t rules = 0, chains = 0, elements = 0, partial_messages = 0;
};

// kube-proxy's iptables layout for the same services, through `iptables-restore -w` (without
// --noflush, as packet_bench: a lower bound for kube-proxy), in a namespace of its own.
// Wall and CPU ms, -1 on failure.
std::pair<double, double> iptables_restore_ms(int services, int endpoints_per_service) {
  std::vector<bench::KubeProxyServicePort> ports;
  for (int s = 0; s < services; ++s) {
    bench::KubeProxyServicePort p{
        .namespace_ = "shop", .name = "svc" + std::to_string(s), .port_name = "http", .cluster_ip = ip(10, s + 1), .port = 80};
    for (int e = 0; e < endpoints_per_service; ++e) p.endpoints.push_back({ip(11, s * endpoints_per_service + e + 1), 8080});
    ports.push_back(std::move(p));
  }
  auto ns = dataplane::testing::NetworkNamespace::create(dataplane::testing::NetworkNamespace::unique_name("sy-ipt", "bench"));
  if (!ns) return {-1, -1};
  const std::string file = "/tmp/" + ns->name() + ".iptables";
  std::ofstream(file) << bench::kube_proxy_full_restore(ports, "11.0.0.0/8");
  const auto start = Clock::now();
  const double cpu_before = cpu_ms(RUSAGE_CHILDREN);
  auto loaded = ns->run("iptables-restore -w < " + file);
  const double ms = ms_since(start), cpu = cpu_ms(RUSAGE_CHILDREN) - cpu_before;
  std::remove(file.c_str());
  if (!loaded.ok()) {
    std::fprintf(stderr, "iptables-restore: %s\n", loaded.output.substr(0, 2000).c_str());
    return {-1, -1};
  }
  return {ms, cpu};
}

// kube-proxy's nftables-mode layout for the same services (pkg/proxy/nftables: per service port
// a `service-…` chain with the masquerade rule and `numgen random mod N vmap { i : goto
// endpoint-… }`, per endpoint an `endpoint-…` chain with the hairpin masquerade rule and the
// DNAT; `service-ips` and `cluster-ips` elements), in one table, as one `nft -f` transaction.
// Wall ms, -1 on failure.
double kube_proxy_nft_ms(int services, int endpoints_per_service) {
  auto ns = dataplane::testing::NetworkNamespace::create(dataplane::testing::NetworkNamespace::unique_name("sy-kpnft", "bench"));
  if (!ns) return -1;
  std::string f = "add table ip kube-proxy { comment \"rules for kube-proxy\" ; }\n";
  auto chain = [&](const std::string& name) { f += "add chain ip kube-proxy " + name + "\n"; };
  auto rule = [&](const std::string& name, const std::string& r) { f += "add rule ip kube-proxy " + name + " " + r + "\n"; };
  f += "add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority dstnat ; }\n"
       // -100 is dstnat: nft 1.0.6 takes the name for prerouting only.
       "add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }\n"
       "add chain ip kube-proxy nat-postrouting { type nat hook postrouting priority srcnat ; }\n"
       "add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }\n"
       "add set ip kube-proxy cluster-ips { type ipv4_addr ; }\n";
  for (const char* c : {"mark-for-masquerade", "masquerading", "services"}) chain(c);
  rule("mark-for-masquerade", "mark set mark or 0x4000");
  rule("masquerading", "mark and 0x4000 == 0 return");
  rule("masquerading", "mark set mark xor 0x4000");
  rule("masquerading", "masquerade fully-random");
  rule("services", "ip daddr . meta l4proto . th dport vmap @service-ips");
  rule("nat-prerouting", "jump services");
  rule("nat-output", "jump services");
  rule("nat-postrouting", "jump masquerading");
  std::string elements;
  for (int s = 0; s < services; ++s) {
    const std::string port_name = "shop/svc" + std::to_string(s) + "/tcp/http", vip = ip(10, s + 1);
    const std::string svc_chain = "service-" + std::to_string(100000000 + s) + "-" + port_name;
    chain(svc_chain);
    rule(svc_chain, "ip daddr " + vip + " tcp dport 80 ip saddr != 11.0.0.0/8 jump mark-for-masquerade");
    std::string vmap;
    for (int e = 0; e < endpoints_per_service; ++e) {
      const std::string ep = ip(11, s * endpoints_per_service + e + 1);
      const std::string ep_chain =
          "endpoint-" + std::to_string(100000000 + s * endpoints_per_service + e) + "-" + port_name + "__" + ep + "/8080";
      chain(ep_chain);
      rule(ep_chain, "ip saddr " + ep + " jump mark-for-masquerade");
      rule(ep_chain, "meta l4proto tcp dnat to " + ep + ":8080");
      vmap += (e ? ", " : "") + std::to_string(e) + " : goto " + ep_chain;
    }
    rule(svc_chain, "numgen random mod " + std::to_string(endpoints_per_service) + " vmap { " + vmap + " }");
    elements += "add element ip kube-proxy service-ips { " + vip + " . tcp . 80 : goto " + svc_chain + " }\n";
    elements += "add element ip kube-proxy cluster-ips { " + vip + " }\n";
  }
  f += elements;
  const std::string file = "/tmp/" + ns->name() + ".nft";
  std::ofstream(file) << f;
  const auto start = Clock::now();
  auto loaded = ns->run("nft -f " + file);
  const double ms = ms_since(start);
  std::remove(file.c_str());
  if (!loaded.ok()) {
    std::fprintf(stderr, "nft -f of kube-proxy's layout: %s\n", loaded.output.substr(0, 2000).c_str());
    return -1;
  }
  return ms;
}

std::optional<Result> run(int services, int endpoints_per_service, int changes, bool nft_cli, bool iptables, bool kube_proxy_nft) {
  auto ns = dataplane::testing::NetworkNamespace::create(dataplane::testing::NetworkNamespace::unique_name("sy-nft", "bench"));
  if (!ns) {
    std::fprintf(stderr, "%s\n", ns.error().c_str());
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

  dataplane::nft::NftablesBackendOptions options;
  options.generator.cluster_cidrs = {"11.0.0.0/8"};
  options.ipv6 = false;
  switchyard::Result<std::unique_ptr<dataplane::nft::NftablesBackend>> backend =
      std::unexpected(dataplane::Error{switchyard::ErrorCode::Internal, "not created"});
  (void)ns->enter([&] { backend = dataplane::nft::NftablesBackend::create(options); });
  if (!backend) {
    std::fprintf(stderr, "%s\n", backend.error().message.c_str());
    return std::nullopt;
  }
  auto& b = **backend;
  Result r;
  r.services = services;
  auto start = Clock::now();
  const double cpu_before = cpu_ms(RUSAGE_SELF);
  if (auto ok = b.full_sync(*snapshot); !ok) {
    std::fprintf(stderr, "full sync: %s\n", ok.error().message.c_str());
    return std::nullopt;
  }
  r.full_sync_ms = ms_since(start);
  r.full_sync_cpu_ms = cpu_ms(RUSAGE_SELF) - cpu_before;
  r.rules = b.stats().rules;
  r.chains = b.stats().chains;
  r.elements = b.stats().map_elements;

  // One endpoint of one service changes, `changes` times (in the middle of the table).
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
    if (auto ok = b.sync(*snapshot, *next, diff); !ok) {
      std::fprintf(stderr, "partial sync: %s\n", ok.error().message.c_str());
      return std::nullopt;
    }
    partial.push_back(ms_since(start));
    r.partial_messages = b.stats().last_batch_messages;
    snapshot = next;
  }
  std::ranges::sort(partial);
  r.partial_median_ms = partial[partial.size() / 2];
  r.partial_max_ms = partial.back();

  if (nft_cli) {
    const std::string file = "/tmp/" + ns->name() + ".nft";
    std::ofstream(file) << b.render_committed(endpoints::IpFamily::IPv4, *snapshot);
    if (auto ok = b.cleanup(); !ok) return std::nullopt;
    start = Clock::now();
    auto loaded = ns->run("nft -f " + file);
    r.nft_cli_ms = ms_since(start);
    if (!loaded.ok()) {
      std::fprintf(stderr, "nft -f %s: %s\n", file.c_str(), loaded.output.substr(0, 2000).c_str());
      r.nft_cli_ms = -1;
    }
    std::remove(file.c_str());
  }
  if (iptables) std::tie(r.iptables_ms, r.iptables_cpu_ms) = iptables_restore_ms(services, endpoints_per_service);
  if (kube_proxy_nft) r.kube_proxy_nft_ms = kube_proxy_nft_ms(services, endpoints_per_service);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {1000};
  int endpoints_per_service = 10;
  bool nft_cli = true;
  bool iptables = true;
  bool kube_proxy_nft = true;
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
    } else if (a == "--no-nft-cli") {
      nft_cli = false;
    } else if (a == "--no-iptables") {
      iptables = false;
    } else if (a == "--no-kube-proxy-nft") {
      kube_proxy_nft = false;
    } else if (!a.starts_with("--benchmark_")) {
      std::fprintf(
          stderr,
          "usage: %s [--services=1000,10000] [--endpoints=10] [--changes=21] [--no-nft-cli] [--no-iptables] [--no-kube-proxy-nft]\n",
          argv[0]);
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "nft_sync_bench needs root (it creates a network namespace)\n");
    return 0;
  }
  std::printf(
      "| services × %d endpoints | chains | rules | map elements | full sync (libnftnl, 1 batch): wall / CPU | nft -f of the same ruleset "
      "| ratio | iptables-restore of kube-proxy's layout: wall / CPU | ratio: wall / CPU | nft -f of kube-proxy's nftables layout | ratio "
      "| one endpoint change (median / max of %d) | messages |\n",
      endpoints_per_service, changes);
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int n : sizes) {
    auto r = run(n, endpoints_per_service, changes, nft_cli, iptables, kube_proxy_nft);
    if (!r) return 1;
    auto ms = [](double v) { return v < 0 ? std::string("n/a") : std::to_string(static_cast<long long>(v)) + " ms"; };
    auto ratio = [&](double v) { return v < 0 ? std::string("n/a") : std::to_string(v / r->full_sync_ms).substr(0, 5) + "×"; };
    const std::string ipt = ms(r->iptables_ms) + " / " + ms(r->iptables_cpu_ms);
    const std::string ipt_ratio =
        r->iptables_ms < 0 ? "n/a"
                           : ratio(r->iptables_ms) + " / " + std::to_string(r->iptables_cpu_ms / r->full_sync_cpu_ms).substr(0, 5) + "×";
    std::printf("| %d | %llu | %llu | %llu | %.0f ms / %.0f ms | %s | %s | %s | %s | %s | %s | %.2f ms / %.2f ms | %llu |\n", r->services,
                static_cast<unsigned long long>(r->chains), static_cast<unsigned long long>(r->rules),
                static_cast<unsigned long long>(r->elements), r->full_sync_ms, r->full_sync_cpu_ms, ms(r->nft_cli_ms).c_str(),
                ratio(r->nft_cli_ms).c_str(), ipt.c_str(), ipt_ratio.c_str(), ms(r->kube_proxy_nft_ms).c_str(),
                ratio(r->kube_proxy_nft_ms).c_str(), r->partial_median_ms, r->partial_max_ms,
                static_cast<unsigned long long>(r->partial_messages));
    std::fflush(stdout);
  }
  return 0;
}
