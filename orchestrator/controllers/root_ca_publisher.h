// kube-controller-manager's root-ca-cert-publisher: every namespace that is not being deleted
// has a ConfigMap `kube-root-ca.crt` whose `ca.crt` is the cluster CA bundle, which pods' projected
// kube-api-access volumes mount to verify the API server. Made when a namespace appears, made
// again when deleted, put back when changed; one worker, keyed by namespace.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/work_queue.h"

namespace switchyard::controllers {

inline constexpr const char* kRootCaConfigMapName = "kube-root-ca.crt";

class RootCaPublisher {
 public:
  RootCaPublisher(client::SharedInformerFactory& informers, client::ClusterConnection connection, std::string ca_pem);
  ~RootCaPublisher();
  RootCaPublisher(const RootCaPublisher&) = delete;
  RootCaPublisher& operator=(const RootCaPublisher&) = delete;

  void start();
  void stop();
  // One namespace from the cache (the caches must have synced); an error means "requeue".
  Result<void> sync_namespace(const std::string& ns, client::ApiClient& api);

 private:
  struct Handlers;
  void worker();

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  std::string ca_pem_;
  client::SharedIndexInformer<api::Namespace>& namespaces_;
  client::SharedIndexInformer<api::ConfigMap>& config_maps_;
  std::unique_ptr<Handlers> handlers_;
  client::WorkQueue queue_;
  std::atomic<bool> stopping_{false};
  std::thread worker_;
};

}  // namespace switchyard::controllers
