// The control plane of `switchyard apiserver` and `switchyard up` as one object: the store,
// the ClusterIP and NodePort allocators, first-start credentials and the admin kubeconfig, the
// HTTP(S) API server, the controllers (cmd/controller_manager.h), the scheduler and store compaction.
#pragma once

#include <atomic>
#include <expected>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/apiserver/object_registry.h"
#include "cmd/controller_manager.h"
#include "cmd/leader_election.h"
#include "orchestrator/base/error.h"

namespace switchyard::cmd {

struct ControlPlaneOptions {
  std::string data_dir;
  std::string listen = "127.0.0.1:6443";
  std::string service_cidr = "10.96.0.0/12";
  std::string node_port_range = "30000-32767";
  std::string store = "sqlite";
  // kube-apiserver's --encryption-provider-config: which resources are encrypted at rest, how.
  std::string encryption_provider_config;
  // kube-apiserver's service-account token flags: the key that signs (default DIR/pki/sa.key, an
  // RSA key made at first start), more public keys that verify, the tokens' issuer (and the
  // audience the API server accepts).
  std::string service_account_signing_key_file;
  std::vector<std::string> service_account_key_files;
  std::string service_account_issuer = "https://kubernetes.default.svc.cluster.local";
  std::string tls_cert, tls_key, token_file;
  // kube-apiserver's --token-auth-file (token,user,uid,"groups") and --client-ca-file (x509
  // client certificates: CN the user, O the groups; default with our own PKI: DIR/pki/ca.crt).
  std::string token_auth_file, client_ca_file;
  // Tokens of the components started beside the API server (`up`'s kubelet and agent), in the
  // --token-auth-file CSV format; held in memory only, made anew on every start.
  std::string component_tokens;
  // kube-apiserver's --enable-bootstrap-token-auth: bearer tokens <id>.<secret> from the
  // kube-system bootstrap-token-<id> Secrets (off by default there, on under `up`).
  bool enable_bootstrap_token_auth = false;
  // kube-controller-manager's tokencleaner (off by default there too, on under `up`): expired
  // bootstrap-token Secrets are deleted.
  bool enable_token_cleaner = false;
  // kube-system/kube-dns-nodes, one cluster DNS endpoint per Node (on under `up`).
  bool enable_node_dns_endpoints = false;
  bool plain_http = false;
  int compaction_interval_seconds = 300;
  int allocation_repair_interval_seconds = 180;  // kube-apiserver repairs its allocations every 3 minutes
  int event_ttl_seconds = 3600;                  // kube-apiserver's --event-ttl
  bool run_scheduler = true;                     // the scheduler in-process, as a kube-scheduler beside the API server
  bool run_controllers = true;  // the controllers in-process (cmd/controller_manager.h), as a kube-controller-manager beside it
  // With several API servers on one etcd: the in-process controllers and scheduler each run only
  // while this process holds their Lease (kube-system/kube-controller-manager, kube-scheduler).
  LeaderElectionFlags leader_election{.enabled = false};
  // Towards kubelets (logs, exec, attach, port-forward): kube-apiserver's --kubelet-client-certificate
  // and --kubelet-client-key (default with our own PKI: DIR/pki/apiserver-kubelet-client.*, made
  // at start) and --kubelet-certificate-authority (empty: kubelets' certificates are not checked).
  std::string kubelet_client_cert, kubelet_client_key, kubelet_certificate_authority;
  // kube-apiserver's --advertise-address: published as the `kubernetes` Service's endpoint and put
  // in the serving certificate (see cmd/advertise_address.h for the default).
  std::string advertise_address;
  // Addresses for LoadBalancer Services (controllers/load_balancer_ip_pool.h); empty: none given.
  std::string load_balancer_ip_pool;
  // The node lifecycle controller's --node-monitor-grace-period: a node whose kubelet posted
  // nothing (Lease, Ready heartbeat) for this long turns Ready=Unknown and is tainted unreachable.
  int node_monitor_grace_period_seconds = 40;
  // kube-controller-manager's --allocate-node-cidrs with --cluster-cidr and the mask sizes: the
  // node IPAM controller gives every Node a spec.podCIDR (controllers/node_ipam_controller.h).
  bool allocate_node_cidrs = false;
  std::vector<std::string> cluster_cidrs;
  int node_cidr_mask_size = 0, node_cidr_mask_size_ipv4 = 0, node_cidr_mask_size_ipv6 = 0;
};

// The controller manager's share of the options.
ControllerManagerOptions controller_manager_options(const ControlPlaneOptions& o);

class ControlPlane {
 public:
  // Block SIGINT/SIGTERM in the calling thread first if they are to be sigwait()ed: this starts threads.
  static Result<std::unique_ptr<ControlPlane>> start(const ControlPlaneOptions& options);
  ~ControlPlane();
  void stop();

  int port() const;
  const std::string& kubeconfig() const { return kubeconfig_; }  // empty with --tls-cert-file or plain HTTP
  const std::string& listen_host() const { return listen_host_; }
  // What the `kubernetes` Service's endpoints hold (empty: none published, loopback-only listen).
  const std::string& advertise_address() const { return advertise_address_; }
  // The n-th address of the service CIDR (0: the `kubernetes` Service's).
  std::string service_ip(std::size_t n) const;
  apiserver::ObjectRegistry& registry();

  struct Parts;

 private:
  explicit ControlPlane(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
  std::string kubeconfig_, listen_host_, advertise_address_;
};

}  // namespace switchyard::cmd
