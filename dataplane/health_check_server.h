// The health-check node ports of externalTrafficPolicy Local services, served as kube-proxy serves
// them: one HTTP listener per healthCheckNodePort; any request gets kube-proxy's JSON body
// (service namespace and name, local endpoint count, proxy health) with 200 when this node has a
// ready local endpoint and 503 when it has none, so that a load balancer only sends traffic to
// nodes that can keep it local. Backend-neutral: both dataplanes' agents call update() after
// each sync.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/backend.h"
#include "endpoints/node/snapshot.h"

namespace switchyard::dataplane {

struct HealthCheckServerOptions {
  // Addresses to listen on (the node addresses that nodePortAddresses selects). Empty: every
  // address, through one dual-stack socket on "::" (kube-proxy's default).
  std::vector<std::string> node_addresses;
};

// What one health-check node port answers.
struct ServiceHealth {
  endpoints::ServiceKey service;
  int local_endpoints = 0;
  bool operator==(const ServiceHealth&) const = default;
};

class HealthCheckServer {
 public:
  // Starts the server thread; no port is open until update().
  static Result<std::unique_ptr<HealthCheckServer>> create(HealthCheckServerOptions options);
  ~HealthCheckServer();
  HealthCheckServer(const HealthCheckServer&) = delete;
  HealthCheckServer& operator=(const HealthCheckServer&) = delete;

  // Opens a listener for each new health-check node port in `snapshot`, closes those of services
  // that are gone or no longer Local, and updates the counts. Sockets are opened in the calling
  // thread's network namespace. A port that cannot be opened (in use) is reported in the error
  // and tried again at the next update; every other port is in force when this returns.
  Result<void> update(const endpoints::Snapshot& snapshot);
  // serviceProxyHealthy in every answer, asked at each request; false also turns every answer
  // into 503, as kube-proxy does while its own syncs are stale (a change has waited longer than
  // the health timeout), so load balancers stop sending to a node whose rules are out of date.
  // The agent passes its ProxyHealth::healthy. Default: always healthy.
  void set_proxy_health(std::function<bool()> healthy);
  // The ports listening now, sorted. Call it from the thread that calls update().
  std::vector<std::int32_t> listening_ports() const;

  // What each health-check node port of `snapshot` should answer (pure: for tests and `status`).
  static std::vector<std::pair<std::int32_t, ServiceHealth>> desired_ports(const endpoints::Snapshot& snapshot);

 private:
  struct Impl;
  explicit HealthCheckServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// kube-proxy's answer body: {"service":{"namespace":…,"name":…},"localEndpoints":N,"serviceProxyHealthy":B}.
std::string health_check_body(const ServiceHealth& health, bool proxy_healthy);

}  // namespace switchyard::dataplane
