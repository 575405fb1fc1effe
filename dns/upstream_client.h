// Sends queries to upstream servers through c-ares, driven by an Asio event loop as Envoy does
// it: c-ares tells us which sockets it wants watched (socket-state callback) and we wait on them
// with stream_descriptor::async_wait; a timer fires at ares_timeout() for retries and give-ups.
// One per worker thread, used only from that thread's io_context: no locks.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <utility>  // Boost 1.74 asio/awaitable.hpp uses std::exchange without it

#include <ares.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include "orchestrator/base/error.h"

namespace switchyard::dns {

// "ADDR", "ADDR:PORT" or "[V6]:PORT" (port 53 when left out) -> "ADDR:PORT" / "[V6]:PORT".
Result<std::string> parse_upstream(const std::string& text);
// The nameserver lines of a resolv.conf file, as upstream addresses.
Result<std::vector<std::string>> read_resolv_conf_nameservers(const std::string& path);

struct UpstreamClientOptions {
  std::vector<std::string> servers;  // as parse_upstream returns them
  std::chrono::milliseconds timeout{1000};  // per try
  int tries = 2;
};

class UpstreamClient {
 public:
  // `answer` is empty when no usable answer came (timeout, refused connection, malformed);
  // `failure` then names the cause.
  using Callback = std::function<void(std::span<const std::uint8_t> answer, const char* failure)>;

  static Result<std::unique_ptr<UpstreamClient>> create(boost::asio::io_context& io, UpstreamClientOptions options);
  ~UpstreamClient();
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  // Sends `query` (a whole DNS message; c-ares sets its id) to the servers in order until one
  // answers. The callback runs later on the io_context's thread, never from inside send().
  void send(std::span<const std::uint8_t> query, Callback callback);

 private:
  struct Watch;
  struct Pending;
  UpstreamClient(boost::asio::io_context& io);
  static void on_socket_state(void* self, ares_socket_t fd, int readable, int writable);
  static void on_answer(void* arg, int status, int timeouts, unsigned char* answer, int length);
  void arm(const std::shared_ptr<Watch>& w, bool write);
  void rearm_timer();

  boost::asio::io_context& io_;
  ares_channel channel_ = nullptr;
  boost::asio::steady_timer timer_;
  std::unordered_map<ares_socket_t, std::shared_ptr<Watch>> watches_;
  bool destroying_ = false;
  bool in_send_ = false;
};

}  // namespace switchyard::dns
