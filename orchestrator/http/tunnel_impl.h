// Inside the HTTP server: a connection handed to an upstream (Response::tunnel). Connects
// (plain or TLS, with a deadline), sends the rewritten request head and whatever the client
// had already sent, then copies bytes both ways on the connection's strand until one side
// closes. Not part of the module's interface.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <openssl/ssl.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "orchestrator/http/server_impl.h"

namespace switchyard::http {

template <class ClientStream>
class Splice : public std::enable_shared_from_this<Splice<ClientStream>> {
  using error_code = boost::system::error_code;

 public:
  // `client` belongs to the connection, which `keep` keeps alive; `done` closes it; `failed`
  // answers the client when the upstream cannot be reached. All run on `executor` (the strand).
  template <class Executor>
  Splice(Executor executor, ClientStream& client, std::shared_ptr<void> keep, Tunnel tunnel, std::string leftover,
         std::function<void()> done, std::function<void(Response)> failed)
      : client_(client),
        keep_(std::move(keep)),
        tunnel_(std::move(tunnel)),
        socket_(executor),
        timer_(executor),
        done_(std::move(done)),
        failed_(std::move(failed)) {
    first_ = std::move(tunnel_.request) + leftover;
  }

  void start() {
    error_code ec;
    const auto address = asio::ip::make_address(tunnel_.address, ec);
    if (ec) return unreachable("bad upstream address " + tunnel_.address);
    if (tunnel_.tls) {
      tls_context_ = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
      if (!tunnel_.ca_file.empty()) {
        tls_context_->load_verify_file(tunnel_.ca_file, ec);
        if (ec) return unreachable("cannot load CA " + tunnel_.ca_file + ": " + ec.message());
        tls_context_->set_verify_mode(asio::ssl::verify_peer);
      } else {
        tls_context_->set_verify_mode(asio::ssl::verify_none);
      }
      if (!tunnel_.cert_file.empty()) {
        tls_context_->use_certificate_chain_file(tunnel_.cert_file, ec);
        if (!ec) tls_context_->use_private_key_file(tunnel_.key_file, asio::ssl::context::pem, ec);
        if (ec) return unreachable("cannot load client certificate " + tunnel_.cert_file + ": " + ec.message());
      }
    }
    timer_.expires_after(tunnel_.connect_timeout);
    timer_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (ec || self->connected_) return;
      self->timed_out_ = true;
      error_code ignored;
      self->socket_.close(ignored);
    });
    socket_.async_connect(tcp::endpoint(address, tunnel_.port), [self = this->shared_from_this()](error_code ec) {
      if (ec) return self->unreachable(self->timed_out_ ? "timed out" : ec.message());
      error_code ignored;
      self->socket_.set_option(tcp::no_delay(true), ignored);
      if (!self->tls_context_) return self->connected();
      self->tls_.emplace(std::move(self->socket_), *self->tls_context_);
      if (!self->tunnel_.ca_file.empty()) self->tls_->set_verify_callback(asio::ssl::host_name_verification(self->tunnel_.address));
      self->tls_->async_handshake(asio::ssl::stream_base::client, [self](error_code ec) {
        if (ec) return self->unreachable("TLS handshake: " + (self->timed_out_ ? std::string("timed out") : ec.message()));
        self->connected();
      });
    });
  }

 private:
  tcp::socket& lowest() { return tls_ ? tls_->next_layer() : socket_; }

  void unreachable(const std::string& why) {
    connected_ = true;  // the timer has nothing left to do
    timer_.cancel();
    error_code ignored;
    lowest().close(ignored);
    const std::string message = "error dialing backend " + tunnel_.address + ":" + std::to_string(tunnel_.port) + ": " + why;
    if (tunnel_.unreachable) return failed_(tunnel_.unreachable(message));
    failed_(Response{502, "text/plain; charset=utf-8", message});
  }

  template <class Buffers, class Handler>
  void write_upstream(const Buffers& buffers, Handler&& handler) {
    if (tls_)
      asio::async_write(*tls_, buffers, std::forward<Handler>(handler));
    else
      asio::async_write(socket_, buffers, std::forward<Handler>(handler));
  }
  template <class Buffers, class Handler>
  void read_upstream(const Buffers& buffers, Handler&& handler) {
    if (tls_)
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    else
      socket_.async_read_some(buffers, std::forward<Handler>(handler));
  }

  void connected() {
    connected_ = true;
    timer_.cancel();
    write_upstream(asio::buffer(first_), [self = this->shared_from_this()](error_code ec, std::size_t) {
      self->first_.clear();
      if (ec) return self->finish();
      self->client_to_upstream();
      self->upstream_to_client();
    });
  }

  void client_to_upstream() {
    client_.async_read_some(asio::buffer(up_buf_), [self = this->shared_from_this()](error_code ec, std::size_t n) {
      if (self->finished_) return;
      if (ec) {
        // The client half-closed: tell a plain upstream, and keep the answer coming either way.
        if (ec == asio::error::eof) {
          error_code ignored;
          if (!self->tls_) self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
          return;
        }
        return self->finish();
      }
      self->write_upstream(asio::buffer(self->up_buf_.data(), n), [self](error_code ec, std::size_t) {
        if (ec) return self->finish();
        self->client_to_upstream();
      });
    });
  }

  void upstream_to_client() {
    read_upstream(asio::buffer(down_buf_), [self = this->shared_from_this()](error_code ec, std::size_t n) {
      if (self->finished_) return;
      if (ec) return self->finish();
      asio::async_write(self->client_, asio::buffer(self->down_buf_.data(), n), [self](error_code ec, std::size_t) {
        if (ec) return self->finish();
        self->upstream_to_client();
      });
    });
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    error_code ignored;
    lowest().close(ignored);
    done_();
  }

  ClientStream& client_;
  std::shared_ptr<void> keep_;
  Tunnel tunnel_;
  std::shared_ptr<asio::ssl::context> tls_context_;
  tcp::socket socket_;  // until the TLS stream takes it
  std::optional<asio::ssl::stream<tcp::socket>> tls_;
  asio::steady_timer timer_;
  std::function<void()> done_;
  std::function<void(Response)> failed_;
  std::string first_;
  std::array<char, 16384> up_buf_, down_buf_;
  bool connected_ = false, timed_out_ = false, finished_ = false;
};

}  // namespace switchyard::http
