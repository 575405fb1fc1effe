#include "orchestrator/client/api_client.h"

#include <sys/socket.h>

#include <atomic>
#include <utility>  // Boost 1.74 asio/awaitable.hpp uses std::exchange without it

#include <fmt/format.h>
#include <openssl/x509_vfy.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace switchyard::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct ApiClient::Impl {
  std::atomic<int> fd{-1};  // the connected socket, for abort()
  ClusterConnection conn;
  asio::io_context io;
  asio::ssl::context tls{asio::ssl::context::tls_client};
};

ApiClient::ApiClient(ClusterConnection c) : impl_(std::make_unique<Impl>()) {
  impl_->conn = std::move(c);
  impl_->tls.set_verify_mode(asio::ssl::verify_peer);
  if (!impl_->conn.ca_pem.empty()) {
    beast::error_code ec;
    impl_->tls.add_certificate_authority(asio::buffer(impl_->conn.ca_pem), ec);
    // A certificate given as the CA is trusted as it is, also when it is not self-signed (a
    // serving certificate handed to its own server's clients).
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(impl_->tls.native_handle()), X509_V_FLAG_PARTIAL_CHAIN);
  } else {
    impl_->tls.set_default_verify_paths();
  }
}

ApiClient::~ApiClient() = default;

namespace {

struct Request {
  http::verb method = http::verb::get;
  std::string target, body, content_type;
};

template <class Stream>
Result<int> exchange(Stream& stream, const ClusterConnection& c, const Request& request,
                     const std::function<bool(const std::string&)>& on_line, std::string* whole) {
  const std::string& target = request.target;
  http::request<http::string_body> req{request.method, target, 11};
  if (!request.content_type.empty()) {
    req.set(http::field::content_type, request.content_type);
    req.body() = request.body;
    req.prepare_payload();
  }
  req.set(http::field::host, c.host);
  req.set(http::field::accept, "application/json");
  req.set(http::field::user_agent, "switchyard-agent");
  if (!c.token.empty()) req.set(http::field::authorization, "Bearer " + c.token);
  beast::error_code ec;
  http::write(stream, req, ec);
  if (ec) return fail(ErrorCode::Unavailable, fmt::format("{} {}: {}", std::string(req.method_string()), target, ec.message()));
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::uint64_t{1} << 40);  // watch streams are unbounded; lists are large
  http::read_header(stream, buffer, parser, ec);
  if (ec) return fail(ErrorCode::Unavailable, fmt::format("{} {}: {}", std::string(req.method_string()), target, ec.message()));
  const int status = static_cast<int>(parser.get().result_int());
  std::string pending;
  char chunk[16384];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    // read_some: return with whatever arrived, so that each watch event is seen at once.
    http::read_some(stream, buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return fail(ErrorCode::Unavailable, fmt::format("{} {}: {}", std::string(req.method_string()), target, ec.message()));
    pending.append(chunk, sizeof chunk - parser.get().body().size);
    if (whole) continue;
    std::size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!line.empty() && !on_line(line)) return status;
    }
  }
  if (whole)
    *whole = std::move(pending);
  else if (!pending.empty())
    on_line(pending);
  return status;
}

}  // namespace

template <class Fn>
static Result<int> connect_and(ClusterConnection& c, asio::io_context& io, asio::ssl::context& tls, std::atomic<int>& fd, Fn fn) {
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(c.host, c.port, ec);
  if (ec) return fail(ErrorCode::Unavailable, fmt::format("{}:{}: {}", c.host, c.port, ec.message()));
  if (!c.tls) {
    beast::tcp_stream s(io);
    s.connect(results, ec);
    if (ec) return fail(ErrorCode::Unavailable, fmt::format("{}:{}: {}", c.host, c.port, ec.message()));
    fd = s.socket().native_handle();
    auto r = fn(s);
    fd = -1;
    return r;
  }
  beast::ssl_stream<beast::tcp_stream> s(io, tls);
  SSL_set_tlsext_host_name(s.native_handle(), c.host.c_str());
  // Verify the name (or IP) the certificate was issued for.
  s.set_verify_callback(asio::ssl::host_name_verification(c.host));
  beast::get_lowest_layer(s).connect(results, ec);
  if (!ec) fd = beast::get_lowest_layer(s).socket().native_handle();
  if (!ec) s.handshake(asio::ssl::stream_base::client, ec);
  if (ec) {
    fd = -1;
    return fail(ErrorCode::Unavailable, fmt::format("{}:{}: {}", c.host, c.port, ec.message()));
  }
  auto r = fn(s);
  fd = -1;
  return r;
}

Result<HttpResult> ApiClient::get(const std::string& target) {
  HttpResult out;
  auto status = connect_and(impl_->conn, impl_->io, impl_->tls, impl_->fd,
                            [&](auto& s) { return exchange(s, impl_->conn, Request{.target = target}, {}, &out.body); });
  if (!status) return fail(status.error());
  out.status = *status;
  return out;
}

Result<HttpResult> ApiClient::send(const std::string& method, const std::string& target, const std::string& body,
                                   const std::string& content_type) {
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) return fail(ErrorCode::Unavailable, fmt::format("{} {}: unknown HTTP method", method, target));
  HttpResult out;
  const Request request{.method = verb, .target = target, .body = body, .content_type = content_type};
  auto status =
      connect_and(impl_->conn, impl_->io, impl_->tls, impl_->fd, [&](auto& s) { return exchange(s, impl_->conn, request, {}, &out.body); });
  if (!status) return fail(status.error());
  out.status = *status;
  return out;
}

Result<int> ApiClient::stream(const std::string& target, const std::function<bool(const std::string&)>& on_line) {
  return connect_and(impl_->conn, impl_->io, impl_->tls, impl_->fd,
                     [&](auto& s) { return exchange(s, impl_->conn, Request{.target = target}, on_line, nullptr); });
}

void ApiClient::abort() {
  const int fd = impl_->fd.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);  // wakes the blocked read; the socket is closed by its owner
}

}  // namespace switchyard::client
