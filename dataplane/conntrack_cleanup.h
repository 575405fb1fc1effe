// Stale UDP (and SCTP) conntrack entries, deleted over netlink when a sync changes where a
// service's connectionless flows may go. A UDP "connection" lives in conntrack as long as packets
// keep coming, and its DNAT decision was made on the first packet only: a client that keeps
// sending from one socket would go on talking to a removed endpoint forever (kube-proxy issue
// 'stale UDP entries pointing at deleted pods'). As kube-proxy, we delete
// - entries whose original destination is one of the service's addresses (ClusterIP, external IP,
//   LoadBalancer IP) and port, or its node port, and whose reply source is a removed endpoint;
// - entries to a service that had no endpoints and now has some (they were never DNATed).
// Computed from the Snapshot diff, so neutral about the backend; it matters wherever the kernel's
// conntrack holds the NAT decision (the nftables backend; the eBPF one keeps its own table).
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/backend.h"
#include "endpoints/node/snapshot.h"
#include "endpoints/node/snapshot_diff.h"

namespace switchyard::dataplane {

// One class of conntrack entries to delete. Every set field must match; addresses are in network
// byte order, IPv4 in the first 4 bytes.
struct ConntrackFilter {
  std::string reason;  // for logs: "shop/dns:dns/UDP endpoint 10.244.0.11:5353 removed"
  endpoints::IpFamily family = endpoints::IpFamily::IPv4;
  std::uint8_t protocol = 17;
  std::optional<std::array<std::uint8_t, 16>> original_destination;
  std::optional<std::uint16_t> original_destination_port;
  std::optional<std::array<std::uint8_t, 16>> reply_source;
  bool operator==(const ConntrackFilter&) const = default;
};

// The entries that the change from `before` to `after` made stale (pure; uses diff.stale_flows
// and the service addresses from the Snapshots).
std::vector<ConntrackFilter> stale_conntrack_filters(const endpoints::Snapshot& before, const endpoints::Snapshot& after,
                                                     const endpoints::SnapshotDiff& diff);

struct ConntrackCleanupResult {
  std::uint64_t entries_seen = 0;     // UDP/SCTP entries listed
  std::uint64_t entries_deleted = 0;  // deleted by us (entries that vanished meanwhile not counted)
};

class ConntrackCleaner {
 public:
  // Opens a conntrack netlink socket in the calling thread's network namespace.
  static Result<std::unique_ptr<ConntrackCleaner>> create();
  ~ConntrackCleaner();
  ConntrackCleaner(const ConntrackCleaner&) = delete;
  ConntrackCleaner& operator=(const ConntrackCleaner&) = delete;

  // The agent calls this after each successful Backend::sync, with the same arguments. Lists the
  // conntrack table once if anything may be stale, nothing otherwise.
  Result<ConntrackCleanupResult> on_sync(const endpoints::Snapshot& before, const endpoints::Snapshot& after,
                                         const endpoints::SnapshotDiff& diff);
  // Deletes every entry matching one of `filters`.
  Result<ConntrackCleanupResult> remove(const std::vector<ConntrackFilter>& filters);

 private:
  struct Handle;
  explicit ConntrackCleaner(std::unique_ptr<Handle> handle);
  std::unique_ptr<Handle> handle_;
};

}  // namespace switchyard::dataplane
