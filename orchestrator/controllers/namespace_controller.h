// The namespace controller, as kube-controller-manager's NamespacedResourcesDeleter: a namespace
// being deleted (Terminating, with the `kubernetes` finalizer in spec.finalizers) is emptied —
// a deletecollection (background propagation) of every namespaced resource discovery lists,
// kinds this binary has no type for included — and its NamespaceDeletion* conditions say how
// far that got. Once nothing is left, the finalizer is removed through namespaces/NAME/finalize
// and the API server deletes the namespace.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/work_queue.h"

namespace switchyard::controllers {

struct NamespaceControllerOptions {
  int workers = 2;
  // How soon a namespace whose content is still going is looked at again.
  std::chrono::milliseconds recheck{1000};
};

// What deleting a namespace's content found, turned into its five conditions.
struct NamespaceContent {
  std::vector<std::string> discovery_failures;
  std::vector<std::string> delete_failures;
  std::vector<std::pair<std::string, int>> remaining;             // "pods." -> instances
  std::vector<std::pair<std::string, int>> remaining_finalizers;  // finalizer -> instances
};

// The namespace's status.conditions after `content` (upstream's condition updater: a condition
// that says the same keeps its lastTransitionTime).
nlohmann::json namespace_conditions(const nlohmann::json& old_conditions, const NamespaceContent& content, const std::string& now);

class NamespaceController {
 public:
  NamespaceController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                      NamespaceControllerOptions options = {});
  ~NamespaceController();
  NamespaceController(const NamespaceController&) = delete;
  NamespaceController& operator=(const NamespaceController&) = delete;

  void start();
  void stop();
  // One namespace; an error means "requeue". `done` is false while content remains.
  Result<void> sync(const std::string& name, client::ApiClient& api, bool& done);

 private:
  void worker();
  Result<NamespaceContent> delete_content(const std::string& ns, client::ApiClient& api);

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  NamespaceControllerOptions options_;
  client::SharedIndexInformer<api::Namespace>& namespaces_;
  std::uint64_t handler_ = 0;
  client::WorkQueue queue_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
};

}  // namespace switchyard::controllers
