#include "orchestrator/client/api_client.h"
#include "orchestrator/client/client_certificates.h"

#include <fmt/format.h>

#include "orchestrator/http/client.h"

namespace switchyard::client {

struct ApiClient::Impl {
  ClusterConnection conn;
  Result<std::unique_ptr<http::HttpClient>> http = fail(ErrorCode::Internal, "not created");
};

ApiClient::ApiClient(ClusterConnection c) : impl_(std::make_unique<Impl>()) {
  impl_->conn = std::move(c);
  const auto& conn = impl_->conn;
  const bool v6 = conn.host.find(':') != std::string::npos;
  // Without a token, the client certificate registered for this server, if any.
  const auto certificate = conn.token.empty() && conn.tls ? client_certificate_for(conn.host, conn.port) : std::nullopt;
  impl_->http = http::HttpClient::create({
      .server = fmt::format("{}://{}:{}", conn.tls ? "https" : "http", v6 ? "[" + conn.host + "]" : conn.host, conn.port),
      .ca_pem = conn.ca_pem,
      .client_cert_pem = certificate ? certificate->cert_pem : "",
      .client_key_pem = certificate ? certificate->key_pem : "",
      .bearer_token = conn.token,
      .headers = {{"Accept", conn.protobuf ? "application/vnd.kubernetes.protobuf, application/json" : "application/json"},
                  {"User-Agent", "switchyard-agent"}},
      // Lists of a large cluster take a while; watches are streams (the timeout ends at the head).
      .request_timeout = std::chrono::minutes(5),
  });
}

ApiClient::~ApiClient() = default;

Result<HttpResult> ApiClient::get(const std::string& target) { return send("GET", target, "", ""); }

Result<HttpResult> ApiClient::send(const std::string& method, const std::string& target, const std::string& body,
                                   const std::string& content_type) {
  if (!impl_->http) return fail(impl_->http.error());
  auto response = (*impl_->http)->send(method, target, body, content_type);
  if (!response) return fail(with_context(response.error(), fmt::format("{} {}", method, target)));
  return HttpResult{response->status, std::move(response->body), std::string(response->header("content-type"))};
}

Result<int> ApiClient::stream(const std::string& target, const std::function<bool(const std::string&)>& on_line) {
  if (!impl_->http) return fail(impl_->http.error());
  auto status = (*impl_->http)->stream_lines(http::ClientRequest{.target = target}, on_line);
  if (!status) return fail(with_context(status.error(), "GET " + target));
  return status;
}

Result<int> ApiClient::stream_watch(const std::string& target, const std::function<bool(const std::string&, bool)>& on_message) {
  if (!impl_->http) return fail(impl_->http.error());
  bool protobuf = false;
  http::LineSplitter lines;
  std::string pending;  // protobuf: bytes of frames not yet complete
  auto on_line = [&](const std::string& line) { return on_message(line, false); };
  auto status = (*impl_->http)
                    ->stream(
                        http::ClientRequest{.target = target},
                        [&](int, const http::Headers& headers) {
                          protobuf = http::find_header(headers, "content-type").starts_with("application/vnd.kubernetes.protobuf");
                          return true;
                        },
                        [&](std::string_view data) {
                          if (!protobuf) return lines.feed(data, on_line);
                          // Frames: a 4-byte big-endian length, then that many bytes.
                          pending.append(data);
                          std::size_t at = 0;
                          while (pending.size() - at >= 4) {
                            const std::size_t n = static_cast<std::size_t>(static_cast<unsigned char>(pending[at])) << 24 |
                                                  static_cast<std::size_t>(static_cast<unsigned char>(pending[at + 1])) << 16 |
                                                  static_cast<std::size_t>(static_cast<unsigned char>(pending[at + 2])) << 8 |
                                                  static_cast<unsigned char>(pending[at + 3]);
                            if (pending.size() - at - 4 < n) break;
                            if (!on_message(pending.substr(at + 4, n), true)) return false;
                            at += 4 + n;
                          }
                          pending.erase(0, at);
                          return true;
                        });
  if (status && !protobuf) {
    if (auto rest = lines.rest(); !rest.empty()) on_message(rest, false);
  }
  if (!status) return fail(with_context(status.error(), "GET " + target));
  return status;
}

void ApiClient::abort() {
  if (impl_->http) (*impl_->http)->abort();
}

}  // namespace switchyard::client
