// The controllers as kube-controller-manager runs them: one set of shared informers, every
// control loop reaching the API server only through the client. Run in-process by
// `switchyard apiserver` and `up` (unless --no-controllers), or on its own by
// `switchyard controller-manager`, which can then be killed and restarted without the API server.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "orchestrator/base/error.h"
#include "orchestrator/client/cluster_connection.h"
#include "orchestrator/client/informer_factory.h"

namespace switchyard::cmd {

struct ControllerManagerOptions {
  // Addresses for LoadBalancer Services (controllers/load_balancer_ip_pool.h); empty: none given.
  std::string load_balancer_ip_pool;
  // --node-monitor-grace-period: a node whose kubelet posted nothing for this long turns
  // Ready=Unknown and is tainted unreachable.
  int node_monitor_grace_period_seconds = 40;
  // --allocate-node-cidrs with --cluster-cidr and the mask sizes (controllers/node_ipam_controller.h).
  bool allocate_node_cidrs = false;
  std::vector<std::string> cluster_cidrs;
  int node_cidr_mask_size = 0, node_cidr_mask_size_ipv4 = 0, node_cidr_mask_size_ipv6 = 0;
  // kube-controller-manager's tokencleaner (off by default there too, on under `up`): expired
  // bootstrap-token Secrets are deleted.
  bool enable_token_cleaner = false;
  // kube-system/kube-dns-nodes: one kube-dns endpoint per Node, each node's agent being a DNS
  // server (controllers/node_dns_endpoints.h); on under `up`, whose cluster DNS that is.
  bool enable_node_dns_endpoints = false;
  // --cluster-signing-cert-file / --cluster-signing-key-file: the CA the CSR signing controller
  // issues kubelet client certificates with (empty: CSRs are approved, never signed).
  std::string cluster_signing_cert_file, cluster_signing_key_file;
};

class ControllerManager {
 public:
  // The options a start would refuse, checked before anything runs (as kube-controller-manager does).
  static Result<void> check(const ControllerManagerOptions& o);
  // Starts every controller on `informers` (which must outlive this) against `self`; kube-root-ca.crt
  // is published with `self.ca_pem` when there is one.
  static Result<std::unique_ptr<ControllerManager>> start(client::SharedInformerFactory& informers, const client::ClusterConnection& self,
                                                          const ControllerManagerOptions& o);
  ~ControllerManager();
  ControllerManager(const ControllerManager&) = delete;
  ControllerManager& operator=(const ControllerManager&) = delete;
  void stop();

  struct Parts;

 private:
  explicit ControllerManager(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace switchyard::cmd
