// The pods scheduled on this node and their addresses, from an informer on
// /api/v1/pods?fieldSelector=spec.nodeName=<node>. The cluster DNS server uses it to know which
// pod (so which namespace) a query comes from, also for pods that back no Service (autopath).
// Host-network pods are left out (their address is the node's) and so are finished pods (their
// address may already belong to another pod).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "endpoints/informer/informer.h"

namespace switchyard::informer {

struct PodAddress {
  std::string ip;
  std::string namespace_;
  bool operator==(const PodAddress&) const = default;
};

class NodePodsFeed {
 public:
  NodePodsFeed(ClusterConnection connection, const std::string& node_name);
  // The collection it lists and watches (what its RBAC must allow).
  static std::string watched_collection();
  ~NodePodsFeed();
  // Called on the informer thread after each change and after each (re)list. Set before start().
  void set_on_change(std::function<void()> on_change) { on_change_ = std::move(on_change); }
  void start();
  void stop();
  bool synced() const;
  // Every address of every running pod of this node, sorted by address.
  std::vector<PodAddress> addresses() const;

 private:
  void replace(const std::vector<nlohmann::json>& items);
  void on_event(const std::string& type, const nlohmann::json& pod);
  void changed() const {
    if (on_change_) on_change_();
  }

  std::function<void()> on_change_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::vector<PodAddress>> by_pod_;  // (namespace, name)
  std::unique_ptr<Informer> informer_;
};

// A pod's addresses as NodePodsFeed keeps them: none for host-network or finished pods.
std::vector<PodAddress> pod_addresses(const nlohmann::json& pod);

}  // namespace switchyard::informer
