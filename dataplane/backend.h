// The one interface every dataplane implements (nftables, eBPF). The sync loop above it owns
// the Snapshots and the diff; a backend turns them into kernel state.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <string>

#include "endpoints/node/snapshot.h"
#include "orchestrator/base/error.h"
#include "endpoints/node/snapshot_diff.h"

namespace switchyard::dataplane {

// A failure a backend met while programming the kernel is the project's Error: the message names
// the object and the cause ("nftables commit of 42 messages: chain ip switchyard service-…:
// Device or resource busy").
using Error = switchyard::Error;
using switchyard::ErrorCode;

struct BackendStats {
  std::uint64_t full_syncs = 0, partial_syncs = 0, failed_syncs = 0;
  std::uint64_t chains = 0, rules = 0, map_elements = 0;  // what is programmed now
  std::uint64_t last_batch_messages = 0;                  // size of the last commit
  std::chrono::nanoseconds last_sync_duration{0};
  std::chrono::system_clock::time_point last_successful_sync{};
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Programs the change from `before` to `after`. `diff` is diff_snapshots(before, after).
  // A backend may fall back to a full sync (after a failure, or when it has none yet).
  virtual Result<void> sync(const endpoints::Snapshot& before, const endpoints::Snapshot& after, const endpoints::SnapshotDiff& diff) = 0;
  // Replaces whatever this backend programmed with exactly `snapshot`.
  virtual Result<void> full_sync(const endpoints::Snapshot& snapshot) = 0;
  // Removes everything this backend made, and nothing else.
  virtual Result<void> cleanup() = 0;
  virtual BackendStats stats() const = 0;
  // Prometheus text of the backend's own state (the eBPF conntrack), "" when it has none.
  virtual std::string metrics_text() const { return ""; }
};

}  // namespace switchyard::dataplane
