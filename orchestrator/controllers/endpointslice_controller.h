// The EndpointSlice controller (and the mirroring of selectorless Services' Endpoints) on the
// client library, as kube-controller-manager runs it: shared informers on Services, Pods, Nodes,
// Endpoints and EndpointSlices fill caches; their events only enqueue the affected Services'
// keys ("namespace/name"); workers take one key at a time, reconcile it from the caches with
// endpoints/controller's pure reconcilers and write through the API server. A write that fails
// (a conflict: the cache was stale) requeues the key with per-key exponential backoff.
//
// Event → keys:
//  - Service: its own key;
//  - Pod: the Services of its namespace whose selector matches its labels (old and new labels
//    on an update, the last known labels on a delete);
//  - Node: every Service, when something the reconciler reads of a node changes (existence,
//    labels such as the zone, allocatable CPU, conditions, taints): topology hints depend on
//    the spread of CPU over all zones, so any Service may change;
//  - EndpointSlice: the Service its kubernetes.io/service-name label names;
//  - Endpoints: the Service of the same name (mirroring).
//
// Nothing is reconciled until every cache has synced, and a list that failed leaves the caches
// as they were: a failed Pod list is never taken for "no pods". After its own writes the
// controller waits until its cache shows them before it reconciles that Service again (a key
// seen with a stale cache is requeued), so it never creates a slice twice.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "endpoints/controller/endpoint_mirroring.h"
#include "endpoints/controller/endpointslice_reconciler.h"
#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/work_queue.h"

namespace switchyard::controllers {

struct EndpointSliceControllerStats {
  // passes: Service keys reconciled (each sync of one key is one pass).
  std::atomic<std::uint64_t> passes{0}, created{0}, updated{0}, deleted{0}, failed_writes{0};
  // Keys put back with backoff (a write failed, or the cache had not caught up with our writes).
  std::atomic<std::uint64_t> requeues{0};
};

struct EndpointSliceControllerOptions {
  slice_controller::ReconcilerOptions reconciler;
  slice_controller::MirroringOptions mirroring;
  int workers = 5;
  // How long reconcile_all() waits for the caches to sync.
  std::chrono::milliseconds sync_timeout{30000};
};

class EndpointSliceController {
 public:
  // Registers its indices and event handlers on `informers` (shared with the rest of the
  // process); writes through `connection`. Neither starts anything.
  EndpointSliceController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                          EndpointSliceControllerOptions options = {});
  ~EndpointSliceController();
  EndpointSliceController(const EndpointSliceController&) = delete;
  EndpointSliceController& operator=(const EndpointSliceController&) = delete;

  // Starts the informers (if their owner has not) and the workers; the workers begin once every
  // cache has synced.
  void start();
  // Stops the workers (the informers belong to the factory's owner).
  void stop();
  // Every Service once, on the caller's thread, after the caches synced (started if need be):
  // for tests and tools. Unavailable when the caches did not sync in time; the first failure
  // otherwise (the other keys are still reconciled).
  Result<void> reconcile_all();
  // One Service key from the caches; an error means "requeue".
  Result<void> sync_service(const std::string& key);
  const EndpointSliceControllerStats& stats() const { return stats_; }
  bool caches_synced() const { return informers_.has_synced(); }

 private:
  struct Handlers;
  struct WrittenSlice {
    std::string resource_version;
    bool deleted = false;
  };

  Result<void> sync_service(const std::string& key, client::ApiClient& api);
  Result<void> apply(const slice_controller::SliceChanges& changes, const std::string& service_key, client::ApiClient& api);
  // Whether the slice cache shows every write made for `service_key` (and forgets those it does).
  bool cache_caught_up(const std::string& service_key);
  std::shared_ptr<const slice_controller::NodeLookup> node_lookup();
  std::vector<api::Pod> pods_selected_by(const api::Service& service) const;
  void enqueue_services_of_pod(const api::Pod& pod);
  void enqueue_all_services();
  void worker();

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  EndpointSliceControllerOptions options_;
  client::SharedIndexInformer<api::Service>& services_;
  client::SharedIndexInformer<api::Pod>& pods_;
  client::SharedIndexInformer<api::Node>& nodes_;
  client::SharedIndexInformer<api::Endpoints>& endpoints_;
  client::SharedIndexInformer<api::EndpointSlice>& slices_;
  std::unique_ptr<Handlers> handlers_;
  client::WorkQueue queue_;

  std::mutex nodes_mu_;
  std::uint64_t nodes_version_ = 1, lookup_version_ = 0;  // bumped by node events
  std::shared_ptr<const slice_controller::NodeLookup> lookup_;

  std::mutex written_mu_;
  std::unordered_map<std::string, std::map<std::string, WrittenSlice>> written_;  // service key -> slice name -> what we wrote

  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
  EndpointSliceControllerStats stats_;
};

}  // namespace switchyard::controllers
