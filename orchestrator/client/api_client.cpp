#include "orchestrator/client/api_client.h"
#include "orchestrator/client/client_certificates.h"

#include <atomic>
#include <map>
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "orchestrator/http/client.h"

namespace switchyard::client {

namespace {

// Which of a list of servers the clients of a connection last reached, shared by every ApiClient
// of the same list (a reflector makes a new one per list and watch), so that one that moved on
// after a server went away does not send the next client back to it.
class PreferredServers {
 public:
  static std::size_t get(const std::string& servers) {
    std::lock_guard lock(mutex());
    return table()[servers];
  }
  static void set(const std::string& servers, std::size_t index) {
    std::lock_guard lock(mutex());
    table()[servers] = index;
  }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::map<std::string, std::size_t>& table() {
    static std::map<std::string, std::size_t> t;
    return t;
  }
};

}  // namespace

struct ApiClient::Impl {
  ClusterConnection conn;
  // One client per API server (the connection's own first, then other_servers); `current` is the
  // one in use, moved on when it cannot be reached.
  std::vector<Result<std::unique_ptr<http::HttpClient>>> servers;
  std::atomic<std::size_t> current{0};
  std::string server_list;           // the key of PreferredServers, when there is more than one
  std::atomic<bool> aborted{false};  // abort() ends the request, it does not move to the next server

  Result<std::unique_ptr<http::HttpClient>>& http() { return servers[current]; }

  // Runs `request` on the current server, and on the next ones while a server cannot be reached
  // (a transport failure, not an HTTP status: every status is an answer). A stream is not
  // retried (what it delivered would be delivered again): its caller's next one goes to the next.
  template <class F>
  auto with_failover(F&& request, bool retry = true) -> decltype(request(*http().value())) {
    aborted = false;
    decltype(request(*http().value())) result = fail(ErrorCode::Internal, "no API server");
    for (std::size_t tried = 0; tried < servers.size(); ++tried) {
      if (!http()) {
        result = fail(http().error());
      } else {
        result = request(**http());
        if (result || result.error().code != ErrorCode::Unavailable || aborted) return result;
      }
      current = (current + 1) % servers.size();
      if (!server_list.empty()) PreferredServers::set(server_list, current);
      if (!retry) break;
    }
    return result;
  }
};

ApiClient::ApiClient(ClusterConnection c) : impl_(std::make_unique<Impl>()) {
  impl_->conn = std::move(c);
  const auto& conn = impl_->conn;
  const bool v6 = conn.host.find(':') != std::string::npos;
  std::vector<std::string> urls{fmt::format("{}://{}:{}", conn.tls ? "https" : "http", v6 ? "[" + conn.host + "]" : conn.host, conn.port)};
  urls.insert(urls.end(), conn.other_servers.begin(), conn.other_servers.end());
  if (urls.size() > 1) {
    for (const auto& url : urls) impl_->server_list += url + ",";
    impl_->current = PreferredServers::get(impl_->server_list) % urls.size();
  }
  // Without a token, the client certificate registered for the (first) server, if any: the other
  // servers are of the same cluster and take the same credentials.
  const auto certificate = conn.token.empty() && conn.tls ? client_certificate_for(conn.host, conn.port) : std::nullopt;
  for (const auto& url : urls)
    impl_->servers.push_back(http::HttpClient::create({
        .server = url,
        .ca_pem = conn.ca_pem,
        .client_cert_pem = certificate ? certificate->cert_pem : "",
        .client_key_pem = certificate ? certificate->key_pem : "",
        .bearer_token = conn.token,
        .headers = {{"Accept", conn.protobuf ? "application/vnd.kubernetes.protobuf, application/json" : "application/json"},
                    {"User-Agent", "switchyard-agent"}},
        // Lists of a large cluster take a while; watches are streams (the timeout ends at the head).
        .request_timeout = std::chrono::minutes(5),
    }));
}

ApiClient::~ApiClient() = default;

Result<HttpResult> ApiClient::get(const std::string& target) { return send("GET", target, "", ""); }

Result<HttpResult> ApiClient::send(const std::string& method, const std::string& target, const std::string& body,
                                   const std::string& content_type) {
  auto response = impl_->with_failover([&](http::HttpClient& http) { return http.send(method, target, body, content_type); });
  if (!response) return fail(with_context(response.error(), fmt::format("{} {}", method, target)));
  return HttpResult{response->status, std::move(response->body), std::string(response->header("content-type"))};
}

Result<int> ApiClient::stream(const std::string& target, const std::function<bool(const std::string&)>& on_line) {
  auto status = impl_->with_failover(
      [&](http::HttpClient& http) { return http.stream_lines(http::ClientRequest{.target = target}, on_line); }, false);
  if (!status) return fail(with_context(status.error(), "GET " + target));
  return status;
}

Result<int> ApiClient::stream_watch(const std::string& target, const std::function<bool(const std::string&, bool)>& on_message) {
  bool protobuf = false;
  http::LineSplitter lines;
  std::string pending;  // protobuf: bytes of frames not yet complete
  auto on_line = [&](const std::string& line) { return on_message(line, false); };
  auto status = impl_->with_failover(
      [&](http::HttpClient& http) {
        return http.stream(
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
      },
      false);
  if (status && !protobuf) {
    if (auto rest = lines.rest(); !rest.empty()) on_message(rest, false);
  }
  if (!status) return fail(with_context(status.error(), "GET " + target));
  return status;
}

void ApiClient::abort() {
  impl_->aborted = true;
  if (impl_->http()) (*impl_->http())->abort();
}

}  // namespace switchyard::client
