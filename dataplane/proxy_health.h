// The agent's own health as kube-proxy reports it on --healthz-bind-address: healthy while no
// change has waited longer than the health timeout (2 × syncPeriod) for a successful sync, and
// on /healthz only while this node is eligible (not being deleted, not tainted
// ToBeDeletedByClusterAutoscaler), so load balancers drain a node before it goes. The body is
// kube-proxy's JSON: {"lastUpdated": …, "currentTime": …, "nodeEligible": …}.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace switchyard::dataplane {

struct HealthResponse {
  int status = 200;
  std::string body;  // application/json
};

class ProxyHealth {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  explicit ProxyHealth(
      std::chrono::nanoseconds health_timeout, Clock now = [] { return std::chrono::system_clock::now(); });

  // A change arrived that the dataplane has not programmed yet.
  void queued_update();
  // The dataplane now reflects everything queued so far.
  void updated();
  void set_node_eligible(bool eligible);

  HealthResponse healthz();  // proxy health and node eligibility
  HealthResponse livez();    // proxy health only
  // Proxy health without answering a probe (not counted): what the health-check node ports
  // report as serviceProxyHealthy.
  bool healthy() const;
  // True once a sync succeeded: the agent is ready to carry traffic (/readyz).
  bool synced_once() const;
  std::string prometheus_text() const;  // kubeproxy_healthz_total / kubeproxy_livez_total

 private:
  bool healthy_locked(std::chrono::system_clock::time_point now) const;

  const std::chrono::nanoseconds timeout_;
  const Clock now_;
  mutable std::mutex mu_;
  std::optional<std::chrono::system_clock::time_point> last_updated_, oldest_pending_;
  bool node_eligible_ = true;  // as kube-proxy: eligible until a Node event says otherwise
  std::uint64_t healthz_200_ = 0, healthz_503_ = 0, livez_200_ = 0, livez_503_ = 0;
};

// Go's time.Time String() form, which kube-proxy's body carries: "2006-01-02 15:04:05.999999999 +0000 UTC".
std::string go_time_string(std::chrono::system_clock::time_point t);

}  // namespace switchyard::dataplane
