#include "orchestrator/controllers/load_balancer_ip_pool.h"

#include <arpa/inet.h>

#include <charconv>

#include <fmt/format.h>

namespace switchyard::controllers {

std::optional<std::uint32_t> LoadBalancerIpPool::to_number(const std::string& ip) {
  in_addr a{};
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string LoadBalancerIpPool::to_text(std::uint32_t ip) {
  return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 0xFF, (ip >> 8) & 0xFF, ip & 0xFF);
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
      return fail(ErrorCode::Invalid, fmt::format("load balancer pool {}: {} (expected IPv4 CIDR or FIRST-LAST)", block, why));
    };
    if (const auto slash = block.find('/'); slash != std::string::npos) {
      auto base = to_number(block.substr(0, slash));
      int bits = -1;
      const auto* end = block.data() + block.size();
      if (auto [p, ec] = std::from_chars(block.data() + slash + 1, end, bits); ec != std::errc() || p != end || bits < 0 || bits > 32)
        return bad("bad prefix length");
      if (!base) return bad("bad address");
      const std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
      std::uint32_t first = *base & mask, last = first | ~mask;
      if (bits <= 30) ++first, --last;  // network and broadcast addresses
      pool.ranges_.emplace_back(first, last);
    } else if (const auto dash = block.find('-'); dash != std::string::npos) {
      auto first = to_number(block.substr(0, dash)), last = to_number(block.substr(dash + 1));
      if (!first || !last) return bad("bad address");
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

bool LoadBalancerIpPool::contains(std::uint32_t ip) const {
  for (const auto& [first, last] : ranges_)
    if (ip >= first && ip <= last) return true;
  return false;
}

bool LoadBalancerIpPool::contains(const std::string& ip) const {
  auto n = to_number(ip);
  return n && contains(*n);
}

std::optional<std::uint32_t> LoadBalancerIpPool::first_free(const std::set<std::uint32_t>& used) const {
  for (const auto& [first, last] : ranges_) {
    // Walk the used addresses of this range in order: stops at the first gap, not at every address.
    std::uint64_t candidate = first;
    for (auto it = used.lower_bound(first); it != used.end() && *it == candidate && candidate <= last; ++it) ++candidate;
    if (candidate <= last) return static_cast<std::uint32_t>(candidate);
  }
  return std::nullopt;
}

std::uint64_t LoadBalancerIpPool::size() const {
  std::uint64_t n = 0;
  for (const auto& [first, last] : ranges_) n += std::uint64_t{last} - first + 1;
  return n;
}

}  // namespace switchyard::controllers
