// The server's threads, listeners and accept loop; connections are in connection.cpp.
#include <sys/socket.h>

#include <charconv>
#include <future>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>

#include "orchestrator/http/server_impl.h"

namespace switchyard::http {

namespace {

constexpr auto kFirstAcceptBackoff = std::chrono::milliseconds(10);
constexpr auto kMaxAcceptBackoff = std::chrono::milliseconds(1000);
constexpr auto kStopWait = std::chrono::seconds(5);

Response plain_error(int status, const std::string& message) {
  return Response{status, "text/plain; charset=utf-8", message + "\n", {}, {}, true};
}

}  // namespace

Result<std::pair<std::string, std::uint16_t>> parse_listen_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return fail(ErrorCode::Invalid, fmt::format("listen {}: expected ADDRESS:PORT", text));
  std::string host = text.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (ec) return fail(ErrorCode::Invalid, fmt::format("listen {}: \"{}\" is not an IP address", text, host));
  unsigned port = 0;
  const char* begin = text.data() + colon + 1;
  const char* end = text.data() + text.size();
  auto [ptr, err] = std::from_chars(begin, end, port);
  if (err != std::errc() || ptr != end || port > 65535) return fail(ErrorCode::Invalid, fmt::format("listen {}: bad port", text));
  return std::pair{host, static_cast<std::uint16_t>(port)};
}

// ---- Impl -----------------------------------------------------------------------------------

void HttpServer::Impl::run_handler(std::function<void()> fn) {
  if (handler_pool)
    asio::post(*handler_pool, std::move(fn));
  else
    fn();
}

void HttpServer::Impl::add_connection(const std::shared_ptr<ConnectionBase>& c) {
  std::lock_guard lock(connections_mu);
  connections.emplace(c.get(), c);
}

void HttpServer::Impl::remove_connection(ConnectionBase* c) {
  {
    std::lock_guard lock(connections_mu);
    connections.erase(c);
    open_connections.fetch_sub(1);
  }
  connections_cv.notify_all();
}

Response HttpServer::Impl::error_response(int status, const std::string& message) const {
  if (options.error_response) return options.error_response(status, message);
  return plain_error(status, message);
}

void HttpServer::Impl::accept(std::shared_ptr<Listener> l) {
  l->acceptor.async_accept(asio::make_strand(*io), [this, l](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !l->acceptor.is_open() || stopping) return;
    if (ec && ec != asio::error::connection_aborted) {
      // Out of descriptors or memory: retrying at once would spin; wait for connections to close.
      l->delay = l->delay.count() == 0 ? kFirstAcceptBackoff : std::min(l->delay * 2, kMaxAcceptBackoff);
      spdlog::warn("event=http_accept_failed server={} port={} error=\"{}\" retry_in_ms={}", options.name, l->port, ec.message(),
                   l->delay.count());
      l->backoff.expires_after(l->delay);
      l->backoff.async_wait([this, l](boost::system::error_code wec) {
        if (!wec) accept(l);
      });
      return;
    }
    l->delay = std::chrono::milliseconds(0);
    if (!ec) on_accepted(std::move(socket), l->port);
    accept(l);
  });
}

void HttpServer::Impl::on_accepted(tcp::socket socket, std::uint16_t port) {
  if (open_connections.fetch_add(1) >= options.max_connections) {
    open_connections.fetch_sub(1);
    boost::system::error_code ignored;
    socket.close(ignored);  // closed at once, not queued: the client sees it and may retry
    const auto rejected = rejected_connections.fetch_add(1) + 1;
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    auto last = last_reject_log_ns.load();
    if (now - last > std::chrono::nanoseconds(std::chrono::seconds(10)).count() && last_reject_log_ns.compare_exchange_strong(last, now))
      spdlog::warn("event=http_connection_rejected server={} reason=max_connections max_connections={} rejected_total={}", options.name,
                   options.max_connections, rejected);
    return;
  }
  start_connection(*this, std::move(socket), port);
}

// ---- HttpServer -----------------------------------------------------------------------------

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(HttpServerOptions options, Handler handler) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->handler = std::move(handler);
  auto& o = impl->options;
  if (o.tls_cert_file.empty() != o.tls_key_file.empty())
    return fail(ErrorCode::Invalid, fmt::format("server {}: TLS needs both a certificate and a key file", o.name));
  if (!o.tls_cert_file.empty()) {
    impl->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    impl->tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                           asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    impl->tls->use_certificate_chain_file(o.tls_cert_file, ec);
    if (!ec) impl->tls->use_private_key_file(o.tls_key_file, asio::ssl::context::pem, ec);
    if (ec) return fail(ErrorCode::Invalid, fmt::format("TLS: cannot load {} / {}: {}", o.tls_cert_file, o.tls_key_file, ec.message()));
    if (!o.tls_client_ca_file.empty()) {
      impl->tls->load_verify_file(o.tls_client_ca_file, ec);
      if (ec) return fail(ErrorCode::Invalid, fmt::format("TLS: cannot load client CA {}: {}", o.tls_client_ca_file, ec.message()));
      impl->tls->set_verify_mode(asio::ssl::verify_peer);
    }
  }
  impl->io.emplace(std::max(1, o.io_threads));
  impl->work.emplace(impl->io->get_executor());
  if (o.handler_threads > 0) impl->handler_pool = std::make_unique<asio::thread_pool>(static_cast<std::size_t>(o.handler_threads));
  for (int i = 0; i < std::max(1, o.io_threads); ++i) impl->io_threads.emplace_back([io = &*impl->io] { io->run(); });
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(impl)));
  if (!server->impl_->options.listen.empty()) {
    auto port = server->listen(server->impl_->options.listen);
    if (!port) return fail(port.error());
  }
  return server;
}

Result<std::uint16_t> HttpServer::listen(const std::string& address, bool dual_stack) {
  auto parsed = parse_listen_address(address);
  if (!parsed) return fail(parsed.error());
  auto l = std::make_shared<Listener>(*impl_->io);
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(parsed->first);
  const tcp::endpoint endpoint(ip, parsed->second);
  l->acceptor.open(endpoint.protocol(), ec);
  if (!ec && ip.is_v6()) l->acceptor.set_option(asio::ip::v6_only(!dual_stack), ec);
  if (!ec) l->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) l->acceptor.bind(endpoint, ec);
  if (!ec) l->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ErrorCode::Unavailable, fmt::format("listen {}: {}", address, ec.message()));
  l->port = l->acceptor.local_endpoint().port();
  {
    std::lock_guard lock(impl_->listeners_mu);
    impl_->listeners.push_back(l);
  }
  asio::post(l->acceptor.get_executor(), [impl = impl_.get(), l] { impl->accept(l); });
  return l->port;
}

void HttpServer::close_listener(std::uint16_t port) {
  std::vector<std::shared_ptr<Listener>> closing;
  {
    std::lock_guard lock(impl_->listeners_mu);
    std::erase_if(impl_->listeners, [&](const auto& l) {
      if (l->port != port) return false;
      closing.push_back(l);
      return true;
    });
  }
  for (auto& l : closing) {
    // On the listener's strand, and waited for: the port is free when this returns.
    std::promise<void> done;
    asio::post(l->acceptor.get_executor(), [&] {
      boost::system::error_code ignored;
      l->acceptor.close(ignored);
      l->backoff.cancel();
      done.set_value();
    });
    done.get_future().wait();
  }
}

std::uint16_t HttpServer::port() const {
  std::lock_guard lock(impl_->listeners_mu);
  return impl_->listeners.empty() ? 0 : impl_->listeners.front()->port;
}

std::size_t HttpServer::connections() const { return impl_->open_connections.load(); }

void HttpServer::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  auto& s = *impl_;
  std::vector<std::uint16_t> ports;
  {
    std::lock_guard lock(s.listeners_mu);
    for (const auto& l : s.listeners) ports.push_back(l->port);
  }
  for (auto port : ports) close_listener(port);
  std::vector<std::shared_ptr<ConnectionBase>> open;
  {
    std::lock_guard lock(s.connections_mu);
    for (auto& [_, weak] : s.connections)
      if (auto c = weak.lock()) open.push_back(std::move(c));
  }
  for (auto& c : open) c->close();
  open.clear();
  {
    std::unique_lock lock(s.connections_mu);
    if (!s.connections_cv.wait_for(lock, kStopWait, [&] { return s.open_connections.load() == 0; }))
      spdlog::warn("event=http_stop_slow server={} open_connections={}", s.options.name, s.open_connections.load());
  }
  // Handlers still running finish; stream end callbacks run. Then the I/O threads stop.
  if (s.handler_pool) s.handler_pool->join();
  s.work.reset();
  s.io->stop();
  for (auto& t : s.io_threads) t.join();
  s.io_threads.clear();
  s.handler_pool.reset();
  {
    std::lock_guard lock(s.listeners_mu);
    s.listeners.clear();
  }
  s.io.reset();  // destroys what was still queued, and the connections it held
}

}  // namespace switchyard::http
