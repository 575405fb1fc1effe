#include "orchestrator/cmd/status_http_server.h"

#include <charconv>
#include <thread>
#include <utility>  // Boost 1.74 asio/awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace switchyard::cmd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct StatusHttpServer::Impl {
  StatusHandler handler;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const StatusHandler& handler) : stream_(std::move(socket)), handler_(handler) {}
  void read() {
    request_ = {};
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) self->respond();
    });
  }

 private:
  void respond() {
    response_ = {};
    response_.version(request_.version());
    response_.keep_alive(request_.keep_alive());
    std::string_view target(request_.target().data(), request_.target().size());
    target = target.substr(0, target.find('?'));
    std::optional<StatusResponse> r;
    if (request_.method() != http::verb::get && request_.method() != http::verb::head) r = StatusResponse{405, "text/plain", "GET only\n"};
    else r = handler_(target);
    if (!r) r = StatusResponse{404, "text/plain", "not found\n"};
    response_.result(static_cast<unsigned>(r->status));
    response_.set(http::field::content_type, r->content_type);
    response_.body() = std::move(r->body);
    response_.prepare_payload();
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec && self->response_.keep_alive()) self->read();
    });
  }
  beast::tcp_stream stream_;
  const StatusHandler& handler_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

void accept(StatusHttpServer::Impl* impl);

}  // namespace

StatusHttpServer::StatusHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StatusHttpServer::~StatusHttpServer() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

namespace {
void accept(StatusHttpServer::Impl* impl);
}

std::expected<std::unique_ptr<StatusHttpServer>, std::string> StatusHttpServer::start(const std::string& listen, StatusHandler handler) {
  std::string host = listen, port_text;
  if (listen.starts_with('[') && listen.find("]:") != std::string::npos) {
    host = listen.substr(1, listen.find("]:") - 1);
    port_text = listen.substr(listen.find("]:") + 2);
  } else if (auto colon = listen.rfind(':'); colon != std::string::npos) {
    host = listen.substr(0, colon);
    port_text = listen.substr(colon + 1);
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  unsigned port = 0;
  auto [p, perr] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec || port_text.empty() || perr != std::errc() || p != port_text.data() + port_text.size() || port > 65535)
    return std::unexpected(fmt::format("status server {}: expected ADDRESS:PORT", listen));
  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);
  const tcp::endpoint endpoint(address, static_cast<std::uint16_t>(port));
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected(fmt::format("status server {}: cannot listen: {}", listen, ec.message()));
  std::unique_ptr<StatusHttpServer> server(new StatusHttpServer(std::move(impl)));
  server->port_ = server->impl_->acceptor.local_endpoint().port();
  Impl* raw = server->impl_.get();
  accept(raw);
  raw->thread = std::thread([raw] { raw->io.run(); });
  return server;
}

namespace {
void accept(StatusHttpServer::Impl* impl) {
  impl->acceptor.async_accept([impl](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<Session>(std::move(socket), impl->handler)->read();
    accept(impl);
  });
}
}  // namespace

}  // namespace switchyard::cmd
