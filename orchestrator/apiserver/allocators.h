// ClusterIP and NodePort allocators with the API server's rules (pkg/registry/core/service/
// ipallocator and portallocator), persisted in the Store one key per allocated value:
//
//   /registry/allocations/clusterips/<ip>    -> owner ("namespace/name")
//   /registry/allocations/nodeports/<port>   -> owner
//
// An allocation is a Store create, so two API server threads (or a restart in between) can never
// hand out the same value twice: the loser gets AlreadyExists, reported as "already allocated"
// for a requested value and retried with the next candidate for a dynamic one. A release
// removes the key only if the caller owns it (compare-and-swap on its mod revision).
//
// Both ranges are split as in KEP-3070 (IPs) and KEP-3668 (ports): a static band at the start of
// the range, min(max(16, size/16), 256) IPs or min(max(16, size/32), 128) ports (none for ranges
// of 16 or less), that dynamic allocation uses only once the rest of the range is full, so that
// users who pick values themselves pick them from the static band without colliding.
// Dynamic allocation starts at a random offset of the upper band and scans forward, wrapping.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/store/store.h"

namespace switchyard::apiserver {

inline constexpr std::string_view kClusterIpAllocationPrefix = "/registry/allocations/clusterips/";
inline constexpr std::string_view kNodePortAllocationPrefix = "/registry/allocations/nodeports/";

// Allocation errors are the project's Error (orchestrator/base/error.h), with these codes:
// OutOfRange (a requested value outside the range, or the network/broadcast address),
// AlreadyExists (a requested value someone holds), Exhausted (nothing left to hand out), and
// Unavailable or Internal when the Store failed (the message has the Store's). The message is
// the API server's words: "provided IP is already allocated", "the provided IP (10.0.0.1) is not
// in the valid range. The range of valid IPs is 10.96.0.0/12", "range is full", ...
template <class T>
using AllocationResult = Result<T>;

// The Store failed (as opposed to a value that cannot be had): a 500, not a 422.
inline bool is_store_failure(const Error& e) { return e.code == ErrorCode::Unavailable || e.code == ErrorCode::Internal; }

// A service CIDR: the addresses between the network address and the broadcast address (IPv4),
// or after the subnet-router anycast address (IPv6, at most 65536 of them, as upstream).
class IpRange {
 public:
  static Result<IpRange> parse(std::string_view cidr);

  const std::string& cidr() const { return cidr_; }  // normalised: "10.96.0.0/12"
  std::string_view family() const { return v6_ ? "IPv6" : "IPv4"; }
  std::uint64_t size() const { return size_; }  // allocatable addresses
  std::uint64_t static_band() const { return static_band_; }
  // The offset of `ip` in the allocatable addresses; nullopt if it is not one of them (outside
  // the CIDR, the network or broadcast address, another family, not an IP).
  std::optional<std::uint64_t> offset_of(std::string_view ip) const;
  std::string at(std::uint64_t offset) const;  // offset < size()

 private:
  using Bytes = std::array<std::uint8_t, 16>;
  IpRange() = default;
  std::string cidr_;
  bool v6_ = false;
  Bytes first_{};  // the first allocatable address
  std::uint64_t size_ = 0, static_band_ = 0;
};

// The offsets of one range kept as Store keys: the mechanism both allocators share. Every
// operation is a Store round trip, so several threads and a restarted process see one state.
class StoreBackedRange {
 public:
  struct Naming {
    std::string prefix;                                                       // ".../clusterips/"
    std::function<std::string(std::uint64_t)> suffix_of;                      // offset -> "10.96.0.7"
    std::function<std::optional<std::uint64_t>(std::string_view)> offset_of;  // suffix -> offset in range
  };
  StoreBackedRange(store::Store& store, std::uint64_t size, std::uint64_t static_band, Naming naming);

  // AlreadyAllocated if the key exists; Store for anything else the Store reports.
  AllocationResult<void> allocate(std::uint64_t offset, std::string_view owner);
  // A free offset, upper band first; RangeFull when there is none.
  AllocationResult<std::uint64_t> allocate_next(std::string_view owner);
  // Removes the key if `owner` holds it; true if it did. A key held by someone else is left alone.
  AllocationResult<bool> release(std::uint64_t offset, std::string_view owner);
  // The owner of an offset, nullopt if free.
  AllocationResult<std::optional<std::string>> owner_of(std::uint64_t offset);
  // Every allocated offset of this range, ascending.
  AllocationResult<std::vector<std::uint64_t>> allocated();
  // Every allocated offset with its owner, ascending, from one listing.
  AllocationResult<std::vector<std::pair<std::uint64_t, std::string>>> owners();

 private:
  std::string key_of(std::uint64_t offset) const { return naming_.prefix + naming_.suffix_of(offset); }
  // Tries the free offsets of [begin, end) from a random start, wrapping; nullopt if none was won.
  AllocationResult<std::optional<std::uint64_t>> claim_in(std::vector<bool>& taken, std::uint64_t begin, std::uint64_t end,
                                                          std::string_view owner);

  store::Store& store_;
  const std::uint64_t size_, static_band_;
  const Naming naming_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
};

class ClusterIpAllocator {
 public:
  static Result<std::unique_ptr<ClusterIpAllocator>> create(store::Store& store, std::string_view cidr);

  const IpRange& range() const { return range_; }
  std::string_view family() const { return range_.family(); }

  AllocationResult<void> allocate(std::string_view ip, std::string_view owner);
  AllocationResult<std::string> allocate_next(std::string_view owner);
  // Releasing a free IP or one outside the range is a no-op (true only if a key was removed).
  AllocationResult<bool> release(std::string_view ip, std::string_view owner);
  AllocationResult<std::optional<std::string>> owner_of(std::string_view ip);
  AllocationResult<std::vector<std::string>> allocated();
  AllocationResult<std::vector<std::pair<std::string, std::string>>> owners();  // (ip, owner)

 private:
  ClusterIpAllocator(store::Store& store, IpRange range);
  IpRange range_;
  StoreBackedRange keys_;
};

class NodePortAllocator {
 public:
  // The range min-max, inclusive (--service-node-port-range, 30000-32767 by default).
  static Result<std::unique_ptr<NodePortAllocator>> create(store::Store& store, int min, int max);

  std::string range() const;  // "30000-32767"
  std::uint64_t static_band() const { return static_band_; }

  AllocationResult<void> allocate(int port, std::string_view owner);
  AllocationResult<int> allocate_next(std::string_view owner);
  AllocationResult<bool> release(int port, std::string_view owner);
  AllocationResult<std::optional<std::string>> owner_of(int port);
  AllocationResult<std::vector<int>> allocated();
  AllocationResult<std::vector<std::pair<int, std::string>>> owners();  // (port, owner)

 private:
  NodePortAllocator(store::Store& store, int min, int max, std::uint64_t static_band);
  const int min_, max_;
  const std::uint64_t static_band_;
  StoreBackedRange keys_;
};

// min(max(16, size/16), 256), 0 for size <= 16: the static band of an IP range of `cidr_size`
// addresses (network and broadcast included, as upstream counts them).
std::uint64_t ip_static_band(std::uint64_t cidr_size);
// min(max(16, size/32), 128), 0 for size <= 16.
std::uint64_t port_static_band(std::uint64_t range_size);

}  // namespace switchyard::apiserver
