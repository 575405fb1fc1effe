// LB IPAM (as Cilium's, and k3s's ServiceLB in spirit): gives every Service of type LoadBalancer
// without a spec.loadBalancerClass an address from one pool, in status.loadBalancer.ingress[].ip:
// one per family of the Service that the pool has (spec.ipFamilies order: a dual-stack Service
// and a pool of both families give two).
//
//  - spec.loadBalancerIP is honoured when it is in the pool and free; otherwise the Service stays
//    pending with a Warning Event (kube's cloud controllers do the same with an address they
//    cannot give).
//  - The address goes back to the pool when the Service is deleted, changes type, or gets a
//    loadBalancerClass (its status is then cleared, unless another class owns it).
//  - Nothing is kept anywhere but in the Services: after the caches synced, the allocations are
//    read back from the status of existing Services, so a restart keeps every address.
//  - When the pool runs out, the Service gets a Warning Event `AllocationFailed`; a release
//    retries every Service still waiting.
// One worker: allocation is serialized, and the in-memory map reserves an address before the
// status write reaches the cache, so two Services never get the same one.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/work_queue.h"
#include "orchestrator/controllers/load_balancer_ip_pool.h"

namespace switchyard::controllers {

class LoadBalancerIpamController {
 public:
  LoadBalancerIpamController(client::SharedInformerFactory& informers, client::ClusterConnection connection, LoadBalancerIpPool pool);
  ~LoadBalancerIpamController();
  LoadBalancerIpamController(const LoadBalancerIpamController&) = delete;
  LoadBalancerIpamController& operator=(const LoadBalancerIpamController&) = delete;

  void start();
  void stop();
  // One Service key from the cache (the caches must have synced); an error means "requeue".
  Result<void> sync_service(const std::string& key, client::ApiClient& api);

 private:
  struct Handlers;
  void worker();
  void seed_from_cache();
  void release(const std::string& key);
  Result<void> write_ingress(const api::Service& service, const std::vector<LoadBalancerIpPool::Address>& ips, client::ApiClient& api);
  void warn_once(const api::Service& service, const std::string& reason, const std::string& message, client::ApiClient& api);

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  LoadBalancerIpPool pool_;
  client::SharedIndexInformer<api::Service>& services_;
  std::unique_ptr<Handlers> handlers_;
  client::WorkQueue queue_;

  std::mutex mu_;                                             // the maps below (the worker, and handlers enqueueing)
  std::map<LoadBalancerIpPool::Address, std::string> owner_;  // address -> Service key
  // Service key -> its address of each family
  std::map<std::string, std::map<LoadBalancerIpPool::Family, LoadBalancerIpPool::Address>> by_service_;
  std::map<std::string, std::string> warned_;  // Service key -> the last Warning reason sent
  std::atomic<bool> stopping_{false};
  std::thread worker_;
};

}  // namespace switchyard::controllers
