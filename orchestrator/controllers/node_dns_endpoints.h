// Cluster DNS on every node (as NodeLocal DNSCache): every node's agent answers DNS on the node's
// own address, so kube-system/kube-dns gets one endpoint per Node, kept as kube-apiserver keeps
// the `kubernetes` Service's. The Service's internalTrafficPolicy Local then sends each node's
// queries to that node's own server. One worker, one key: the slice `kube-dns-nodes` (IPv4, the
// Nodes' InternalIPs, all ready: the node's agent is the server, and only its own node uses it).
// The single-endpoint slice `kube-dns-node` that earlier `switchyard up` wrote is deleted.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/work_queue.h"

namespace switchyard::controllers {

inline constexpr const char* kNodeDnsSliceName = "kube-dns-nodes";
inline constexpr const char* kNodeDnsManagedBy = "switchyard-node-dns";
inline constexpr const char* kLegacyNodeDnsSliceName = "kube-dns-node";  // earlier `up`'s, one endpoint

// The slice the Nodes call for (endpoints ordered by node name; Nodes without an IPv4 InternalIP
// are left out).
api::EndpointSlice desired_node_dns_slice(const std::vector<client::ObjectPtr<api::Node>>& nodes);

class NodeDnsEndpointsController {
 public:
  NodeDnsEndpointsController(client::SharedInformerFactory& informers, client::ClusterConnection connection);
  ~NodeDnsEndpointsController();
  NodeDnsEndpointsController(const NodeDnsEndpointsController&) = delete;
  NodeDnsEndpointsController& operator=(const NodeDnsEndpointsController&) = delete;

  void start();
  void stop();
  // Writes the slice if it differs and deletes the legacy one (caches synced); an error means "requeue".
  Result<void> sync(client::ApiClient& api);

 private:
  struct Handlers;
  void worker();

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  client::SharedIndexInformer<api::Node>& nodes_;
  client::SharedIndexInformer<api::EndpointSlice>& slices_;
  std::unique_ptr<Handlers> handlers_;
  client::WorkQueue queue_;
  std::atomic<bool> stopping_{false};
  std::thread worker_;
};

}  // namespace switchyard::controllers
