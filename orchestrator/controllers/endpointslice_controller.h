// The EndpointSlice controller as it runs inside the API server: it watches Services, Pods,
// Nodes, Endpoints and EndpointSlices, and on any change reconciles every Service's slices with
// endpoints/controller's pure reconciler (and mirrors Endpoints of selectorless Services).
// Level-triggered: each pass lists the current state, so it converges after restarts.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "endpoints/controller/endpointslice_reconciler.h"
#include "orchestrator/apiserver/object_registry.h"

namespace switchyard::controllers {

struct EndpointSliceControllerStats {
  std::atomic<std::uint64_t> passes{0}, created{0}, updated{0}, deleted{0}, failed_writes{0};
};

class EndpointSliceController {
 public:
  EndpointSliceController(apiserver::ObjectRegistry& registry, slice_controller::ReconcilerOptions options = {});
  ~EndpointSliceController();
  EndpointSliceController(const EndpointSliceController&) = delete;
  EndpointSliceController& operator=(const EndpointSliceController&) = delete;

  void start();
  void stop();
  // One full pass, on the caller's thread (tests, and the loop itself).
  void reconcile_all();
  const EndpointSliceControllerStats& stats() const { return stats_; }

 private:
  void wake();
  void apply(const slice_controller::SliceChanges& changes, const std::string& ns);

  apiserver::ObjectRegistry& registry_;
  slice_controller::ReconcilerOptions options_;
  std::vector<std::unique_ptr<apiserver::WatchStream>> watches_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = true;
  std::atomic<bool> stopping_{false};
  std::thread worker_;
  EndpointSliceControllerStats stats_;
};

}  // namespace switchyard::controllers
