// kube-controller-manager's serviceaccount controller: every namespace that is not being
// deleted has a ServiceAccount `default`. It is created when a namespace appears and again when
// someone deletes it; one worker, keyed by namespace.
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

class ServiceAccountController {
 public:
  ServiceAccountController(client::SharedInformerFactory& informers, client::ClusterConnection connection);
  ~ServiceAccountController();
  ServiceAccountController(const ServiceAccountController&) = delete;
  ServiceAccountController& operator=(const ServiceAccountController&) = delete;

  void start();
  void stop();
  // One namespace from the cache (the caches must have synced); an error means "requeue".
  Result<void> sync_namespace(const std::string& ns, client::ApiClient& api);

 private:
  struct Handlers;
  void worker();

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  client::SharedIndexInformer<api::Namespace>& namespaces_;
  client::SharedIndexInformer<api::ServiceAccount>& accounts_;
  std::unique_ptr<Handlers> handlers_;
  client::WorkQueue queue_;
  std::atomic<bool> stopping_{false};
  std::thread worker_;
};

}  // namespace switchyard::controllers
