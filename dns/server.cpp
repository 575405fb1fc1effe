#include "dns/server.h"

#include "dns/message_edit.h"
#include "dns/udp_loop.h"
#include "dns/upstream_client.h"

#include <array>
#include <charconv>

#include <utility>  // Boost 1.74 asio/awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace switchyard::dns {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using Clock = std::chrono::steady_clock;
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

namespace {
// A port that no UDP or TCP socket holds on `addr` right now (0 if the probe failed).
std::uint16_t exclusive_free_port(const asio::ip::address& addr) {
  asio::io_context io;
  boost::system::error_code ec;
  udp::socket u(io);
  udp::endpoint uep(addr, 0);
  u.open(uep.protocol(), ec);
  if (!ec) u.bind(uep, ec);
  if (ec) return 0;
  const std::uint16_t port = u.local_endpoint().port();
  tcp::acceptor t(io);
  tcp::endpoint tep(addr, port);
  t.open(tep.protocol(), ec);
  if (!ec) t.bind(tep, ec);
  return ec ? 0 : port;
}
}  // namespace

namespace {

Result<std::pair<asio::ip::address, std::uint16_t>> parse_listen(const std::string& s) {
  std::string host;
  std::string_view port_text;
  if (s.starts_with('[')) {
    auto close = s.find("]:");
    if (close == std::string::npos) return fail(ErrorCode::Invalid, fmt::format("--dns-listen {}: expected [IPv6]:PORT", s));
    host = s.substr(1, close - 1);
    port_text = std::string_view(s).substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string::npos) return fail(ErrorCode::Invalid, fmt::format("--dns-listen {}: expected ADDRESS:PORT", s));
    host = s.substr(0, colon);
    port_text = std::string_view(s).substr(colon + 1);
  }
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return fail(ErrorCode::Invalid, fmt::format("--dns-listen {}: {} is not an IP address", s, host));
  unsigned port = 0;
  auto [p, perr] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (perr != std::errc() || p != port_text.data() + port_text.size() || port > 65535)
    return fail(ErrorCode::Invalid, fmt::format("--dns-listen {}: {} is not a port", s, port_text));
  return std::pair{addr, static_cast<std::uint16_t>(port)};
}

// A header-only answer for queries too broken to echo their question.
std::size_t header_only(std::span<std::uint8_t> out, std::uint16_t id, std::uint16_t flags, Rcode rcode) {
  const std::uint16_t f = 0x8000 | (flags & 0x7900) | rcode;  // QR, the opcode and RD as asked
  const std::uint8_t h[12] = {static_cast<std::uint8_t>(id >> 8),
                              static_cast<std::uint8_t>(id),
                              static_cast<std::uint8_t>(f >> 8),
                              static_cast<std::uint8_t>(f),
                              0,
                              0,
                              0,
                              0,
                              0,
                              0,
                              0,
                              0};
  std::copy(std::begin(h), std::end(h), out.begin());
  return sizeof h;
}

}  // namespace

// One thread with its own sockets: the kernel spreads queries across workers (SO_REUSEPORT).
struct DnsServer::Worker {
  asio::io_context io{1};
  std::vector<std::unique_ptr<udp::socket>> udp_sockets;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::unique_ptr<UpstreamClient> upstream;  // declared after io: destroyed before it
  QueryMetrics metrics;
  std::shared_ptr<const View> view;  // see current_view()
  std::uint64_t view_version = ~std::uint64_t{0};
  std::thread thread;
};

namespace {

IpKey key_of(const asio::ip::address& a) {
  if (a.is_v4()) return ip_key_v4(a.to_v4().to_bytes());
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return ip_key_v4(v6.to_v4().to_bytes());
  return v6.to_bytes();
}

class TcpSession : public std::enable_shared_from_this<TcpSession> {
 public:
  TcpSession(DnsServer& server, DnsServer::Worker& worker, tcp::socket socket)
      : server_(server), worker_(worker), socket_(std::move(socket)), idle_(socket_.get_executor()) {}
  void start() { read_length(); }

 private:
  void arm_idle_timer() {
    idle_.expires_after(std::chrono::seconds(10));
    idle_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->socket_.close();
    });
  }
  void read_length() {
    arm_idle_timer();
    asio::async_read(socket_, asio::buffer(length_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (ec) return;
      const std::size_t n = static_cast<std::size_t>(self->length_[0] << 8 | self->length_[1]);
      if (n < 12) return self->socket_.close();
      self->in_.resize(n);
      asio::async_read(self->socket_, asio::buffer(self->in_), [self](boost::system::error_code ec2, std::size_t) {
        if (ec2) return;
        self->out_.resize(2 + 65535);
        boost::system::error_code peer_ec;
        const auto peer = self->socket_.remote_endpoint(peer_ec);
        const IpKey client = key_of(peer.address());
        std::unique_ptr<DnsServer::ForwardJob> job;
        const std::size_t len = self->server_.answer(self->in_, std::span(self->out_).subspan(2), 65535, true, peer_ec ? nullptr : &client,
                                                     &self->worker_, job, Clock::now());
        if (job) {
          self->idle_.cancel();
          self->server_.forward(self->worker_, std::move(job), [self](std::span<const std::uint8_t> response) {
            std::copy(response.begin(), response.end(), self->out_.begin() + 2);
            self->write(response.size());
          });
          return;
        }
        if (!len) return self->socket_.close();
        self->write(len);
      });
    });
  }
  void write(std::size_t len) {
    out_[0] = static_cast<std::uint8_t>(len >> 8);
    out_[1] = static_cast<std::uint8_t>(len);
    asio::async_write(socket_, asio::buffer(out_.data(), len + 2), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (!ec) self->read_length();
    });
  }
  DnsServer& server_;
  DnsServer::Worker& worker_;
  tcp::socket socket_;
  asio::steady_timer idle_;
  std::array<std::uint8_t, 2> length_{};
  std::vector<std::uint8_t> in_, out_;
};

void accept_loop(DnsServer& server, DnsServer::Worker& worker, tcp::acceptor& acceptor) {
  acceptor.async_accept([&server, &worker, &acceptor](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<TcpSession>(server, worker, std::move(socket))->start();
    accept_loop(server, worker, acceptor);
  });
}

Rcode rcode_of(std::span<const std::uint8_t> msg) { return static_cast<Rcode>(msg.size() >= 4 ? msg[3] & 0xF : kServFail); }

}  // namespace

DnsServer::DnsServer(ServerOptions options) : options_(std::move(options)), zone_(options_.zone) {}

DnsServer::~DnsServer() { stop(); }

void DnsServer::stop() {
  for (auto& w : workers_) w->io.stop();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
  workers_.clear();
}

Result<std::unique_ptr<DnsServer>> DnsServer::create(ServerOptions options) {
  std::unique_ptr<DnsServer> server(new DnsServer(std::move(options)));
  const int workers = std::max(1, server->options_.workers);
  std::vector<std::pair<asio::ip::address, std::uint16_t>> addresses;
  for (const auto& l : server->options_.listen) {
    auto a = parse_listen(l);
    if (!a) return std::unexpected(a.error());
    addresses.push_back(*a);
  }
  for (int i = 0; i < workers; ++i) {
    server->workers_.push_back(std::make_unique<Worker>());
    server->workers_.back()->metrics.single_writer = true;
  }
  for (auto& [addr, requested_port] : addresses) {
    // With port 0 the kernel picks a free UDP port, which TCP may have in use (another
    // connection's local port): then pick again.
    std::string failure;
    bool bound_all = false;
    for (int attempt = 0; attempt < 20 && !bound_all; ++attempt) {
      std::uint16_t port = requested_port;
      // Port 0 with SO_REUSEPORT may hand out a port another process's SO_REUSEPORT socket holds
      // (same user), and then the kernel splits queries between the two. Probe sockets without
      // it get a port nobody holds, over UDP and TCP; the workers then bind it with SO_REUSEPORT.
      if (port == 0) {
        port = exclusive_free_port(addr);
        if (port == 0) continue;
      }
      std::vector<std::unique_ptr<udp::socket>> udps;
      std::vector<std::unique_ptr<tcp::acceptor>> tcps;
      failure.clear();
      // The first worker's bind fixes the port; the others share it (SO_REUSEPORT).
      for (auto& w : server->workers_) {
        boost::system::error_code ec;
        auto u = std::make_unique<udp::socket>(w->io);
        udp::endpoint uep(addr, port);
        u->open(uep.protocol(), ec);
        if (!ec) u->set_option(ReusePort(true), ec);
        if (!ec) u->bind(uep, ec);
        if (ec) {
          failure = fmt::format("DNS: cannot bind UDP {}:{}: {}", addr.to_string(), port, ec.message());
          break;
        }
        port = u->local_endpoint().port();
        auto t = std::make_unique<tcp::acceptor>(w->io);
        tcp::endpoint tep(addr, port);
        t->open(tep.protocol(), ec);
        if (!ec) t->set_option(ReusePort(true), ec);
        if (!ec) t->set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) t->bind(tep, ec);
        if (!ec) t->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
          failure = fmt::format("DNS: cannot listen on TCP {}:{}: {}", addr.to_string(), port, ec.message());
          break;
        }
        udps.push_back(std::move(u));
        tcps.push_back(std::move(t));
      }
      if (!failure.empty()) {
        if (requested_port != 0) return fail(ErrorCode::Unavailable, failure);
        continue;
      }
      for (std::size_t i = 0; i < server->workers_.size(); ++i) {
        server->workers_[i]->udp_sockets.push_back(std::move(udps[i]));
        server->workers_[i]->acceptors.push_back(std::move(tcps[i]));
      }
      server->bound_.push_back(addr.is_v6() ? fmt::format("[{}]:{}", addr.to_string(), port)
                                            : fmt::format("{}:{}", addr.to_string(), port));
      bound_all = true;
    }
    if (!bound_all) return fail(ErrorCode::Unavailable, failure);
  }
  auto forwarding = Forwarding::create(server->options_.forward);
  if (!forwarding) return fail(ErrorCode::Internal, fmt::format("DNS forwarding: {}", forwarding.error().message));
  server->forwarding_ = std::move(*forwarding);
  if (server->forwarding_)
    for (auto& w : server->workers_) {
      auto client = UpstreamClient::create(
          w->io, {server->forwarding_->upstreams(), server->options_.forward.timeout, server->options_.forward.tries});
      if (!client) return fail(ErrorCode::Internal, fmt::format("DNS forwarding: {}", client.error().message));
      w->upstream = std::move(*client);
    }
  for (auto& w : server->workers_) {
    Worker* worker = w.get();
    DnsServer* self = server.get();
    worker->thread = std::thread([worker, self] {
      std::vector<std::unique_ptr<UdpBatchLoop>> loops;
      for (auto& s : worker->udp_sockets) {
        loops.push_back(std::make_unique<UdpBatchLoop>(*self, worker, *s));
        loops.back()->start();
      }
      for (auto& a : worker->acceptors) accept_loop(*self, *worker, *a);
      worker->io.run();
    });
  }
  if (server->forwarding_ && !server->forwarding_->probe_name().empty()) server->send_loop_probe();
  return server;
}

void DnsServer::set_snapshot(std::shared_ptr<const endpoints::Snapshot> s) {
  std::lock_guard lock(view_writer_mu_);
  snapshot_ = std::move(s);
  publish_view_locked();
}

void DnsServer::set_node_pods(std::vector<PodAddress> pods) {
  std::lock_guard lock(view_writer_mu_);
  node_pods_ = std::move(pods);
  if (snapshot_ && options_.autopath) publish_view_locked();
}

void DnsServer::publish_view_locked() {
  if (!snapshot_) {
    view_.store(nullptr);
  } else {
    auto pods = options_.autopath ? PodNamespaces::from_snapshot(*snapshot_, node_pods_) : nullptr;
    ServiceIndex services(*snapshot_);
    view_.store(std::make_shared<const View>(View{snapshot_, std::move(services), std::move(pods)}));
  }
  view_version_.fetch_add(1, std::memory_order_release);
}

const DnsServer::View* DnsServer::current_view(Worker* worker, std::shared_ptr<const View>& hold) {
  if (!worker) {
    hold = view_.load();
    return hold.get();
  }
  const std::uint64_t version = view_version_.load(std::memory_order_acquire);
  if (version != worker->view_version) {
    worker->view = view_.load();
    worker->view_version = version;
  }
  return worker->view.get();
}

void DnsServer::send_loop_probe() {
  Worker& w = *workers_.front();
  asio::post(w.io, [this, &w] {
    Query probe;
    probe.name = probe.original_name = forwarding_->probe_name();
    probe.type = 13;  // HINFO, as CoreDNS's loop plugin
    probe.klass = kClassIN;
    std::array<std::uint8_t, 512> buf;
    const std::size_t len = build_upstream_query(probe, buf);
    w.upstream->send(std::span(buf.data(), len), [this](std::span<const std::uint8_t> answer, const char* failure) {
      spdlog::debug("event=dns_loop_probe_answered probe={} rcode={} failure=\"{}\"", forwarding_->probe_name(),
                    answer.empty() ? -1 : static_cast<int>(rcode_of(answer)), failure ? failure : "");
    });
  });
}

QueryMetrics& DnsServer::metrics_for(Worker* worker) { return worker ? worker->metrics : unthreaded_metrics_; }

std::size_t DnsServer::handle(std::span<const std::uint8_t> query, std::span<std::uint8_t> out, std::size_t limit, bool tcp) {
  std::unique_ptr<ForwardJob> no_job;  // without a worker nothing is sent upstream
  return answer(query, out, limit, tcp, nullptr, nullptr, no_job, Clock::now());
}

std::size_t DnsServer::answer(std::span<const std::uint8_t> query, std::span<std::uint8_t> out, std::size_t limit, bool tcp,
                              const IpKey* client, Worker* worker, std::unique_ptr<ForwardJob>& job, Clock::time_point started) {
  QueryMetrics& metrics = metrics_for(worker);
  metrics.bump(metrics.queries);
  if (tcp) metrics.bump(metrics.tcp_queries);
  // One Query per thread, reused: its strings keep their capacity from query to query.
  thread_local Query parsed;
  Query* const q = &parsed;
  ParseFailure failure;
  if (!parse_query_into(query, parsed, failure)) {
    if (!failure.answerable) {
      metrics.bump(metrics.dropped);
      return 0;
    }
    metrics.bump(metrics.formerr);
    metrics.record(0, failure.rcode, Clock::now() - started);
    return header_only(out, failure.id, failure.flags, failure.rcode);
  }
  const std::size_t room = tcp ? limit : std::min<std::size_t>(limit, q->edns ? q->udp_payload : kMaxUdpWithoutEdns);
  std::size_t len = 0;
  std::shared_ptr<const View> hold;
  const View* view = nullptr;
  bool ours = zone_.is_authoritative_for(q->name);
  if (ours && forwarding_ && q->name.ends_with(".arpa.")) {  // CoreDNS's `fallthrough in-addr.arpa ip6.arpa`
    view = current_view(worker, hold);
    ours = zone_.knows_reverse(view ? view->snapshot.get() : nullptr, q->name);
  }
  if (ours) {
    ResponseWriter w(out, room);
    if (!(options_.autopath && client && q->klass == kClassIN && answer_with_autopath(*q, *client, out, room, w, worker, job, len))) {
      if (!view) view = current_view(worker, hold);
      std::string outside_target;  // set only by an ExternalName answer: the hot paths pay nothing
      zone_.answer(view ? view->snapshot.get() : nullptr, view ? &view->services : nullptr, *q, w, &outside_target);
      len = w.finish().size();
      if (!outside_target.empty() && forwarding_ && q->recursion_desired() && q->type != kCNAME)
        chase_external_name(*q, outside_target, client, out, room, worker, job, len);
    }
  } else {
    len = answer_forwarded(*q, client, out, room, worker, job);
  }
  if (job) {
    job->started = started;
    return 0;  // answered when upstream answers
  }
  const std::span<const std::uint8_t> msg(out.data(), len);
  metrics.count_response(rcode_of(msg), len >= 4 && (out[2] & 0x02));
  metrics.record(q->type, rcode_of(msg), Clock::now() - started);
  return len;
}

void DnsServer::prefetch(std::span<const std::uint8_t> query, Worker* worker) {
  // The question's labels as they are on the wire (not lowercased: a miss only wastes the hint).
  std::array<std::string_view, 8> labels;
  std::size_t n = 0;
  for (std::size_t at = 12; at < query.size() && query[at] != 0; at += 1 + query[at]) {
    const std::size_t len = query[at];
    if ((len & 0xC0) || n == labels.size() || at + 1 + len > query.size()) return;
    labels[n++] = std::string_view(reinterpret_cast<const char*>(&query[at + 1]), len);
  }
  const std::size_t zone = zone_.zone_labels();
  if (n < zone + 3 || labels[n - zone - 1] != "svc") return;
  std::shared_ptr<const View> hold;
  if (const View* view = current_view(worker, hold)) view->services.prefetch(labels[n - zone - 3], labels[n - zone - 2]);
}

std::size_t DnsServer::answer_forwarded(const Query& q, const IpKey* client, std::span<std::uint8_t> out, std::size_t room, Worker* worker,
                                        std::unique_ptr<ForwardJob>& job) {
  auto refuse = [&](Rcode rcode) {
    ResponseWriter w(out, room);
    w.begin(q, rcode, false);
    if (forwarding_) w.set_recursion_available();
    return w.finish().size();
  };
  if (!forwarding_) return refuse(kRefused);  // nowhere to forward to
  Forwarding& f = *forwarding_;
  ForwardCounters& c = f.counters();
  if (!f.forwards_for(client)) {  // not one of the cluster's clients: no recursion, nothing from the cache
    c.refused_client.fetch_add(1, std::memory_order_relaxed);
    return refuse(kRefused);
  }
  if (!f.probe_name().empty() && q.name == f.probe_name()) {  // our own probe, back from upstream: a loop
    f.note_probe_returned();
    return refuse(kServFail);
  }
  if (f.loop_detected()) {
    c.refused_after_loop.fetch_add(1, std::memory_order_relaxed);
    return refuse(kServFail);
  }
  if (const std::size_t hit = f.cache().lookup(q, out, room)) {
    c.cache_hits.fetch_add(1, std::memory_order_relaxed);
    return hit;
  }
  c.cache_misses.fetch_add(1, std::memory_order_relaxed);
  if (!worker || !worker->upstream) return refuse(kRefused);
  if (!f.try_begin()) {
    c.rejected_in_flight.fetch_add(1, std::memory_order_relaxed);
    return refuse(kRefused);
  }
  job = std::make_unique<ForwardJob>(ForwardJob{q, std::nullopt, room, {}});
  return 0;
}

void DnsServer::forward(Worker& worker, std::unique_ptr<ForwardJob> job, std::function<void(std::span<const std::uint8_t>)> deliver) {
  std::array<std::uint8_t, 512> query;
  const std::size_t qlen = build_upstream_query(job->query, query);
  forwarding_->counters().sent.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<ForwardJob> shared = std::move(job);
  worker.upstream->send(std::span(query.data(), qlen), [this, &worker, shared, deliver = std::move(deliver)](
                                                           std::span<const std::uint8_t> upstream, const char* failure) {
    forwarding_->end();
    ForwardCounters& c = forwarding_->counters();
    const ForwardJob& j = *shared;
    const Query& client_query = j.autopath_original ? *j.autopath_original : j.query;
    std::vector<std::uint8_t> out(std::max<std::size_t>(j.room, 512));
    std::size_t len = 0;
    if (!upstream.empty()) {
      c.answered.fetch_add(1, std::memory_order_relaxed);
      forwarding_->cache().store(j.query, upstream);
      if (!j.autopath_original) {
        len = shape_response(upstream, j.query, 0, out, j.room);
      } else {
        ResponseWriter w(out, j.room);
        if ((j.external_name || rcode_of(upstream) == kNoError) &&
            write_autopath_answer(client_query, j.query.name, upstream, true, zone_.options().ttl, w)) {
          if (!j.external_name) worker.metrics.autopath_answers.fetch_add(1, std::memory_order_relaxed);
        } else {  // not found anywhere on the search list (or the upstream failed): NXDOMAIN as asked
          std::shared_ptr<const View> hold;
          const View* view = current_view(&worker, hold);
          zone_.answer(view ? view->snapshot.get() : nullptr, view ? &view->services : nullptr, client_query, w);
        }
        len = w.finish().size();
      }
    } else {
      c.failed.fetch_add(1, std::memory_order_relaxed);
      spdlog::debug("event=dns_forward_failed name={} type={} cause=\"{}\"", j.query.name, j.query.type, failure ? failure : "");
    }
    if (len == 0) {
      ResponseWriter w(out, j.room);
      w.begin(client_query, kServFail, false);
      w.set_recursion_available();
      len = w.finish().size();
    }
    const auto rcode = rcode_of(std::span(out.data(), len));
    worker.metrics.count_response(rcode, false);
    worker.metrics.record(client_query.type, rcode, Clock::now() - j.started);
    deliver(std::span(out.data(), len));
  });
}

void DnsServer::chase_external_name(const Query& q, const std::string& target, const IpKey* client, std::span<std::uint8_t> out,
                                    std::size_t room, Worker* worker, std::unique_ptr<ForwardJob>& job, std::size_t& len) {
  Forwarding& f = *forwarding_;
  if (f.loop_detected() || !f.forwards_for(client)) return;  // the CNAME alone
  Query next = q;
  next.name = next.original_name = target;
  thread_local std::vector<std::uint8_t> scratch(65535);
  ForwardCounters& c = f.counters();
  if (const std::size_t hit = f.cache().lookup(next, scratch, scratch.size())) {
    c.cache_hits.fetch_add(1, std::memory_order_relaxed);
    // Composed apart: `out` keeps the CNAME answer if the cached message cannot be read.
    thread_local std::vector<std::uint8_t> composed(65535);
    ResponseWriter w(std::span(composed.data(), room), room);
    if (write_autopath_answer(q, target, std::span<const std::uint8_t>(scratch.data(), hit), true, zone_.options().ttl, w)) {
      const auto msg = w.finish();
      std::copy(msg.begin(), msg.end(), out.begin());
      len = msg.size();
    }
    return;
  }
  c.cache_misses.fetch_add(1, std::memory_order_relaxed);
  if (!worker || !worker->upstream || !f.try_begin()) return;
  job = std::make_unique<ForwardJob>(ForwardJob{std::move(next), q, room, {}, true});
}

bool DnsServer::answer_with_autopath(const Query& q, const IpKey& client, std::span<std::uint8_t> out, std::size_t room, ResponseWriter& w,
                                     Worker* worker, std::unique_ptr<ForwardJob>& job, std::size_t& len) {
  std::shared_ptr<const View> hold;
  const View* view = current_view(worker, hold);
  const std::string* pod_namespace = view && view->pods ? view->pods->find(client) : nullptr;
  if (!pod_namespace) return false;
  const std::string& zone = zone_.options().zone;
  const auto base = autopath_base(q.name, *pod_namespace, zone);
  if (!base) return false;
  const endpoints::Snapshot* snap = view->snapshot.get();
  // The name as asked: when it exists, that is the answer.
  zone_.answer(snap, &view->services, q, w);
  len = w.finish().size();
  if (rcode_of(out) != kNxDomain) return true;
  thread_local std::vector<std::uint8_t> scratch(65535);
  QueryMetrics& metrics = metrics_for(worker);
  Query next = q;
  for (auto& candidate : autopath_cluster_candidates(*base, zone)) {
    next.name = next.original_name = candidate;
    ResponseWriter found(scratch, scratch.size());
    zone_.answer(snap, &view->services, next, found);
    const auto msg = found.finish();
    if (rcode_of(msg) != kNoError) continue;
    ResponseWriter cname(out, room);
    write_autopath_answer(q, candidate, msg, false, zone_.options().ttl, cname);
    len = cname.finish().size();
    metrics.autopath_answers.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  // Last on the list: the base name itself, from upstream. `out` still holds the NXDOMAIN
  // for the name as asked, the answer whenever this step cannot be taken.
  next.name = next.original_name = std::string(*base) + ".";
  if (!forwarding_ || forwarding_->loop_detected() || zone_.is_authoritative_for(next.name)) return true;
  ForwardCounters& c = forwarding_->counters();
  if (const std::size_t hit = forwarding_->cache().lookup(next, scratch, scratch.size())) {
    c.cache_hits.fetch_add(1, std::memory_order_relaxed);
    const std::span<const std::uint8_t> msg(scratch.data(), hit);
    if (rcode_of(msg) != kNoError) return true;  // not found there either: NXDOMAIN as asked
    ResponseWriter cname(out, room);
    write_autopath_answer(q, next.name, msg, true, zone_.options().ttl, cname);
    len = cname.finish().size();
    metrics.autopath_answers.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  c.cache_misses.fetch_add(1, std::memory_order_relaxed);
  if (!worker || !worker->upstream || !forwarding_->try_begin()) return true;
  job = std::make_unique<ForwardJob>(ForwardJob{std::move(next), q, room, {}});
  return true;
}

ServerCounters DnsServer::counters() const {
  ServerCounters c;
  auto add = [&c](const QueryMetrics& m) {
    c.queries += m.queries.load(std::memory_order_relaxed);
    c.dropped += m.dropped.load(std::memory_order_relaxed);
    c.formerr += m.formerr.load(std::memory_order_relaxed);
    c.nxdomain += m.nxdomain.load(std::memory_order_relaxed);
    c.servfail += m.servfail.load(std::memory_order_relaxed);
    c.refused += m.refused.load(std::memory_order_relaxed);
    c.truncated += m.truncated.load(std::memory_order_relaxed);
    c.tcp_queries += m.tcp_queries.load(std::memory_order_relaxed);
  };
  add(unthreaded_metrics_);
  for (const auto& w : workers_) add(w->metrics);
  return c;
}

std::string DnsServer::metrics_text() const {
  std::vector<const QueryMetrics*> all{&unthreaded_metrics_};
  for (const auto& w : workers_) all.push_back(&w->metrics);
  return render_metrics(all, forwarding_ ? &forwarding_->counters() : nullptr, forwarding_loop_detected(),
                        forwarding_ ? forwarding_->cache().size() : 0);
}

}  // namespace switchyard::dns
