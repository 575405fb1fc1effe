#include "dataplane/sync_metrics.h"

#include <algorithm>

#include <fmt/format.h>

namespace switchyard::dataplane {

namespace {

double seconds_since_epoch(std::chrono::system_clock::time_point t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

void scalar(std::string& out, const std::string& name, const std::string& type, const std::string& help, double value) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

Histogram Histogram::sync_duration() {
  std::vector<double> b;
  for (double v = 0.001; b.size() < 15; v *= 2) b.push_back(v);
  return Histogram(std::move(b));
}

Histogram Histogram::network_programming() {
  std::vector<double> b = {0.25, 0.5};
  for (int i = 1; i <= 59; ++i) b.push_back(i);
  for (int i = 0; i < 12; ++i) b.push_back(60 + 5 * i);
  for (int i = 0; i < 7; ++i) b.push_back(120 + 30 * i);
  std::sort(b.begin(), b.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
  return Histogram(std::move(b));
}

void Histogram::observe(double value) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} histogram\n", name, help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  out += fmt::format("{0}_bucket{{le=\"+Inf\"}} {1}\n{0}_sum {2}\n{0}_count {1}\n", name, count_, sum_);
}

SyncMetrics::SyncMetrics(std::string mode) : mode_(std::move(mode)) {}

void SyncMetrics::record(const SyncRecord& r, std::chrono::system_clock::time_point at) {
  std::lock_guard lock(mu_);
  stats_ = r.stats;
  if (!r.ok) {
    ++failures_;
    return;
  }
  const double seconds = std::chrono::duration<double>(r.duration).count();
  all_.observe(seconds);
  (r.full ? full_ : partial_).observe(seconds);
  last_success_seconds_ = seconds_since_epoch(at);
  service_changes_ += r.service_changes;
  endpoint_changes_ += r.endpoint_changes;
}

void SyncMetrics::record_queued(std::chrono::system_clock::time_point at) {
  std::lock_guard lock(mu_);
  last_queued_seconds_ = seconds_since_epoch(at);
}

void SyncMetrics::record_network_programming(std::chrono::system_clock::time_point trigger,
                                             std::chrono::system_clock::time_point programmed) {
  std::lock_guard lock(mu_);
  network_programming_.observe(std::max(0.0, std::chrono::duration<double>(programmed - trigger).count()));
}

std::string SyncMetrics::prometheus_text() const {
  std::lock_guard lock(mu_);
  std::string out;
  all_.render(out, "kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds");
  full_.render(out, "kubeproxy_sync_full_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for full resyncs");
  partial_.render(out, "kubeproxy_sync_partial_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for partial resyncs");
  network_programming_.render(out, "kubeproxy_network_programming_duration_seconds", "In Cluster Network Programming Latency in seconds");
  scalar(out, "kubeproxy_sync_proxy_rules_last_timestamp_seconds", "gauge", "The last time proxy rules were successfully synced",
         last_success_seconds_);
  scalar(out, "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", "gauge", "The last time a sync of proxy rules was queued",
         last_queued_seconds_);
  scalar(out, "kubeproxy_sync_proxy_rules_service_changes_total", "counter", "Cumulative proxy rules Service changes",
         static_cast<double>(service_changes_));
  scalar(out, "kubeproxy_sync_proxy_rules_endpoint_changes_total", "counter", "Cumulative proxy rules Endpoint changes",
         static_cast<double>(endpoint_changes_));
  if (mode_ == "nftables")
    scalar(out, "kubeproxy_sync_proxy_rules_nftables_sync_failures_total", "counter", "Cumulative proxy nftables sync failures",
           static_cast<double>(failures_));
  scalar(out, "switchyard_dataplane_sync_failures_total", "counter", "Syncs the backend failed to program", static_cast<double>(failures_));
  scalar(out, "switchyard_dataplane_full_syncs_total", "counter", "Full syncs done by the backend", static_cast<double>(stats_.full_syncs));
  scalar(out, "switchyard_dataplane_partial_syncs_total", "counter", "Partial syncs done by the backend",
         static_cast<double>(stats_.partial_syncs));
  scalar(out, "switchyard_dataplane_chains", "gauge", "Chains programmed now", static_cast<double>(stats_.chains));
  scalar(out, "switchyard_dataplane_rules", "gauge", "Rules programmed now", static_cast<double>(stats_.rules));
  scalar(out, "switchyard_dataplane_map_elements", "gauge", "Map and set elements programmed now",
         static_cast<double>(stats_.map_elements));
  scalar(out, "switchyard_dataplane_last_batch_messages", "gauge", "Messages in the last commit",
         static_cast<double>(stats_.last_batch_messages));
  return out;
}

}  // namespace switchyard::dataplane
