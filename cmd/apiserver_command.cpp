// `switchyard apiserver`: the Kubernetes-compatible API server on a persistent store.
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cmd/commands.h"
#include "cmd/control_plane.h"
#include "cmd/leader_election.h"

namespace switchyard::cmd {

namespace {

using ApiserverOptions = ControlPlaneOptions;

int run_apiserver(const ApiserverOptions& o) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto plane = ControlPlane::start(o);
  if (!plane) {
    std::cerr << "error: " << plane.error().message << "\n";
    return 1;
  }
  std::cout << fmt::format("switchyard apiserver: serving {} on {}:{} (store {})\n", o.plain_http ? "HTTP" : "HTTPS",
                           (*plane)->listen_host(), (*plane)->port(), o.store);
  if (!(*plane)->kubeconfig().empty()) std::cout << fmt::format("  kubectl --kubeconfig {} get services -A\n", (*plane)->kubeconfig());
  std::cout << std::flush;
  int sig = 0;
  sigwait(&signals, &sig);
  (*plane)->stop();
  return 0;
}

}  // namespace

void register_apiserver(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<ApiserverOptions>();
  CLI::App* sub = app.add_subcommand("apiserver", "Run the Kubernetes-compatible API server on a persistent store");
  sub->add_option("--data-dir", o->data_dir, "directory for the store, certificates and kubeconfig")->required();
  sub->add_option("--listen", o->listen, "address to serve on")->capture_default_str();
  sub->add_option("--advertise-address", o->advertise_address,
                  "address published as the kubernetes Service's endpoint (default: a specific --listen address; with 0.0.0.0 "
                  "the default-route interface's; none with a loopback --listen)");
  sub->add_option("--service-cidr", o->service_cidr, "ClusterIP range")->capture_default_str();
  sub->add_option("--service-node-port-range", o->node_port_range, "NodePort range")->capture_default_str();
  sub->add_option("--store", o->store, "sqlite, or etcd=http://HOST:PORT")->capture_default_str();
  sub->add_option("--encryption-provider-config", o->encryption_provider_config,
                  "EncryptionConfiguration file (apiserver.config.k8s.io/v1): resources encrypted at rest and their providers");
  sub->add_option("--service-account-signing-key-file", o->service_account_signing_key_file,
                  "private key (PEM, RSA or EC P-256) that signs service-account tokens; default: DIR/pki/sa.key, made at first start");
  sub->add_option("--service-account-key-file", o->service_account_key_files,
                  "more public keys (PEM) that verify service-account tokens, e.g. a previous signing key's; repeatable");
  sub->add_option("--service-account-issuer", o->service_account_issuer, "the iss of service-account tokens, and their audience")
      ->capture_default_str();
  sub->add_option("--tls-cert-file", o->tls_cert, "serving certificate (PEM); default: DIR/pki/apiserver.crt, made at first start");
  sub->add_option("--tls-private-key-file", o->tls_key, "serving key (PEM); default: DIR/pki/apiserver.key");
  sub->add_option("--token-file", o->token_file, "file holding the admin bearer token; default: DIR/admin.token");
  sub->add_option("--token-auth-file", o->token_auth_file, "static bearer tokens, one CSV line each: token,user,uid,\"group1,group2\"");
  sub->add_flag("--enable-bootstrap-token-auth", o->enable_bootstrap_token_auth,
                "accept bootstrap tokens (<id>.<secret>) from kube-system's bootstrap.kubernetes.io/token Secrets");
  sub->add_flag("--enable-token-cleaner", o->enable_token_cleaner,
                "run kube-controller-manager's tokencleaner: delete bootstrap-token Secrets once their expiration has passed");
  sub->add_flag("--enable-node-dns-endpoints", o->enable_node_dns_endpoints,
                "keep kube-system/kube-dns-nodes: one kube-dns endpoint per Node's InternalIP (every node's agent serves DNS)");
  sub->add_option("--client-ca-file", o->client_ca_file,
                  "accept client certificates signed by this CA (CN: user, O: groups); default: DIR/pki/ca.crt");
  sub->add_option("--kubelet-client-certificate", o->kubelet_client_cert,
                  "client certificate towards kubelets (logs, exec, port-forward); default: DIR/pki/apiserver-kubelet-client.crt");
  sub->add_option("--kubelet-client-key", o->kubelet_client_key, "the key of --kubelet-client-certificate");
  sub->add_option("--kubelet-certificate-authority", o->kubelet_certificate_authority,
                  "check kubelets' serving certificates against this CA (default: not checked, as kube-apiserver)");
  sub->add_flag("--insecure-plain-http", o->plain_http, "serve plain HTTP (tests only)");
  sub->add_flag("--allocate-node-cidrs", o->allocate_node_cidrs,
                "give every Node a spec.podCIDR from --cluster-cidr (the node IPAM controller, as kube-controller-manager's)");
  sub->add_option("--cluster-cidr", o->cluster_cidrs, "the pods' CIDR range: one, or one IPv4 and one IPv6 (dual-stack)")->delimiter(',');
  sub->add_option("--node-cidr-mask-size", o->node_cidr_mask_size,
                  "the mask size of each Node's podCIDR, single-stack (default 24 for IPv4, 64 for IPv6)");
  sub->add_option("--node-cidr-mask-size-ipv4", o->node_cidr_mask_size_ipv4, "the mask size of each Node's IPv4 podCIDR (default 24)");
  sub->add_option("--node-cidr-mask-size-ipv6", o->node_cidr_mask_size_ipv6, "the mask size of each Node's IPv6 podCIDR (default 64)");
  sub->add_flag("!--no-scheduler", o->run_scheduler, "do not run the scheduler in-process (run `switchyard scheduler` instead)");
  sub->add_flag("!--no-controllers", o->run_controllers,
                "do not run the controllers in-process (run `switchyard controller-manager --kubeconfig DIR/kubeconfig` instead)");
  add_leader_election_flags(sub, o->leader_election, "");
  sub->get_option("--leader-elect")
      ->description(
          "run the in-process controllers and scheduler only while holding their Leases (kube-system/kube-controller-manager, "
          "kube-scheduler), so that several API servers can share one etcd (default: on with an etcd store, off with sqlite)");
  sub->add_option("--compaction-interval", o->compaction_interval_seconds, "seconds between store compactions")->capture_default_str();
  sub->add_option("--node-monitor-grace-period", o->node_monitor_grace_period_seconds,
                  "seconds without a Lease renewal or Ready heartbeat before a node is Ready=Unknown and tainted unreachable")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--event-ttl", o->event_ttl_seconds, "seconds an Event is kept after it was last seen")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->callback([&run, o, sub] {
    // SQLite belongs to one process, so there is nobody to elect among unless the store is etcd.
    if (sub->get_option("--leader-elect")->count() == 0) o->leader_election.enabled = o->store.starts_with("etcd");
    run = [o] { return run_apiserver(*o); };
  });
}

}  // namespace switchyard::cmd
