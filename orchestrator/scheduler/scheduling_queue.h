// The scheduling queue (upstream's PriorityQueue): activeQ ordered by priority then arrival,
// backoffQ for pods that failed recently (1 s doubling per attempt to 10 s), and the
// unschedulable pods, which wait for a cluster event that may help them (a node added or
// changed, a pod deleted) and go back to activeQ, or to backoffQ while their backoff runs. A pod
// that has sat unschedulable for 5 minutes is retried anyway.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "orchestrator/scheduler/pod_info.h"

namespace switchyard::scheduler {

struct QueuedPod {
  PodInfoPtr info;
  int attempts = 0;
  std::chrono::steady_clock::time_point added;  // first time in the queue
};

struct QueueOptions {
  std::chrono::milliseconds initial_backoff{1000}, max_backoff{10000};
  std::chrono::milliseconds unschedulable_timeout{300000};
};

class SchedulingQueue {
 public:
  using Clock = std::chrono::steady_clock;
  explicit SchedulingQueue(QueueOptions options = {}) : options_(options) {}

  // A new pending pod, or a newer version of one already queued (an update may make an
  // unschedulable pod schedulable: it moves to activeQ).
  void add_or_update(PodInfoPtr pod);
  void remove(const std::string& key);
  // The next pod to schedule; blocks until there is one or close(). The pod is "in flight"
  // until one of done(), requeue_unschedulable() or requeue_backoff() is called for it.
  std::optional<QueuedPod> pop();
  // After a failed cycle: waits for a cluster event (or, if one came during the cycle, backs off).
  void requeue_unschedulable(QueuedPod pod);
  // After an error (a binding that failed): backs off.
  void requeue_backoff(QueuedPod pod);
  void done(const std::string& key);
  // A cluster event: every unschedulable pod goes to activeQ or backoffQ.
  void move_all_to_active_or_backoff();
  // Moves expired backoffs and timed-out unschedulable pods; call periodically (run() does).
  void flush(Clock::time_point now);
  void close();
  bool closed() const { return closed_; }

  std::size_t active_size() const;
  std::size_t backoff_size() const;
  std::size_t unschedulable_size() const;
  std::chrono::milliseconds backoff_for(int attempts) const;

 private:
  struct Entry {
    QueuedPod pod;
    enum class Where { Active, Backoff, Unschedulable, InFlight } where = Where::Active;
    Clock::time_point backoff_until, unschedulable_since;
    std::uint64_t seq = 0;
  };
  using ActiveKey = std::tuple<std::int64_t, std::uint64_t, std::string>;  // (-priority, seq, key)
  void to_active(Entry& e, const std::string& key);
  void to_backoff(Entry& e, const std::string& key);

  QueueOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;
  std::set<ActiveKey> active_;
  std::set<std::string> backoff_keys_, unschedulable_keys_;  // so that events and flushes touch only these
  std::uint64_t next_seq_ = 0;
  std::uint64_t move_requests_ = 0;                        // cluster events so far
  std::map<std::string, std::uint64_t> cycle_started_at_;  // in-flight pod -> move_requests_ when popped
  std::map<std::string, PodInfoPtr> updated_in_flight_;    // newer versions seen while in flight
  std::set<std::string> removed_in_flight_;
  std::atomic<bool> closed_{false};
};

}  // namespace switchyard::scheduler
