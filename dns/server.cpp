#include "dns/server.h"

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
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

namespace {

std::expected<std::pair<asio::ip::address, std::uint16_t>, std::string> parse_listen(const std::string& s) {
  std::string host;
  std::string_view port_text;
  if (s.starts_with('[')) {
    auto close = s.find("]:");
    if (close == std::string::npos) return std::unexpected(fmt::format("--dns-listen {}: expected [IPv6]:PORT", s));
    host = s.substr(1, close - 1);
    port_text = std::string_view(s).substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string::npos) return std::unexpected(fmt::format("--dns-listen {}: expected ADDRESS:PORT", s));
    host = s.substr(0, colon);
    port_text = std::string_view(s).substr(colon + 1);
  }
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return std::unexpected(fmt::format("--dns-listen {}: {} is not an IP address", s, host));
  unsigned port = 0;
  auto [p, perr] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (perr != std::errc() || p != port_text.data() + port_text.size() || port > 65535)
    return std::unexpected(fmt::format("--dns-listen {}: {} is not a port", s, port_text));
  return std::pair{addr, static_cast<std::uint16_t>(port)};
}

// A header-only answer for queries too broken to echo their question.
std::size_t header_only(std::span<std::uint8_t> out, std::uint16_t id, std::uint16_t flags, Rcode rcode) {
  const std::uint16_t f = 0x8000 | (flags & 0x7900) | rcode;  // QR, the opcode and RD as asked
  const std::uint8_t h[12] = {static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id), static_cast<std::uint8_t>(f >> 8),
                              static_cast<std::uint8_t>(f), 0, 0, 0, 0, 0, 0, 0, 0};
  std::copy(std::begin(h), std::end(h), out.begin());
  return sizeof h;
}

}  // namespace

// One thread with its own sockets: the kernel spreads queries across workers (SO_REUSEPORT).
struct DnsServer::Worker {
  asio::io_context io{1};
  std::vector<std::unique_ptr<udp::socket>> udp_sockets;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::thread thread;
};

namespace {

class UdpLoop {
 public:
  UdpLoop(DnsServer& server, udp::socket& socket) : server_(server), socket_(socket) {}
  void start() {
    socket_.async_receive_from(asio::buffer(in_), peer_, [this](boost::system::error_code ec, std::size_t n) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        const std::size_t len = server_.handle(std::span(in_.data(), n), out_, out_.size(), false);
        if (len) socket_.send_to(asio::buffer(out_.data(), len), peer_, 0, ec);
      }
      start();
    });
  }

 private:
  DnsServer& server_;
  udp::socket& socket_;
  udp::endpoint peer_;
  std::array<std::uint8_t, 4096> in_{};
  std::array<std::uint8_t, 4096> out_{};
};

class TcpSession : public std::enable_shared_from_this<TcpSession> {
 public:
  TcpSession(DnsServer& server, tcp::socket socket) : server_(server), socket_(std::move(socket)), idle_(socket_.get_executor()) {}
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
        const std::size_t len = self->server_.handle(self->in_, std::span(self->out_).subspan(2), 65535, true);
        if (!len) return self->socket_.close();
        self->out_[0] = static_cast<std::uint8_t>(len >> 8);
        self->out_[1] = static_cast<std::uint8_t>(len);
        asio::async_write(self->socket_, asio::buffer(self->out_.data(), len + 2), [self](boost::system::error_code ec3, std::size_t) {
          if (!ec3) self->read_length();
        });
      });
    });
  }
  DnsServer& server_;
  tcp::socket socket_;
  asio::steady_timer idle_;
  std::array<std::uint8_t, 2> length_{};
  std::vector<std::uint8_t> in_, out_;
};

void accept_loop(DnsServer& server, tcp::acceptor& acceptor) {
  acceptor.async_accept([&server, &acceptor](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<TcpSession>(server, std::move(socket))->start();
    accept_loop(server, acceptor);
  });
}

}  // namespace

DnsServer::DnsServer(ServerOptions options) : options_(std::move(options)), zone_(options_.zone) {}

DnsServer::~DnsServer() { stop(); }

void DnsServer::stop() {
  for (auto& w : workers_) w->io.stop();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
  workers_.clear();
}

std::expected<std::unique_ptr<DnsServer>, std::string> DnsServer::create(ServerOptions options) {
  std::unique_ptr<DnsServer> server(new DnsServer(std::move(options)));
  const int workers = std::max(1, server->options_.workers);
  std::vector<std::pair<asio::ip::address, std::uint16_t>> addresses;
  for (const auto& l : server->options_.listen) {
    auto a = parse_listen(l);
    if (!a) return std::unexpected(a.error());
    addresses.push_back(*a);
  }
  for (int i = 0; i < workers; ++i) server->workers_.push_back(std::make_unique<Worker>());
  for (auto& [addr, requested_port] : addresses) {
    // With port 0 the kernel picks a free UDP port, which TCP may have in use (another
    // connection's local port): then pick again.
    std::string failure;
    bool bound_all = false;
    for (int attempt = 0; attempt < 20 && !bound_all; ++attempt) {
      std::uint16_t port = requested_port;
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
        if (requested_port != 0) return std::unexpected(failure);
        continue;
      }
      for (std::size_t i = 0; i < server->workers_.size(); ++i) {
        server->workers_[i]->udp_sockets.push_back(std::move(udps[i]));
        server->workers_[i]->acceptors.push_back(std::move(tcps[i]));
      }
      server->bound_.push_back(addr.is_v6() ? fmt::format("[{}]:{}", addr.to_string(), port) : fmt::format("{}:{}", addr.to_string(), port));
      bound_all = true;
    }
    if (!bound_all) return std::unexpected(failure);
  }
  for (auto& w : server->workers_) {
    Worker* worker = w.get();
    DnsServer* self = server.get();
    worker->thread = std::thread([worker, self] {
      std::vector<std::unique_ptr<UdpLoop>> loops;
      for (auto& s : worker->udp_sockets) {
        loops.push_back(std::make_unique<UdpLoop>(*self, *s));
        loops.back()->start();
      }
      for (auto& a : worker->acceptors) accept_loop(*self, *a);
      worker->io.run();
    });
  }
  return server;
}

std::size_t DnsServer::handle(std::span<const std::uint8_t> query, std::span<std::uint8_t> out, std::size_t limit, bool tcp) {
  counters_.queries.fetch_add(1, std::memory_order_relaxed);
  if (tcp) counters_.tcp_queries.fetch_add(1, std::memory_order_relaxed);
  auto q = parse_query(query);
  if (!q) {
    if (!q.error().answerable) {
      counters_.dropped.fetch_add(1, std::memory_order_relaxed);
      return 0;
    }
    counters_.formerr.fetch_add(1, std::memory_order_relaxed);
    return header_only(out, q.error().id, q.error().flags, q.error().rcode);
  }
  const std::size_t room = tcp ? limit : std::min<std::size_t>(limit, q->edns ? q->udp_payload : kMaxUdpWithoutEdns);
  ResponseWriter w(out, room);
  if (zone_.is_authoritative_for(q->name)) {
    const auto snap = snapshot_.load();
    zone_.answer(snap.get(), *q, w);
  } else {
    // Forwarding outside the cluster domain is not built yet: refuse rather than pretend.
    w.begin(*q, kRefused, false);
  }
  auto msg = w.finish();
  switch (msg[3] & 0xF) {
    case kNxDomain: counters_.nxdomain.fetch_add(1, std::memory_order_relaxed); break;
    case kServFail: counters_.servfail.fetch_add(1, std::memory_order_relaxed); break;
    case kRefused: counters_.refused.fetch_add(1, std::memory_order_relaxed); break;
    default: break;
  }
  if (w.truncated()) counters_.truncated.fetch_add(1, std::memory_order_relaxed);
  return msg.size();
}

std::string DnsServer::metrics_text() const {
  const auto& c = counters_;
  return fmt::format(
      "# TYPE switchyard_dns_queries_total counter\nswitchyard_dns_queries_total {}\n"
      "# TYPE switchyard_dns_tcp_queries_total counter\nswitchyard_dns_tcp_queries_total {}\n"
      "# TYPE switchyard_dns_responses_total counter\n"
      "switchyard_dns_responses_total{{rcode=\"NXDOMAIN\"}} {}\nswitchyard_dns_responses_total{{rcode=\"SERVFAIL\"}} {}\n"
      "switchyard_dns_responses_total{{rcode=\"REFUSED\"}} {}\nswitchyard_dns_responses_total{{rcode=\"FORMERR\"}} {}\n"
      "# TYPE switchyard_dns_dropped_total counter\nswitchyard_dns_dropped_total {}\n"
      "# TYPE switchyard_dns_truncated_total counter\nswitchyard_dns_truncated_total {}\n",
      c.queries.load(), c.tcp_queries.load(), c.nxdomain.load(), c.servfail.load(), c.refused.load(), c.formerr.load(),
      c.dropped.load(), c.truncated.load());
}

}  // namespace switchyard::dns
