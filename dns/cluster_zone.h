// Answers for the cluster domain from a Snapshot, per the Kubernetes DNS-Based Service
// Discovery specification 1.1.0, deciding NXDOMAIN and NODATA as CoreDNS's kubernetes plugin
// does. Pure: no sockets, no clock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <array>
#include <memory>
#include <vector>

#include "dns/wire.h"
#include "endpoints/node/snapshot.h"

namespace switchyard::dns {

enum class PodRecords { Disabled, Insecure, Verified };

struct ClusterZoneOptions {
  std::string zone = "cluster.local.";  // lowercase, trailing dot
  std::uint32_t ttl = 5;
  PodRecords pods = PodRecords::Disabled;
  bool endpoint_pod_names = false;  // name unnamed endpoints after their pod, not their IP
};

// A query name split as CoreDNS's parseRequest splits it. Empty fields were absent.
struct ParsedName {
  std::string port, protocol, endpoint, service, namespace_, kind;  // kind: "svc" or "pod"
  bool valid = true;
};
ParsedName parse_request(std::string_view name, std::string_view zone);

// "<service>.<namespace>" -> the Snapshot's service, with its cluster IPs already in wire form:
// an open-addressing table of one-cache-line entries. An A or AAAA query for a ClusterIP service
// reads one entry and nothing else: the key is compared inline and the addresses are there, so
// neither the Snapshot's ordered map, nor the ServiceInfo, nor inet_pton is touched (each was a
// cache miss per query at 10,000 services). Points into the Snapshot, which must outlive it.
class ServiceIndex {
 public:
  struct alignas(64) Entry {
    const endpoints::ServiceInfo* service = nullptr;  // null: an empty slot
    std::uint32_t hash = 0;                           // the hash's high half (the low bits chose the slot)
    std::array<std::uint8_t, 4> v4{};
    std::array<std::uint8_t, 16> v6{};
    bool has_v4 = false, has_v6 = false;
    bool addresses_parsed = false;  // false: use service->cluster_ips (more than one per family, or none parsable)
    bool plain = false;             // neither headless nor ExternalName, addresses parsed: A/AAAA need only v4/v6
    std::uint8_t key_length = kKeyNotInline;
    std::array<char, 27> key{};  // "<service>.<namespace>" when it fits
    static constexpr std::uint8_t kKeyNotInline = 0xFF;
  };
  static_assert(sizeof(Entry) == 64);
  explicit ServiceIndex(const endpoints::Snapshot& snapshot);
  const Entry* find(std::string_view service, std::string_view namespace_) const;
  // Starts loading the slot where find() would begin, without waiting for it: a batch of queries
  // then waits for its cache misses together instead of one after the other.
  void prefetch(std::string_view service, std::string_view namespace_) const;

 private:
  struct FreeSlots {
    void operator()(Entry* slots) const;
  };
  std::unique_ptr<Entry[], FreeSlots> slots_;
  std::size_t mask_ = 0;
};

class ClusterZone {
 public:
  explicit ClusterZone(ClusterZoneOptions options);

  // Whether the name is in the cluster zone or one of its reverse zones (in-addr.arpa,
  // ip6.arpa): those are answered here, everything else is forwarded.
  bool is_authoritative_for(std::string_view name) const;
  // Writes the answer for q into w. `snapshot` null: not synced yet (SERVFAIL).
  void answer(const endpoints::Snapshot* snapshot, const Query& q, ResponseWriter& w) const { answer(snapshot, nullptr, q, w); }
  // The same, finding services through `index` (built from `snapshot`) when given. When q names
  // an ExternalName service whose target lies outside the cluster zone, the answer is its CNAME
  // and `outside_target` (if given) gets the target: the server may resolve it upstream.
  void answer(const endpoints::Snapshot* snapshot, const ServiceIndex* index, const Query& q, ResponseWriter& w,
              std::string* outside_target = nullptr) const;

  // False for a reverse name (in-addr.arpa, ip6.arpa) whose address no service or ready endpoint
  // has: as CoreDNS's `fallthrough in-addr.arpa ip6.arpa`, such a name goes to the forwarder.
  bool knows_reverse(const endpoints::Snapshot* snapshot, std::string_view name) const;

  const ClusterZoneOptions& options() const { return options_; }
  // How many labels the zone has ("cluster.local." has 2).
  std::size_t zone_labels() const { return zone_labels_; }

 private:
  ClusterZoneOptions options_;
  std::string ns_name_, hostmaster_;
  std::string dotted_zone_, dns_version_name_;  // built once: the answer path allocates nothing for them
  std::size_t zone_labels_ = 0;
};

}  // namespace switchyard::dns
