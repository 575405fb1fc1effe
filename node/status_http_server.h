// A small plain-HTTP server for the agent's /healthz, /livez, /readyz and /metrics (and `switchyard
// dns`'s): GET by exact path, on the project's HTTP server (orchestrator/http) with one I/O thread,
// short timeouts and a small connection cap, so a stuck or hostile client cannot hold it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "orchestrator/base/error.h"

namespace switchyard::http {
class HttpServer;
}

namespace switchyard::node {

struct StatusResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};
using StatusHandler = std::function<StatusResponse()>;

class StatusHttpServer {
 public:
  // `listen`: "ADDR:PORT" (port 0 picks one). Handlers are called on the server's one I/O
  // thread: they must answer from memory.
  static Result<std::unique_ptr<StatusHttpServer>> start(const std::string& listen, std::map<std::string, StatusHandler> handlers);
  ~StatusHttpServer();
  std::uint16_t port() const;
  void stop();

 private:
  explicit StatusHttpServer(std::unique_ptr<http::HttpServer> server);
  std::unique_ptr<http::HttpServer> server_;
};

}  // namespace switchyard::node
