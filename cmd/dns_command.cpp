// `switchyard dns --manifests FILE ...`: the cluster DNS server answering from Services and
// EndpointSlices read from manifests, without an API server. A test bed for DNS clients and
// the DNS benchmarks; the agent serves the same server from live state.
#include <malloc.h>

#include <csignal>
#include <map>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "dns/server.h"
#include "orchestrator/api/defaults.h"
#include "orchestrator/api/manifest.h"
#include "cmd/commands.h"
#include "node/status_http_server.h"

namespace switchyard::cmd {

using node::StatusHandler;
using node::StatusHttpServer;
using node::StatusResponse;

namespace {

struct DnsOptions {
  std::vector<std::string> manifests;
  std::vector<std::string> listen{"127.0.0.1:53"};
  std::string cluster_domain = "cluster.local";
  std::string pods = "disabled";
  unsigned ttl = 5;
  int workers = 2;
  bool endpoint_pod_names = false;
  std::vector<std::string> upstreams;
  std::string resolv_conf = "/etc/resolv.conf";
  std::size_t max_in_flight = 1000;
  std::size_t cache_size = 10000;
  std::uint32_t cache_max_ttl = 3600, cache_max_negative_ttl = 1800;
  bool autopath = false;
  std::string metrics_listen, health_listen;
};

int run_dns(const DnsOptions& opt) {
  endpoints::ClusterState state({});
  for (const auto& file : opt.manifests) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::cerr << fmt::format("error: {}: cannot read the file\n", file);
      return 1;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto docs = api::decode_manifest(text.str());
    if (!docs) {
      std::cerr << fmt::format("error: {}: {}\n", file, docs.error().message);
      return 1;
    }
    for (auto& d : *docs) {
      api::apply_defaults(d.object, {});
      if (auto* s = std::get_if<api::Service>(&d.object))
        state.upsert(*s);
      else if (auto* e = std::get_if<api::EndpointSlice>(&d.object))
        state.upsert(*e);
      else if (auto* p = std::get_if<api::Pod>(&d.object); p && opt.pods == "verified")
        state.upsert(*p);  // `pods verified` answers for these Pods' addresses
    }
  }
  auto snapshot = state.build();
  // The decoded manifests are gone: give their heap back, so that the resident size is what
  // serving takes (the benchmark reports it).
  malloc_trim(0);
  dns::ServerOptions so;
  so.listen = opt.listen;
  so.workers = opt.workers;
  so.zone.zone = opt.cluster_domain;
  so.zone.ttl = opt.ttl;
  so.zone.endpoint_pod_names = opt.endpoint_pod_names;
  so.zone.pods = opt.pods == "insecure"   ? dns::PodRecords::Insecure
                 : opt.pods == "verified" ? dns::PodRecords::Verified
                                          : dns::PodRecords::Disabled;
  so.forward.upstreams = opt.upstreams;
  so.forward.resolv_conf = opt.upstreams.empty() ? opt.resolv_conf : "";
  so.forward.max_in_flight = opt.max_in_flight;
  so.forward.cache = {.capacity = opt.cache_size, .max_ttl = opt.cache_max_ttl, .max_negative_ttl = opt.cache_max_negative_ttl};
  so.autopath = opt.autopath;
  // Block the signals before threads start so that only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto server = dns::DnsServer::create(so);
  if (!server) {
    std::cerr << "error: " << server.error() << "\n";
    return 1;
  }
  dns::DnsServer& dns = **server;
  dns.set_snapshot(snapshot);
  std::vector<std::unique_ptr<StatusHttpServer>> status_servers;
  auto serve = [&](const std::string& listen, std::map<std::string, StatusHandler> handlers) {
    auto s = StatusHttpServer::start(listen, std::move(handlers));
    if (!s) return std::cerr << "error: " << s.error() << "\n", false;
    std::cout << fmt::format("status on {} (port {})\n", listen, (*s)->port());
    status_servers.push_back(std::move(*s));
    return true;
  };
  if (!opt.metrics_listen.empty() &&
      !serve(opt.metrics_listen, {{"/metrics", [&dns] {
                                     return StatusResponse{200, "text/plain; version=0.0.4; charset=utf-8", dns.metrics_text()};
                                   }}}))
    return 1;
  if (!opt.health_listen.empty() &&
      !serve(opt.health_listen,
             {{"/health",
               [] {
                 return StatusResponse{200, "text/plain", "OK\n"};
               }},
              {"/ready", [&dns] {
                 if (dns.forwarding_loop_detected()) return StatusResponse{503, "text/plain", "forwarding loop detected\n"};
                 return dns.ready() ? StatusResponse{200, "text/plain", "OK\n"} : StatusResponse{503, "text/plain", "no snapshot yet\n"};
               }}}))
    return 1;
  const auto upstreams = dns.upstreams();
  std::cout << fmt::format("serving {} services for {} on {}; forwarding to {}\n", snapshot->services().size(), opt.cluster_domain,
                           fmt::join(dns.bound(), ", "),
                           upstreams.empty() ? "nothing (REFUSED)" : fmt::format("{}", fmt::join(upstreams, ", ")))
            << std::flush;
  int sig = 0;
  sigwait(&signals, &sig);
  (*server)->stop();
  return 0;
}

}  // namespace

void register_dns(CLI::App& app, std::function<int()>& run) {
  auto opt = std::make_shared<DnsOptions>();
  CLI::App* sub = app.add_subcommand("dns", "Serve cluster DNS for the Services and EndpointSlices in manifests (no API server)");
  sub->add_option("--manifests", opt->manifests, "manifest files with Services and EndpointSlices (and Pods, for --pods verified)")
      ->required();
  sub->add_option("--listen", opt->listen, "ADDRESS:PORT to serve UDP and TCP on (repeatable)")->capture_default_str();
  sub->add_option("--cluster-domain", opt->cluster_domain, "the cluster domain")->capture_default_str();
  sub->add_option("--ttl", opt->ttl, "TTL of answers, seconds")->capture_default_str();
  sub->add_option("--pods", opt->pods, "pod records: disabled, insecure or verified")
      ->check(CLI::IsMember({"disabled", "insecure", "verified"}))
      ->capture_default_str();
  sub->add_flag("--endpoint-pod-names", opt->endpoint_pod_names, "name unnamed endpoints after their pods");
  sub->add_option("--workers", opt->workers, "worker threads (one socket each, SO_REUSEPORT)")->capture_default_str();
  sub->add_option("--upstream", opt->upstreams, "ADDR[:PORT] to forward other names to (repeatable); default: resolv.conf's nameservers");
  sub->add_option("--resolv-conf", opt->resolv_conf, "where to find upstreams without --upstream (\"\": forward nothing)")
      ->capture_default_str();
  sub->add_option("--max-in-flight", opt->max_in_flight, "forwarded queries waiting at once; beyond, REFUSED")->capture_default_str();
  sub->add_option("--cache-size", opt->cache_size, "forward cache entries (0: no cache)")->capture_default_str();
  sub->add_option("--cache-max-ttl", opt->cache_max_ttl, "longest a positive answer is cached, seconds")->capture_default_str();
  sub->add_option("--cache-max-negative-ttl", opt->cache_max_negative_ttl, "longest NXDOMAIN/NODATA is cached, seconds")
      ->capture_default_str();
  sub->add_flag("--autopath", opt->autopath, "server-side search path for queries from pods the endpoints name");
  sub->add_option("--metrics-listen", opt->metrics_listen, "ADDRESS:PORT to serve /metrics on");
  sub->add_option("--health-listen", opt->health_listen, "ADDRESS:PORT to serve /health and /ready on");
  sub->callback([&run, opt] { run = [opt] { return run_dns(*opt); }; });
}

}  // namespace switchyard::cmd
