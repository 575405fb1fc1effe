// The DNS server: UDP and TCP on Boost.Asio, one socket per worker thread per address with
// SO_REUSEPORT, answering the cluster zone from the current Snapshot without locks.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dns/cluster_zone.h"
#include "endpoints/node/snapshot.h"

namespace switchyard::dns {

struct ServerOptions {
  std::vector<std::string> listen = {"127.0.0.1:53"};  // ADDR:PORT, [v6]:PORT; port 0 picks one
  int workers = 2;
  ClusterZoneOptions zone;
};

struct ServerCounters {
  std::atomic<std::uint64_t> queries{0}, dropped{0}, formerr{0}, nxdomain{0}, servfail{0}, refused{0}, truncated{0}, tcp_queries{0};
};

class DnsServer {
 public:
  static std::expected<std::unique_ptr<DnsServer>, std::string> create(ServerOptions options);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Replaces what the server answers from; readers never wait.
  void set_snapshot(std::shared_ptr<const endpoints::Snapshot> s) { snapshot_.store(std::move(s)); }
  // The addresses actually bound (with the chosen ports when 0 was asked).
  const std::vector<std::string>& bound() const { return bound_; }
  const ServerCounters& counters() const { return counters_; }
  // Prometheus text for /metrics.
  std::string metrics_text() const;
  void stop();

  // Answers one query message (UDP or TCP framing removed) into `out`; returns the response
  // length, 0 to send nothing. Exposed for tests and benchmarks.
  std::size_t handle(std::span<const std::uint8_t> query, std::span<std::uint8_t> out, std::size_t limit, bool tcp);

 private:
  explicit DnsServer(ServerOptions options);
  struct Worker;
  ServerOptions options_;
  ClusterZone zone_;
  std::atomic<std::shared_ptr<const endpoints::Snapshot>> snapshot_;
  ServerCounters counters_;
  std::vector<std::string> bound_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace switchyard::dns
