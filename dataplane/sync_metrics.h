// Metrics of the dataplane sync loop in Prometheus text format, under kube-proxy's names where
// kube-proxy has one (so existing dashboards and alerts keep working), switchyard_* otherwise.
// Written by the sync thread, read by the /metrics handler: every method takes the lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "dataplane/backend.h"

namespace switchyard::dataplane {

// A Prometheus histogram with fixed upper bounds (seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  // kube-proxy's sync buckets: 1 ms doubling 15 times (up to ~16 s).
  static Histogram sync_duration();
  // kube-proxy's network programming buckets: 0.25 s to 5 min.
  static Histogram network_programming();
  void observe(double value);
  std::uint64_t count() const { return count_; }
  void render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket, not cumulative
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

struct SyncRecord {
  bool full = false;
  bool ok = false;
  std::chrono::nanoseconds duration{0};
  std::size_t service_changes = 0, endpoint_changes = 0;  // from the diff, on success
  BackendStats stats;                                     // after the sync
};

class SyncMetrics {
 public:
  // `mode` names the backend in the per-mode failure counter (kube-proxy: ..._nftables_sync_failures_total).
  explicit SyncMetrics(std::string mode);
  void record(const SyncRecord& r, std::chrono::system_clock::time_point at);
  // A change arrived that needs a sync.
  void record_queued(std::chrono::system_clock::time_point at);
  // An endpoints change (its last-change-trigger-time) is programmed now: kube-proxy's
  // network programming latency.
  void record_network_programming(std::chrono::system_clock::time_point trigger, std::chrono::system_clock::time_point programmed);
  std::string prometheus_text() const;

 private:
  const std::string mode_;
  mutable std::mutex mu_;
  Histogram all_ = Histogram::sync_duration(), full_ = Histogram::sync_duration(), partial_ = Histogram::sync_duration();
  Histogram network_programming_ = Histogram::network_programming();
  double last_success_seconds_ = 0, last_queued_seconds_ = 0;
  std::uint64_t failures_ = 0, service_changes_ = 0, endpoint_changes_ = 0;
  BackendStats stats_;
};

}  // namespace switchyard::dataplane
