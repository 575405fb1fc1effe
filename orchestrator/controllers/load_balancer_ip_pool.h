// The addresses LoadBalancer Services get (`switchyard up --load-balancer-ip-pool`), as Cilium's
// LB IPAM pool blocks: a comma-separated list of IPv4 or IPv6 CIDRs ("192.168.1.240/28",
// "fd00:50::f0/124") and inclusive ranges ("192.168.1.240-192.168.1.250"). A CIDR of /30 (IPv6:
// /126) or wider leaves out its first and last addresses (network and broadcast, the IPv6
// subnet-router anycast; Cilium's allowFirstLastIPs: No), a narrower one gives all it has.
// A dual-stack Service gets one address of each family it has (LoadBalancerIpamController).
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
  // An address of either family as a number: IPv6 as is, IPv4 as IPv4-mapped (::ffff:a.b.c.d),
  // so that both families order and count in one type (an IPv4-mapped IPv6 address in text is
  // taken as the IPv4 address it maps).
  using Address = unsigned __int128;
  enum class Family { IPv4, IPv6 };

  static Result<LoadBalancerIpPool> parse(std::string_view spec);
  // A textual address of either family as a number, or nothing.
  static std::optional<Address> to_number(const std::string& ip);
  static std::string to_text(Address ip);
  static Family family_of(Address ip);
  static const char* family_name(Family f) { return f == Family::IPv4 ? "IPv4" : "IPv6"; }

  bool contains(Address ip) const;
  bool contains(const std::string& ip) const;
  bool has_family(Family f) const;
  // The lowest address of the family in the pool not in `used`.
  std::optional<Address> first_free(const std::set<Address>& used, Family family = Family::IPv4) const;
  std::uint64_t size() const;  // saturates at 2^64 - 1 (a /64 of IPv6 alone has that many)
  bool empty() const { return ranges_.empty(); }
  const std::string& spec() const { return spec_; }

 private:
  std::vector<std::pair<Address, Address>> ranges_;  // inclusive, one family each, in the order given
  std::string spec_;
};

}  // namespace switchyard::controllers
