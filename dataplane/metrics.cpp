#include "dataplane/metrics.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <stdexcept>

namespace switchyard::dataplane {

namespace {

// Prometheus wants Go's float formatting: shortest round-trip, "+Inf".
std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {
  if (!std::ranges::is_sorted(bounds_) || std::ranges::adjacent_find(bounds_) != bounds_.end())
    throw std::invalid_argument("Histogram bounds must increase strictly");
}

std::vector<double> Histogram::exponential_buckets(double start, double factor, int count) {
  std::vector<double> out;
  for (int i = 0; i < count; ++i, start *= factor) out.push_back(start);
  return out;
}

Histogram Histogram::sync_duration_seconds() { return Histogram(exponential_buckets(0.001, 2, 15)); }

void Histogram::observe(double value) {
  const auto bucket = static_cast<std::size_t>(std::ranges::lower_bound(bounds_, value) - bounds_.begin());
  std::lock_guard lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

std::uint64_t Histogram::count() const {
  std::lock_guard lock(mutex_);
  return count_;
}

std::string Histogram::render(std::string_view name, std::string_view help) const {
  std::lock_guard lock(mutex_);
  std::string out = fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    cumulative += counts_[i];
    const double le = i < bounds_.size() ? bounds_[i] : INFINITY;
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, number(le), cumulative);
  }
  out += fmt::format("{}_sum {}\n{}_count {}\n", name, number(sum_), name, count_);
  return out;
}

void SyncDurationMetrics::observe(bool full_sync, std::chrono::nanoseconds d) {
  all.observe(d);
  (full_sync ? full : partial).observe(d);
}

std::string SyncDurationMetrics::render() const {
  return all.render("kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds") +
         full.render("kubeproxy_sync_full_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for full resyncs") +
         partial.render("kubeproxy_sync_partial_proxy_rules_duration_seconds",
                        "SyncProxyRules latency in seconds for partial resyncs");
}

std::string render_backend_stats(const BackendStats& s, std::string_view backend) {
  std::string out;
  auto metric = [&](std::string_view name, std::string_view type, std::string_view help, double value) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0}{{backend=\"{3}\"}} {4}\n", name, help, type, backend, number(value));
  };
  metric("switchyard_dataplane_full_syncs_total", "counter", "Full syncs committed", static_cast<double>(s.full_syncs));
  metric("switchyard_dataplane_partial_syncs_total", "counter", "Partial syncs committed", static_cast<double>(s.partial_syncs));
  metric("switchyard_dataplane_failed_syncs_total", "counter", "Syncs the kernel refused", static_cast<double>(s.failed_syncs));
  metric("switchyard_dataplane_chains", "gauge", "Chains programmed now", static_cast<double>(s.chains));
  metric("switchyard_dataplane_rules", "gauge", "Rules programmed now", static_cast<double>(s.rules));
  metric("switchyard_dataplane_map_elements", "gauge", "Set and map elements programmed now", static_cast<double>(s.map_elements));
  metric("switchyard_dataplane_last_batch_messages", "gauge", "Netlink messages in the last commit",
         static_cast<double>(s.last_batch_messages));
  if (s.last_successful_sync != std::chrono::system_clock::time_point{})
    metric("kubeproxy_sync_proxy_rules_last_timestamp_seconds", "gauge", "The last time proxy rules were successfully synced",
           std::chrono::duration<double>(s.last_successful_sync.time_since_epoch()).count());
  return out;
}

}  // namespace switchyard::dataplane
