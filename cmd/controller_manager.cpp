#include "cmd/controller_manager.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "orchestrator/controllers/cronjob_controller.h"
#include "orchestrator/controllers/daemonset_controller.h"
#include "orchestrator/controllers/deployment_controller.h"
#include "orchestrator/controllers/disruption_controller.h"
#include "orchestrator/controllers/endpointslice_controller.h"
#include "orchestrator/controllers/garbage_collector.h"
#include "orchestrator/controllers/job_controller.h"
#include "orchestrator/controllers/load_balancer_ipam_controller.h"
#include "orchestrator/controllers/namespace_controller.h"
#include "orchestrator/controllers/node_dns_endpoints.h"
#include "orchestrator/controllers/node_ipam_controller.h"
#include "orchestrator/controllers/node_lifecycle_controller.h"
#include "orchestrator/controllers/persistent_volume_controller.h"
#include "orchestrator/controllers/replicaset_controller.h"
#include "orchestrator/controllers/root_ca_publisher.h"
#include "orchestrator/controllers/token_cleaner.h"
#include "orchestrator/controllers/csr_controllers.h"
#include "orchestrator/controllers/service_account_controller.h"
#include "orchestrator/controllers/statefulset_controller.h"

namespace switchyard::cmd {

namespace {

controllers::NodeIpamOptions ipam_options(const ControllerManagerOptions& o) {
  return {.cluster_cidrs = o.cluster_cidrs,
          .node_cidr_mask_size = o.node_cidr_mask_size,
          .node_cidr_mask_size_ipv4 = o.node_cidr_mask_size_ipv4,
          .node_cidr_mask_size_ipv6 = o.node_cidr_mask_size_ipv6};
}

}  // namespace

struct ControllerManager::Parts {
  std::unique_ptr<controllers::EndpointSliceController> slices;
  std::unique_ptr<controllers::ReplicaSetController> replicasets;
  std::unique_ptr<controllers::DeploymentController> deployments;
  std::unique_ptr<controllers::DaemonSetController> daemonsets;
  std::unique_ptr<controllers::JobController> jobs;
  std::unique_ptr<controllers::CronJobController> cronjobs;
  std::unique_ptr<controllers::StatefulSetController> statefulsets;
  std::unique_ptr<controllers::LoadBalancerIpamController> lb_ipam;
  std::unique_ptr<controllers::ServiceAccountController> service_accounts;
  std::unique_ptr<controllers::RootCaPublisher> root_ca;
  std::unique_ptr<controllers::TokenCleaner> token_cleaner;
  std::unique_ptr<controllers::NodeDnsEndpointsController> node_dns;
  std::unique_ptr<controllers::PersistentVolumeController> persistent_volumes;
  std::unique_ptr<controllers::NodeLifecycleController> node_lifecycle;
  std::unique_ptr<controllers::NodeIpamController> node_ipam;
  std::unique_ptr<controllers::DisruptionController> disruption;
  std::unique_ptr<controllers::GarbageCollector> garbage_collector;
  std::unique_ptr<controllers::NamespaceController> namespaces;
  std::unique_ptr<controllers::CertificateRequestControllers> certificates;
  bool stopped = false;
};

Result<void> ControllerManager::check(const ControllerManagerOptions& o) {
  auto lb_pool = controllers::LoadBalancerIpPool::parse(o.load_balancer_ip_pool);
  if (!lb_pool) return fail(with_context(lb_pool.error(), "--load-balancer-ip-pool"));
  if (o.allocate_node_cidrs) {
    const auto ipam = ipam_options(o);
    if (auto sets = controllers::node_cidr_sets(ipam.cluster_cidrs, ipam.node_cidr_mask_size, ipam.node_cidr_mask_size_ipv4,
                                                ipam.node_cidr_mask_size_ipv6);
        !sets)
      return fail(with_context(sets.error(), "node IPAM"));
  }
  return {};
}

ControllerManager::ControllerManager(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
ControllerManager::~ControllerManager() { stop(); }

void ControllerManager::stop() {
  auto& p = *parts_;
  if (p.stopped) return;
  p.stopped = true;
  if (p.slices) p.slices->stop();
  if (p.replicasets) p.replicasets->stop();
  if (p.deployments) p.deployments->stop();
  if (p.daemonsets) p.daemonsets->stop();
  if (p.jobs) p.jobs->stop();
  if (p.cronjobs) p.cronjobs->stop();
  if (p.statefulsets) p.statefulsets->stop();
  if (p.lb_ipam) p.lb_ipam->stop();
  if (p.service_accounts) p.service_accounts->stop();
  if (p.root_ca) p.root_ca->stop();
  if (p.token_cleaner) p.token_cleaner->stop();
  if (p.node_dns) p.node_dns->stop();
  if (p.persistent_volumes) p.persistent_volumes->stop();
  if (p.node_lifecycle) p.node_lifecycle->stop();
  if (p.node_ipam) p.node_ipam->stop();
  if (p.disruption) p.disruption->stop();
  if (p.garbage_collector) p.garbage_collector->stop();
  if (p.namespaces) p.namespaces->stop();
  if (p.certificates) p.certificates->stop();
}

Result<std::unique_ptr<ControllerManager>> ControllerManager::start(client::SharedInformerFactory& informers,
                                                                    const client::ClusterConnection& self,
                                                                    const ControllerManagerOptions& o) {
  if (auto ok = check(o); !ok) return fail(ok.error());
  auto lb_pool = controllers::LoadBalancerIpPool::parse(o.load_balancer_ip_pool);
  if (!lb_pool) return fail(with_context(lb_pool.error(), "--load-balancer-ip-pool"));
  auto parts = std::make_unique<Parts>();
  auto& p = *parts;
  p.slices = std::make_unique<controllers::EndpointSliceController>(informers, self);
  p.slices->start();
  p.replicasets = std::make_unique<controllers::ReplicaSetController>(informers, self);
  p.replicasets->start();
  p.deployments = std::make_unique<controllers::DeploymentController>(informers, self);
  p.deployments->start();
  p.service_accounts = std::make_unique<controllers::ServiceAccountController>(informers, self);
  p.service_accounts->start();
  // kube-root-ca.crt in every namespace: what pods verify the API server with.
  if (!self.ca_pem.empty()) {
    p.root_ca = std::make_unique<controllers::RootCaPublisher>(informers, self, self.ca_pem);
    p.root_ca->start();
  }
  p.persistent_volumes = std::make_unique<controllers::PersistentVolumeController>(informers, self);
  p.persistent_volumes->start();
  p.daemonsets = std::make_unique<controllers::DaemonSetController>(informers, self);
  p.daemonsets->start();
  p.jobs = std::make_unique<controllers::JobController>(informers, self);
  p.jobs->start();
  p.cronjobs = std::make_unique<controllers::CronJobController>(informers, self);
  p.cronjobs->start();
  p.statefulsets = std::make_unique<controllers::StatefulSetController>(informers, self);
  p.statefulsets->start();
  if (!lb_pool->empty()) {
    p.lb_ipam = std::make_unique<controllers::LoadBalancerIpamController>(informers, self, std::move(*lb_pool));
    p.lb_ipam->start();
  }
  p.node_lifecycle = std::make_unique<controllers::NodeLifecycleController>(
      informers, self,
      controllers::NodeLifecycleOptions{.grace_period = std::chrono::seconds(std::max(1, o.node_monitor_grace_period_seconds))});
  p.node_lifecycle->start();
  if (o.allocate_node_cidrs) {
    auto made = controllers::NodeIpamController::create(informers, self, ipam_options(o));
    if (!made) return fail(with_context(made.error(), "node IPAM"));
    p.node_ipam = std::move(*made);
    p.node_ipam->start();
  }
  if (o.enable_token_cleaner) {
    p.token_cleaner = std::make_unique<controllers::TokenCleaner>(informers, self);
    p.token_cleaner->start();
  }
  if (o.enable_node_dns_endpoints) {
    p.node_dns = std::make_unique<controllers::NodeDnsEndpointsController>(informers, self);
    p.node_dns->start();
  }
  p.disruption = std::make_unique<controllers::DisruptionController>(informers, self);
  p.disruption->start();
  p.garbage_collector = std::make_unique<controllers::GarbageCollector>(self);
  p.garbage_collector->start();
  p.namespaces = std::make_unique<controllers::NamespaceController>(informers, self);
  p.namespaces->start();
  // csrapproving always; csrsigning with a CA to sign with.
  std::optional<controllers::SigningCa> ca;
  if (!o.cluster_signing_cert_file.empty()) {
    auto read = [](const std::string& path) -> Result<std::string> {
      std::ifstream in(path);
      std::stringstream text;
      text << in.rdbuf();
      if (!in || text.str().empty()) return fail(ErrorCode::NotFound, fmt::format("{}: empty or unreadable", path));
      return text.str();
    };
    auto cert = read(o.cluster_signing_cert_file);
    auto key = read(o.cluster_signing_key_file);
    if (!cert || !key) return fail(with_context(cert ? key.error() : cert.error(), "the CSR signer's CA"));
    ca = controllers::SigningCa{.cert_pem = *cert, .key_pem = *key};
  }
  p.certificates = std::make_unique<controllers::CertificateRequestControllers>(self, std::move(ca));
  p.certificates->start();
  return std::unique_ptr<ControllerManager>(new ControllerManager(std::move(parts)));
}

}  // namespace switchyard::cmd
