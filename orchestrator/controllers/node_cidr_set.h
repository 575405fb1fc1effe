// The node IPAM's ranges (kube-controller-manager's cidrset): one cluster CIDR cut into
// subnets of a mask size, each handed to at most one Node.
//  - allocate_next() goes round-robin from the subnet after the last one given, as upstream
//    does, so a released subnet is not reused at once;
//  - occupy() marks what a Node already holds (restart, or a podCIDR set by hand), also a
//    CIDR larger than one subnet; release() gives it back.
// IPv4 and IPv6 (a 128-bit address as two halves); the subnet count is held to 2^24 for IPv4
// and, as upstream, a mask at most 16 bits longer than the cluster's for IPv6.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/base/error.h"

namespace switchyard::controllers {

// An address or a network as an unsigned 128-bit number (IPv4 in the low 32 bits).
struct Cidr {
  unsigned __int128 base = 0;
  int prefix = 0;
  bool v6 = false;
  int bits() const { return v6 ? 128 : 32; }
  std::string text() const;
  static Result<Cidr> parse(const std::string& text);  // the host bits are cleared
};

class CidrSet {
 public:
  // `cluster` e.g. "10.244.0.0/16", `mask_size` e.g. 24.
  static Result<CidrSet> create(const std::string& cluster, int mask_size);

  const Cidr& cluster() const { return cluster_; }
  int mask_size() const { return mask_size_; }
  std::uint64_t size() const { return used_.size(); }
  std::uint64_t allocated() const { return allocated_; }
  bool v6() const { return cluster_.v6; }

  // The next free subnet, or nullopt when every one is taken.
  std::optional<std::string> allocate_next();
  // Marks `cidr` (in this family) as taken; Invalid when it lies outside the cluster CIDR.
  Result<void> occupy(const std::string& cidr);
  Result<void> release(const std::string& cidr);

 private:
  // The subnet indexes [first, last] that `cidr` covers.
  Result<std::pair<std::uint64_t, std::uint64_t>> span(const std::string& cidr) const;
  Cidr cluster_;
  int mask_size_ = 0;
  std::vector<bool> used_;
  std::uint64_t allocated_ = 0;
  std::uint64_t next_ = 0;
};

// The cluster's sets from --cluster-cidr (one per family, at most one of each) and the mask
// sizes, with kube-controller-manager's checks: --node-cidr-mask-size (0: not given) is for a
// single-stack cluster only; mask_v4/mask_v6 default to 24 and 64.
Result<std::vector<CidrSet>> node_cidr_sets(const std::vector<std::string>& cluster_cidrs, int mask_size, int mask_v4, int mask_v6);

}  // namespace switchyard::controllers
