#include "orchestrator/controllers/node_cidr_set.h"

#include <arpa/inet.h>

#include <cstring>

#include <fmt/format.h>

namespace switchyard::controllers {

namespace {

using U128 = unsigned __int128;

U128 host_mask(int bits, int prefix) { return prefix >= bits ? 0 : ((U128{1} << (bits - prefix)) - 1); }

}  // namespace

Result<Cidr> Cidr::parse(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return fail(ErrorCode::Invalid, fmt::format("{} is not a CIDR", text));
  const std::string address = text.substr(0, slash), length = text.substr(slash + 1);
  Cidr c;
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    c.base = ntohl(v4.s_addr);
  } else if (::inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    c.v6 = true;
    for (unsigned char byte : v6.s6_addr) c.base = (c.base << 8) | byte;
  } else {
    return fail(ErrorCode::Invalid, fmt::format("{} is not a CIDR", text));
  }
  if (length.empty() || length.size() > 3 || length.find_first_not_of("0123456789") != std::string::npos)
    return fail(ErrorCode::Invalid, fmt::format("{} is not a CIDR", text));
  c.prefix = std::stoi(length);
  if (c.prefix > c.bits()) return fail(ErrorCode::Invalid, fmt::format("{} is not a CIDR", text));
  c.base &= ~host_mask(c.bits(), c.prefix);
  return c;
}

std::string Cidr::text() const {
  char out[INET6_ADDRSTRLEN];
  if (!v6) {
    in_addr a{htonl(static_cast<std::uint32_t>(base))};
    ::inet_ntop(AF_INET, &a, out, sizeof out);
  } else {
    in6_addr a{};
    for (int i = 15; i >= 0; --i) a.s6_addr[i] = static_cast<unsigned char>(base >> (8 * (15 - i)));
    ::inet_ntop(AF_INET6, &a, out, sizeof out);
  }
  return fmt::format("{}/{}", out, prefix);
}

Result<CidrSet> CidrSet::create(const std::string& cluster, int mask_size) {
  auto c = Cidr::parse(cluster);
  if (!c) return fail(c.error());
  if (mask_size < c->prefix || mask_size > c->bits())
    return fail(ErrorCode::Invalid, fmt::format("the node CIDR mask size {} does not fit the cluster CIDR {}: it must be between {} and {}",
                                                mask_size, c->text(), c->prefix, c->bits()));
  const int diff = mask_size - c->prefix;
  // Upstream caps IPv6 at 16 bits (65,536 subnets); IPv4 is kept to 2^24 so the bitmap stays small.
  if (diff > (c->v6 ? 16 : 24))
    return fail(ErrorCode::Invalid, fmt::format("the node CIDR mask size {} is too big for the cluster CIDR {}: at most {} bits more",
                                                mask_size, c->text(), c->v6 ? 16 : 24));
  CidrSet set;
  set.cluster_ = *c;
  set.mask_size_ = mask_size;
  set.used_.assign(std::size_t{1} << diff, false);
  return set;
}

std::optional<std::string> CidrSet::allocate_next() {
  const std::uint64_t n = used_.size();
  if (allocated_ >= n) return std::nullopt;
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t candidate = (next_ + i) % n;
    if (used_[candidate]) continue;
    used_[candidate] = true;
    ++allocated_;
    next_ = (candidate + 1) % n;
    Cidr subnet{cluster_.base | (U128{candidate} << (cluster_.bits() - mask_size_)), mask_size_, cluster_.v6};
    return subnet.text();
  }
  return std::nullopt;
}

Result<std::pair<std::uint64_t, std::uint64_t>> CidrSet::span(const std::string& text) const {
  auto c = Cidr::parse(text);
  if (!c) return fail(c.error());
  if (c->v6 != cluster_.v6)
    return fail(ErrorCode::Invalid, fmt::format("{} is not in the family of the cluster CIDR {}", text, cluster_.text()));
  const int bits = cluster_.bits();
  // It must lie inside the cluster CIDR, or contain it (then it covers every subnet).
  if (c->prefix <= cluster_.prefix) {
    if ((cluster_.base & ~host_mask(bits, c->prefix)) != c->base)
      return fail(ErrorCode::Invalid, fmt::format("{} is out of the range of the cluster CIDR {}", text, cluster_.text()));
    return std::pair<std::uint64_t, std::uint64_t>{0, used_.size() - 1};
  }
  if ((c->base & ~host_mask(bits, cluster_.prefix)) != cluster_.base)
    return fail(ErrorCode::Invalid, fmt::format("{} is out of the range of the cluster CIDR {}", text, cluster_.text()));
  const int shift = bits - mask_size_;
  const U128 offset = c->base & host_mask(bits, cluster_.prefix);
  const std::uint64_t first = static_cast<std::uint64_t>(offset >> shift);
  // A CIDR smaller than a subnet takes the subnet it lies in.
  const std::uint64_t count = c->prefix >= mask_size_ ? 1 : (std::uint64_t{1} << (mask_size_ - c->prefix));
  return std::pair<std::uint64_t, std::uint64_t>{first, first + count - 1};
}

Result<void> CidrSet::occupy(const std::string& cidr) {
  auto s = span(cidr);
  if (!s) return fail(s.error());
  for (auto i = s->first; i <= s->second; ++i)
    if (!used_[i]) {
      used_[i] = true;
      ++allocated_;
    }
  return {};
}

Result<void> CidrSet::release(const std::string& cidr) {
  auto s = span(cidr);
  if (!s) return fail(s.error());
  for (auto i = s->first; i <= s->second; ++i)
    if (used_[i]) {
      used_[i] = false;
      --allocated_;
    }
  return {};
}

Result<std::vector<CidrSet>> node_cidr_sets(const std::vector<std::string>& cluster_cidrs, int mask_size, int mask_v4, int mask_v6) {
  if (cluster_cidrs.empty()) return fail(ErrorCode::Invalid, "--cluster-cidr is required to allocate node CIDRs");
  if (cluster_cidrs.size() > 2)
    return fail(ErrorCode::Invalid, fmt::format("--cluster-cidr has {} CIDRs: at most two, one of each family", cluster_cidrs.size()));
  std::vector<Cidr> parsed;
  for (const auto& text : cluster_cidrs) {
    auto c = Cidr::parse(text);
    if (!c) return fail(with_context(c.error(), "--cluster-cidr"));
    parsed.push_back(*c);
  }
  const bool dual = parsed.size() == 2;
  if (dual && parsed[0].v6 == parsed[1].v6)
    return fail(ErrorCode::Invalid, "--cluster-cidr: two CIDRs must be one IPv4 and one IPv6 (dual-stack)");
  if (dual && mask_size != 0) return fail(ErrorCode::Invalid, "usage of --node-cidr-mask-size is not allowed with dual-stack clusters");
  if (mask_size != 0 && (mask_v4 != 0 || mask_v6 != 0))
    return fail(ErrorCode::Invalid,
                "usage of --node-cidr-mask-size-ipv4 and --node-cidr-mask-size-ipv6 is not allowed if --node-cidr-mask-size is set");
  std::vector<CidrSet> sets;
  for (const auto& c : parsed) {
    const int mask = mask_size != 0 ? mask_size : c.v6 ? (mask_v6 ? mask_v6 : 64) : (mask_v4 ? mask_v4 : 24);
    auto set = CidrSet::create(c.text(), mask);
    if (!set) return fail(set.error());
    sets.push_back(std::move(*set));
  }
  return sets;
}

}  // namespace switchyard::controllers
