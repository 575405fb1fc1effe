// Pins what the Snapshot's consumers produce for a generated cluster of 2,000 services (issue
// #25): the DNS answers (A, AAAA, SRV, PTR, CNAME, headless and pod records), the nftables
// objects of every service port in both families, and the eBPF map entries. A refactor of the
// Snapshot must leave all of them unchanged. The golden file holds one FNV-1a digest per
// service (small enough to keep in git); on a mismatch the test prints the current text of the
// services that differ. SWITCHYARD_UPDATE_GOLDEN=1 rewrites the file (do that only on a commit
// whose output is known good); SWITCHYARD_GOLDEN_DUMP=FILE writes the full text (to diff two
// commits' outputs).
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dataplane/ebpf/lb_entries.h"
#include "dataplane/iptables/rule_generator.h"
#include "dns/cluster_zone.h"
#include "dns/test_messages.h"
#include "orchestrator/api/defaults.h"

namespace switchyard {
namespace {

using endpoints::IpFamily;

// A small deterministic generator: the cluster must be the same on every run and machine.
struct Lcg {
  std::uint64_t state = 0x2545F4914F6CDD1Dull;
  std::uint32_t next(std::uint32_t bound) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::uint32_t>(state >> 33) % bound;
  }
};

std::string v4(int a, int b, int c, int d) { return fmt::format("{}.{}.{}.{}", a, b, c, d); }
std::string v6(int group, int index) { return fmt::format("fd00:{:x}::{:x}", group, index); }

struct Generated {
  std::vector<api::Service> services;
  std::vector<api::EndpointSlice> slices;
};

// Ten kinds of service, in turn: IPv4 ClusterIP (three variants), dual-stack with TCP and UDP
// ports, headless with hostnames, ExternalName, NodePort with Local policy and affinity,
// LoadBalancer, IPv6-only, and internal Local policy with topology hints and terminating pods.
Generated generate(int count) {
  Generated g;
  Lcg rng;
  const std::vector<std::string> nodes = {"node-a", "node-b", "node-c"}, zones = {"zone-a", "zone-b", "zone-c"};
  for (int i = 0; i < count; ++i) {
    const int kind = i % 10;
    api::Service s;
    s.metadata.name = fmt::format("svc-{}", i);
    s.metadata.namespace_ = fmt::format("ns-{}", i % 7);
    s.spec.selector = {{"app", s.metadata.name}};
    s.spec.cluster_ip = v4(10, 96, i / 250, i % 250 + 1);
    s.spec.ports = {api::ServicePort{.name = "http", .port = 80, .target_port = api::IntOrString::of(8080)}};
    if (kind == 1) s.spec.ports[0].name = "";  // one unnamed port
    if (kind == 2) s.spec.ports.push_back(api::ServicePort{.name = "metrics", .port = 9090, .target_port = api::IntOrString::of(9090)});
    if (kind == 3 || kind == 8) {
      s.spec.ports.push_back(api::ServicePort{.name = "dns", .protocol = "UDP", .port = 53, .target_port = api::IntOrString::of(5353)});
      if (kind == 3) {
        s.spec.cluster_ips = {s.spec.cluster_ip, v6(0x96, i + 1)};
        s.spec.ip_families = {"IPv4", "IPv6"};
        s.spec.ip_family_policy = "RequireDualStack";
      } else {
        s.spec.cluster_ip = v6(0x96, i + 1);
        s.spec.ip_families = {"IPv6"};
      }
    }
    if (kind == 4) {
      s.spec.cluster_ip = "None";
      s.spec.publish_not_ready_addresses = i % 20 == 4;
    }
    if (kind == 5) {
      s.spec = {};
      s.spec.type = "ExternalName";
      s.spec.external_name =
          i % 20 == 5 ? fmt::format("svc-{}.ns-{}.svc.cluster.local", i - 1, (i - 1) % 7) : fmt::format("db{}.example.com", i);
    }
    if (kind == 6) {
      s.spec.type = "NodePort";
      s.spec.ports[0].node_port = 30000 + i % 2000;
      s.spec.external_traffic_policy = "Local";
      s.spec.session_affinity = "ClientIP";
    }
    if (kind == 7) {
      s.spec.type = "LoadBalancer";
      s.spec.ports[0].node_port = 30000 + i % 2000;
      s.spec.external_traffic_policy = i % 20 == 7 ? "Local" : "Cluster";
      s.spec.health_check_node_port = 32000 + i % 700;
      s.spec.load_balancer_source_ranges = {"192.0.2.0/24"};
      s.status_load_balancer_ingress = {api::LoadBalancerIngress{.ip = v4(203, 0, i / 250, i % 250 + 1)}};
    }
    if (kind == 9) {
      s.spec.internal_traffic_policy = "Local";
      if (i % 20 == 9) {
        s.spec.internal_traffic_policy = std::nullopt;
        s.metadata.annotations["service.kubernetes.io/topology-mode"] = "Auto";
        s.spec.external_ips = {v4(198, 51, i / 250, i % 250 + 1)};
      }
      if (i % 30 == 9) s.metadata.annotations["service.switchyard.dev/lb-algorithm"] = "maglev";
    }
    if (i % 97 == 0) s.metadata.labels["service.kubernetes.io/service-proxy-name"] = "other-proxy";
    api::apply_defaults(s, {});

    // Slices: none for ExternalName; a few services have none at all.
    if (kind != 5 && i % 53 != 0) {
      std::vector<std::string> families = {"IPv4"};
      if (kind == 3) families.push_back("IPv6");
      if (kind == 8) families = {"IPv6"};
      for (const auto& family : families) {
        api::EndpointSlice sl;
        sl.metadata.name = fmt::format("{}-{}", s.metadata.name, family == "IPv4" ? "v4" : "v6");
        sl.metadata.namespace_ = s.metadata.namespace_;
        sl.metadata.labels = {{endpoints::kServiceNameLabel, s.metadata.name}};
        sl.address_type = family;
        const int n = static_cast<int>(rng.next(6));
        for (int e = 0; e < n; ++e) {
          api::SliceEndpoint ep;
          const int index = i * 8 + e + 1;
          ep.addresses = {family == "IPv4" ? v4(10, 64 + index / 65536, (index / 256) % 256, index % 256) : v6(0x244, index)};
          const std::uint32_t state = rng.next(8);
          ep.conditions.ready = state != 0 && state != 1;
          ep.conditions.serving = state != 0;
          ep.conditions.terminating = state == 1 || state == 2;
          const std::uint32_t node = rng.next(3);
          ep.node_name = nodes[node];
          ep.zone = zones[node];
          if (kind == 4 && e % 3 != 2) ep.hostname = fmt::format("host-{}", e);
          if (e % 4 != 3)
            ep.target_ref =
                api::ObjectReference{.kind = "Pod", .namespace_ = s.metadata.namespace_, .name = fmt::format("pod-{}-{}", i, e)};
          if (i % 20 == 9) ep.hints = api::EndpointHints{.for_zones = {zones[(node + e) % 3]}};
          sl.endpoints.push_back(std::move(ep));
        }
        for (const auto& p : s.spec.ports) {
          api::SlicePort sp{.name = p.name, .protocol = p.protocol, .port = p.target_port.int_value};
          sl.ports.push_back(sp);
        }
        g.slices.push_back(std::move(sl));
      }
    }
    g.services.push_back(std::move(s));
  }
  return g;
}

std::string reverse_name(const std::string& ip) {
  if (ip.find(':') == std::string::npos) {
    in_addr a{};
    inet_pton(AF_INET, ip.c_str(), &a);
    const auto* b = reinterpret_cast<const std::uint8_t*>(&a);
    return fmt::format("{}.{}.{}.{}.in-addr.arpa", b[3], b[2], b[1], b[0]);
  }
  in6_addr a{};
  inet_pton(AF_INET6, ip.c_str(), &a);
  std::string out;
  for (int i = 15; i >= 0; --i) out += fmt::format("{:x}.{:x}.", a.s6_addr[i] & 0xF, a.s6_addr[i] >> 4);
  return out + "ip6.arpa";
}

std::string dashed(std::string ip) {
  for (auto& c : ip)
    if (c == '.' || c == ':') c = '-';
  return ip;
}

class Answers {
 public:
  explicit Answers(const endpoints::Snapshot& snapshot) : snapshot_(snapshot) {}
  void ask(std::string& out, const dns::ClusterZone& zone, const std::string& name, std::uint16_t type) {
    auto q = dns::parse_query(dns::testing::make_query(name, type));
    if (!q) {
      out += "unparsable " + name + "\n";
      return;
    }
    dns::ResponseWriter w(buffer_, buffer_.size());
    zone.answer(&snapshot_, *q, w);
    auto wire = w.finish();
    auto d = dns::testing::decode(std::vector<std::uint8_t>(wire.begin(), wire.end()));
    out += fmt::format("{} {} rcode={} aa={} tc={}\n", name, type, d.rcode, d.aa, d.tc);
    for (const auto& r : d.answer) out += "  an " + r + "\n";
    for (const auto& r : d.authority) out += "  au " + r + "\n";
    for (const auto& r : d.additional) out += "  ad " + r + "\n";
  }

 private:
  const endpoints::Snapshot& snapshot_;
  std::vector<std::uint8_t> buffer_ = std::vector<std::uint8_t>(65535);
};

class CountingIds : public dataplane::ebpf::LbIdSource {
 public:
  std::uint32_t backend_id(const dataplane::ebpf::BackendAddress& b) override { return ids.try_emplace(b, next++).first->second; }
  std::uint32_t backend_id_of(const dataplane::ebpf::BackendAddress& b) override { return ids.at(b); }
  std::uint32_t service_id(const endpoints::ServicePortName&, IpFamily f) override { return f == IpFamily::IPv4 ? 7 : 8; }
  std::map<dataplane::ebpf::BackendAddress, std::uint32_t> ids;
  std::uint32_t next = 100;
};

template <class Key>
std::string key_text(const Key& k) {
  std::string a;
  for (std::size_t i = 0; i < sizeof k.address; ++i) a += fmt::format("{:02x}", reinterpret_cast<const std::uint8_t*>(&k.address)[i]);
  return fmt::format("{} port={} slot={} proto={}", a, ntohs(k.port), k.slot, k.proto);
}

template <class Entries>
void add_entries(std::string& out, const char* what, const Entries& entries) {
  for (const auto& [k, v] : entries)
    out += fmt::format("  {} {} -> backend={} count={} flags={} affinity={} service={}\n", what, key_text(k), v.backend_id, v.count,
                       v.flags, v.affinity_timeout_s, v.service_id);
}

// Everything the consumers produce for one service, as text.
std::string describe(const endpoints::Snapshot& snapshot, const endpoints::ServiceInfo& svc, Answers& answers) {
  static const dns::ClusterZone plain(dns::ClusterZoneOptions{});
  // Insecure: the Snapshot carries no Pod objects, and `verified` answers only their addresses.
  static const dns::ClusterZone pods(dns::ClusterZoneOptions{.pods = dns::PodRecords::Insecure, .endpoint_pod_names = true});
  std::string out;
  const std::string base = fmt::format("{}.{}.svc.cluster.local", svc.key.name, svc.key.namespace_);
  for (const auto* zone : {&plain, &pods}) {
    for (auto type : {dns::kA, dns::kAAAA, dns::kSRV, dns::kANY}) answers.ask(out, *zone, base, type);
    for (const auto& p : svc.ports)
      if (!p.name.empty()) answers.ask(out, *zone, fmt::format("_{}._{}.{}", p.name, p.protocol, base), dns::kSRV);
    for (const auto& ip : svc.cluster_ips) answers.ask(out, *zone, reverse_name(ip), dns::kPTR);
    for (const auto& e : svc.addresses) {
      answers.ask(out, *zone, reverse_name(e.ip), dns::kPTR);
      answers.ask(out, *zone, fmt::format("{}.{}.pod.cluster.local", dashed(e.ip), svc.key.namespace_), dns::kA);
      answers.ask(out, *zone, fmt::format("{}.{}", e.hostname.empty() ? dashed(e.ip) : std::string(e.hostname), base), dns::kA);
      if (!e.pod_name.empty()) answers.ask(out, *zone, fmt::format("{}.{}", e.pod_name, base), dns::kAAAA);
    }
  }
  dataplane::nft::GeneratorOptions options;
  options.cluster_cidrs = {"10.64.0.0/10", "fd00:244::/64"};
  for (auto it = snapshot.service_ports().lower_bound(endpoints::ServicePortName{svc.key.namespace_, svc.key.name, "", ""});
       it != snapshot.service_ports().end() && it->first.namespace_ == svc.key.namespace_ && it->first.name == svc.key.name; ++it) {
    const auto& port = *it->second;
    out += "port " + port.name.to_string() + "\n";
    for (IpFamily f : {IpFamily::IPv4, IpFamily::IPv6}) {
      const auto objects = dataplane::nft::generate_service_port(port, f, options);
      dataplane::nft::TableSkeleton front{.family = f};
      dataplane::nft::TableSkeleton services{.family = f, .table = dataplane::nft::service_table_name(0)};
      out += dataplane::nft::render_table(front, {&objects});
      out += dataplane::nft::render_table(services, {&objects});
      out += fmt::format("endpoint group {}\n", objects.endpoint_group);
    }
    CountingIds ids;
    for (bool maglev : {false, true}) {
      const auto e = dataplane::ebpf::build_port_entries(port, ids, maglev);
      add_entries(out, "svc4", e.services4);
      add_entries(out, "svc6", e.services6);
      add_entries(out, "ext4", e.external4);
      add_entries(out, "ext6", e.external6);
      for (const auto& b : e.backends) out += "  backend " + b.to_string() + "\n";
      for (const auto& m : e.maglev) out += fmt::format("  maglev {}\n", m.service_id);
      out += fmt::format("  source ranges {} / {}, affinity services {}\n", e.source_ranges4.size(), e.source_ranges6.size(),
                         e.affinity_service_ids.size());
    }
  }
  return out;
}

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ static_cast<std::uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

TEST(SnapshotConsumersGolden, DnsAnswersNftablesObjectsAndEbpfEntriesOf2000ServicesAreUnchanged) {
  const auto cluster = generate(2000);
  endpoints::ClusterState state({.node_name = "node-a"});
  api::Node node;
  node.metadata.name = "node-a";
  node.metadata.labels = {{"topology.kubernetes.io/zone", "zone-a"}};
  state.set_node(node);
  for (const auto& s : cluster.services) state.upsert(s);
  for (const auto& s : cluster.slices) state.upsert(s);
  const auto snapshot = state.build();
  ASSERT_EQ(snapshot->services().size(), 2000u);

  Answers answers(*snapshot);
  std::map<std::string, std::string> text;  // service -> what the consumers produce
  std::string digests;
  for (const auto& [key, svc] : snapshot->services()) {
    auto& t = text[key.namespace_ + "/" + key.name];
    t = describe(*snapshot, *svc, answers);
    digests += fmt::format("{}/{} {:016x} {}\n", key.namespace_, key.name, fnv1a(t), std::count(t.begin(), t.end(), '\n'));
  }

  if (const char* dump = std::getenv("SWITCHYARD_GOLDEN_DUMP")) {  // the full text, to diff two commits' outputs
    std::ofstream out(dump);
    for (const auto& [name, t] : text) out << "== " << name << "\n" << t;
  }
  const std::string path = std::string(SWITCHYARD_SOURCE_DIR) + "/node/testdata/snapshot_consumers_golden.txt";
  if (const char* update = std::getenv("SWITCHYARD_UPDATE_GOLDEN"); update && std::string(update) == "1") {
    std::ofstream(path) << digests;
    std::printf("wrote %s\n", path.c_str());
  }
  std::ifstream in(path);
  ASSERT_TRUE(in) << "no golden file " << path;
  std::stringstream golden;
  golden << in.rdbuf();
  if (golden.str() == digests) return;
  // Name the services that differ, with what they produce now.
  std::istringstream want(golden.str()), got(digests);
  int shown = 0, differing = 0;
  for (std::string a, b; std::getline(want, a) && std::getline(got, b);) {
    if (a == b) continue;
    ++differing;
    if (shown++ < 3) ADD_FAILURE() << "golden: " << a << "\nnow:    " << b << "\n" << text[b.substr(0, b.find(' '))];
  }
  FAIL() << differing << " services differ from " << path;
}

}  // namespace
}  // namespace switchyard
