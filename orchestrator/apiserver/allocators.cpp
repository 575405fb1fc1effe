#include "orchestrator/apiserver/allocators.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include <fmt/format.h>

namespace switchyard::apiserver {
namespace {

using u128 = unsigned __int128;

std::uint64_t band(std::uint64_t size, std::uint64_t step, std::uint64_t max) {
  constexpr std::uint64_t kMin = 16;
  if (size <= kMin) return 0;
  return std::clamp(size / step, kMin, max);
}

Error store_failure(std::string_view what, const store::StoreError& e) {
  return {e.code == ErrorCode::Unavailable ? ErrorCode::Unavailable : ErrorCode::Internal,
          fmt::format("{}: {} ({})", what, e.message, to_string(e.code))};
}

std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view text, bool v6) {
  std::array<std::uint8_t, 16> out{};
  const std::string s(text);
  if (inet_pton(v6 ? AF_INET6 : AF_INET, s.c_str(), out.data()) != 1) return std::nullopt;
  return out;
}

u128 to_int(const std::array<std::uint8_t, 16>& b, bool v6) {
  u128 v = 0;
  for (std::size_t i = 0; i < (v6 ? 16u : 4u); ++i) v = (v << 8) | b[i];
  return v;
}

std::array<std::uint8_t, 16> from_int(u128 v, bool v6) {
  std::array<std::uint8_t, 16> b{};
  const std::size_t n = v6 ? 16 : 4;
  for (std::size_t i = 0; i < n; ++i) b[n - 1 - i] = static_cast<std::uint8_t>(v >> (8 * i));
  return b;
}

std::string format_ip(const std::array<std::uint8_t, 16>& b, bool v6) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, b.data(), buf, sizeof buf);
  return buf;
}

}  // namespace

std::uint64_t ip_static_band(std::uint64_t cidr_size) { return band(cidr_size, 16, 256); }
std::uint64_t port_static_band(std::uint64_t range_size) { return band(range_size, 32, 128); }

// ---- IpRange ------------------------------------------------------------------------------

Result<IpRange> IpRange::parse(std::string_view cidr) {
  const auto slash = cidr.find('/');
  if (slash == std::string_view::npos) return fail(ErrorCode::Invalid, fmt::format("invalid CIDR {:?}: no prefix length", cidr));
  const std::string_view addr = cidr.substr(0, slash), bits_text = cidr.substr(slash + 1);
  IpRange r;
  r.v6_ = addr.find(':') != std::string_view::npos;
  auto ip = parse_ip(addr, r.v6_);
  if (!ip) return fail(ErrorCode::Invalid, fmt::format("invalid CIDR {:?}: {:?} is not an IP address", cidr, addr));
  const int width = r.v6_ ? 128 : 32;
  int bits = -1;
  auto [end, ec] = std::from_chars(bits_text.data(), bits_text.data() + bits_text.size(), bits);
  if (ec != std::errc() || end != bits_text.data() + bits_text.size() || bits < 0 || bits > width)
    return fail(ErrorCode::Invalid, fmt::format("invalid CIDR {:?}: prefix length must be 0-{}", cidr, width));

  const int host_bits = width - bits;
  const u128 all = r.v6_ ? ~u128{0} : u128{0xffffffffu};
  const u128 host_mask = host_bits >= 128 ? ~u128{0} : ((u128{1} << host_bits) - 1);
  const u128 network = to_int(*ip, r.v6_) & all & ~host_mask;
  // Addresses in the CIDR, saturated: what upstream's RangeSize gives for the static band.
  const std::uint64_t cidr_size = host_bits >= 64 ? std::numeric_limits<std::uint64_t>::max() : (std::uint64_t{1} << host_bits);
  if (r.v6_) {
    // No broadcast in IPv6; the bitmap is capped at 65536 entries, minus the anycast address.
    r.size_ = std::min<std::uint64_t>(cidr_size, 65536) - 1;
  } else {
    r.size_ = cidr_size >= 2 ? cidr_size - 2 : 0;
  }
  r.static_band_ = ip_static_band(cidr_size);
  r.first_ = from_int(network + 1, r.v6_);
  r.cidr_ = fmt::format("{}/{}", format_ip(from_int(network, r.v6_), r.v6_), bits);
  return r;
}

std::optional<std::uint64_t> IpRange::offset_of(std::string_view ip) const {
  auto b = parse_ip(ip, v6_);
  if (!b) return std::nullopt;
  const u128 v = to_int(*b, v6_), first = to_int(first_, v6_);
  if (v < first || v - first >= size_) return std::nullopt;
  return static_cast<std::uint64_t>(v - first);
}

std::string IpRange::at(std::uint64_t offset) const { return format_ip(from_int(to_int(first_, v6_) + offset, v6_), v6_); }

// ---- StoreBackedRange ---------------------------------------------------------------------

StoreBackedRange::StoreBackedRange(store::Store& store, std::uint64_t size, std::uint64_t static_band, Naming naming)
    : store_(store), size_(size), static_band_(static_band), naming_(std::move(naming)), rng_(std::random_device{}()) {}

AllocationResult<void> StoreBackedRange::allocate(std::uint64_t offset, std::string_view owner) {
  const std::string key = key_of(offset);
  auto r = store_.create(key, owner);
  if (r) return {};
  if (r.error().code == store::StoreErrorCode::AlreadyExists) return std::unexpected(Error{ErrorCode::AlreadyExists, {}});
  return std::unexpected(store_failure(fmt::format("allocating {}", key), r.error()));
}

AllocationResult<std::vector<std::pair<std::uint64_t, std::string>>> StoreBackedRange::owners() {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  std::string after;
  for (;;) {
    auto page = store_.list(naming_.prefix, 1000, after);
    if (!page) return std::unexpected(store_failure(fmt::format("listing {}", naming_.prefix), page.error()));
    for (const auto& kv : page->items)
      if (auto off = naming_.offset_of(std::string_view(kv.key).substr(naming_.prefix.size()))) out.emplace_back(*off, kv.value);
    if (!page->more || page->items.empty()) break;
    after = page->items.back().key;
  }
  std::sort(out.begin(), out.end());
  return out;
}

AllocationResult<std::vector<std::uint64_t>> StoreBackedRange::allocated() {
  auto held = owners();
  if (!held) return std::unexpected(held.error());
  std::vector<std::uint64_t> out;
  out.reserve(held->size());
  for (const auto& [offset, owner] : *held) out.push_back(offset);
  return out;
}

AllocationResult<std::optional<std::uint64_t>> StoreBackedRange::claim_in(std::vector<bool>& taken, std::uint64_t begin, std::uint64_t end,
                                                                          std::string_view owner) {
  if (begin >= end) return std::nullopt;
  const std::uint64_t n = end - begin;
  std::uint64_t start;
  {
    std::lock_guard lock(rng_mu_);
    start = std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_);
  }
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t at = begin + (start + i) % n;
    if (taken[at]) continue;
    auto r = allocate(at, owner);
    if (r) return at;
    if (r.error().code != ErrorCode::AlreadyExists) return std::unexpected(r.error());
    taken[at] = true;  // lost a race to another allocation: keep scanning
  }
  return std::nullopt;
}

AllocationResult<std::uint64_t> StoreBackedRange::allocate_next(std::string_view owner) {
  // Fast path: a few random offsets of the upper band, each claimed by a create that fails if
  // taken. In a range that is mostly free this wins at once without reading what is allocated
  // (which costs a full listing: 12 creates/s at 10,000 services before, bench/RESULTS.md).
  if (size_ > static_band_) {
    for (int attempt = 0; attempt < 8; ++attempt) {
      std::uint64_t offset;
      {
        std::lock_guard lock(rng_mu_);
        offset = std::uniform_int_distribution<std::uint64_t>(static_band_, size_ - 1)(rng_);
      }
      auto won = allocate(offset, owner);
      if (won) return offset;
      if (won.error().code != ErrorCode::AlreadyExists) return std::unexpected(won.error());
    }
  }
  // Crowded: scan what is allocated for a free offset.
  auto held = allocated();
  if (!held) return std::unexpected(held.error());
  const Error full{ErrorCode::Exhausted, "range is full"};
  if (held->size() >= size_) return std::unexpected(full);
  std::vector<bool> taken(size_);
  for (auto off : *held) taken[off] = true;
  for (auto [begin, end] : {std::pair{static_band_, size_}, std::pair{std::uint64_t{0}, static_band_}}) {
    auto won = claim_in(taken, begin, end, owner);
    if (!won) return std::unexpected(won.error());
    if (*won) return **won;
  }
  return std::unexpected(full);
}

AllocationResult<std::optional<std::string>> StoreBackedRange::owner_of(std::uint64_t offset) {
  const std::string key = key_of(offset);
  auto kv = store_.get(key);
  if (!kv) return std::unexpected(store_failure(fmt::format("reading {}", key), kv.error()));
  if (!*kv) return std::nullopt;
  return (*kv)->value;
}

AllocationResult<bool> StoreBackedRange::release(std::uint64_t offset, std::string_view owner) {
  const std::string key = key_of(offset);
  auto kv = store_.get(key);
  if (!kv) return std::unexpected(store_failure(fmt::format("reading {}", key), kv.error()));
  if (!*kv || (*kv)->value != owner) return false;
  auto r = store_.remove(key, (*kv)->mod_revision);
  if (r) return true;
  // Changed or removed since we read it: then it is no longer ours to release.
  if (r.error().code == store::StoreErrorCode::NotFound || r.error().code == store::StoreErrorCode::Conflict) return false;
  return std::unexpected(store_failure(fmt::format("releasing {}", key), r.error()));
}

// ---- ClusterIpAllocator -------------------------------------------------------------------

Result<std::unique_ptr<ClusterIpAllocator>> ClusterIpAllocator::create(store::Store& store, std::string_view cidr) {
  auto range = IpRange::parse(cidr);
  if (!range) return std::unexpected(range.error());
  if (range->size() == 0) return fail(ErrorCode::Invalid, fmt::format("service CIDR {} has no allocatable addresses", range->cidr()));
  return std::unique_ptr<ClusterIpAllocator>(new ClusterIpAllocator(store, std::move(*range)));
}

ClusterIpAllocator::ClusterIpAllocator(store::Store& store, IpRange range)
    : range_(std::move(range)),
      keys_(store, range_.size(), range_.static_band(),
            {std::string(kClusterIpAllocationPrefix), [this](std::uint64_t off) { return range_.at(off); },
             [this](std::string_view suffix) { return range_.offset_of(suffix); }}) {}

AllocationResult<void> ClusterIpAllocator::allocate(std::string_view ip, std::string_view owner) {
  auto off = range_.offset_of(ip);
  if (!off)
    return std::unexpected(
        Error{ErrorCode::OutOfRange,
              fmt::format("the provided IP ({}) is not in the valid range. The range of valid IPs is {}", ip, range_.cidr())});
  auto r = keys_.allocate(*off, owner);
  if (!r && r.error().code == ErrorCode::AlreadyExists) r.error().message = "provided IP is already allocated";
  return r;
}

AllocationResult<std::string> ClusterIpAllocator::allocate_next(std::string_view owner) {
  auto off = keys_.allocate_next(owner);
  if (!off) return std::unexpected(off.error());
  return range_.at(*off);
}

AllocationResult<bool> ClusterIpAllocator::release(std::string_view ip, std::string_view owner) {
  auto off = range_.offset_of(ip);
  if (!off) return false;
  return keys_.release(*off, owner);
}

AllocationResult<std::optional<std::string>> ClusterIpAllocator::owner_of(std::string_view ip) {
  auto off = range_.offset_of(ip);
  if (!off) return std::nullopt;
  return keys_.owner_of(*off);
}

AllocationResult<std::vector<std::pair<std::string, std::string>>> ClusterIpAllocator::owners() {
  auto held = keys_.owners();
  if (!held) return std::unexpected(held.error());
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& [off, owner] : *held) out.emplace_back(range_.at(off), std::move(owner));
  return out;
}

AllocationResult<std::vector<std::string>> ClusterIpAllocator::allocated() {
  auto offs = keys_.allocated();
  if (!offs) return std::unexpected(offs.error());
  std::vector<std::string> out;
  for (auto off : *offs) out.push_back(range_.at(off));
  return out;
}

// ---- NodePortAllocator --------------------------------------------------------------------

Result<std::unique_ptr<NodePortAllocator>> NodePortAllocator::create(store::Store& store, int min, int max) {
  if (min < 1 || max > 65535 || min > max)
    return fail(ErrorCode::Invalid, fmt::format("invalid node port range {}-{}: must be within 1-65535, first <= last", min, max));
  const auto size = static_cast<std::uint64_t>(max - min + 1);
  return std::unique_ptr<NodePortAllocator>(new NodePortAllocator(store, min, max, port_static_band(size)));
}

NodePortAllocator::NodePortAllocator(store::Store& store, int min, int max, std::uint64_t static_band)
    : min_(min),
      max_(max),
      static_band_(static_band),
      keys_(store, static_cast<std::uint64_t>(max - min + 1), static_band,
            {std::string(kNodePortAllocationPrefix), [this](std::uint64_t off) { return std::to_string(min_ + static_cast<int>(off)); },
             [this](std::string_view suffix) -> std::optional<std::uint64_t> {
               int port = 0;
               auto [end, ec] = std::from_chars(suffix.data(), suffix.data() + suffix.size(), port);
               if (ec != std::errc() || end != suffix.data() + suffix.size() || port < min_ || port > max_) return std::nullopt;
               return static_cast<std::uint64_t>(port - min_);
             }}) {}

std::string NodePortAllocator::range() const { return fmt::format("{}-{}", min_, max_); }

AllocationResult<void> NodePortAllocator::allocate(int port, std::string_view owner) {
  if (port < min_ || port > max_)
    return std::unexpected(
        Error{ErrorCode::OutOfRange, fmt::format("provided port is not in the valid range. The range of valid ports is {}", range())});
  auto r = keys_.allocate(static_cast<std::uint64_t>(port - min_), owner);
  if (!r && r.error().code == ErrorCode::AlreadyExists) r.error().message = "provided port is already allocated";
  return r;
}

AllocationResult<int> NodePortAllocator::allocate_next(std::string_view owner) {
  auto off = keys_.allocate_next(owner);
  if (!off) return std::unexpected(off.error());
  return min_ + static_cast<int>(*off);
}

AllocationResult<bool> NodePortAllocator::release(int port, std::string_view owner) {
  if (port < min_ || port > max_) return false;
  return keys_.release(static_cast<std::uint64_t>(port - min_), owner);
}

AllocationResult<std::optional<std::string>> NodePortAllocator::owner_of(int port) {
  if (port < min_ || port > max_) return std::nullopt;
  return keys_.owner_of(static_cast<std::uint64_t>(port - min_));
}

AllocationResult<std::vector<std::pair<int, std::string>>> NodePortAllocator::owners() {
  auto held = keys_.owners();
  if (!held) return std::unexpected(held.error());
  std::vector<std::pair<int, std::string>> out;
  for (auto& [off, owner] : *held) out.emplace_back(min_ + static_cast<int>(off), std::move(owner));
  return out;
}

AllocationResult<std::vector<int>> NodePortAllocator::allocated() {
  auto offs = keys_.allocated();
  if (!offs) return std::unexpected(offs.error());
  std::vector<int> out;
  for (auto off : *offs) out.push_back(min_ + static_cast<int>(off));
  return out;
}

}  // namespace switchyard::apiserver
