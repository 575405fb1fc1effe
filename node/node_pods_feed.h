// The pods scheduled on this node and their addresses, from the shared informer on Pods with
// fieldSelector spec.nodeName=<node>. The cluster DNS server uses it to know which pod (so which
// namespace) a query comes from, also for pods that back no Service (autopath). Host-network
// pods are left out (their address is the node's) and so are finished pods (their address may
// already belong to another pod).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "orchestrator/client/informer_factory.h"

namespace switchyard::node {

struct PodAddress {
  std::string ip;
  std::string namespace_;
  bool operator==(const PodAddress&) const = default;
};

class NodePodsFeed {
 public:
  // On the process's shared informers.
  NodePodsFeed(client::SharedInformerFactory& informers, const std::string& node_name);
  // With an informer of its own on `connection`.
  NodePodsFeed(client::ClusterConnection connection, const std::string& node_name);
  // The collection it lists and watches (what its RBAC must allow).
  static std::string watched_collection();
  ~NodePodsFeed();
  NodePodsFeed(const NodePodsFeed&) = delete;
  NodePodsFeed& operator=(const NodePodsFeed&) = delete;
  // Called on the informer thread after each change and after each (re)list. Set before start().
  void set_on_change(std::function<void()> on_change) { on_change_ = std::move(on_change); }
  void start();
  void stop();
  bool synced() const;
  // Every address of every running pod of this node, sorted by address.
  std::vector<PodAddress> addresses() const;

 private:
  NodePodsFeed(std::unique_ptr<client::SharedInformerFactory> own, client::SharedInformerFactory* shared, const std::string& node_name);

  std::unique_ptr<client::SharedInformerFactory> own_informers_;
  client::SharedIndexInformer<api::Pod>& pods_;
  std::function<void()> on_change_;
  std::uint64_t handler_ = 0;
};

// A pod's addresses as NodePodsFeed keeps them: none for host-network or finished pods.
std::vector<PodAddress> pod_addresses(const api::Pod& pod);

}  // namespace switchyard::node
