#include "orchestrator/apiserver/http_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <set>
#include <mutex>
#include <utility>  // Boost 1.74 asio/awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace switchyard::apiserver {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::Impl {
  ApiHandler& handler;
  HttpServerOptions options;
  asio::io_context io;
  std::unique_ptr<asio::ssl::context> tls;
  tcp::acceptor acceptor{io};
  std::thread accept_thread;
  std::atomic<bool> stopping{false};
  // Open connections, so that stop() can end them and wait for their threads: the threads use
  // the handler, which must outlive them.
  std::mutex connections_mu;
  std::condition_variable connections_done;
  std::set<int> connection_fds;

  explicit Impl(ApiHandler& h, HttpServerOptions o) : handler(h), options(std::move(o)) {}
};

namespace {

// A queue a store watch fills (on its thread) and the connection drains.
struct EventQueue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> lines;
  bool failed = false;
  store::Revision newest = 0;  // the highest resourceVersion among the events queued so far
  void push(std::string line, bool error, store::Revision revision) {
    std::lock_guard lock(mu);
    lines.push_back(std::move(line));
    failed |= error;
    newest = std::max(newest, revision);
    cv.notify_one();
  }
};

// A watch client sends nothing after its request, so a FIN from it means it went away (as Go's
// server reads EOF in the background and cancels the request).
bool peer_closed(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

template <class Stream>
void serve_watch(Stream& stream, ApiHandler& handler, const WatchRequest& w, const http::request<http::string_body>& req,
                 const std::atomic<bool>& stopping) {
  http::response<http::empty_body> head{http::status::ok, req.version()};
  head.set(http::field::content_type, w.as_table ? "application/json;as=Table;v=v1;g=meta.k8s.io" : "application/json");
  head.chunked(true);
  http::response_serializer<http::empty_body> sr{head};
  beast::error_code ec;
  http::write_header(stream, sr, ec);
  if (ec) return;
  auto queue = std::make_shared<EventQueue>();
  auto watch = handler.registry().watch(*w.resource, w.ns, w.options, [queue, &handler, w](const WatchEvent& e) {
    store::Revision revision = 0;
    if (e.type != "ERROR")
      revision = std::strtoll(e.object.value("metadata", Json::object()).value("resourceVersion", "0").c_str(), nullptr, 10);
    queue->push(handler.event_line(w, e), e.type == "ERROR", revision);
  });
  if (!watch) queue->push(handler.event_line(w, WatchEvent{"ERROR", watch.error().status}), true, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(w.timeout_seconds > 0 ? w.timeout_seconds : 1800);
  auto next_bookmark = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (!stopping && std::chrono::steady_clock::now() < deadline) {
    std::deque<std::string> batch;
    bool failed = false;
    store::Revision newest_event = 0;
    // Read before taking the queue: every event up to it is in the queue by now, so a bookmark
    // sent after this batch never claims a revision whose event has not been written.
    const store::Revision progress = watch ? (*watch)->progress() : 0;
    {
      std::unique_lock lock(queue->mu);
      queue->cv.wait_for(lock, std::chrono::milliseconds(250), [&] { return !queue->lines.empty(); });
      batch.swap(queue->lines);
      failed = queue->failed;
      newest_event = queue->newest;
    }
    // A bookmark behind an event already written would move the client back: wait for progress.
    if (batch.empty() && w.bookmarks && progress > 0 && progress >= newest_event && std::chrono::steady_clock::now() >= next_bookmark) {
      Json mark = {{"kind", w.resource->kind},
                   {"apiVersion", w.resource->api_version()},
                   {"metadata", {{"resourceVersion", std::to_string(progress)}, {"annotations", {{"k8s.io/initial-events-end", "true"}}}}}};
      batch.push_back(Json{{"type", "BOOKMARK"}, {"object", mark}}.dump() + "\n");
      next_bookmark = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    }
    for (const auto& line : batch) {
      asio::write(stream, http::make_chunk(asio::buffer(line)), ec);
      if (ec) return;
    }
    if (failed) break;
    // Without this a watch whose client left keeps its thread and its store watch until an
    // event's write fails, or for the whole timeout (30 min) if none comes.
    if (batch.empty() && peer_closed(beast::get_lowest_layer(stream).native_handle())) return;
  }
  asio::write(stream, http::make_chunk_last(), ec);
}

template <class Stream>
void serve_connection(Stream& stream, ApiHandler& handler, const std::atomic<bool>& stopping) {
  beast::flat_buffer buffer;
  while (!stopping) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(4 * 1024 * 1024);  // the handler answers 413 above 3 MiB
    beast::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec == http::error::body_limit) {
      HttpResponse too_big{413, "application/json", too_large().status.dump(), {}};
      http::response<http::string_body> res{http::status::payload_too_large, 11};
      res.set(http::field::content_type, too_big.content_type);
      res.body() = too_big.body;
      res.prepare_payload();
      http::write(stream, res, ec);
      return;
    }
    if (ec) {
      // Malformed HTTP gets a 400, as Go's server answers it; a closed or cut connection nothing.
      if (ec.category() == beast::error_code(http::error::bad_method).category() && ec != http::error::end_of_stream &&
          ec != http::error::partial_message) {
        http::response<http::string_body> res{http::status::bad_request, 11};
        res.set(http::field::content_type, "application/json");
        res.keep_alive(false);
        res.body() = bad_request(fmt::format("malformed HTTP request: {}", ec.message())).status.dump();
        res.prepare_payload();
        beast::error_code wec;
        http::write(stream, res, wec);
      }
      return;
    }
    auto req = parser.release();
    HttpRequest r{std::string(req.method_string()),
                  std::string(req.target()),
                  std::string(req[http::field::content_type]),
                  std::string(req[http::field::accept]),
                  std::string(req[http::field::authorization]),
                  std::move(req.body())};
    std::optional<WatchRequest> watch;
    HttpResponse out;
    try {
      out = handler.handle(r, watch);
    } catch (const std::exception& e) {
      // A bug must cost one request, not the server.
      spdlog::error("event=request_failed method={} target={} error=\"{}\"", r.method, r.target, e.what());
      out = HttpResponse{500, "application/json", internal_error(e.what()).status.dump(), {}};
      watch.reset();
    }
    if (watch && out.code == 200) {
      serve_watch(stream, handler, *watch, req, stopping);
      return;  // a watch ends the connection, as the Go server does
    }
    http::response<http::string_body> res{static_cast<http::status>(out.code), req.version()};
    res.set(http::field::content_type, out.content_type);
    for (const auto& w : out.warnings) res.insert(http::field::warning, fmt::format("299 - \"{}\"", w));
    res.keep_alive(req.keep_alive());
    res.body() = std::move(out.body);
    res.prepare_payload();
    http::write(stream, res, ec);
    if (ec || !req.keep_alive()) return;
  }
}

}  // namespace

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  beast::error_code ec;
  // close() alone does not wake a thread blocked in accept(); shutdown() does.
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  impl_->acceptor.close(ec);
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  std::unique_lock lock(impl_->connections_mu);
  for (int fd : impl_->connection_fds) ::shutdown(fd, SHUT_RDWR);  // wakes reads blocked on idle keep-alives
  impl_->connections_done.wait_for(lock, std::chrono::seconds(10), [&] { return impl_->connection_fds.empty(); });
}

std::expected<std::unique_ptr<HttpServer>, std::string> HttpServer::start(ApiHandler& handler, HttpServerOptions options) {
  auto impl = std::make_unique<Impl>(handler, std::move(options));
  const auto colon = impl->options.listen.rfind(':');
  if (colon == std::string::npos) return std::unexpected(fmt::format("--listen {}: expected ADDRESS:PORT", impl->options.listen));
  std::string host = impl->options.listen.substr(0, colon);
  if (host.starts_with('[')) host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return std::unexpected(fmt::format("--listen {}: {} is not an IP address", impl->options.listen, host));
  const int port = std::atoi(impl->options.listen.c_str() + colon + 1);
  if (!impl->options.tls_cert_file.empty()) {
    impl->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    impl->tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                           asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    impl->tls->use_certificate_chain_file(impl->options.tls_cert_file, ec);
    if (!ec) impl->tls->use_private_key_file(impl->options.tls_key_file, asio::ssl::context::pem, ec);
    if (ec)
      return std::unexpected(
          fmt::format("TLS: cannot load {} / {}: {}", impl->options.tls_cert_file, impl->options.tls_key_file, ec.message()));
  }
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected(fmt::format("cannot listen on {}: {}", impl->options.listen, ec.message()));
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(impl)));
  server->port_ = server->impl_->acceptor.local_endpoint().port();
  Impl* s = server->impl_.get();
  s->accept_thread = std::thread([s] {
    while (!s->stopping) {
      beast::error_code aec;
      tcp::socket socket(s->io);
      s->acceptor.accept(socket, aec);
      if (aec) {
        if (s->stopping) return;
        continue;
      }
      const int fd = socket.native_handle();
      {
        std::lock_guard lock(s->connections_mu);
        s->connection_fds.insert(fd);
      }
      std::thread([s, fd, socket = std::move(socket)]() mutable {
        {
          // The socket is closed and gone before stop() can see this connection end: once it
          // has, the io_context the socket was registered with may be destroyed.
          tcp::socket sock = std::move(socket);
          beast::error_code cec;
          if (s->tls) {
            beast::ssl_stream<tcp::socket> stream(std::move(sock), *s->tls);
            stream.handshake(asio::ssl::stream_base::server, cec);
            if (!cec) serve_connection(stream, s->handler, s->stopping);
            stream.shutdown(cec);
          } else {
            serve_connection(sock, s->handler, s->stopping);
            sock.shutdown(tcp::socket::shutdown_both, cec);
          }
        }
        std::lock_guard lock(s->connections_mu);
        s->connection_fds.erase(fd);  // before the socket closes, so stop() never shuts a reused fd
        s->connections_done.notify_all();
      }).detach();
    }
  });
  return server;
}

}  // namespace switchyard::apiserver
