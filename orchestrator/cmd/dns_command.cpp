// `switchyard dns --manifests FILE ...`: the cluster DNS server answering from Services and
// EndpointSlices read from manifests, without an API server. A test bed for DNS clients and
// the DNS benchmarks; the agent serves the same server from live state.
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "dns/server.h"
#include "orchestrator/api/defaults.h"
#include "orchestrator/api/manifest.h"
#include "orchestrator/cmd/commands.h"

namespace switchyard::cmd {

namespace {

struct DnsOptions {
  std::vector<std::string> manifests;
  std::vector<std::string> listen{"127.0.0.1:53"};
  std::string cluster_domain = "cluster.local";
  std::string pods = "disabled";
  unsigned ttl = 5;
  int workers = 2;
  bool endpoint_pod_names = false;
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
      if (auto* s = std::get_if<api::Service>(&d.object)) state.upsert(*s);
      else if (auto* e = std::get_if<api::EndpointSlice>(&d.object)) state.upsert(*e);
    }
  }
  dns::ServerOptions so;
  so.listen = opt.listen;
  so.workers = opt.workers;
  so.zone.zone = opt.cluster_domain;
  so.zone.ttl = opt.ttl;
  so.zone.endpoint_pod_names = opt.endpoint_pod_names;
  so.zone.pods = opt.pods == "insecure" ? dns::PodRecords::Insecure : opt.pods == "verified" ? dns::PodRecords::Verified : dns::PodRecords::Disabled;
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
  (*server)->set_snapshot(state.build());
  std::cout << fmt::format("serving {} services for {} on {}\n", state.build()->services().size(), opt.cluster_domain,
                           fmt::join((*server)->bound(), ", "))
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
  sub->add_option("--manifests", opt->manifests, "manifest files with Services and EndpointSlices")->required();
  sub->add_option("--listen", opt->listen, "ADDRESS:PORT to serve UDP and TCP on (repeatable)")->capture_default_str();
  sub->add_option("--cluster-domain", opt->cluster_domain, "the cluster domain")->capture_default_str();
  sub->add_option("--ttl", opt->ttl, "TTL of answers, seconds")->capture_default_str();
  sub->add_option("--pods", opt->pods, "pod records: disabled, insecure or verified")
      ->check(CLI::IsMember({"disabled", "insecure", "verified"}))
      ->capture_default_str();
  sub->add_flag("--endpoint-pod-names", opt->endpoint_pod_names, "name unnamed endpoints after their pods");
  sub->add_option("--workers", opt->workers, "worker threads (one socket each, SO_REUSEPORT)")->capture_default_str();
  sub->callback([&run, opt] { run = [opt] { return run_dns(*opt); }; });
}

}  // namespace switchyard::cmd
