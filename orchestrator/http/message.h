// The HTTP messages the server hands its handler and takes back, free of Beast: a request with
// its head and (bounded) body, a response that is either a whole body or a stream of chunks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchyard::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The value of the first header named `name` (case-insensitive), or "" when there is none.
std::string_view find_header(const Headers& headers, std::string_view name);

// What the server knows once the request head is read, before any of the body.
struct RequestHead {
  std::string method;  // as sent: "GET", "BREW"
  std::string target;  // "/api/v1/pods?watch=true"
  int version = 11;    // 10 or 11
  Headers headers;
  std::optional<std::uint64_t> content_length;  // nullopt: no Content-Length (chunked or no body)
  bool chunked = false;
  std::string remote_address;    // the peer's IP
  std::uint16_t local_port = 0;  // the port the connection came in on (one server may listen on many)
  // TLS with tls_client_ca_file: the common name of the client certificate the CA verified
  // ("" when the client sent none), and its organizations (O).
  std::string client_certificate_cn;
  std::vector<std::string> client_certificate_organizations;

  std::string_view header(std::string_view name) const { return find_header(headers, name); }
  // "/api/v1/pods" of "/api/v1/pods?watch=true".
  std::string_view path() const { return std::string_view(target).substr(0, target.find('?')); }
};

struct Request : RequestHead {
  std::string body;
};

class ResponseStream;
struct Response;

// Instead of answering, hand the connection to an upstream server: connect to it (TLS when
// asked), send `request` (the request head as the upstream should see it), then copy bytes both
// ways until either side closes. The upstream's answer (a 101 and an upgraded protocol, or any
// response) reaches the client as the upstream wrote it. This is how exec, attach, port-forward
// and logs are proxied, as kube-apiserver's UpgradeAwareHandler does.
struct Tunnel {
  std::string address;  // an IP address
  std::uint16_t port = 0;
  std::string request;
  bool tls = false;
  std::string ca_file;              // verify the upstream's certificate against it ("": do not verify)
  std::string cert_file, key_file;  // a client certificate to present
  std::chrono::milliseconds connect_timeout{10'000};
  // The answer when the upstream cannot be reached (connect, TLS handshake): `error` says why.
  std::function<Response(const std::string& error)> unreachable;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  Headers headers;  // more headers (Warning, X-Content-Type-Options, …); never Content-Length
  // When set, the response is a stream instead of `body`: the server writes the head with
  // Transfer-Encoding: chunked and then calls `stream` with the ResponseStream to write to.
  // It is called on the server's handler threads and must not block for long: keep the stream
  // and write to it from wherever the data comes from.
  std::function<void(std::shared_ptr<ResponseStream>)> stream;
  bool close = false;  // close the connection after this response (Connection: close)
  // When set, the connection is handed to this upstream instead (status, body, stream unused).
  std::shared_ptr<Tunnel> tunnel;
};

// "METHOD TARGET HTTP/1.1\r\n" + headers + "\r\n": a request head for Tunnel::request.
std::string request_head(std::string_view method, std::string_view target, const Headers& headers);

// A chunked response body being written. Thread-safe: write from any thread. Writes are
// queued and sent by the server's I/O threads; the queue is bounded (max_stream_buffer_bytes):
// a client that reads too slowly for it is cut off rather than buffered without end.
class ResponseStream {
 public:
  struct State;
  explicit ResponseStream(std::shared_ptr<State> state);
  ~ResponseStream();
  ResponseStream(const ResponseStream&) = delete;
  ResponseStream& operator=(const ResponseStream&) = delete;

  // Queues `data` as one chunk (empty data is ignored). False once the stream has ended: the
  // client went away, the server is stopping, finish() was called, or the queue overflowed
  // (which ends the stream and closes the connection).
  bool write(std::string data);
  // Ends the stream after what is queued (the last chunk), then closes the connection.
  void finish();
  // Whether write() may still succeed.
  bool open() const;
  // Bytes queued and not yet handed to the socket.
  std::size_t queued_bytes() const;
  // `fn` runs once when the stream ends, for whatever reason, on a handler thread (it may
  // block briefly: release what feeds the stream there). Set it before writing; if the stream
  // has already ended it runs at once.
  void on_end(std::function<void()> fn);
  // `fn` runs every `interval` (on an I/O thread: do not block) until the stream ends.
  void every(std::chrono::milliseconds interval, std::function<void()> fn);

 private:
  std::shared_ptr<State> state_;
};

}  // namespace switchyard::http
