// The DNS server: UDP and TCP on Boost.Asio, one socket per worker thread per address with
// SO_REUSEPORT, answering the cluster zone from the current Snapshot without locks, and
// forwarding other names upstream (c-ares on each worker's event loop) through a shared cache.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dns/autopath.h"
#include "dns/cluster_zone.h"
#include "dns/forwarding.h"
#include "dns/server_metrics.h"
#include "endpoints/node/snapshot.h"
#include "orchestrator/base/error.h"

namespace switchyard::dns {

struct ServerOptions {
  std::vector<std::string> listen = {"127.0.0.1:53"};  // ADDR:PORT, [v6]:PORT; port 0 picks one
  int workers = 2;
  ClusterZoneOptions zone;
  // Names outside the cluster domain. Default: none forwarded (REFUSED); the commands set
  // resolv_conf to /etc/resolv.conf unless --upstream is given.
  ForwardOptions forward;
  // Server-side search-path expansion for queries from pods the Snapshot knows (see autopath.h).
  bool autopath = false;
};

// Totals over the workers (each counts its own queries).
struct ServerCounters {
  std::uint64_t queries = 0, dropped = 0, formerr = 0, nxdomain = 0, servfail = 0, refused = 0, truncated = 0, tcp_queries = 0;
};

class DnsServer {
 public:
  static Result<std::unique_ptr<DnsServer>> create(ServerOptions options);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Replaces what the server answers from; readers never wait.
  void set_snapshot(std::shared_ptr<const endpoints::Snapshot> s);
  // The pods of this node, for autopath: queries from them get it even when they back no Service.
  void set_node_pods(std::vector<PodAddress> pods);
  // The addresses actually bound (with the chosen ports when 0 was asked).
  const std::vector<std::string>& bound() const { return bound_; }
  ServerCounters counters() const;
  // Null when nothing is forwarded.
  const ForwardCounters* forward_counters() const { return forwarding_ ? &forwarding_->counters() : nullptr; }
  // The upstream servers in use (from the options or resolv.conf).
  std::vector<std::string> upstreams() const { return forwarding_ ? forwarding_->upstreams() : std::vector<std::string>{}; }
  bool forwarding_loop_detected() const { return forwarding_ && forwarding_->loop_detected(); }
  // Ready once a Snapshot was set (before that the cluster zone answers SERVFAIL).
  bool ready() const { return view_.load() != nullptr; }
  // Prometheus text for /metrics.
  std::string metrics_text() const;
  void stop();

  // Answers one query message (UDP or TCP framing removed) into `out`; returns the response
  // length, 0 to send nothing. Exposed for tests and benchmarks. Synchronous: a forwarded name
  // is answered from the cache or else REFUSED.
  std::size_t handle(std::span<const std::uint8_t> query, std::span<std::uint8_t> out, std::size_t limit, bool tcp);

  struct Worker;      // internal: one thread, its sockets, its upstream client
  struct ForwardJob;  // internal: a query waiting for an upstream answer
  // Internal, for the socket loops: answers into `out`, or leaves `job` set when the answer must
  // come from upstream (then `forward` sends it later through `deliver`). `received`: when the
  // query was read (a UDP batch reads its queries at once, with one clock read), the start of
  // its latency.
  std::size_t answer(std::span<const std::uint8_t> query, std::span<std::uint8_t> out, std::size_t limit, bool tcp, const IpKey* client,
                     Worker* worker, std::unique_ptr<ForwardJob>& job, std::chrono::steady_clock::time_point received);
  void forward(Worker& worker, std::unique_ptr<ForwardJob> job, std::function<void(std::span<const std::uint8_t>)> deliver);
  // Internal, for the UDP loop: starts loading the service index entry that answering a
  // "<service>.<namespace>.svc.<zone>" query will read (a hint: nothing is checked or answered).
  void prefetch(std::span<const std::uint8_t> query, Worker* worker);

 private:
  explicit DnsServer(ServerOptions options);
  std::size_t answer_forwarded(const Query& q, const IpKey* client, std::span<std::uint8_t> out, std::size_t room, Worker* worker,
                               std::unique_ptr<ForwardJob>& job);
  // An ExternalName service with a target outside the cluster: the target resolved upstream
  // (cache, or `job`) and answered after the CNAME, so stub resolvers that do not chase get it.
  void chase_external_name(const Query& q, const std::string& target, const IpKey* client, std::span<std::uint8_t> out, std::size_t room,
                           Worker* worker, std::unique_ptr<ForwardJob>& job, std::size_t& len);
  bool answer_with_autopath(const Query& q, const IpKey& client, std::span<std::uint8_t> out, std::size_t room, ResponseWriter& w,
                            Worker* worker, std::unique_ptr<ForwardJob>& job, std::size_t& length);
  void send_loop_probe();
  QueryMetrics& metrics_for(Worker* worker);

  ServerOptions options_;
  ClusterZone zone_;
  // What queries are answered from: the Snapshot with the indexes built from it, swapped whole
  // so that a query never sees one Snapshot's services with another's pods.
  struct View {
    std::shared_ptr<const endpoints::Snapshot> snapshot;
    ServiceIndex services;
    std::shared_ptr<const PodNamespaces> pods;  // null unless autopath is on
  };
  std::atomic<std::shared_ptr<const View>> view_;
  void publish_view_locked();
  std::mutex view_writer_mu_;                            // set_snapshot and set_node_pods: one View built at a time
  std::shared_ptr<const endpoints::Snapshot> snapshot_;  // the last set, under view_writer_mu_
  std::vector<PodAddress> node_pods_;                    // under view_writer_mu_
  std::atomic<std::uint64_t> view_version_{0};           // bumped after each view_ store
  // The current View: a worker keeps its own reference and reloads it only when the version
  // moved (loading an atomic shared_ptr takes four locked instructions); others load it into `hold`.
  const View* current_view(Worker* worker, std::shared_ptr<const View>& hold);
  QueryMetrics unthreaded_metrics_;  // handle() called from outside the workers
  std::unique_ptr<Forwarding> forwarding_;
  std::vector<std::string> bound_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

// Internal (defined here so that the socket loops can own one).
struct DnsServer::ForwardJob {
  Query query;                             // what goes upstream
  std::optional<Query> autopath_original;  // the client's query, when this is autopath's last step or an ExternalName's target
  std::size_t room = 0;                    // what the client can take
  std::chrono::steady_clock::time_point started;
  bool external_name = false;  // the upstream's answer for the target follows the CNAME whatever its rcode
};

}  // namespace switchyard::dns
