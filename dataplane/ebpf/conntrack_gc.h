// The garbage collector of the tc programs' conntrack maps (bpf/lib/conntrack.h). Entries carry
// the second they expire; a pass walks each map in batches (BPF_MAP_LOOKUP_BATCH, a bounded
// buffer whatever the table size) and deletes a flow once both its entries have expired, and a
// half whose other half is gone (the LRU evicted it, or a reset deleted one side first). Passes
// come more often when they find much to delete or the table is filling, less often when they
// find little (as Cilium's ctmap GC adapts its interval), between min and max interval.
//
// A full table does not refuse flows: the maps are LRU hashes, and an insert into a full one
// evicts the least recently used entry. Evictions are not reported by the kernel: they are
// derived as flows created − flows ended by resets − flows collected − change in flows present.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "dataplane/ebpf/bpf_map_ops.h"

namespace switchyard::dataplane::ebpf {

struct ConntrackMaps {
  BpfMapRef flow4, reply4, flow6, reply6;
  BpfMapRef metrics;           // np_metrics_v1: flows created, flows ended by resets
  std::uint32_t capacity = 0;  // max entries of each map
};

struct ConntrackGcOptions {
  std::chrono::milliseconds min_interval{std::chrono::seconds(2)};
  std::chrono::milliseconds max_interval{std::chrono::minutes(5)};
};

struct ConntrackGcPass {
  std::uint64_t entries = 0;          // in the four maps when the pass began
  std::uint64_t flow_entries = 0;     // of which flow (client-side) entries
  std::uint64_t expired_flows = 0;    // flows whose entries were deleted (both, or the one left)
  std::uint64_t deleted_entries = 0;  // entries deleted
  double seconds = 0;
};

class ConntrackGc {
 public:
  ConntrackGc(ConntrackMaps maps, ConntrackGcOptions options) : maps_(std::move(maps)), options_(options) {}
  ~ConntrackGc();  // stops the thread

  // One pass at CLOCK_MONOTONIC second `now` (0: the current one).
  Result<ConntrackGcPass> collect(std::uint32_t now = 0);
  // The wait before the next pass after `pass` (also moves the adaptive interval).
  std::chrono::milliseconds next_interval(const ConntrackGcPass& pass);
  // Runs passes on a thread of its own until destroyed; failures are logged.
  void start();
  // Prometheus text: entries, deletions, evictions, passes, interval.
  std::string metrics_text() const;

 private:
  std::uint64_t counter(std::uint32_t index) const;  // np_metrics_v1, summed over CPUs

  ConntrackMaps maps_;
  ConntrackGcOptions options_;
  std::chrono::milliseconds interval_{0};
  std::uint64_t last_entries_ = 0;
  // Published for metrics_text() from the GC thread.
  std::atomic<std::uint64_t> entries_{0}, flow_entries_{0}, collected_flows_{0}, deleted_entries_{0}, passes_{0}, failures_{0};
  std::atomic<std::uint64_t> interval_ms_{0}, last_pass_us_{0};
  // Baseline for the eviction count: counters and flows present at the first pass.
  std::atomic<bool> have_baseline_{false};
  std::uint64_t created0_ = 0, reset0_ = 0, present0_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace switchyard::dataplane::ebpf
