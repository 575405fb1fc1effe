// The one HTTP/1.1 server of the project (Boost.Beast underneath, not in this header): plain or
// TLS, a fixed pool of I/O threads running every connection asynchronously (a strand each, no
// thread per connection), handlers on a small pool of their own, and the limits a server facing
// untrusted clients needs:
//
//   - a TLS handshake timeout, a header timeout (from accept, or from the first byte of a
//     keep-alive request), a body timeout, an idle keep-alive timeout and a write timeout;
//   - a cap on open connections: a connection over it is closed as soon as it is accepted
//     (not queued), so the client sees the close at once and may retry;
//   - a header size limit (431) and a body size limit checked against Content-Length before
//     any of the body is read (413 without reading it; a chunked body is cut at the limit);
//   - a hook that sees the request head before the body is read (the API server answers 401
//     there, so an unauthenticated client cannot make it read megabytes);
//   - accept errors (EMFILE, ENFILE, ENOBUFS) back off from 10 ms to 1 s instead of spinning;
//   - streaming responses (watch) that any thread writes to, with a bounded queue, ended when
//     the client goes away or the server stops, without a thread per stream.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "orchestrator/base/error.h"
#include "orchestrator/http/message.h"

namespace switchyard::http {

struct HttpServerOptions {
  // Where start() listens: "ADDRESS:PORT" or "[V6]:PORT" with an IP address; port 0 picks one.
  // Empty: no listener until listen() is called.
  std::string listen;
  // Both set: TLS with this PEM certificate chain and key; both empty: plain HTTP.
  std::string tls_cert_file, tls_key_file;
  // With TLS: ask clients for a certificate and verify it against this CA bundle; a verified
  // client's common name is in RequestHead::client_certificate_cn. A client without one is still
  // served (the handler decides: 401), one with a bad one fails the handshake.
  std::string tls_client_ca_file;
  std::string name = "http";  // in log lines: server=NAME

  // Threads: io_threads run every socket operation; handler_threads run handlers (which may
  // block on a store); 0 handler threads run handlers on the I/O threads (for handlers that
  // only read memory).
  int io_threads = 2;
  int handler_threads = 4;

  // Timeouts (Go's net/http and kube-apiserver are the guide: 32 s for the head, 90 s idle).
  std::chrono::milliseconds tls_handshake_timeout{10'000};
  std::chrono::milliseconds header_timeout{32'000};  // the whole request head
  std::chrono::milliseconds body_timeout{60'000};    // the whole body, once the head is in
  std::chrono::milliseconds idle_timeout{90'000};    // a keep-alive connection between requests
  std::chrono::milliseconds write_timeout{60'000};   // each write of a response or of stream chunks
  // After an early answer (413, 401 before the body) the server stops sending and reads and
  // drops what the client still sends, for at most this long, so that the client reads the
  // answer instead of a connection reset.
  std::chrono::milliseconds linger_timeout{2'000};

  std::size_t max_connections = 10'000;            // open connections; more are closed on accept
  std::size_t max_header_bytes = 1 << 20;          // request line + headers (Go's default): 431 above
  std::size_t max_body_bytes = 4 << 20;            // 413 above, before the body is read
  std::size_t max_stream_buffer_bytes = 16 << 20;  // per streaming response, queued and unsent
  bool keep_alive = true;                          // false: one request per connection

  // Called with the head of each request before its body is read. A response returned here is
  // sent instead of calling the handler, and the body is never read (the connection closes if
  // a body was coming). Runs on an I/O thread: it must not block.
  std::function<std::optional<Response>(const RequestHead&)> check_head;
  // Renders the answers the server makes itself (400 malformed request, 413, 431, 500 when a
  // handler threw), so that each server speaks its own error format. Default: plain text.
  std::function<Response(int status, const std::string& message)> error_response;
};

using Handler = std::function<Response(Request&)>;

class HttpServer {
 public:
  // Starts the threads and, when options.listen is set, listens there.
  static Result<std::unique_ptr<HttpServer>> start(HttpServerOptions options, Handler handler);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Listens on one more address ("ADDR:PORT"): the socket is opened in the calling thread's
  // network namespace. Returns the listener's port (the one picked for port 0). With
  // `dual_stack`, "[::]:PORT" also takes IPv4. Not from a handler.
  Result<std::uint16_t> listen(const std::string& address, bool dual_stack = false);
  // Closes the listener on `port` (every address); it is closed when this returns. Connections
  // it accepted go on. Not from a handler.
  void close_listener(std::uint16_t port);
  // The port of the first listener (0 when there is none).
  std::uint16_t port() const;
  // Connections open now.
  std::size_t connections() const;

  // Closes the listeners and every connection (streams end), waits for running handlers and
  // stream end callbacks, and stops the threads. Idempotent.
  void stop();

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "ADDR:PORT" / "[V6]:PORT" -> address and port; ADDR must be an IP address.
Result<std::pair<std::string, std::uint16_t>> parse_listen_address(const std::string& text);

}  // namespace switchyard::http
