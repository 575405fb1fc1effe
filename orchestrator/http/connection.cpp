// One server connection, plain or TLS, as a chain of asynchronous steps on its own strand:
// [handshake] → wait for a request (idle timeout) → head (header timeout, size limit) → the
// head check and the body limit → body (body timeout) → handler (on the handler pool) → write
// (write timeout) → again, or close. A streaming response replaces the last two steps: its
// chunks are written as the ResponseStream queues them while a read waits for the client to go.
#include <limits>
#include <tuple>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "orchestrator/http/request_head_impl.h"
#include "orchestrator/http/server_impl.h"
#include "orchestrator/http/tunnel_impl.h"

namespace switchyard::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using error_code = boost::system::error_code;

namespace {

// A streaming client that half-closes still reads: what is queued within this long is sent.
constexpr auto kPeerGoneGrace = std::chrono::milliseconds(250);
// What a lingering close reads and drops at most before it gives up on the client.
constexpr std::size_t kLingerMaxBytes = 64 << 20;

using TlsStream = asio::ssl::stream<tcp::socket>;

bool is_parse_error(const error_code& ec) {
  return ec.category() == make_error_code(bhttp::error::bad_method).category() && ec != bhttp::error::end_of_stream &&
         ec != bhttp::error::partial_message && ec != bhttp::error::need_more;
}

// The common name and organizations of the client's certificate when the handshake verified
// one (empty otherwise): kube-apiserver's x509 authenticator takes them as user and groups.
std::pair<std::string, std::vector<std::string>> verified_client_identity(SSL* ssl) {
  X509* cert = SSL_get_peer_certificate(ssl);
  if (!cert) return {};
  std::string cn;
  std::vector<std::string> organizations;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    X509_NAME* subject = X509_get_subject_name(cert);
    char buf[256] = {};
    if (X509_NAME_get_text_by_NID(subject, NID_commonName, buf, sizeof buf) > 0) cn = buf;
    for (int i = X509_NAME_get_index_by_NID(subject, NID_organizationName, -1); i >= 0;
         i = X509_NAME_get_index_by_NID(subject, NID_organizationName, i)) {
      unsigned char* utf8 = nullptr;
      const int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
      if (n >= 0) organizations.emplace_back(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
      OPENSSL_free(utf8);
    }
  }
  X509_free(cert);
  return {std::move(cn), std::move(organizations)};
}

template <class Stream>
class Connection final : public ConnectionBase, public std::enable_shared_from_this<Connection<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Connection(HttpServer::Impl& server, tcp::socket socket, std::uint16_t local_port)
      : server_(server),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        grace_timer_(socket_.get_executor()),
        tick_timer_(socket_.get_executor()),
        local_port_(local_port) {
    if constexpr (!kTls) stream_.emplace(std::move(socket_));
    error_code ec;
    auto remote = lowest().remote_endpoint(ec);
    if (!ec) remote_ = remote.address().to_string();
    lowest().set_option(tcp::no_delay(true), ec);
  }
  ~Connection() override { close_now(); }

  void start() {
    server_.add_connection(this->shared_from_this());
    if constexpr (kTls) {
      // The TLS state (some 80 KiB with OpenSSL's buffers) only once the client speaks: a
      // connection that never sends a byte costs a socket and a timer.
      arm(server_.options.tls_handshake_timeout, "tls_handshake");
      socket_.async_wait(tcp::socket::wait_read, [self = this->shared_from_this()](error_code ec) {
        if (ec || self->closed_) return self->close_now();
        self->stream_.emplace(std::move(self->socket_), *self->server_.tls);
        self->stream_->async_handshake(asio::ssl::stream_base::server, [self](error_code ec) {
          self->disarm();
          if (ec) return self->close_now();
          std::tie(self->client_cn_, self->client_orgs_) = verified_client_identity(self->stream_->native_handle());
          self->await_request(true);
        });
      });
    } else {
      await_request(true);
    }
  }

  void close() override {
    asio::post(executor(), [self = this->shared_from_this()] { self->close_now(); });
  }
  void flush_stream() override {
    asio::post(executor(), [self = this->shared_from_this()] { self->flush(); });
  }
  void start_ticker() override {
    asio::post(executor(), [self = this->shared_from_this()] { self->arm_tick(); });
  }

 private:
  tcp::socket& lowest() {
    if (!stream_) return socket_;
    if constexpr (kTls)
      return stream_->next_layer();
    else
      return *stream_;
  }
  auto executor() { return socket_.get_executor(); }  // the connection's strand (kept by a moved-from socket)
  const HttpServerOptions& options() const { return server_.options; }

  // ---- deadlines ------------------------------------------------------------------------------
  void arm(std::chrono::milliseconds timeout, const char* phase) {
    timer_.expires_after(timeout);
    timer_.async_wait([self = this->shared_from_this(), generation = ++timer_generation_, phase](error_code ec) {
      if (ec || generation != self->timer_generation_ || self->closed_) return;
      spdlog::debug("event=http_timeout server={} phase={} remote={}", self->options().name, phase, self->remote_);
      self->close_now();
    });
  }
  void disarm() {
    ++timer_generation_;
    timer_.cancel();
  }

  // ---- reading a request ----------------------------------------------------------------------
  void await_request(bool first) {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(options().max_header_bytes, UINT32_MAX)));
    // No limit while the head is read (Beast would fail a large Content-Length as it reads the
    // head): on_head checks it against the head, and sets the limit for a chunked body.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (first || buffer_.size() > 0) return read_head();
    // Between keep-alive requests: the idle timeout until the next request's first byte.
    arm(options().idle_timeout, "idle");
    stream_->async_read_some(buffer_.prepare(4096), [self = this->shared_from_this()](error_code ec, std::size_t n) {
      if (ec) return self->close_now();
      self->buffer_.commit(n);
      self->read_head();
    });
  }

  void read_head() {
    arm(options().header_timeout, "header");
    bhttp::async_read_header(*stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](error_code ec, std::size_t) { self->on_head(ec); });
  }

  void on_head(error_code ec) {
    disarm();
    if (closed_) return;
    if (ec == bhttp::error::body_limit)
      return send_error(413, fmt::format("request body over the limit of {} bytes", options().max_body_bytes));
    if (ec == bhttp::error::header_limit)
      return send_error(431, fmt::format("request header fields larger than {} bytes", options().max_header_bytes));
    if (is_parse_error(ec)) return send_error(400, fmt::format("malformed HTTP request: {}", ec.message()));
    if (ec) return close_now();
    const auto& message = parser_->get();
    head_ = head_of(*parser_);
    head_.remote_address = remote_;
    head_.local_port = local_port_;
    head_.client_certificate_cn = client_cn_;
    head_.client_certificate_organizations = client_orgs_;
    keep_alive_ = message.keep_alive();
    const bool body_coming = head_.chunked || head_.content_length.value_or(0) > 0;

    if (head_.content_length && *head_.content_length > options().max_body_bytes)
      return send_error(413,
                        fmt::format("request body of {} bytes is over the limit of {}", *head_.content_length, options().max_body_bytes));
    if (options().check_head) {
      std::optional<Response> early;
      try {
        early = options().check_head(head_);
      } catch (const std::exception& e) {
        spdlog::error("event=http_check_head_failed server={} target={} error=\"{}\"", options().name, head_.target, e.what());
        early = server_.error_response(500, e.what());
      }
      if (early) {
        if (body_coming) early->close = true;  // the body stays unread: the connection cannot go on
        return send(std::move(*early));
      }
    }
    if (parser_->is_done()) return dispatch();
    parser_->body_limit(options().max_body_bytes);
    if (const auto expect = head_.header("expect"); beast::iequals(beast::string_view(expect.data(), expect.size()), "100-continue")) {
      arm(options().write_timeout, "write");
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return asio::async_write(*stream_, asio::buffer(kContinue), [self = this->shared_from_this()](error_code ec, std::size_t) {
        self->disarm();
        if (ec) return self->close_now();
        self->read_body();
      });
    }
    read_body();
  }

  void read_body() {
    arm(options().body_timeout, "body");
    bhttp::async_read(*stream_, buffer_, *parser_, [self = this->shared_from_this()](error_code ec, std::size_t) {
      self->disarm();
      if (self->closed_) return;
      if (ec == bhttp::error::body_limit)
        return self->send_error(413, fmt::format("request body over the limit of {} bytes", self->options().max_body_bytes));
      if (is_parse_error(ec)) return self->send_error(400, fmt::format("malformed HTTP request body: {}", ec.message()));
      if (ec) return self->close_now();
      self->dispatch();
    });
  }

  // ---- the handler ----------------------------------------------------------------------------
  void dispatch() {
    auto request = std::make_shared<Request>();
    static_cast<RequestHead&>(*request) = head_;
    request->body = std::move(parser_->get().body());
    parser_.reset();
    server_.run_handler([self = this->shared_from_this(), request] {
      Response response;
      try {
        response = self->server_.handler(*request);
      } catch (const std::exception& e) {
        // A bug must cost one request, not the server.
        spdlog::error("event=http_handler_failed server={} method={} target={} error=\"{}\"", self->options().name, request->method,
                      request->target, e.what());
        response = self->server_.error_response(500, e.what());
      }
      asio::post(self->executor(), [self, response = std::move(response)]() mutable { self->send(std::move(response)); });
    });
  }

  // ---- writing a response ---------------------------------------------------------------------
  void send_error(int status, const std::string& message) {
    Response r = server_.error_response(status, message);
    r.close = true;
    send(std::move(r));
  }

  void send(Response r) {
    if (closed_) return;
    if (r.stream) return begin_stream(std::move(r));
    if (r.tunnel) return begin_tunnel(std::move(r));
    const bool keep = options().keep_alive && keep_alive_ && !r.close && !server_.stopping;
    auto& res = response_.emplace();
    res.result(static_cast<unsigned>(r.status));
    res.version(static_cast<unsigned>(head_.version));
    if (!r.content_type.empty()) res.set(bhttp::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) res.insert(name, value);
    res.keep_alive(keep);
    if (head_.method == "HEAD") {
      res.content_length(r.body.size());
    } else {
      res.body() = std::move(r.body);
      res.prepare_payload();
    }
    arm(options().write_timeout, "write");
    bhttp::async_write(*stream_, res, [self = this->shared_from_this(), keep](error_code ec, std::size_t) {
      self->disarm();
      self->response_.reset();
      if (ec || self->closed_) return self->close_now();
      if (keep) return self->await_request(false);
      self->close_gracefully();
    });
  }

  // Stops sending, then reads and drops what the client still sends until it closes (or the
  // linger timeout): closing with unread data would reset the connection, and a client still
  // writing its body would lose the answer.
  void close_gracefully() {
    arm(options().linger_timeout, "linger");
    if constexpr (kTls) {
      stream_->async_shutdown([self = this->shared_from_this()](error_code) { self->close_now(); });
    } else {
      error_code ec;
      stream_->shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return close_now();
      drain();
    }
  }
  void drain() {
    lowest().async_read_some(asio::buffer(scratch_), [self = this->shared_from_this()](error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->closed_ || self->drained_ > kLingerMaxBytes) return self->close_now();
      self->drain();
    });
  }

  // ---- a tunnel to an upstream ----------------------------------------------------------------
  void begin_tunnel(Response r) {
    disarm();  // an exec session may sit idle for hours: no timeouts from here on
    std::string leftover(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.consume(buffer_.size());
    auto self = this->shared_from_this();
    std::make_shared<Splice<Stream>>(
        executor(), *stream_, self, std::move(*r.tunnel), std::move(leftover), [self] { self->close_now(); },
        [self](Response failed) {
          failed.close = true;
          self->send(std::move(failed));
        })
        ->start();
  }

  // ---- streaming ------------------------------------------------------------------------------
  void begin_stream(Response r) {
    std::string head = fmt::format("HTTP/1.{} {} {}\r\n", head_.version == 10 ? 0 : 1, r.status,
                                   std::string_view(bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(r.status)))));
    if (!r.content_type.empty()) head += fmt::format("Content-Type: {}\r\n", r.content_type);
    for (const auto& [name, value] : r.headers) head += fmt::format("{}: {}\r\n", name, value);
    head += "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    state_ = std::make_shared<ResponseStream::State>();
    state_->max_pending = options().max_stream_buffer_bytes;
    state_->connection = std::weak_ptr<ConnectionBase>(this->shared_from_this());
    state_->pending = std::move(head);
    flush();
    watch_peer();
    server_.run_handler([open = std::move(r.stream), state = state_, name = options().name] {
      auto stream = std::make_shared<ResponseStream>(state);
      try {
        open(stream);
      } catch (const std::exception& e) {
        spdlog::error("event=http_stream_open_failed server={} error=\"{}\"", name, e.what());
        stream->finish();
      }
    });
  }

  void flush() {
    if (closed_ || writing_ || !state_) return;
    {
      std::lock_guard lock(state_->mu);
      out_.swap(state_->pending);
      state_->pending.clear();
      state_->flush_posted = false;
      if (state_->finish_requested && !last_chunk_queued_) {
        out_ += "0\r\n\r\n";
        last_chunk_queued_ = true;
      }
    }
    if (out_.empty()) return;
    writing_ = true;
    last_write_ = std::chrono::steady_clock::now();
    arm(options().write_timeout, "stream_write");
    asio::async_write(*stream_, asio::buffer(out_), [self = this->shared_from_this()](error_code ec, std::size_t) {
      self->writing_ = false;
      self->disarm();
      self->out_.clear();
      self->last_write_ = std::chrono::steady_clock::now();
      if (ec || self->closed_) return self->close_now();
      if (self->last_chunk_queued_) {
        self->end_stream();
        return self->close_gracefully();
      }
      self->flush();
    });
  }

  // A streaming client sends nothing after its request: its FIN or reset means it has gone.
  void watch_peer() {
    stream_->async_read_some(asio::buffer(scratch_), [self = this->shared_from_this()](error_code ec, std::size_t) {
      if (self->closed_) return;
      if (!ec) return self->watch_peer();
      if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return self->after_peer_half_close();
      self->close_now();
    });
  }
  void after_peer_half_close() {
    grace_timer_.expires_after(kPeerGoneGrace);
    grace_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (ec || self->closed_) return;
      if (self->writing_ || std::chrono::steady_clock::now() - self->last_write_ < kPeerGoneGrace) return self->after_peer_half_close();
      self->close_now();
    });
  }

  void arm_tick() {
    if (closed_ || !state_) return;
    std::chrono::milliseconds interval;
    {
      std::lock_guard lock(state_->mu);
      if (!state_->tick) return;
      interval = state_->tick_interval;
    }
    tick_timer_.expires_after(interval);
    tick_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (ec || self->closed_) return;
      std::function<void()> tick;
      {
        std::lock_guard lock(self->state_->mu);
        tick = self->state_->tick;
      }
      if (!tick) return;
      try {
        tick();
      } catch (const std::exception& e) {
        spdlog::error("event=http_stream_tick_failed server={} error=\"{}\"", self->options().name, e.what());
      }
      self->arm_tick();
    });
  }

  void end_stream() {
    if (!state_) return;
    std::function<void()> on_end, tick;
    {
      std::lock_guard lock(state_->mu);
      if (state_->ended) return;
      state_->ended = true;
      state_->pending.clear();
      // Moved out, to be destroyed outside the lock: they may hold the last ResponseStream,
      // whose destructor takes the lock.
      tick = std::exchange(state_->tick, nullptr);
      on_end = std::exchange(state_->on_end, nullptr);
    }
    if (on_end) server_.run_handler([on_end = std::move(on_end), tick = std::move(tick)] { on_end(); });
  }

  // ---- the end --------------------------------------------------------------------------------
  void close_now() {
    if (closed_) return;
    closed_ = true;
    error_code ec;
    lowest().close(ec);
    timer_.cancel();
    grace_timer_.cancel();
    tick_timer_.cancel();
    end_stream();
    server_.remove_connection(this);
  }

  HttpServer::Impl& server_;
  tcp::socket socket_;  // until the stream takes it
  std::optional<Stream> stream_;
  asio::steady_timer timer_, grace_timer_, tick_timer_;
  std::uint64_t timer_generation_ = 0;
  std::uint16_t local_port_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  RequestHead head_;
  bool keep_alive_ = false;
  std::optional<bhttp::response<bhttp::string_body>> response_;
  std::array<char, 4096> scratch_;
  std::size_t drained_ = 0;
  bool closed_ = false;
  std::string client_cn_;                 // of a CA-verified client certificate
  std::vector<std::string> client_orgs_;  // its O values
  // Streaming.
  std::shared_ptr<ResponseStream::State> state_;
  std::string out_;
  bool writing_ = false, last_chunk_queued_ = false;
  std::chrono::steady_clock::time_point last_write_{};
};

}  // namespace

void start_connection(HttpServer::Impl& server, tcp::socket socket, std::uint16_t local_port) {
  if (server.tls)
    std::make_shared<Connection<TlsStream>>(server, std::move(socket), local_port)->start();
  else
    std::make_shared<Connection<tcp::socket>>(server, std::move(socket), local_port)->start();
}

}  // namespace switchyard::http
