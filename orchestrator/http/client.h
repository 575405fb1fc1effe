// The one HTTP/1.1 client of the project (Boost.Beast underneath, not in this header): plain
// HTTP or HTTPS with the server's certificate verified against a CA (PEM) or the system roots
// and, optionally, a client certificate; a bearer token; keep-alive connections reused across
// requests (thread-safe: concurrent requests take separate connections); a connect timeout and
// a whole-request timeout; streaming responses handed over as they arrive (watch); and abort()
// from another thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "orchestrator/base/error.h"
#include "orchestrator/http/message.h"

namespace switchyard::http {

struct HttpClientOptions {
  // "https://HOST:PORT" or "http://HOST:PORT" (a path after it is ignored; the port defaults to
  // 443 or 80). HOST is a name or an IP address ("[::1]" for IPv6).
  std::string server;
  std::string ca_pem;                           // HTTPS: the CA to verify the server with; empty: the system roots
  std::string client_cert_pem, client_key_pem;  // HTTPS: a client certificate (both or neither)
  std::string bearer_token;                     // sent as Authorization: Bearer …
  // HTTPS without verifying the server: only for a read whose answer is checked otherwise (a
  // joining node's cluster-info, pinned by the CA's key hash).
  bool insecure_skip_verify = false;
  Headers headers;  // sent with every request (Accept, User-Agent, …)

  std::chrono::milliseconds connect_timeout{10'000};  // TCP connect and TLS handshake
  // A whole request and response; for a stream, up to the response head (the body has none).
  std::chrono::milliseconds request_timeout{60'000};
  std::chrono::milliseconds stream_idle_timeout{0};  // a stream quiet this long fails; 0: never
  std::size_t max_idle_connections = 4;              // kept open for reuse
  std::size_t max_response_bytes = 256 << 20;        // a larger (non-streamed) body fails TooLarge
};

struct ClientRequest {
  std::string method = "GET";
  std::string target;  // "/api/v1/pods?limit=500"
  std::string body;
  std::string content_type;  // set with a body
  Headers headers;
  // Whether the request may be sent again when a reused keep-alive connection turns out to have
  // been closed by the server after the request went out. Default: by method (GET, HEAD, PUT,
  // DELETE, OPTIONS yes; POST, PATCH no). A request that never went out is always retried.
  std::optional<bool> idempotent;
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
  std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

class HttpClient {
 public:
  static Result<std::unique_ptr<HttpClient>> create(HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<ClientResponse> request(const ClientRequest& request);
  Result<ClientResponse> get(const std::string& target) { return request(ClientRequest{.target = target}); }
  Result<ClientResponse> send(const std::string& method, const std::string& target, std::string body, const std::string& content_type) {
    return request(ClientRequest{.method = method, .target = target, .body = std::move(body), .content_type = content_type});
  }

  // A streaming request. `on_head` sees the status and headers first (false: stop there);
  // `on_data` then gets the body's bytes as they arrive, until the body ends, `on_data` returns
  // false, the connection fails or abort() is called. Returns the status; an error when the
  // connection failed or was aborted (before or during the body).
  using HeadCallback = std::function<bool(int status, const Headers& headers)>;
  using DataCallback = std::function<bool(std::string_view data)>;
  Result<int> stream(const ClientRequest& request, const HeadCallback& on_head, const DataCallback& on_data);
  // The same, a line at a time: each newline-terminated line of the body without its newline
  // (empty lines skipped), then what is left after the last newline when the body ends.
  Result<int> stream_lines(const ClientRequest& request, const std::function<bool(const std::string& line)>& on_line);

  // From any thread: every request in progress fails at once ("aborted"). Later requests run.
  void abort();
  // From any thread: abort(), and every later request fails at once too (for shutting down a
  // thread that may be about to start a request).
  void close();

  const HttpClientOptions& options() const;
  std::string base_url() const;  // "https://HOST:PORT", for messages

  struct Impl;

 private:
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Splits bytes into newline-terminated lines across chunk boundaries.
class LineSplitter {
 public:
  // Calls on_line for each complete non-empty line; false from on_line stops and returns false.
  bool feed(std::string_view data, const std::function<bool(const std::string&)>& on_line);
  // What is left after the last newline (and clears it).
  std::string rest();

 private:
  std::string pending_;
};

}  // namespace switchyard::http
