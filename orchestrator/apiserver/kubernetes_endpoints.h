// The `kubernetes` Service's endpoints, as kube-apiserver's endpoint reconciler publishes them:
// the Endpoints `default/kubernetes` (labelled so the mirroring controller leaves it alone) and
// the EndpointSlice `default/kubernetes`, each holding <advertise address>:<secure port> under
// the port name `https`. Written straight to the registry, like the Service itself.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "orchestrator/apiserver/object_registry.h"
#include "orchestrator/base/error.h"

namespace switchyard::apiserver {

// Creates both objects, or updates them when they hold another address or port; sets the
// Service's targetPort to `port` when it says another (an earlier run on another port).
// Idempotent: objects that already say the same are not written.
Result<> reconcile_kubernetes_endpoints(ObjectRegistry& registry, const std::string& advertise_ip, int port);

// The above now and then every `interval` on a thread of its own (kube-apiserver's reconciler
// runs every 10 s): endpoints someone deleted or changed come back.
class KubernetesEndpointReconciler {
 public:
  KubernetesEndpointReconciler(ObjectRegistry& registry, std::string advertise_ip, int port,
                               std::chrono::milliseconds interval = std::chrono::seconds(10));
  ~KubernetesEndpointReconciler();
  KubernetesEndpointReconciler(const KubernetesEndpointReconciler&) = delete;
  KubernetesEndpointReconciler& operator=(const KubernetesEndpointReconciler&) = delete;
  void stop();

 private:
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace switchyard::apiserver
