// What the workers share for names outside the cluster domain: the upstream servers, the
// cache, the budget of queries in flight, and loop detection as CoreDNS's `loop` plugin does
// it (a random probe name is sent upstream at start; if that name ever arrives at this server,
// the upstream path leads back here: forwarding stops, rather than amplifying a loop).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "dns/client_ranges.h"
#include "dns/forward_cache.h"
#include "orchestrator/base/error.h"

namespace switchyard::dns {

struct ForwardOptions {
  std::vector<std::string> upstreams;       // ADDR, ADDR:PORT or [V6]:PORT; when empty, resolv_conf's nameservers
  std::string resolv_conf;                  // e.g. "/etc/resolv.conf"; "" with no upstreams: nothing is forwarded (REFUSED)
  std::chrono::milliseconds timeout{1000};  // per try and server
  int tries = 2;
  std::size_t max_in_flight = 1000;  // across workers; beyond it, REFUSED (as CoreDNS's max_concurrent)
  ForwardCacheOptions cache;
  bool detect_loops = true;
  // CIDRs of the clients whose queries are forwarded (others get REFUSED); empty: every client.
  std::vector<std::string> clients;
};

struct ForwardCounters {
  std::atomic<std::uint64_t> sent{0}, answered{0}, failed{0}, rejected_in_flight{0}, refused_after_loop{0}, refused_client{0};
  std::atomic<std::uint64_t> cache_hits{0}, cache_misses{0};
  std::atomic<std::int64_t> in_flight{0};
};

class Forwarding {
 public:
  // Null when there is nothing to forward to (no upstreams and no resolv.conf asked for).
  static Result<std::unique_ptr<Forwarding>> create(ForwardOptions options);

  const ForwardOptions& options() const { return options_; }
  const std::vector<std::string>& upstreams() const { return upstreams_; }
  ForwardCache& cache() { return cache_; }
  ForwardCounters& counters() { return counters_; }
  const ForwardCounters& counters() const { return counters_; }

  // The probe name ("<random>.<random>."), lowercase; empty when loop detection is off.
  const std::string& probe_name() const { return probe_name_; }
  // Our probe came back to us: log it once and stop forwarding.
  void note_probe_returned();
  bool loop_detected() const { return loop_detected_.load(std::memory_order_relaxed); }

  // Whether `client` (null: unknown) may have its queries forwarded.
  bool forwards_for(const IpKey* client) const { return clients_.contains(client); }

  // A slot among the queries in flight, or false when all are taken.
  bool try_begin();
  void end();

 private:
  explicit Forwarding(ForwardOptions options);
  ForwardOptions options_;
  std::vector<std::string> upstreams_;
  ForwardCache cache_;
  ForwardCounters counters_;
  ClientRanges clients_;
  std::string probe_name_;
  std::atomic<bool> loop_detected_{false};
};

}  // namespace switchyard::dns
