// The node lifecycle controller's decisions, free of any client so a fake clock can drive them
// (pkg/controller/nodelifecycle and pkg/controller/tainteviction):
// - NodeHealthTracker: when a node last showed life (its Lease renewed, its Ready heartbeat
//   moved), in this controller's own clock, as upstream's probe timestamps;
// - lifecycle_taints: the taints a node's Ready condition and spec.unschedulable call for;
// - eviction_delay and TaintEvictionQueue: when a pod on a node with NoExecute taints must go.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/api/types.h"
#include "orchestrator/client/clock.h"

namespace switchyard::controllers {

inline constexpr const char* kTaintNotReady = "node.kubernetes.io/not-ready";
inline constexpr const char* kTaintUnreachable = "node.kubernetes.io/unreachable";
inline constexpr const char* kTaintUnschedulable = "node.kubernetes.io/unschedulable";

class NodeHealthTracker {
 public:
  using TimePoint = client::Clock::TimePoint;
  // What the node's Lease (renewTime) and Ready condition (lastHeartbeatTime) say now; a change,
  // or a node seen for the first time, counts as life at `now`.
  void observe(const std::string& node, const std::string& lease_renew_time, const std::string& ready_heartbeat, TimePoint now);
  // No sign of life for longer than `grace`.
  bool stale(const std::string& node, TimePoint now, std::chrono::milliseconds grace) const;
  void forget(const std::string& node);

 private:
  struct Health {
    TimePoint probe;
    std::string lease_renew_time, ready_heartbeat;
  };
  std::map<std::string, Health> nodes_;
};

// The node's Ready condition status ("True", "False", "Unknown"; "" when it has none).
std::string ready_status(const api::Node& node);

// The node's taints with the ones this controller owns set as its state calls for: Ready=False
// not-ready, Ready=Unknown unreachable (each NoSchedule and NoExecute, the NoExecute one stamped
// with `now_rfc3339`), spec.unschedulable the unschedulable NoSchedule taint. Others untouched.
std::vector<api::Taint> lifecycle_taints(const api::Node& node, const std::string& now_rfc3339);

// A pod's toleration of NoExecute taints.
struct NoExecuteToleration {
  std::string key, op, value, effect;
  std::optional<std::int64_t> seconds;
  bool tolerates(const api::Taint& taint) const;
};
std::vector<NoExecuteToleration> tolerations_of(const api::Pod& pod);

// How long the pod may stay on a node with these taints (only NoExecute ones count): nullopt
// forever, zero at once (a taint it does not tolerate), else the smallest tolerationSeconds.
std::optional<std::chrono::seconds> eviction_delay(const std::vector<NoExecuteToleration>& tolerations,
                                                   const std::vector<api::Taint>& taints);

// The pods waiting for their eviction time (upstream's TimedWorkerQueue): the clock starts when
// the controller first finds the pod on a tainted node and keeps running while it stays there.
class TaintEvictionQueue {
 public:
  using TimePoint = client::Clock::TimePoint;
  // Schedules (or keeps) the pod's eviction `delay` after it was first scheduled; nullopt cancels.
  void update(const std::string& pod, std::optional<std::chrono::seconds> delay, TimePoint now);
  void cancel(const std::string& pod);
  // Cancels every pod not in `pods`.
  void retain_only(const std::set<std::string>& pods);
  // The pods whose time has come (removed from the queue).
  std::vector<std::string> take_due(TimePoint now);
  std::optional<TimePoint> due_at(const std::string& pod) const;

 private:
  struct Entry {
    TimePoint first_seen, due;
  };
  std::map<std::string, Entry> entries_;
};

}  // namespace switchyard::controllers
