// The garbage collector, as kube-controller-manager runs it: one metadata monitor (list+watch)
// per resource the server lists with list, watch and delete (found by discovery, again every
// period, so kinds this binary has no type for are covered), an OwnerGraph of their
// ownerReferences, and two work queues of uids:
//  - attemptToDelete: an object whose owners are all gone (or, in the foreground, being deleted)
//    is deleted with the policy its own finalizers ask for; references to owners that are gone
//    are removed from an object that still has a live owner; an owner deleting in the
//    foreground loses its foregroundDeletion finalizer once no dependent blocks it;
//  - attemptToOrphan: an owner deleted with the orphan finalizer has its reference removed from
//    each dependent, then the finalizer removed.
// Everything it decides from the graph it checks against the server first (a live GET), and it
// starts working only once every monitor has listed, so a restart collects the dependents of
// owners deleted while it was down.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <optional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/cluster_connection.h"
#include "orchestrator/client/work_queue.h"
#include "orchestrator/controllers/api_discovery.h"
#include "orchestrator/controllers/owner_graph.h"

namespace switchyard::controllers {

struct GarbageCollectorOptions {
  int workers = 2;
  std::chrono::milliseconds rediscovery_period{30000};
  // group_resource names it never monitors (as upstream: Events own nothing).
  std::vector<std::string> ignored_resources = {"events", "events.events.k8s.io"};
};

struct GarbageCollectorStats {
  std::atomic<std::uint64_t> deleted{0}, orphaned{0}, references_removed{0}, finalizers_removed{0}, failures{0};
};

class GarbageCollector {
 public:
  GarbageCollector(client::ClusterConnection connection, GarbageCollectorOptions options = {});
  ~GarbageCollector();
  GarbageCollector(const GarbageCollector&) = delete;
  GarbageCollector& operator=(const GarbageCollector&) = delete;

  void start();
  void stop();
  // Every monitor listed at least once (the workers run from then on).
  bool synced() const;
  const GarbageCollectorStats& stats() const { return stats_; }
  std::size_t graph_size() const { return graph_.size(); }

  // One uid from each queue; an error means "requeue" (public for tests).
  Result<void> attempt_to_delete(const std::string& uid, client::ApiClient& api);
  Result<void> attempt_to_orphan(const std::string& uid, client::ApiClient& api);

 private:
  class Monitor;
  void apply(const GraphWork& work);
  void sync_monitors();
  void discovery_loop();
  void delete_worker();
  void orphan_worker();
  std::optional<ApiResource> resource_for(const std::string& api_version, const std::string& kind);
  Result<void> process_deleting_dependents(const OwnerGraph::NodeView& node, const ApiResource& r, client::ApiClient& api);

  client::ClusterConnection connection_;
  GarbageCollectorOptions options_;
  OwnerGraph graph_;
  client::WorkQueue to_delete_, to_orphan_;
  mutable std::mutex mu_;                                     // monitors_, discovery_
  std::map<std::string, std::unique_ptr<Monitor>> monitors_;  // by "group/version/plural"
  Discovery discovery_;
  std::atomic<bool> stopping_{false}, started_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::thread discovery_thread_;
  std::vector<std::thread> workers_;
  GarbageCollectorStats stats_;
};

}  // namespace switchyard::controllers
