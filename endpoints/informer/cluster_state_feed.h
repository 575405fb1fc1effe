// Feeds a ClusterState from informers on Services, EndpointSlices and this node's Node, and
// hands out Snapshots. What the agent runs; works against any kube-apiserver.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "endpoints/informer/informer.h"
#include "endpoints/node/snapshot.h"

namespace switchyard::informer {

// RFC 3339 as the API writes timestamps; nothing when it is not one.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& text);

class ClusterStateFeed {
 public:
  ClusterStateFeed(ClusterConnection connection, endpoints::ClusterStateOptions options);
  // The collections it lists and watches (paths without query): what its RBAC must allow.
  static std::vector<std::string> watched_collections();
  ~ClusterStateFeed();
  // Called on an informer thread, without the lock held, after each change to the state and when
  // an informer finished listing: the agent asks its sync loop for a sync. Set before start().
  void set_on_change(std::function<void()> on_change) { on_change_ = std::move(on_change); }
  void start();
  void stop();
  // True once every informer has listed once.
  bool synced() const;
  // Full lists done by the informers: 3 after the first sync, one more for each relist (a 410).
  std::uint64_t lists() const;
  // The latest Snapshot (the same object while nothing changed).
  std::shared_ptr<const endpoints::Snapshot> snapshot();
  // This node's Node object as last seen (none before it exists or after it is deleted).
  std::optional<api::Node> node();
  // The endpoints.kubernetes.io/last-change-trigger-time of EndpointSlice changes seen since the
  // last call (only times after start(), as kube-proxy): what network programming latency is
  // measured from once those changes are programmed.
  std::vector<std::chrono::system_clock::time_point> take_trigger_times();

 private:
  void replace_services(const std::vector<nlohmann::json>& items);
  void replace_slices(const std::vector<nlohmann::json>& items);
  void on_service(const std::string& type, const nlohmann::json& obj);
  void on_slice(const std::string& type, const nlohmann::json& obj);
  void on_node(const std::string& type, const nlohmann::json& obj);
  void note_trigger_time(const nlohmann::json& slice);
  void changed() const {
    if (on_change_) on_change_();
  }

  std::function<void()> on_change_;
  std::mutex mu_;
  endpoints::ClusterState state_;
  std::optional<api::Node> node_;
  std::chrono::system_clock::time_point started_{};
  std::map<std::pair<std::string, std::string>, std::string> trigger_annotation_;  // per slice, the value last seen
  std::vector<std::chrono::system_clock::time_point> trigger_times_;
  std::set<std::pair<std::string, std::string>> services_, slices_;
  std::unique_ptr<Informer> service_informer_, slice_informer_, node_informer_;
};

}  // namespace switchyard::informer
