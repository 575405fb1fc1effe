// The addresses LoadBalancer Services get (`switchyard up --load-balancer-ip-pool`), as Cilium's
// LB IPAM pool blocks: a comma-separated list of IPv4 CIDRs ("192.168.1.240/28") and inclusive
// ranges ("192.168.1.240-192.168.1.250"). A CIDR of /30 or wider leaves out its network and
// broadcast addresses (Cilium's allowFirstLastIPs: No), a /31 or /32 gives all it has.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orchestrator/base/error.h"

namespace switchyard::controllers {

class LoadBalancerIpPool {
 public:
  static Result<LoadBalancerIpPool> parse(std::string_view spec);
  // A dotted IPv4 address as a number, or nothing.
  static std::optional<std::uint32_t> to_number(const std::string& ip);
  static std::string to_text(std::uint32_t ip);

  bool contains(std::uint32_t ip) const;
  bool contains(const std::string& ip) const;
  // The lowest address of the pool not in `used`.
  std::optional<std::uint32_t> first_free(const std::set<std::uint32_t>& used) const;
  std::uint64_t size() const;
  bool empty() const { return ranges_.empty(); }
  const std::string& spec() const { return spec_; }

 private:
  std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges_;  // inclusive, in the order given
  std::string spec_;
};

}  // namespace switchyard::controllers
