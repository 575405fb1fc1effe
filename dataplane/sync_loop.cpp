#include "dataplane/sync_loop.h"

#include <spdlog/spdlog.h>

namespace switchyard::dataplane {

namespace {
std::shared_ptr<const endpoints::Snapshot> empty_snapshot() {
  return std::make_shared<const endpoints::Snapshot>(0, endpoints::Snapshot::PortMap{}, endpoints::Snapshot::ServiceMap{});
}
double ms(std::chrono::nanoseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }
}  // namespace

SyncLoop::SyncLoop(Backend& backend, SnapshotSource source, SyncLoopOptions options, ProxyHealth* health, const RunnerClock& clock)
    : backend_(backend),
      source_(std::move(source)),
      options_(options),
      health_(health),
      clock_(clock),
      metrics_(options.mode),
      programmed_(empty_snapshot()),
      runner_(
          "sync-" + options.mode, [this] { sync_now(); },
          {.min_interval = options.min_sync_period, .max_interval = options.sync_period, .burst = options.burst}, clock) {}

SyncLoop::~SyncLoop() { stop(); }

void SyncLoop::add_observer(SyncObserver observer) { observers_.push_back(std::move(observer)); }

void SyncLoop::start() {
  runner_.run();  // the first (full) sync as soon as the source is ready
  runner_.start();
}

void SyncLoop::stop() { runner_.stop(); }

void SyncLoop::request_sync() {
  if (health_) health_->queued_update();
  metrics_.record_queued(std::chrono::system_clock::now());
  runner_.run();
}

std::shared_ptr<const endpoints::Snapshot> SyncLoop::programmed() const {
  std::lock_guard lock(mu_);
  return programmed_;
}

bool SyncLoop::last_sync_failed() const {
  std::lock_guard lock(mu_);
  return last_failed_;
}

void SyncLoop::sync_now() {
  std::lock_guard one_at_a_time(sync_mu_);
  auto after = source_();
  if (!after) {
    // Not ready (informers still listing): look again soon rather than programming a partial view.
    runner_.retry_after(options_.retry_interval);
    return;
  }
  std::shared_ptr<const endpoints::Snapshot> before;
  bool full;
  const auto now = clock_.now();
  {
    std::lock_guard lock(mu_);
    before = programmed_;
    full = !synced_once_ || last_failed_ || now - last_full_ >= options_.full_sync_period;
  }
  if (!full && after == before) {  // nothing changed since the last sync
    if (health_) health_->updated();
    return;
  }
  const auto diff = endpoints::diff_snapshots(*before, *after);
  const auto started = std::chrono::steady_clock::now();
  auto result = full ? backend_.full_sync(*after) : backend_.sync(*before, *after, diff);
  const auto took = std::chrono::steady_clock::now() - started;

  SyncRecord record{.full = full, .ok = result.has_value(), .duration = took, .stats = backend_.stats()};
  if (!result) {
    {
      std::lock_guard lock(mu_);
      last_failed_ = true;
    }
    metrics_.record(record, std::chrono::system_clock::now());
    spdlog::error("event=sync_failed mode={} kind={} generation={} programmed_generation={} duration_ms={:.2f} error=\"{}\" retry_s={:.1f}",
                  options_.mode, full ? "full" : "partial", after->generation(), before->generation(), ms(took), result.error().message,
                  std::chrono::duration<double>(options_.retry_interval).count());
    runner_.retry_after(options_.retry_interval);
    return;
  }
  for (const auto& c : diff.changes) {
    record.service_changes += c.service_changed || !c.before || !c.after;
    record.endpoint_changes += c.endpoints_changed;
  }
  {
    std::lock_guard lock(mu_);
    programmed_ = after;
    synced_once_ = true;
    last_failed_ = false;
    if (full) last_full_ = now;
  }
  metrics_.record(record, std::chrono::system_clock::now());
  if (health_) health_->updated();
  spdlog::info("event=synced mode={} kind={} generation={} service_ports={} changes={} duration_ms={:.2f} chains={} rules={} elements={}",
               options_.mode, full ? "full" : "partial", after->generation(), after->service_ports().size(), diff.changes.size(), ms(took),
               record.stats.chains, record.stats.rules, record.stats.map_elements);
  const SyncEvent event{*before, *after, diff, full};
  for (const auto& observe : observers_) observe(event);
}

}  // namespace switchyard::dataplane
