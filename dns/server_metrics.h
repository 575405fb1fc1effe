// Per-worker query metrics (each worker writes its own, so workers never share a cache line)
// and their Prometheus text rendering.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>

namespace switchyard::dns {

struct ForwardCounters;

struct alignas(64) QueryMetrics {
  // Query types counted by name; the rest as "other".
  static constexpr std::array<std::uint16_t, 9> kTypes = {1, 28, 12, 33, 16, 5, 6, 2, 255};
  static constexpr std::array<const char*, 10> kTypeNames = {"A", "AAAA", "PTR", "SRV", "TXT", "CNAME", "SOA", "NS", "ANY", "other"};
  // Latency bucket bounds, seconds (CoreDNS's request duration buckets, from 25 µs).
  static constexpr std::array<double, 14> kBuckets = {0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                      0.005,    0.01,    0.025,  0.05,    0.1,    0.5,   1.0};

  std::array<std::atomic<std::uint64_t>, 10> by_type{};
  std::array<std::atomic<std::uint64_t>, 16> by_rcode{};
  std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> latency{};  // the last: above every bound
  std::atomic<std::uint64_t> latency_sum_ns{0};
  std::atomic<std::uint64_t> autopath_answers{0};
  // The server's counts (ServerCounters sums them): per worker too, as a locked add on one
  // shared line costs every query, and two workers fight over that line.
  std::atomic<std::uint64_t> queries{0}, dropped{0}, formerr{0}, nxdomain{0}, servfail{0}, refused{0}, truncated{0}, tcp_queries{0};
  // Written by one thread only (a worker's own): plain load+store instead of locked adds.
  bool single_writer = false;

  void bump(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) {
    if (single_writer)
      counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    else
      counter.fetch_add(n, std::memory_order_relaxed);
  }
  void record(std::uint16_t type, int rcode, std::chrono::nanoseconds took);
  // Counts a response sent with this rcode (and TC) in the server's counters.
  void count_response(int rcode, bool truncated_response);
};

// The Prometheus text of everything the server counts. `forward` null: not forwarding.
std::string render_metrics(std::span<const QueryMetrics* const> workers, const ForwardCounters* forward, bool loop_detected,
                           std::size_t cache_entries);

}  // namespace switchyard::dns
