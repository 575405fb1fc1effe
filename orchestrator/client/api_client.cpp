#include "orchestrator/client/api_client.h"

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
  impl_->http = http::HttpClient::create({
      .server = fmt::format("{}://{}:{}", conn.tls ? "https" : "http", v6 ? "[" + conn.host + "]" : conn.host, conn.port),
      .ca_pem = conn.ca_pem,
      .bearer_token = conn.token,
      .headers = {{"Accept", "application/json"}, {"User-Agent", "switchyard-agent"}},
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
  return HttpResult{response->status, std::move(response->body)};
}

Result<int> ApiClient::stream(const std::string& target, const std::function<bool(const std::string&)>& on_line) {
  if (!impl_->http) return fail(impl_->http.error());
  auto status = (*impl_->http)->stream_lines(http::ClientRequest{.target = target}, on_line);
  if (!status) return fail(with_context(status.error(), "GET " + target));
  return status;
}

void ApiClient::abort() {
  if (impl_->http) (*impl_->http)->abort();
}

}  // namespace switchyard::client
