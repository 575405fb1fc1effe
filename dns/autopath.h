// Server-side search-path expansion, as CoreDNS's autopath with `pods verified`: a pod with
// ndots:5 asking for "example.com" first asks "example.com.<ns>.svc.<zone>". When the query
// comes from a pod we know to be in <ns>, the server walks the rest of the search list itself
// (<base>.svc.<zone>, <base>.<zone>, then <base>. forwarded) and answers with a CNAME from the
// asked name to the first name that exists, plus that name's records: one round trip.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dns/wire.h"
#include "endpoints/node/snapshot.h"

namespace switchyard::dns {

// An IP as 16 bytes (IPv4 mapped into IPv6), for lookups without text.
using IpKey = std::array<std::uint8_t, 16>;
std::optional<IpKey> ip_key(std::string_view text);
IpKey ip_key_v4(const std::array<std::uint8_t, 4>& v4);

// A pod's address and namespace, as the agent knows the pods of its own node.
struct PodAddress {
  std::string ip;
  std::string namespace_;
};

// Which namespace a client IP is a pod of. Built from the pods of this node (`node_pods`, from
// the agent's pod informer: every pod that can query this node's server, Service or not) and
// the Snapshot's endpoints (the IPs of pods behind some Service, with their Service's
// namespace). A client known to neither is answered without autopath.
class PodNamespaces {
 public:
  static std::shared_ptr<const PodNamespaces> from_snapshot(const endpoints::Snapshot& snapshot,
                                                            const std::vector<PodAddress>& node_pods = {});
  const std::string* find(const IpKey& ip) const;
  std::size_t size() const { return by_ip_.size(); }

 private:
  struct Hash {
    std::size_t operator()(const IpKey& k) const noexcept;
  };
  std::unordered_map<IpKey, std::string, Hash> by_ip_;
};

// For a query name "<base>.<ns>.svc.<zone>", the base ("example.com"); nullopt when the name
// does not end with the pod's first search domain or nothing is left in front of it.
std::optional<std::string_view> autopath_base(std::string_view name, std::string_view pod_namespace, std::string_view zone);

// The names after the first that the search list would try: "<base>.svc.<zone>", "<base>.<zone>".
std::array<std::string, 2> autopath_cluster_candidates(std::string_view base, std::string_view zone);

// Writes the answer to q as "q's name CNAME found_name" followed by the records of `found`
// (a whole response for found_name), with found's rcode. RA set when `recursive`.
// Returns false when `found` cannot be read.
bool write_autopath_answer(const Query& q, std::string_view found_name, std::span<const std::uint8_t> found, bool recursive,
                           std::uint32_t cname_ttl, ResponseWriter& w);

}  // namespace switchyard::dns
