// Pod traffic that leaves the cluster is source-NATed to the node, as flannel's ip-masq rules
// do, in an nftables table of our own (`ip switchyard-podnet`, one nat chain at postrouting,
// priority srcnat), replaced whole in one transaction:
//
//   ip saddr CLUSTER ip daddr CLUSTER return                       pod → pod: the source stays
//   ip saddr CLUSTER ip daddr != 224.0.0.0/4 masquerade fully-random   pod → outside
//   ip saddr != CLUSTER ip daddr POD_CIDR return                   outside → this node's pods
//   ip saddr != CLUSTER ip daddr CLUSTER masquerade fully-random   outside → another node's pods
//
// The CNI bridge does not masquerade (ipMasq false): it would also rewrite pod → pod traffic to
// other nodes, and the receiving pod would see the node's address instead of the client pod's.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/base/error.h"

namespace switchyard::dataplane::podnet {

inline constexpr const char* kMasqueradeTable = "switchyard-podnet";

// The chain's rules for these IPv4 CIDRs, in `nft` syntax (for logs and tests).
std::string render_masquerade_rules(const std::vector<std::string>& cluster_cidrs, const std::vector<std::string>& pod_cidrs);

// Replaces the table in the calling thread's network namespace (idempotent).
Result<void> program_masquerade(const std::vector<std::string>& cluster_cidrs, const std::vector<std::string>& pod_cidrs);
// Removes it (nothing to do when it is not there).
Result<void> remove_masquerade();

}  // namespace switchyard::dataplane::podnet
