#include "node/node_agent.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <net/if.h>
#include <netinet/in.h>

#include <bit>
#include <fstream>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "dataplane/conntrack_cleanup.h"
#include "dataplane/ebpf/ebpf_backend.h"
#include "dataplane/health_check_server.h"
#include "dataplane/iptables/nftables_backend.h"
#include "dataplane/node_port_addresses.h"
#include "dataplane/sync_loop.h"
#include "dns/server.h"
#include "node/arp_responder.h"
#include "node/ndp_responder.h"
#include "node/cluster_state_feed.h"
#include "node/node_pods_feed.h"
#include "node/status_http_server.h"

namespace switchyard::node {

namespace {

constexpr const char* kToBeDeletedTaint = "ToBeDeletedByClusterAutoscaler";

// As kube-proxy: a node being deleted, or about to be by the autoscaler, fails /healthz so that
// load balancers drain it first.
bool node_eligible(const std::optional<api::Node>& node) {
  if (!node) return true;
  if (node->metadata.deletion_timestamp) return false;
  for (const auto& t : node->taints)
    if (t.key == kToBeDeletedTaint) return false;
  return true;
}

// kube-proxy's conntrack settings, in this process's network namespace. Only fields that were
// set are written; a failure (read-only in a child namespace, no module) is logged, not fatal.
void apply_conntrack(const ConntrackSettings& c) {
  auto write = [](const std::string& name, std::int64_t value) {
    const std::string path = "/proc/sys/net/netfilter/" + name;
    std::ofstream out(path);
    out << value;
    out.flush();
    if (!out)
      spdlog::warn("event=conntrack_setting_failed sysctl={} value={} error=\"cannot write {}\"", name, value, path);
    else
      spdlog::info("event=conntrack_setting sysctl={} value={}", name, value);
  };
  if (c.max_per_core || c.min) {
    const std::int64_t cores = std::max(1u, std::thread::hardware_concurrency());
    write("nf_conntrack_max", std::max(c.max_per_core.value_or(0) * cores, c.min.value_or(0)));
  }
  if (c.tcp_established_timeout) write("nf_conntrack_tcp_timeout_established", c.tcp_established_timeout->count());
  if (c.tcp_close_wait_timeout) write("nf_conntrack_tcp_timeout_close_wait", c.tcp_close_wait_timeout->count());
  if (c.udp_timeout) write("nf_conntrack_udp_timeout", c.udp_timeout->count());
  if (c.udp_stream_timeout) write("nf_conntrack_udp_timeout_stream", c.udp_stream_timeout->count());
}

Result<std::unique_ptr<dataplane::Backend>> create_backend(const AgentConfig& c) {
  if (c.mode == "ebpf") {
    // Pinned state is reused: a restarted agent takes over the running maps and links.
    auto backend = dataplane::ebpf::EbpfBackend::create({.node_name = c.node_name,
                                                         .pin_root = c.bpf_root,
                                                         .cgroup_root = c.cgroup_root,
                                                         .sizes = {.service_entries = c.ebpf_lb_map_initial,
                                                                   .backends = c.ebpf_lb_map_initial,
                                                                   .conntrack_entries = c.ebpf_ct_max,
                                                                   .dynamic_size_ratio = c.ebpf_map_dynamic_size_ratio},
                                                         .external_interfaces = c.external_interfaces,
                                                         .detect_external_interfaces = c.external_interfaces.empty(),
                                                         .nodeport_xdp = c.ebpf_nodeport_mode == "xdp",
                                                         .nodeport_localhost = c.ebpf_localhost_nodeports});
    if (!backend) return fail(with_context(backend.error(), "ebpf"));
    if (const auto& at = (*backend)->objects().bpffs_mounted(); !at.empty())
      spdlog::info("event=bpffs_mounted at={} reason=\"no bpf filesystem was mounted there\"", at);
    spdlog::info("event=ebpf_backend_opened pin_dir={} reused_pins={}", (*backend)->pin_dir(), (*backend)->reused_pins());
    return std::unique_ptr<dataplane::Backend>(std::move(*backend));
  }
  dataplane::nft::NftablesBackendOptions options;
  options.generator.cluster_cidrs = c.cluster_cidrs;
  // "primary" would need the Node's InternalIPs before the first list: refused by validate().
  options.node_port_addresses.cidrs = c.node_port_addresses;
  if (auto ok = options.node_port_addresses.validate(); !ok) return fail(with_context(ok.error(), "nodePortAddresses"));
  auto backend = dataplane::nft::NftablesBackend::create(options);
  if (!backend) return fail(with_context(backend.error(), "nftables"));
  return std::unique_ptr<dataplane::Backend>(std::move(*backend));
}

// The addresses health-check node ports listen on: those nodePortAddresses selects, or every
// address (one dual-stack socket) when it selects them all.
Result<std::vector<std::string>> health_check_addresses(const AgentConfig& c) {
  dataplane::NodePortAddresses selection{.cidrs = c.node_port_addresses, .primary_ips = {}};
  if (selection.match_all(endpoints::IpFamily::IPv4) && selection.match_all(endpoints::IpFamily::IPv6)) return std::vector<std::string>{};
  auto local = dataplane::LocalAddresses::create();
  if (!local) return fail(with_context(local.error(), "health-check node ports"));
  auto listed = (*local)->list();
  if (!listed) return fail(with_context(listed.error(), "health-check node ports"));
  std::vector<std::string> out;
  for (auto family : {endpoints::IpFamily::IPv4, endpoints::IpFamily::IPv6})
    for (auto& a : selection.select(family, *listed)) out.push_back(std::move(a));
  return out;
}

// The cluster's own clients: pods (the cluster CIDRs), hosts on the node's links (other nodes,
// this node's pod bridge) and loopback.
std::vector<std::string> default_forward_clients(const AgentConfig& c) {
  std::vector<std::string> out = c.cluster_cidrs;
  out.push_back("127.0.0.0/8");
  out.push_back("::1/128");
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || !a->ifa_netmask || !(a->ifa_flags & IFF_UP)) continue;
    const int family = a->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    const auto* addr = family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr)
                                         : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr);
    const auto* mask = family == AF_INET
                           ? reinterpret_cast<const unsigned char*>(&reinterpret_cast<sockaddr_in*>(a->ifa_netmask)->sin_addr)
                           : reinterpret_cast<const unsigned char*>(&reinterpret_cast<sockaddr_in6*>(a->ifa_netmask)->sin6_addr);
    int prefix = 0;
    for (int i = 0; i < (family == AF_INET ? 4 : 16); ++i) prefix += std::popcount(static_cast<unsigned>(mask[i]));
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(family, addr, text, sizeof text)) out.push_back(fmt::format("{}/{}", text, prefix));
  }
  freeifaddrs(list);
  return out;
}

StatusResponse as_json(dataplane::HealthResponse r) { return {r.status, "application/json", std::move(r.body)}; }

}  // namespace

struct NodeAgent::Impl {
  explicit Impl(const AgentConfig& c, client::ClusterConnection conn)
      : config(c),
        health(2 * c.sync_period),
        informers(std::move(conn)),
        feed(informers, {.node_name = c.node_name, .proxy_name = c.proxy_name}) {}

  AgentConfig config;
  std::unique_ptr<dataplane::Backend> backend;
  dataplane::ProxyHealth health;            // as kube-proxy: unhealthy when a change waited two sync periods
  client::SharedInformerFactory informers;  // the agent's one informer per resource
  ClusterStateFeed feed;
  std::unique_ptr<dataplane::SyncLoop> loop;
  std::unique_ptr<dataplane::ConntrackCleaner> conntrack;       // stale UDP flows, after each sync
  std::unique_ptr<dataplane::HealthCheckServer> health_checks;  // externalTrafficPolicy Local node ports
  std::unique_ptr<dns::DnsServer> dns_server;
  std::unique_ptr<NodePodsFeed> node_pods;  // with --dns-autopath: who is asking
  std::unique_ptr<StatusHttpServer> healthz, metrics;
  std::unique_ptr<ArpResponder> arp;  // with l2_announcements: ARP answers for LoadBalancer IPs
  std::unique_ptr<NdpResponder> ndp;  // and Neighbor Advertisements for the IPv6 ones
  bool stopped = false;
  std::vector<std::chrono::system_clock::time_point> pending_triggers;  // sync thread only

  bool ready() { return feed.synced() && health.synced_once(); }

  Result<void> start_dns() {
    if (config.dns_listen.empty()) return {};
    dns::ServerOptions so;
    so.listen = config.dns_listen;
    so.zone.zone = config.cluster_domain;
    so.forward.upstreams = config.dns_upstreams;
    so.forward.resolv_conf = config.dns_upstreams.empty() ? config.dns_resolv_conf : "";
    so.forward.clients = config.dns_forward_clients.empty() ? default_forward_clients(config) : config.dns_forward_clients;
    so.autopath = config.dns_autopath;
    so.zone.pods = config.dns_pods == "verified"   ? dns::PodRecords::Verified
                   : config.dns_pods == "disabled" ? dns::PodRecords::Disabled
                                                   : dns::PodRecords::Insecure;
    if (so.zone.pods == dns::PodRecords::Verified) feed.watch_pods();
    auto created = dns::DnsServer::create(so);
    if (!created) return fail(with_context(created.error(), fmt::format("--dns-listen {}", fmt::join(config.dns_listen, ","))));
    dns_server = std::move(*created);
    spdlog::info("event=serving what=dns zone={} addresses={}", config.cluster_domain, fmt::join(dns_server->bound(), ","));
    return {};
  }

  Result<void> start_http() {
    if (!config.healthz_bind_address.empty()) {
      auto started = StatusHttpServer::start(config.healthz_bind_address,
                                             {{"/healthz", [this] { return as_json(health.healthz()); }},
                                              {"/livez", [this] { return as_json(health.livez()); }},
                                              {"/readyz", [this] {
                                                 return ready() ? StatusResponse{200, "text/plain; charset=utf-8", "ok\n"}
                                                                : StatusResponse{503, "text/plain; charset=utf-8",
                                                                                 "not ready: no full list programmed yet\n"};
                                               }}});
      if (!started) return fail(with_context(started.error(), "--healthz-bind-address " + config.healthz_bind_address));
      healthz = std::move(*started);
      spdlog::info("event=serving what=healthz address={} port={}", config.healthz_bind_address, healthz->port());
    }
    if (!config.metrics_bind_address.empty()) {
      auto started = StatusHttpServer::start(config.metrics_bind_address,
                                             {{"/metrics", [this] {
                                                 std::string text =
                                                     loop->metrics().prometheus_text() + health.prometheus_text() + backend->metrics_text();
                                                 if (dns_server) text += dns_server->metrics_text();
                                                 return StatusResponse{200, "text/plain; version=0.0.4; charset=utf-8", std::move(text)};
                                               }}});
      if (!started) return fail(with_context(started.error(), "--metrics-bind-address " + config.metrics_bind_address));
      metrics = std::move(*started);
      spdlog::info("event=serving what=metrics address={} port={}", config.metrics_bind_address, metrics->port());
    }
    return {};
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    // Order: nothing new arrives, nothing more is programmed, then the servers go.
    informers.stop();
    if (loop) loop->stop();
    health_checks.reset();
    if (arp) arp->stop();
    if (ndp) ndp->stop();
    if (dns_server) dns_server->stop();
    if (healthz) healthz->stop();
    if (metrics) metrics->stop();
  }
};

NodeAgent::NodeAgent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NodeAgent::~NodeAgent() { stop(); }
void NodeAgent::stop() { impl_->stop(); }
bool NodeAgent::ready() const { return impl_->ready(); }

Result<std::unique_ptr<NodeAgent>> NodeAgent::start(const AgentConfig& c, client::ClusterConnection connection) {
  for (const auto& f : c.ignored_fields) spdlog::info("event=config_field_ignored field={}", f);
  auto impl = std::make_unique<Impl>(c, connection);
  apply_conntrack(c.conntrack);
  auto backend = create_backend(c);
  if (!backend) return fail(backend.error());
  impl->backend = std::move(*backend);
  Impl* self = impl.get();
  impl->loop = std::make_unique<dataplane::SyncLoop>(
      *impl->backend,
      [self]() -> std::shared_ptr<const endpoints::Snapshot> {
        if (!self->feed.synced()) return nullptr;
        // Trigger times taken before the Snapshot: every change they stand for is in it.
        for (auto t : self->feed.take_trigger_times()) self->pending_triggers.push_back(t);
        return self->feed.snapshot();
      },
      dataplane::SyncLoopOptions{
          .min_sync_period = c.min_sync_period,
          .sync_period = c.sync_period,
          .full_sync_period = c.sync_period,
          .retry_interval = std::max<std::chrono::steady_clock::duration>(c.min_sync_period, std::chrono::seconds(1)),
          .mode = c.mode},
      &impl->health);
  // Network programming latency, as kube-proxy measures it: from the EndpointSlice's
  // last-change-trigger-time to the sync that programmed it (kept across failed syncs).
  impl->loop->add_observer([self](const dataplane::SyncEvent&) {
    const auto now = std::chrono::system_clock::now();
    for (auto t : self->pending_triggers) self->loop->metrics().record_network_programming(t, now);
    self->pending_triggers.clear();
  });
  // What follows the programmed state: stale UDP conntrack entries go once the rules no longer
  // send new flows there, and the health-check node ports report the new local endpoints.
  auto cleaner = dataplane::ConntrackCleaner::create();
  if (!cleaner) return fail(with_context(cleaner.error(), "conntrack cleanup"));
  impl->conntrack = std::move(*cleaner);
  auto addresses = health_check_addresses(c);
  if (!addresses) return fail(addresses.error());
  auto checks = dataplane::HealthCheckServer::create({.node_addresses = *addresses});
  if (!checks) return fail(with_context(checks.error(), "health-check node ports"));
  impl->health_checks = std::move(*checks);
  // As kube-proxy: the ports answer 503 while a change has waited too long for a successful sync.
  impl->health_checks->set_proxy_health([self] { return self->health.healthy(); });
  impl->loop->add_observer([self](const dataplane::SyncEvent& e) {
    if (auto r = self->conntrack->on_sync(e.before, e.after, e.diff); !r)
      spdlog::warn("event=conntrack_cleanup_failed error=\"{}\"", r.error().message);
    if (auto r = self->health_checks->update(e.after); !r) spdlog::warn("event=health_check_ports_failed error=\"{}\"", r.error().message);
  });
  // A full sync builds every rule and the whole batch, then frees them: hand those pages back
  // to the kernel, or the agent's resident size stays at the sync's peak (issue #25).
  impl->loop->add_observer([](const dataplane::SyncEvent& e) {
    if (e.full) malloc_trim(0);
  });
  if (c.l2_announcements) {
    auto arp = ArpResponder::start();
    if (!arp) return fail(with_context(arp.error(), "L2 announcements of LoadBalancer IPs"));
    impl->arp = std::move(*arp);
    auto ndp = NdpResponder::start();
    if (!ndp) return fail(with_context(ndp.error(), "L2 announcements of LoadBalancer IPs"));
    impl->ndp = std::move(*ndp);
    // Announced once programmed: a client is never sent to an address that is not forwarded yet.
    impl->loop->add_observer([self](const dataplane::SyncEvent& e) {
      std::set<std::uint32_t> addresses;
      std::set<NdpResponder::Address> addresses6;
      for (const auto& [name, port] : e.after.service_ports())
        for (const auto& ip : port->load_balancer_ips)
          if (in_addr a{}; inet_pton(AF_INET, ip.c_str(), &a) == 1)
            addresses.insert(ntohl(a.s_addr));
          else if (NdpResponder::Address a6{}; inet_pton(AF_INET6, ip.c_str(), a6.data()) == 1)
            addresses6.insert(a6);
      self->arp->set_addresses(std::move(addresses));
      self->ndp->set_addresses(std::move(addresses6));
    });
  }
  if (auto ok = impl->start_dns(); !ok) return fail(ok.error());
  if (impl->dns_server && c.dns_autopath) {
    impl->node_pods = std::make_unique<NodePodsFeed>(impl->informers, c.node_name);
    impl->node_pods->set_on_change([self] {
      std::vector<dns::PodAddress> pods;
      for (auto& p : self->node_pods->addresses()) pods.push_back({std::move(p.ip), std::move(p.namespace_)});
      self->dns_server->set_node_pods(std::move(pods));
    });
  }
  impl->feed.set_on_change([self] {
    self->loop->request_sync();
    self->health.set_node_eligible(node_eligible(self->feed.node()));
    // DNS answers from the same Snapshots, without the sync loop's rate limit; SERVFAIL until
    // every informer has listed once.
    if (self->dns_server && self->feed.synced()) self->dns_server->set_snapshot(self->feed.snapshot());
  });
  if (auto ok = impl->start_http(); !ok) return fail(ok.error());
  spdlog::info("event=agent_started node={} mode={} api_server={}:{} sync_period_ms={} min_sync_period_ms={} cluster_cidrs=\"{}\"",
               c.node_name, c.mode, connection.host, connection.port, c.sync_period.count(), c.min_sync_period.count(),
               fmt::join(c.cluster_cidrs, ","));
  impl->informers.start();
  impl->loop->start();
  return std::unique_ptr<NodeAgent>(new NodeAgent(std::move(impl)));
}

Result<void> cleanup_dataplane(const AgentConfig& c) {
  auto backend = create_backend(c);
  if (!backend) return fail(backend.error());
  if (auto ok = (*backend)->cleanup(); !ok) return fail(with_context(ok.error(), "--cleanup"));
  return {};
}

}  // namespace switchyard::node
