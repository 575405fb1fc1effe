// apiserver_bench's client side: the server under test, a keep-alive connection per client
// thread on the project's HTTP client, the names of the benchmark's objects, and small timing
// helpers shared by its parts.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "orchestrator/http/client.h"

namespace switchyard::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
inline double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// ---- One keep-alive connection per client thread (the project's HTTP client) ---------------------

struct Target {
  std::string host = "127.0.0.1";
  int port = 0;
  bool tls = false;
  std::string ca_pem;  // with tls
  std::string token;
};

struct Reply {
  int status = 0;
  std::string body;
};

class Client {
 public:
  explicit Client(const Target& t) {
    auto c = switchyard::http::HttpClient::create({.server = fmt::format("{}://{}:{}", t.tls ? "https" : "http", t.host, t.port),
                                                   .ca_pem = t.ca_pem,
                                                   .bearer_token = t.token,
                                                   .headers = {{"Accept", "application/json"}},
                                                   .max_idle_connections = 1,
                                                   .max_response_bytes = std::size_t{1} << 30});
    if (!c) throw std::runtime_error(c.error().describe());
    client_ = std::move(*c);
  }

  Reply request(const std::string& method, const std::string& target, const std::string& body = "",
                const std::string& content_type = "application/json") {
    auto r = client_->request({.method = method, .target = target, .body = body, .content_type = body.empty() ? "" : content_type});
    if (!r) throw std::runtime_error(r.error().describe());
    return {r->status, std::move(r->body)};
  }

 private:
  std::unique_ptr<switchyard::http::HttpClient> client_;
};

inline const std::string kNamespace = "bench";
inline const std::string kServices = "/api/v1/namespaces/bench/services";

inline std::string service_name(int i) { return fmt::format("svc-{:05}", i); }

}  // namespace switchyard::bench
