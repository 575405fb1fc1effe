// Metrics the agent exports about the dataplane, in Prometheus text format: a small Histogram
// (for kube-proxy's sync duration histograms) and the BackendStats as gauges and counters under
// kube-proxy's metric names where they exist. Deliberately tiny: no registry, no labels beyond
// what is passed in; the agent concatenates the rendered texts into its /metrics answer.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/backend.h"

namespace switchyard::dataplane {

class Histogram {
 public:
  // `upper_bounds` in increasing order; +Inf is implicit.
  explicit Histogram(std::vector<double> upper_bounds);
  // kube-proxy's sync-duration buckets: 1 ms doubling 15 times (up to ~16 s).
  static Histogram sync_duration_seconds();
  static std::vector<double> exponential_buckets(double start, double factor, int count);

  void observe(double value);  // thread-safe
  void observe(std::chrono::nanoseconds d) { observe(std::chrono::duration<double>(d).count()); }

  // "# HELP", "# TYPE name histogram", cumulative name_bucket{le=…}, name_sum and name_count.
  std::string render(std::string_view name, std::string_view help) const;
  std::uint64_t count() const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> counts_;  // per bucket, not cumulative; the last one is +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// The histograms a sync loop keeps, under kube-proxy's names.
struct SyncDurationMetrics {
  Histogram all = Histogram::sync_duration_seconds();      // kubeproxy_sync_proxy_rules_duration_seconds
  Histogram full = Histogram::sync_duration_seconds();     // kubeproxy_sync_full_proxy_rules_duration_seconds
  Histogram partial = Histogram::sync_duration_seconds();  // kubeproxy_sync_partial_proxy_rules_duration_seconds
  void observe(bool full_sync, std::chrono::nanoseconds d);
  std::string render() const;
};

// BackendStats as Prometheus text: sync counters, programmed object counts, the last successful
// sync time (kubeproxy_sync_proxy_rules_last_timestamp_seconds).
std::string render_backend_stats(const BackendStats& stats, std::string_view backend);

}  // namespace switchyard::dataplane
