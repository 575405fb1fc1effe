// The HTTP client: each connection has a private io_context that the calling thread runs for
// one step at a time, so a blocking call still gets Beast's timeouts and abort() can post a
// close into it from another thread.
#include "orchestrator/http/client.h"

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <set>
#include <utility>  // Boost 1.74's Asio uses std::exchange without including it
#include <vector>

#include <fmt/format.h>
#include <openssl/x509_vfy.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace switchyard::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

struct ServerAddress {
  std::string host, port;
  bool tls = false;
};

Result<ServerAddress> parse_server(const std::string& server) {
  ServerAddress a;
  std::string rest;
  if (server.starts_with("https://"))
    rest = server.substr(8), a.tls = true;
  else if (server.starts_with("http://"))
    rest = server.substr(7);
  else
    return fail(ErrorCode::Invalid, fmt::format("server {}: expected https://HOST[:PORT] or http://HOST[:PORT]", server));
  if (auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  const std::string default_port = a.tls ? "443" : "80";
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string::npos) return fail(ErrorCode::Invalid, fmt::format("server {}: unterminated [IPv6 address]", server));
    a.host = rest.substr(1, close - 1);
    a.port = close + 1 < rest.size() && rest[close + 1] == ':' ? rest.substr(close + 2) : default_port;
  } else {
    const auto colon = rest.rfind(':');
    a.host = colon == std::string::npos ? rest : rest.substr(0, colon);
    a.port = colon == std::string::npos ? default_port : rest.substr(colon + 1);
  }
  if (a.host.empty() || a.port.empty()) return fail(ErrorCode::Invalid, fmt::format("server {}: expected HOST[:PORT]", server));
  return a;
}

bool is_ip_address(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Initiates one asynchronous step and runs the connection's io_context until it completes.
template <class Start>
error_code run_step(asio::io_context& io, Start&& start) {
  std::optional<error_code> result;
  std::forward<Start>(start)([&result](error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result.value_or(asio::error::operation_aborted);
}

bool default_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" || method == "OPTIONS";
}

Headers headers_of(const bhttp::fields& fields) {
  Headers out;
  for (const auto& f : fields) out.emplace_back(std::string(f.name_string()), std::string(f.value()));
  return out;
}

enum class Stage { Connect, Send, Receive, Done };

}  // namespace

struct ClientConnection {
  asio::io_context io{1};
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  std::atomic<bool> aborted{false};  // set by abort()

  bool connected() const { return plain.has_value() || tls.has_value(); }
  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  template <class F>
  decltype(auto) with_stream(F&& f) {
    if (tls) return f(*tls);
    return f(*plain);
  }
  void close() {
    if (!connected()) return;
    error_code ignored;
    tcp().socket().close(ignored);
  }
  // An idle keep-alive connection is still open when there is nothing to read (EAGAIN): data
  // or end of stream means the server closed it (or is about to: a TLS close_notify).
  bool still_open() {
    char byte;
    const ssize_t n = ::recv(tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
};

struct HttpClient::Impl {
  HttpClientOptions options;
  ServerAddress address;
  std::string base_url, host_header;
  std::unique_ptr<asio::ssl::context> tls;

  std::mutex mu;
  std::vector<std::unique_ptr<ClientConnection>> idle;
  std::set<ClientConnection*> active;
  bool closed = false;  // close(): every request fails

  // A reused connection (still open) or a new one, registered as active for abort().
  std::unique_ptr<ClientConnection> take(bool& reused) {
    std::unique_ptr<ClientConnection> c;
    std::lock_guard lock(mu);
    while (!idle.empty() && !c) {
      c = std::move(idle.back());
      idle.pop_back();
      if (!c->still_open()) c.reset();
    }
    reused = c != nullptr;
    if (!c) c = std::make_unique<ClientConnection>();
    c->aborted = closed;
    active.insert(c.get());
    return c;
  }
  // Unregisters; keeps the connection for reuse when it may be. Returns whether it was aborted.
  bool give_back(std::unique_ptr<ClientConnection> c, bool reusable) {
    std::lock_guard lock(mu);
    active.erase(c.get());
    const bool aborted = c->aborted;
    // An aborted connection may still have the abort's close queued in its io_context.
    if (reusable && !aborted && c->connected() && idle.size() < options.max_idle_connections) idle.push_back(std::move(c));
    return aborted;
  }

  Error io_error(const ClientRequest& r, std::string_view step, const error_code& ec, const ClientConnection& c) const {
    const std::string what = fmt::format("{} {}{}", r.method, base_url, r.target);
    if (c.aborted) return Error{ErrorCode::Unavailable, fmt::format("{}: aborted", what)};
    if (ec == beast::error::timeout) return Error{ErrorCode::Timeout, fmt::format("{}: {}: timed out", what, step)};
    if (ec == bhttp::error::body_limit)
      return Error{ErrorCode::TooLarge, fmt::format("{}: response body over {} bytes", what, options.max_response_bytes)};
    return Error{ErrorCode::Unavailable, fmt::format("{}: {}: {}", what, step, ec.message())};
  }

  Result<void> connect(ClientConnection& c, const ClientRequest& r) {
    tcp::resolver resolver(c.io);
    error_code ec;
    auto endpoints = resolver.resolve(address.host, address.port, ec);
    if (ec) return fail(io_error(r, "resolve", ec, c));
    if (tls) {
      c.tls.emplace(c.io, *tls);
      if (!is_ip_address(address.host)) SSL_set_tlsext_host_name(c.tls->native_handle(), address.host.c_str());
      if (!options.insecure_skip_verify)
        c.tls->set_verify_callback(asio::ssl::host_name_verification(address.host));  // a name or an IP address
    } else {
      c.plain.emplace(c.io);
    }
    c.tcp().expires_after(options.connect_timeout);
    ec = run_step(c.io, [&](auto handler) { c.tcp().async_connect(endpoints, std::move(handler)); });
    if (!ec && c.tls)
      ec = run_step(c.io, [&](auto handler) { c.tls->async_handshake(asio::ssl::stream_base::client, std::move(handler)); });
    if (ec) {
      c.close();
      return fail(io_error(r, "connect", ec, c));
    }
    c.tcp().socket().set_option(tcp::no_delay(true), ec);
    return {};
  }

  bhttp::request<bhttp::string_body> build(const ClientRequest& r) const {
    bhttp::request<bhttp::string_body> req;
    req.method_string(r.method);
    req.target(r.target);
    req.version(11);
    req.set(bhttp::field::host, host_header);
    req.set(bhttp::field::user_agent, "switchyard");
    for (const auto& [name, value] : options.headers) req.set(name, value);
    if (!options.bearer_token.empty()) req.set(bhttp::field::authorization, "Bearer " + options.bearer_token);
    for (const auto& [name, value] : r.headers) req.set(name, value);
    if (!r.content_type.empty()) req.set(bhttp::field::content_type, r.content_type);
    req.body() = r.body;
    req.keep_alive(true);
    req.prepare_payload();
    return req;
  }

  // Connects if needed and sends the request; `stage` says how far it got.
  Result<void> send_request(ClientConnection& c, const ClientRequest& r, Stage& stage) {
    stage = Stage::Connect;
    if (c.aborted) return fail(io_error(r, "connect", asio::error::operation_aborted, c));
    if (!c.connected())
      if (auto ok = connect(c, r); !ok) return ok;
    if (c.aborted) return fail(io_error(r, "connect", asio::error::operation_aborted, c));
    stage = Stage::Send;
    auto req = build(r);
    c.tcp().expires_after(options.request_timeout);
    auto ec = run_step(c.io, [&](auto handler) { c.with_stream([&](auto& s) { bhttp::async_write(s, req, std::move(handler)); }); });
    if (ec) {
      c.close();
      return fail(io_error(r, "send", ec, c));
    }
    stage = Stage::Receive;
    return {};
  }

  Result<ClientResponse> exchange(ClientConnection& c, const ClientRequest& r, Stage& stage, bool& reusable) {
    reusable = false;
    if (auto sent = send_request(c, r, stage); !sent) return fail(sent.error());
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options.max_response_bytes);
    if (r.method == "HEAD") parser.skip(true);
    // The head first: Beast 1.74 checks the body limit against Content-Length only when the
    // head is parsed on its own (an eager read of head and body skips the check).
    auto ec = run_step(
        c.io, [&](auto handler) { c.with_stream([&](auto& s) { bhttp::async_read_header(s, c.buffer, parser, std::move(handler)); }); });
    if (!ec && !parser.is_done())
      ec = run_step(c.io,
                    [&](auto handler) { c.with_stream([&](auto& s) { bhttp::async_read(s, c.buffer, parser, std::move(handler)); }); });
    if (ec) {
      c.close();
      return fail(io_error(r, "receive", ec, c));
    }
    stage = Stage::Done;
    auto res = parser.release();
    reusable = res.keep_alive();
    return ClientResponse{static_cast<int>(res.result_int()), headers_of(res.base()), std::move(res.body())};
  }

  Result<int> stream_exchange(ClientConnection& c, const ClientRequest& r, const HeadCallback& on_head, const DataCallback& on_data,
                              Stage& stage, bool& reusable) {
    reusable = false;
    if (auto sent = send_request(c, r, stage); !sent) return fail(sent.error());
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(boost::none);  // a watch has no end
    auto ec = run_step(
        c.io, [&](auto handler) { c.with_stream([&](auto& s) { bhttp::async_read_header(s, c.buffer, parser, std::move(handler)); }); });
    if (ec) {
      c.close();
      return fail(io_error(r, "receive", ec, c));
    }
    stage = Stage::Done;
    const int status = static_cast<int>(parser.get().result_int());
    if (on_head && !on_head(status, headers_of(parser.get().base()))) {
      c.close();
      return status;
    }
    std::array<char, 16384> chunk;
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      if (options.stream_idle_timeout.count() > 0)
        c.tcp().expires_after(options.stream_idle_timeout);
      else
        c.tcp().expires_never();
      // read_some: return with whatever arrived, so that each event is handed over at once.
      ec = run_step(
          c.io, [&](auto handler) { c.with_stream([&](auto& s) { bhttp::async_read_some(s, c.buffer, parser, std::move(handler)); }); });
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        c.close();
        return fail(io_error(r, "receive", ec, c));
      }
      const std::size_t n = chunk.size() - parser.get().body().size;
      if (n > 0 && on_data && !on_data(std::string_view(chunk.data(), n))) {
        c.close();
        return status;
      }
    }
    reusable = parser.get().keep_alive();
    return status;
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::create(HttpClientOptions options) {
  auto impl = std::make_unique<Impl>();
  auto address = parse_server(options.server);
  if (!address) return fail(address.error());
  impl->address = *address;
  const bool bracket = impl->address.host.find(':') != std::string::npos;
  const std::string host = bracket ? "[" + impl->address.host + "]" : impl->address.host;
  impl->base_url = fmt::format("{}://{}:{}", address->tls ? "https" : "http", host, address->port);
  const bool default_port = impl->address.port == (address->tls ? "443" : "80");
  impl->host_header = default_port ? host : host + ":" + impl->address.port;
  if (options.client_cert_pem.empty() != options.client_key_pem.empty())
    return fail(ErrorCode::Invalid,
                fmt::format("client of {}: a client certificate needs both the certificate and the key", impl->base_url));
  if (address->tls) {
    impl->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    impl->tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                           asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    impl->tls->set_verify_mode(options.insecure_skip_verify ? asio::ssl::verify_none : asio::ssl::verify_peer);
    error_code ec;
    if (!options.ca_pem.empty()) {
      impl->tls->add_certificate_authority(asio::buffer(options.ca_pem), ec);
      if (ec)
        return fail(ErrorCode::Invalid, fmt::format("client of {}: the CA is not a PEM certificate: {}", impl->base_url, ec.message()));
      // A certificate given as the CA is a trust anchor as it is, also when it is not
      // self-signed (a serving certificate handed to its own server's clients), as Go's
      // crypto/x509 treats every certificate of its root pool.
      X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(impl->tls->native_handle()), X509_V_FLAG_PARTIAL_CHAIN);
    } else {
      impl->tls->set_default_verify_paths(ec);
      if (ec) return fail(ErrorCode::Internal, fmt::format("client of {}: system CA roots: {}", impl->base_url, ec.message()));
    }
    if (!options.client_cert_pem.empty()) {
      impl->tls->use_certificate_chain(asio::buffer(options.client_cert_pem), ec);
      if (!ec) impl->tls->use_private_key(asio::buffer(options.client_key_pem), asio::ssl::context::pem, ec);
      if (ec) return fail(ErrorCode::Invalid, fmt::format("client of {}: client certificate or key: {}", impl->base_url, ec.message()));
    }
  }
  impl->options = std::move(options);
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

namespace {

// Asio makes its epoll and eventfd descriptors lazily, on a connection's first resolve or
// socket, and throws when it cannot: a process out of file descriptors (an API server with
// thousands of etcd watches) gets an error for this request instead of an exception that ends it.
template <class F>
auto out_of_resources_as_error(const ClientRequest& r, const std::string& base_url, F&& exchange) -> decltype(exchange()) {
  try {
    return exchange();
  } catch (const boost::system::system_error& e) {
    return fail(Error{ErrorCode::Unavailable, fmt::format("{} {}{}: no new connection: {}", r.method, base_url, r.target, e.what())});
  }
}

}  // namespace

Result<ClientResponse> HttpClient::request(const ClientRequest& r) {
  const bool idempotent = r.idempotent.value_or(default_idempotent(r.method));
  for (int attempt = 0;; ++attempt) {
    bool reused = false, reusable = false;
    auto c = impl_->take(reused);
    Stage stage = Stage::Connect;
    auto result = out_of_resources_as_error(r, impl_->base_url, [&] { return impl_->exchange(*c, r, stage, reusable); });
    const bool aborted = impl_->give_back(std::move(c), result.has_value() && reusable);
    // A reused connection the server had closed: once more on a new one, if that is safe.
    if (!result && reused && !aborted && attempt == 0 && (stage == Stage::Send || (stage == Stage::Receive && idempotent))) continue;
    return result;
  }
}

Result<int> HttpClient::stream(const ClientRequest& r, const HeadCallback& on_head, const DataCallback& on_data) {
  for (int attempt = 0;; ++attempt) {
    bool reused = false, reusable = false;
    auto c = impl_->take(reused);
    Stage stage = Stage::Connect;
    auto result =
        out_of_resources_as_error(r, impl_->base_url, [&] { return impl_->stream_exchange(*c, r, on_head, on_data, stage, reusable); });
    const bool aborted = impl_->give_back(std::move(c), result.has_value() && reusable);
    // Nothing was handed over yet: a stale keep-alive connection is tried once more.
    if (!result && reused && !aborted && attempt == 0 && (stage == Stage::Send || stage == Stage::Receive)) continue;
    return result;
  }
}

Result<int> HttpClient::stream_lines(const ClientRequest& r, const std::function<bool(const std::string&)>& on_line) {
  LineSplitter lines;
  bool stopped = false;
  auto status = stream(r, {}, [&](std::string_view data) {
    stopped = !lines.feed(data, on_line);
    return !stopped;
  });
  if (status && !stopped) {
    if (auto rest = lines.rest(); !rest.empty()) on_line(rest);
  }
  return status;
}

void HttpClient::abort() {
  std::lock_guard lock(impl_->mu);
  for (auto* c : impl_->active) {
    c->aborted = true;
    // Runs inside the request's own io_context: closes whatever it is blocked on.
    asio::post(c->io, [c] { c->close(); });
  }
}

void HttpClient::close() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->closed = true;
    impl_->idle.clear();
  }
  abort();
}

const HttpClientOptions& HttpClient::options() const { return impl_->options; }
std::string HttpClient::base_url() const { return impl_->base_url; }

bool LineSplitter::feed(std::string_view data, const std::function<bool(const std::string&)>& on_line) {
  pending_.append(data);
  std::size_t start = 0, nl;
  while ((nl = pending_.find('\n', start)) != std::string::npos) {
    std::string line = pending_.substr(start, nl - start);
    start = nl + 1;
    if (!line.empty() && !on_line(line)) {
      pending_.erase(0, start);
      return false;
    }
  }
  pending_.erase(0, start);
  return true;
}

std::string LineSplitter::rest() { return std::exchange(pending_, {}); }

}  // namespace switchyard::http
