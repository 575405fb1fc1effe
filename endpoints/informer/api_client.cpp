#include "endpoints/informer/api_client.h"

#include <sys/socket.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>  // Boost 1.74 asio/awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

namespace switchyard::informer {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string base64_decode(const std::string& in) {
  std::string out(in.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return {};
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '\0') out.pop_back();  // padding
  return out;
}

// "https://host:port" -> host, port, tls
std::expected<void, std::string> parse_server(const std::string& server, ClusterConnection& c) {
  std::string rest;
  if (server.starts_with("https://")) rest = server.substr(8), c.tls = true;
  else if (server.starts_with("http://")) rest = server.substr(7), c.tls = false;
  else return std::unexpected(fmt::format("server {}: expected https://HOST:PORT", server));
  if (auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  if (rest.starts_with('[')) {
    auto close = rest.find(']');
    c.host = rest.substr(1, close - 1);
    c.port = close + 1 < rest.size() && rest[close + 1] == ':' ? rest.substr(close + 2) : (c.tls ? "443" : "80");
  } else {
    auto colon = rest.rfind(':');
    c.host = colon == std::string::npos ? rest : rest.substr(0, colon);
    c.port = colon == std::string::npos ? (c.tls ? "443" : "80") : rest.substr(colon + 1);
  }
  return {};
}

}  // namespace

std::expected<ClusterConnection, std::string> load_kubeconfig(const std::string& path) {
  try {
    YAML::Node kc = YAML::LoadFile(path);
    const std::string current = kc["current-context"].as<std::string>("");
    // A default YAML::Node is a defined null: track what was found explicitly.
    YAML::Node context, cluster, user;
    bool has_context = false, has_cluster = false, has_user = false;
    for (const auto& c : kc["contexts"])
      if (c["name"].as<std::string>("") == current) context = c["context"], has_context = true;
    if (!has_context) return std::unexpected(fmt::format("{}: current-context \"{}\" not found", path, current));
    for (const auto& c : kc["clusters"])
      if (c["name"].as<std::string>("") == context["cluster"].as<std::string>("")) cluster = c["cluster"], has_cluster = true;
    for (const auto& u : kc["users"])
      if (u["name"].as<std::string>("") == context["user"].as<std::string>("")) user = u["user"], has_user = true;
    if (!has_cluster) return std::unexpected(fmt::format("{}: cluster of context {} not found", path, current));
    ClusterConnection c;
    if (auto r = parse_server(cluster["server"].as<std::string>(""), c); !r) return std::unexpected(fmt::format("{}: {}", path, r.error()));
    if (cluster["certificate-authority-data"]) c.ca_pem = base64_decode(cluster["certificate-authority-data"].as<std::string>());
    else if (cluster["certificate-authority"]) c.ca_pem = read_file(cluster["certificate-authority"].as<std::string>());
    if (has_user && user["token"]) c.token = user["token"].as<std::string>();
    else if (has_user && user["tokenFile"]) c.token = read_file(user["tokenFile"].as<std::string>());
    while (!c.token.empty() && (c.token.back() == '\n' || c.token.back() == '\r')) c.token.pop_back();
    return c;
  } catch (const YAML::Exception& e) {
    return std::unexpected(fmt::format("{}: {}", path, e.what()));
  }
}

std::expected<ClusterConnection, std::string> load_in_cluster(const std::string& dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !port) return std::unexpected("not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
  ClusterConnection c{host, port, read_file(dir + "/ca.crt"), read_file(dir + "/token"), true};
  while (!c.token.empty() && (c.token.back() == '\n')) c.token.pop_back();
  if (c.token.empty()) return std::unexpected(fmt::format("{}/token: empty or unreadable", dir));
  if (c.ca_pem.empty()) return std::unexpected(fmt::format("{}/ca.crt: empty or unreadable", dir));
  return c;
}

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
std::expected<int, std::string> exchange(Stream& stream, const ClusterConnection& c, const Request& request,
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
  if (ec) return std::unexpected(fmt::format("{} {}: {}", std::string(req.method_string()), target, ec.message()));
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::uint64_t{1} << 40);  // watch streams are unbounded; lists are large
  http::read_header(stream, buffer, parser, ec);
  if (ec) return std::unexpected(fmt::format("{} {}: {}", std::string(req.method_string()), target, ec.message()));
  const int status = static_cast<int>(parser.get().result_int());
  std::string pending;
  char chunk[16384];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    // read_some: return with whatever arrived, so that each watch event is seen at once.
    http::read_some(stream, buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return std::unexpected(fmt::format("{} {}: {}", std::string(req.method_string()), target, ec.message()));
    pending.append(chunk, sizeof chunk - parser.get().body().size);
    if (whole) continue;
    std::size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!line.empty() && !on_line(line)) return status;
    }
  }
  if (whole) *whole = std::move(pending);
  else if (!pending.empty()) on_line(pending);
  return status;
}

}  // namespace

template <class Fn>
static std::expected<int, std::string> connect_and(ClusterConnection& c, asio::io_context& io, asio::ssl::context& tls,
                                                   std::atomic<int>& fd, Fn fn) {
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(c.host, c.port, ec);
  if (ec) return std::unexpected(fmt::format("{}:{}: {}", c.host, c.port, ec.message()));
  if (!c.tls) {
    beast::tcp_stream s(io);
    s.connect(results, ec);
    if (ec) return std::unexpected(fmt::format("{}:{}: {}", c.host, c.port, ec.message()));
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
    return std::unexpected(fmt::format("{}:{}: {}", c.host, c.port, ec.message()));
  }
  auto r = fn(s);
  fd = -1;
  return r;
}

std::expected<HttpResult, std::string> ApiClient::get(const std::string& target) {
  HttpResult out;
  auto status = connect_and(impl_->conn, impl_->io, impl_->tls, impl_->fd,
                            [&](auto& s) { return exchange(s, impl_->conn, Request{.target = target}, {}, &out.body); });
  if (!status) return std::unexpected(status.error());
  out.status = *status;
  return out;
}

std::expected<HttpResult, std::string> ApiClient::send(const std::string& method, const std::string& target, const std::string& body,
                                                       const std::string& content_type) {
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) return std::unexpected(fmt::format("{} {}: unknown HTTP method", method, target));
  HttpResult out;
  const Request request{.method = verb, .target = target, .body = body, .content_type = content_type};
  auto status = connect_and(impl_->conn, impl_->io, impl_->tls, impl_->fd,
                            [&](auto& s) { return exchange(s, impl_->conn, request, {}, &out.body); });
  if (!status) return std::unexpected(status.error());
  out.status = *status;
  return out;
}

std::expected<int, std::string> ApiClient::stream(const std::string& target, const std::function<bool(const std::string&)>& on_line) {
  return connect_and(impl_->conn, impl_->io, impl_->tls, impl_->fd, [&](auto& s) { return exchange(s, impl_->conn, Request{.target = target}, on_line, nullptr); });
}

void ApiClient::abort() {
  const int fd = impl_->fd.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);  // wakes the blocked read; the socket is closed by its owner
}

}  // namespace switchyard::informer
