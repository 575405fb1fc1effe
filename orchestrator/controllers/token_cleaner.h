// kube-controller-manager's tokencleaner (pkg/controller/bootstrap/tokencleaner.go): deletes the
// bootstrap-token Secrets of kube-system (type bootstrap.kubernetes.io/token) once their
// `expiration` has passed, or at once when it does not parse (the authenticator already treats
// those as expired). A Secret that expires later is looked at again when it does.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/work_queue.h"

namespace switchyard::controllers {

// Seconds until a bootstrap-token Secret expires: nullopt when it never does (no expiration or
// not such a Secret), <= 0 when it has (or its expiration does not parse).
std::optional<long long> bootstrap_token_seconds_left(const api::Secret& secret, long long now);

class TokenCleaner {
 public:
  TokenCleaner(client::SharedInformerFactory& informers, client::ClusterConnection connection);
  ~TokenCleaner();
  TokenCleaner(const TokenCleaner&) = delete;
  TokenCleaner& operator=(const TokenCleaner&) = delete;

  void start();
  void stop();
  // One "kube-system/NAME" key from the cache; an error means "requeue".
  Result<void> sync_secret(const std::string& key, client::ApiClient& api);

 private:
  struct Handlers;
  void worker();

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  client::SharedIndexInformer<api::Secret>& secrets_;
  std::unique_ptr<Handlers> handlers_;
  client::WorkQueue queue_;
  std::atomic<bool> stopping_{false};
  std::thread worker_;
};

}  // namespace switchyard::controllers
