// A small plain-HTTP server for /metrics, /health and /ready: GET only, one thread, answers
// from a handler. For the `dns` command (and the agent's status endpoints).
#pragma once

#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard::cmd {

struct StatusResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};
// nullopt: 404.
using StatusHandler = std::function<std::optional<StatusResponse>(std::string_view path)>;

class StatusHttpServer {
 public:
  // `listen` is ADDR:PORT or [V6]:PORT; port 0 picks one (see port()).
  static std::expected<std::unique_ptr<StatusHttpServer>, std::string> start(const std::string& listen, StatusHandler handler);
  ~StatusHttpServer();
  StatusHttpServer(const StatusHttpServer&) = delete;
  StatusHttpServer& operator=(const StatusHttpServer&) = delete;
  int port() const { return port_; }

  struct Impl;  // internal

 private:
  explicit StatusHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

// The Prometheus text format's content type.
inline constexpr const char* kPrometheusTextType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace switchyard::cmd
