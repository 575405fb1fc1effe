// A small plain-HTTP server for the agent's /healthz, /livez, /readyz and /metrics: GET by exact
// path, one thread, Boost.Beast, a short deadline per connection so a stuck client cannot hold it.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace switchyard::node {

struct StatusResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};
using StatusHandler = std::function<StatusResponse()>;

class StatusHttpServer {
 public:
  // `listen`: "ADDR:PORT" (port 0 picks one). Handlers are called on the server's thread.
  static std::expected<std::unique_ptr<StatusHttpServer>, std::string> start(const std::string& listen,
                                                                             std::map<std::string, StatusHandler> handlers);
  ~StatusHttpServer();
  std::uint16_t port() const;
  void stop();

 private:
  struct Impl;
  explicit StatusHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchyard::node
