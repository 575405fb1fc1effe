// Inside the HTTP server: the state every connection shares (options, handler, threads, the
// TLS context, the connection count) and the interface a connection offers to the server and to
// its response stream. Not part of the module's interface.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>  // Boost 1.74's Asio uses std::exchange without including it
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include "orchestrator/http/server.h"

namespace switchyard::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// What the server and a ResponseStream may ask of a connection, from any thread.
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  virtual void close() = 0;         // ends it now (server stop, stream overflow)
  virtual void flush_stream() = 0;  // the stream has data or a finish to send
  virtual void start_ticker() = 0;  // the stream has an every() callback
};

struct ResponseStream::State {
  std::mutex mu;
  std::string pending;  // chunk-framed bytes not yet handed to the connection
  bool flush_posted = false;
  bool finish_requested = false;
  bool ended = false;
  std::size_t max_pending = 0;
  std::function<void()> on_end;
  std::function<void()> tick;
  std::chrono::milliseconds tick_interval{0};
  std::weak_ptr<ConnectionBase> connection;
};

struct Listener {
  Listener(asio::io_context& io) : acceptor(asio::make_strand(io)), backoff(acceptor.get_executor()) {}
  tcp::acceptor acceptor;
  asio::steady_timer backoff;
  std::chrono::milliseconds delay{0};
  std::uint16_t port = 0;
};

struct HttpServer::Impl {
  HttpServerOptions options;
  Handler handler;

  // Declared before the io_context: connections reach these while the context destroys them.
  std::mutex connections_mu;
  std::condition_variable connections_cv;
  std::map<ConnectionBase*, std::weak_ptr<ConnectionBase>> connections;
  std::atomic<std::size_t> open_connections{0};
  std::atomic<std::uint64_t> rejected_connections{0};
  std::atomic<std::int64_t> last_reject_log_ns{0};
  std::atomic<bool> stopping{false};

  std::unique_ptr<asio::ssl::context> tls;
  std::optional<asio::io_context> io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::unique_ptr<asio::thread_pool> handler_pool;
  std::vector<std::thread> io_threads;

  std::mutex listeners_mu;
  std::vector<std::shared_ptr<Listener>> listeners;

  // Runs `fn` where handlers run: the handler pool, or inline on this I/O thread.
  void run_handler(std::function<void()> fn);
  // A connection registers when it starts and unregisters when its socket closes.
  void add_connection(const std::shared_ptr<ConnectionBase>& c);
  void remove_connection(ConnectionBase* c);
  Response error_response(int status, const std::string& message) const;
  void accept(std::shared_ptr<Listener> listener);
  void on_accepted(tcp::socket socket, std::uint16_t port);
};

// connection.cpp: starts serving an accepted socket (plain or TLS after its handshake).
void start_connection(HttpServer::Impl& server, tcp::socket socket, std::uint16_t local_port);

}  // namespace switchyard::http
