#include "dataplane/proxy_health.h"

#include <ctime>

#include <fmt/format.h>

namespace switchyard::dataplane {

std::string go_time_string(std::chrono::system_clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return "0001-01-01 00:00:00 +0000 UTC";  // Go's zero time
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(t - secs).count();
  const std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char base[32];
  std::strftime(base, sizeof base, "%Y-%m-%d %H:%M:%S", &tm);
  std::string frac;
  if (nanos > 0) {  // Go trims trailing zeros of the fraction
    frac = fmt::format(".{:09d}", nanos);
    while (frac.back() == '0') frac.pop_back();
  }
  return fmt::format("{}{} +0000 UTC", base, frac);
}

ProxyHealth::ProxyHealth(std::chrono::nanoseconds health_timeout, Clock now) : timeout_(health_timeout), now_(std::move(now)) {}

void ProxyHealth::queued_update() {
  std::lock_guard lock(mu_);
  if (!oldest_pending_) oldest_pending_ = now_();
}

void ProxyHealth::updated() {
  std::lock_guard lock(mu_);
  oldest_pending_.reset();
  last_updated_ = now_();
}

void ProxyHealth::set_node_eligible(bool eligible) {
  std::lock_guard lock(mu_);
  node_eligible_ = eligible;
}

bool ProxyHealth::synced_once() const {
  std::lock_guard lock(mu_);
  return last_updated_.has_value();
}

bool ProxyHealth::healthy_locked(std::chrono::system_clock::time_point now) const {
  // Healthy while starting (nothing pending), when fully synced, or while the oldest pending
  // change is younger than the timeout.
  return !oldest_pending_ || now - *oldest_pending_ < timeout_;
}

bool ProxyHealth::healthy() const {
  std::lock_guard lock(mu_);
  return healthy_locked(now_());
}

HealthResponse ProxyHealth::healthz() {
  std::lock_guard lock(mu_);
  const auto now = now_();
  const bool healthy = healthy_locked(now) && node_eligible_;
  (healthy ? healthz_200_ : healthz_503_)++;
  // As kube-proxy: a healthy answer reports lastUpdated as now.
  const auto last = healthy ? now : last_updated_.value_or(std::chrono::system_clock::time_point{});
  return {healthy ? 200 : 503, fmt::format(R"({{"lastUpdated": "{}","currentTime": "{}", "nodeEligible": {}}})", go_time_string(last),
                                           go_time_string(now), node_eligible_)};
}

HealthResponse ProxyHealth::livez() {
  std::lock_guard lock(mu_);
  const auto now = now_();
  const bool healthy = healthy_locked(now);
  (healthy ? livez_200_ : livez_503_)++;
  const auto last = healthy ? now : last_updated_.value_or(std::chrono::system_clock::time_point{});
  return {healthy ? 200 : 503, fmt::format(R"({{"lastUpdated": "{}","currentTime": "{}"}})", go_time_string(last), go_time_string(now))};
}

std::string ProxyHealth::prometheus_text() const {
  std::lock_guard lock(mu_);
  return fmt::format(
      "# HELP kubeproxy_healthz_total Cumulative proxy healthz HTTP status\n# TYPE kubeproxy_healthz_total counter\n"
      "kubeproxy_healthz_total{{code=\"200\"}} {}\nkubeproxy_healthz_total{{code=\"503\"}} {}\n"
      "# HELP kubeproxy_livez_total Cumulative proxy livez HTTP status\n# TYPE kubeproxy_livez_total counter\n"
      "kubeproxy_livez_total{{code=\"200\"}} {}\nkubeproxy_livez_total{{code=\"503\"}} {}\n",
      healthz_200_, healthz_503_, livez_200_, livez_503_);
}

}  // namespace switchyard::dataplane
