#include "dataplane/health_check_server.h"

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "orchestrator/http/server.h"

namespace switchyard::dataplane {

std::string health_check_body(const ServiceHealth& health, bool proxy_healthy) {
  // nlohmann::ordered_json keeps kube-proxy's key order; it also escapes the names.
  nlohmann::ordered_json body;
  body["service"]["namespace"] = health.service.namespace_;
  body["service"]["name"] = health.service.name;
  body["localEndpoints"] = health.local_endpoints;
  body["serviceProxyHealthy"] = proxy_healthy;
  return body.dump();
}

std::vector<std::pair<std::int32_t, ServiceHealth>> HealthCheckServer::desired_ports(const endpoints::Snapshot& snapshot) {
  std::map<std::int32_t, ServiceHealth> by_port;
  for (const auto& [name, port] : snapshot.service_ports()) {
    if (port->health_check_node_port == 0) continue;
    // Every port of a service shares its health-check node port; a service's ports can only
    // differ in endpoints when their slices do, so the best count wins.
    auto [it, added] =
        by_port.try_emplace(port->health_check_node_port, ServiceHealth{{name.namespace_, name.name}, port->local_ready_endpoints});
    if (!added) it->second.local_endpoints = std::max(it->second.local_endpoints, port->local_ready_endpoints);
  }
  return {by_port.begin(), by_port.end()};
}

struct HealthCheckServer::Impl {
  HealthCheckServerOptions options;
  std::unique_ptr<http::HttpServer> server;  // one I/O thread for every health-check node port

  mutable std::mutex mutex;  // guards health and proxy_healthy: read by the server thread
  std::map<std::int32_t, ServiceHealth> health;
  std::function<bool()> proxy_healthy = [] { return true; };

  // The ports listening now (touched by update() only).
  std::vector<std::int32_t> listeners;

  // One request, one answer, then the connection is closed (load balancers probe that way).
  http::Response answer(const http::Request& r) const {
    std::lock_guard lock(mutex);
    auto it = health.find(r.local_port);
    const ServiceHealth h = it == health.end() ? ServiceHealth{} : it->second;
    const bool healthy = proxy_healthy();
    http::Response out{h.local_endpoints > 0 && healthy ? 200 : 503, "application/json", health_check_body(h, healthy)};
    out.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return out;
  }

  // Listens on `address` (every address: dual-stack "::"), in the calling thread's namespace.
  Result<void> open(const std::string& address, std::int32_t port) {
    const bool v6 = address.find(':') != std::string::npos;
    const bool any = address == "::";
    auto opened = server->listen(v6 ? fmt::format("[{}]:{}", address, port) : fmt::format("{}:{}", address, port), any);
    if (!opened) return fail(opened.error());
    return {};
  }
};

HealthCheckServer::HealthCheckServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<HealthCheckServer>> HealthCheckServer::create(HealthCheckServerOptions options) {
  for (const auto& a : options.node_addresses) {
    auto valid = http::parse_listen_address(a.find(':') != std::string::npos ? "[" + a + "]:0" : a + ":0");
    if (!valid) return std::unexpected(Error{ErrorCode::Internal, "health-check server: node address '" + a + "': not an IP address"});
  }
  http::HttpServerOptions o;
  o.name = "health-check";
  o.io_threads = 1;
  o.handler_threads = 0;  // answers come from memory
  o.header_timeout = o.body_timeout = o.write_timeout = std::chrono::seconds(10);
  o.max_connections = 1024;
  o.max_header_bytes = 64 << 10;
  o.max_body_bytes = 64 << 10;
  o.keep_alive = false;
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  Impl* raw = impl.get();
  auto server = http::HttpServer::start(std::move(o), [raw](http::Request& r) { return raw->answer(r); });
  if (!server) return std::unexpected(Error{ErrorCode::Internal, "health-check server: " + server.error().message});
  impl->server = std::move(*server);
  return std::unique_ptr<HealthCheckServer>(new HealthCheckServer(std::move(impl)));
}

HealthCheckServer::~HealthCheckServer() { impl_->server->stop(); }

Result<void> HealthCheckServer::update(const endpoints::Snapshot& snapshot) {
  auto& s = *impl_;
  const auto desired = desired_ports(snapshot);
  {
    std::lock_guard lock(s.mutex);
    s.health = {desired.begin(), desired.end()};
  }
  std::erase_if(s.listeners, [&](std::int32_t port) {
    if (std::ranges::any_of(desired, [&](const auto& d) { return d.first == port; })) return false;
    s.server->close_listener(static_cast<std::uint16_t>(port));
    return true;
  });
  std::string errors;
  const std::vector<std::string> addresses = s.options.node_addresses.empty() ? std::vector<std::string>{"::"} : s.options.node_addresses;
  for (const auto& [port, health] : desired) {
    if (std::ranges::find(s.listeners, port) != s.listeners.end()) continue;
    std::string failed;
    for (const auto& address : addresses) {
      auto opened = s.open(address, port);
      // A host without IPv6 still gets an IPv4 listener for "every address".
      if (!opened && address == "::" && s.options.node_addresses.empty()) opened = s.open("0.0.0.0", port);
      if (!opened) {
        failed = opened.error().message;
        break;
      }
    }
    if (!failed.empty()) {
      errors += (errors.empty() ? "" : "; ") + ("health-check node port " + std::to_string(port) + " of service " +
                                                health.service.namespace_ + "/" + health.service.name + ": " + failed);
      s.server->close_listener(static_cast<std::uint16_t>(port));  // those of its addresses that did open
      continue;
    }
    s.listeners.push_back(port);
  }
  std::ranges::sort(s.listeners);
  if (!errors.empty()) return std::unexpected(Error{ErrorCode::Internal, errors});
  return {};
}

void HealthCheckServer::set_proxy_health(std::function<bool()> healthy) {
  std::lock_guard lock(impl_->mutex);
  impl_->proxy_healthy = std::move(healthy);
}

std::vector<std::int32_t> HealthCheckServer::listening_ports() const { return impl_->listeners; }

}  // namespace switchyard::dataplane
