// The cache of upstream answers: whole responses, keyed by name, type, class and the DO bit,
// kept for their TTL (the SOA's negative TTL for NXDOMAIN and NODATA), capped. Shared by all
// workers; sharded so that workers rarely wait for each other.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "dns/wire.h"

namespace switchyard::dns {

struct ForwardCacheOptions {
  std::size_t capacity = 10000;           // entries; 0 disables the cache
  std::uint32_t max_ttl = 3600;           // positive answers, as CoreDNS's cache
  std::uint32_t max_negative_ttl = 1800;  // NXDOMAIN / NODATA
};

class ForwardCache {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ForwardCache(ForwardCacheOptions options, std::function<Clock::time_point()> now = Clock::now);

  // On a fresh entry, writes it into `out` shaped as the answer to q (see shape_response)
  // and returns the length; 0 on a miss.
  std::size_t lookup(const Query& q, std::span<std::uint8_t> out, std::size_t room);
  // Keeps `response` (the upstream's answer to q) if it may be cached.
  void store(const Query& q, std::span<const std::uint8_t> response);

  std::size_t size() const;

 private:
  struct Entry {
    std::vector<std::uint8_t> message;
    Clock::time_point stored, expires;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry> entries;
  };
  static void make_key(const Query& q, std::string& key);
  Shard& shard_for(const std::string& key);

  ForwardCacheOptions options_;
  std::function<Clock::time_point()> now_;
  std::array<Shard, 16> shards_;
};

}  // namespace switchyard::dns
