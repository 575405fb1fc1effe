// The dataplane sync loop: takes the latest Snapshot from a source, diffs it against the last
// one the backend programmed, and calls Backend::sync (partial) or Backend::full_sync — full at
// the first sync, after a failed sync, and once per full-sync period — through a
// BoundedFrequencyRunner. On failure the last programmed Snapshot stays the base of the next
// attempt (a full one, retried after retry_interval). Records metrics and health, and calls
// observers after each successful sync with before/after/diff: the hook for conntrack cleanup,
// health-check node ports and anything else that must follow what is programmed.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dataplane/backend.h"
#include "dataplane/bounded_frequency_runner.h"
#include "dataplane/proxy_health.h"
#include "dataplane/sync_metrics.h"

namespace switchyard::dataplane {

struct SyncLoopOptions {
  std::chrono::steady_clock::duration min_sync_period = std::chrono::seconds(1);
  std::chrono::steady_clock::duration sync_period = std::chrono::seconds(30);       // max interval between syncs
  std::chrono::steady_clock::duration full_sync_period = std::chrono::seconds(30);  // a periodic sync is full after this
  std::chrono::steady_clock::duration retry_interval = std::chrono::seconds(1);
  int burst = 2;
  std::string mode = "nftables";  // for metric names and logs
};

// What a successful sync programmed. References are valid during the call only.
struct SyncEvent {
  const endpoints::Snapshot& before;  // what was programmed before (empty at the first sync)
  const endpoints::Snapshot& after;   // what is programmed now
  const endpoints::SnapshotDiff& diff;
  bool full = false;
};
using SyncObserver = std::function<void(const SyncEvent&)>;

// Returns the latest Snapshot, or null while the source is not ready (informers not synced).
using SnapshotSource = std::function<std::shared_ptr<const endpoints::Snapshot>()>;

class SyncLoop {
 public:
  SyncLoop(Backend& backend, SnapshotSource source, SyncLoopOptions options, ProxyHealth* health = nullptr,
           const RunnerClock& clock = RunnerClock::steady());
  ~SyncLoop();

  // Before start(): observers run on the sync thread, in the order added.
  void add_observer(SyncObserver observer);
  void start();
  void stop();  // waits for a sync in progress; leaves the rules in place

  // The source changed: sync soon (coalesced, rate-limited).
  void request_sync();
  // One sync, in the calling thread (what the runner calls). Exposed for tests.
  void sync_now();

  std::shared_ptr<const endpoints::Snapshot> programmed() const;
  bool last_sync_failed() const;
  const SyncMetrics& metrics() const { return metrics_; }
  SyncMetrics& metrics() { return metrics_; }
  BoundedFrequencyRunner& runner() { return runner_; }

 private:
  Backend& backend_;
  const SnapshotSource source_;
  const SyncLoopOptions options_;
  ProxyHealth* health_;
  const RunnerClock& clock_;
  SyncMetrics metrics_;
  std::vector<SyncObserver> observers_;

  mutable std::mutex mu_;  // guards the fields below against readers on other threads
  std::shared_ptr<const endpoints::Snapshot> programmed_;
  bool synced_once_ = false, last_failed_ = false;
  RunnerClock::time_point last_full_{};
  std::mutex sync_mu_;  // one sync at a time (runner thread or a test calling sync_now)

  BoundedFrequencyRunner runner_;  // last: its thread stops before the rest goes
};

}  // namespace switchyard::dataplane
