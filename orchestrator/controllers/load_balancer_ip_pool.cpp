#include "orchestrator/controllers/load_balancer_ip_pool.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <limits>

#include <fmt/format.h>

namespace switchyard::controllers {

namespace {

using Address = LoadBalancerIpPool::Address;

constexpr Address kMappedPrefix = Address{0xFFFF} << 32;  // ::ffff:0:0/96
constexpr Address kMappedMask = ~Address{0} << 32;

}  // namespace

std::optional<Address> LoadBalancerIpPool::to_number(const std::string& ip) {
  if (in_addr a{}; inet_pton(AF_INET, ip.c_str(), &a) == 1) return kMappedPrefix | ntohl(a.s_addr);
  in6_addr a6{};
  if (ip.find(':') == std::string::npos || inet_pton(AF_INET6, ip.c_str(), &a6) != 1) return std::nullopt;
  Address n = 0;
  for (auto byte : a6.s6_addr) n = (n << 8) | byte;
  return n;
}

LoadBalancerIpPool::Family LoadBalancerIpPool::family_of(Address ip) {
  return (ip & kMappedMask) == kMappedPrefix ? Family::IPv4 : Family::IPv6;
}

std::string LoadBalancerIpPool::to_text(Address ip) {
  if (family_of(ip) == Family::IPv4) {
    const auto v4 = static_cast<std::uint32_t>(ip);
    return fmt::format("{}.{}.{}.{}", v4 >> 24, (v4 >> 16) & 0xFF, (v4 >> 8) & 0xFF, v4 & 0xFF);
  }
  in6_addr a6{};
  for (int i = 15; i >= 0; --i, ip >>= 8) a6.s6_addr[i] = static_cast<std::uint8_t>(ip & 0xFF);
  char buf[INET6_ADDRSTRLEN] = "";
  inet_ntop(AF_INET6, &a6, buf, sizeof buf);
  return buf;
}

Result<LoadBalancerIpPool> LoadBalancerIpPool::parse(std::string_view spec) {
  LoadBalancerIpPool pool;
  pool.spec_ = std::string(spec);
  std::size_t start = 0;
  while (start <= spec.size()) {
    const auto comma = spec.find(',', start);
    const std::string block(spec.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    start = comma == std::string_view::npos ? spec.size() + 1 : comma + 1;
    if (block.empty()) continue;
    auto bad = [&](const char* why) {
      return fail(ErrorCode::Invalid, fmt::format("load balancer pool {}: {} (expected an IPv4 or IPv6 CIDR, or FIRST-LAST)", block, why));
    };
    if (const auto slash = block.find('/'); slash != std::string::npos) {
      auto base = to_number(block.substr(0, slash));
      if (!base) return bad("bad address");
      const int width = family_of(*base) == Family::IPv4 ? 32 : 128;
      int bits = -1;
      const auto* end = block.data() + block.size();
      if (auto [p, ec] = std::from_chars(block.data() + slash + 1, end, bits); ec != std::errc() || p != end || bits < 0 || bits > width)
        return bad("bad prefix length");
      const int host_bits = width - bits;
      const Address host_mask = host_bits == 128 ? ~Address{0} : (Address{1} << host_bits) - 1;
      Address first = *base & ~host_mask, last = first | host_mask;
      if (host_bits >= 2) ++first, --last;  // network and broadcast (IPv6: subnet-router anycast and the last)
      pool.ranges_.emplace_back(first, last);
    } else if (const auto dash = block.find('-'); dash != std::string::npos) {
      auto first = to_number(block.substr(0, dash)), last = to_number(block.substr(dash + 1));
      if (!first || !last) return bad("bad address");
      if (family_of(*first) != family_of(*last)) return bad("first and last of different families");
      if (*first > *last) return bad("first address after last");
      pool.ranges_.emplace_back(*first, *last);
    } else if (auto one = to_number(block)) {
      pool.ranges_.emplace_back(*one, *one);
    } else {
      return bad("not an address, CIDR or range");
    }
  }
  return pool;
}

bool LoadBalancerIpPool::contains(Address ip) const {
  for (const auto& [first, last] : ranges_)
    if (ip >= first && ip <= last) return true;
  return false;
}

bool LoadBalancerIpPool::contains(const std::string& ip) const {
  auto n = to_number(ip);
  return n && contains(*n);
}

bool LoadBalancerIpPool::has_family(Family f) const {
  for (const auto& [first, last] : ranges_)
    if (family_of(first) == f) return true;
  return false;
}

std::optional<Address> LoadBalancerIpPool::first_free(const std::set<Address>& used, Family family) const {
  for (const auto& [first, last] : ranges_) {
    if (family_of(first) != family) continue;
    // Walk the used addresses of this range in order: stops at the first gap, not at every address.
    Address candidate = first;
    bool full = false;
    for (auto it = used.lower_bound(first); it != used.end() && *it == candidate; ++it) {
      if (candidate == last) {
        full = true;
        break;
      }
      ++candidate;
    }
    if (!full) return candidate;
  }
  return std::nullopt;
}

std::uint64_t LoadBalancerIpPool::size() const {
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t n = 0;
  for (const auto& [first, last] : ranges_) {
    const Address count = last - first + 1;  // a whole ::/0 wraps to 0: counted as the maximum
    if (count == 0 || count > kMax - n) return kMax;
    n += static_cast<std::uint64_t>(count);
  }
  return n;
}

}  // namespace switchyard::controllers
