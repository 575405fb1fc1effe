#include "dns/forward_cache.h"

#include <algorithm>

#include "dns/message_edit.h"

namespace switchyard::dns {

ForwardCache::ForwardCache(ForwardCacheOptions options, std::function<Clock::time_point()> now) : options_(options), now_(std::move(now)) {}

void ForwardCache::make_key(const Query& q, std::string& key) {
  key.assign(q.name);
  key += static_cast<char>(q.type >> 8);
  key += static_cast<char>(q.type);
  key += static_cast<char>(q.klass >> 8);
  key += static_cast<char>(q.klass);
  key += q.dnssec_ok ? 'D' : '-';  // a DO answer carries signatures the other does not
  key += (q.flags & 0x0010) ? 'C' : '-';
}

ForwardCache::Shard& ForwardCache::shard_for(const std::string& key) { return shards_[std::hash<std::string>{}(key) % shards_.size()]; }

std::size_t ForwardCache::lookup(const Query& q, std::span<std::uint8_t> out, std::size_t room) {
  if (options_.capacity == 0) return 0;
  thread_local std::string key;  // reused: no allocation per lookup once warm
  make_key(q, key);
  Shard& shard = shard_for(key);
  const auto now = now_();
  std::lock_guard lock(shard.mu);
  auto it = shard.entries.find(key);
  if (it == shard.entries.end()) return 0;
  if (now >= it->second.expires) {
    shard.entries.erase(it);
    return 0;
  }
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - it->second.stored).count();
  return shape_response(it->second.message, q, static_cast<std::uint32_t>(age), out, room);
}

void ForwardCache::store(const Query& q, std::span<const std::uint8_t> response) {
  if (options_.capacity == 0) return;
  const auto lifetime = cache_lifetime(response);
  if (!lifetime) return;
  const std::uint32_t ttl = std::min(lifetime->ttl, lifetime->negative ? options_.max_negative_ttl : options_.max_ttl);
  if (ttl == 0) return;
  std::string key;
  make_key(q, key);
  Shard& shard = shard_for(key);
  const auto now = now_();
  std::lock_guard lock(shard.mu);
  if (shard.entries.size() >= std::max<std::size_t>(1, options_.capacity / shards_.size()) && !shard.entries.contains(key)) {
    // Full: drop the expired entries, else an arbitrary one (cheap, and good enough for DNS).
    std::erase_if(shard.entries, [&](const auto& e) { return now >= e.second.expires; });
    if (shard.entries.size() >= std::max<std::size_t>(1, options_.capacity / shards_.size())) shard.entries.erase(shard.entries.begin());
  }
  shard.entries.insert_or_assign(std::move(key), Entry{{response.begin(), response.end()}, now, now + std::chrono::seconds(ttl)});
}

std::size_t ForwardCache::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.entries.size();
  }
  return n;
}

}  // namespace switchyard::dns
