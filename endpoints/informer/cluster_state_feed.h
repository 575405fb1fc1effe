// Feeds a ClusterState from informers on Services, EndpointSlices and this node's Node, and
// hands out Snapshots. What the agent runs; works against any kube-apiserver.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "endpoints/informer/informer.h"
#include "endpoints/node/snapshot.h"

namespace switchyard::informer {

class ClusterStateFeed {
 public:
  ClusterStateFeed(ClusterConnection connection, endpoints::ClusterStateOptions options);
  ~ClusterStateFeed();
  void start();
  void stop();
  // True once every informer has listed once.
  bool synced() const;
  // Full lists done by the informers: 3 after the first sync, one more for each relist (a 410).
  std::uint64_t lists() const;
  // The latest Snapshot (the same object while nothing changed).
  std::shared_ptr<const endpoints::Snapshot> snapshot();

 private:
  void replace_services(const std::vector<nlohmann::json>& items);
  void replace_slices(const std::vector<nlohmann::json>& items);
  void on_service(const std::string& type, const nlohmann::json& obj);
  void on_slice(const std::string& type, const nlohmann::json& obj);
  void on_node(const std::string& type, const nlohmann::json& obj);

  std::mutex mu_;
  endpoints::ClusterState state_;
  std::set<std::pair<std::string, std::string>> services_, slices_;
  std::unique_ptr<Informer> service_informer_, slice_informer_, node_informer_;
};

}  // namespace switchyard::informer
