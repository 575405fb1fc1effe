#include "node/status_http_server.h"

#include <thread>

#include <utility>  // Boost 1.74 asio/awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "node/agent_config.h"

namespace switchyard::node {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, const std::map<std::string, StatusHandler>& handlers) : stream_(std::move(socket)), handlers_(handlers) {}

  void start() {
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buffer_, request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) self->respond();
    });
  }

 private:
  void respond() {
    const std::string target(request_.target());
    const std::string path = target.substr(0, target.find('?'));
    StatusResponse r{404, "text/plain; charset=utf-8", "404 page not found\n"};
    if (request_.method() != http::verb::get && request_.method() != http::verb::head)
      r = {405, "text/plain; charset=utf-8", "method not allowed\n"};
    else if (auto it = handlers_.find(path); it != handlers_.end())
      r = it->second();
    response_.result(static_cast<unsigned>(r.status));
    response_.version(request_.version());
    response_.set(http::field::content_type, r.content_type);
    response_.set("X-Content-Type-Options", "nosniff");
    response_.keep_alive(false);
    response_.body() = std::move(r.body);
    response_.prepare_payload();
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, std::size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  const std::map<std::string, StatusHandler>& handlers_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

}  // namespace

struct StatusHttpServer::Impl {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::map<std::string, StatusHandler> handlers;
  std::thread thread;
  std::uint16_t port = 0;

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Connection>(std::move(socket), handlers)->start();
      accept();
    });
  }
};

StatusHttpServer::StatusHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::expected<std::unique_ptr<StatusHttpServer>, std::string> StatusHttpServer::start(const std::string& listen,
                                                                                      std::map<std::string, StatusHandler> handlers) {
  auto hp = split_host_port(listen, 0);
  if (!hp) return std::unexpected(hp.error());
  auto impl = std::make_unique<Impl>();
  impl->handlers = std::move(handlers);
  beast::error_code ec;
  const auto address = asio::ip::make_address(hp->first, ec);
  if (ec) return std::unexpected(fmt::format("listen {}: \"{}\" is not an IP address", listen, hp->first));
  const tcp::endpoint endpoint(address, hp->second);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected(fmt::format("listen {}: {}", listen, ec.message()));
  impl->port = impl->acceptor.local_endpoint().port();
  impl->accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->io.run(); });
  return std::unique_ptr<StatusHttpServer>(new StatusHttpServer(std::move(impl)));
}

std::uint16_t StatusHttpServer::port() const { return impl_->port; }

void StatusHttpServer::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->io.stop();
  impl_->thread.join();
}

StatusHttpServer::~StatusHttpServer() { stop(); }

}  // namespace switchyard::node
