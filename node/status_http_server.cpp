#include "node/status_http_server.h"

#include <fmt/format.h>

#include "node/agent_config.h"
#include "orchestrator/http/server.h"

namespace switchyard::node {

StatusHttpServer::StatusHttpServer(std::unique_ptr<http::HttpServer> server) : server_(std::move(server)) {}

Result<std::unique_ptr<StatusHttpServer>> StatusHttpServer::start(const std::string& listen,
                                                                  std::map<std::string, StatusHandler> handlers) {
  auto hp = split_host_port(listen, 0);
  if (!hp) return fail(hp.error());
  http::HttpServerOptions o;
  const bool v6 = hp->first.find(':') != std::string::npos;
  o.listen = v6 ? fmt::format("[{}]:{}", hp->first, hp->second) : fmt::format("{}:{}", hp->first, hp->second);
  o.name = "status";
  o.io_threads = 1;
  o.handler_threads = 0;  // the handlers answer from memory
  o.header_timeout = o.body_timeout = o.write_timeout = o.idle_timeout = std::chrono::seconds(10);
  o.max_connections = 256;
  o.max_header_bytes = 64 << 10;
  o.max_body_bytes = 64 << 10;
  o.keep_alive = false;  // probes and scrapes ask once
  auto server = http::HttpServer::start(std::move(o), [handlers = std::move(handlers)](http::Request& r) {
    StatusResponse s{404, "text/plain; charset=utf-8", "404 page not found\n"};
    if (r.method != "GET" && r.method != "HEAD")
      s = {405, "text/plain; charset=utf-8", "method not allowed\n"};
    else if (auto it = handlers.find(std::string(r.path())); it != handlers.end())
      s = it->second();
    http::Response out{s.status, std::move(s.content_type), std::move(s.body)};
    out.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return out;
  });
  if (!server) return fail(server.error());  // "listen ADDR:PORT: Address already in use"
  return std::unique_ptr<StatusHttpServer>(new StatusHttpServer(std::move(*server)));
}

std::uint16_t StatusHttpServer::port() const { return server_->port(); }
void StatusHttpServer::stop() { server_->stop(); }
StatusHttpServer::~StatusHttpServer() { stop(); }

}  // namespace switchyard::node
