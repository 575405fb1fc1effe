// Feeds a ClusterState from shared informers on Services, EndpointSlices, Namespaces (for DNS)
// and this node's Node, and hands out Snapshots. What the agent runs; works against any kube-apiserver.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "endpoints/node/snapshot.h"
#include "orchestrator/client/informer_factory.h"

namespace switchyard::node {

// RFC 3339 as the API writes timestamps; nothing when it is not one.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& text);

class ClusterStateFeed {
 public:
  // On the process's shared informers (which the caller starts and stops, or start() does).
  ClusterStateFeed(client::SharedInformerFactory& informers, endpoints::ClusterStateOptions options);
  // With informers of its own on `connection`.
  ClusterStateFeed(client::ClusterConnection connection, endpoints::ClusterStateOptions options);
  // The collections it lists and watches (paths without query): what its RBAC must allow.
  static std::vector<std::string> watched_collections();
  ~ClusterStateFeed();
  ClusterStateFeed(const ClusterStateFeed&) = delete;
  ClusterStateFeed& operator=(const ClusterStateFeed&) = delete;
  // Called on an informer thread, without the lock held, after each change to the state and when
  // an informer finished listing: the agent asks its sync loop for a sync. Set before start().
  void set_on_change(std::function<void()> on_change) { on_change_ = std::move(on_change); }
  // Starts (stop(): stops) the four informers it reads; a restart resumes their watches.
  void start();
  void stop();
  // True once every informer has listed once.
  bool synced() const;
  // Full lists done by the informers: 4 after the first sync, one more for each relist (a 410).
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
  struct Handlers;
  ClusterStateFeed(std::unique_ptr<client::SharedInformerFactory> own, endpoints::ClusterStateOptions options);
  ClusterStateFeed(std::unique_ptr<client::SharedInformerFactory> own, client::SharedInformerFactory* shared,
                   endpoints::ClusterStateOptions options);
  void note_trigger_time(const api::EndpointSlice& slice);
  // After one change: not while an informer hands over a list (its on_list calls once).
  template <class T>
  void changed(const client::SharedIndexInformer<T>& informer) const {
    if (on_change_ && !informer.listing()) on_change_();
  }
  void changed() const {
    if (on_change_) on_change_();
  }

  std::unique_ptr<client::SharedInformerFactory> own_informers_;
  client::SharedIndexInformer<api::Service>& services_;
  client::SharedIndexInformer<api::EndpointSlice>& slices_;
  client::SharedIndexInformer<api::Node>& node_informer_;
  client::SharedIndexInformer<api::Namespace>& namespaces_;
  std::function<void()> on_change_;
  std::mutex mu_;
  endpoints::ClusterState state_;
  std::optional<api::Node> node_;
  std::chrono::system_clock::time_point started_{};
  std::map<std::pair<std::string, std::string>, std::string> trigger_annotation_;  // per slice, the value last seen
  std::vector<std::chrono::system_clock::time_point> trigger_times_;
  std::unique_ptr<Handlers> handlers_;  // last: removed first
};

}  // namespace switchyard::node
