// Events live for --event-ttl after they were last seen, as kube-apiserver stores them with an
// etcd lease: here a sweep deletes the expired ones, run lazily from Event lists and creates.
#include <ctime>

#include <spdlog/spdlog.h>

#include "orchestrator/apiserver/object_registry.h"

namespace switchyard::apiserver {

namespace {

std::time_t parse_time(const std::string& s) {
  std::tm tm{};
  if (s.empty() || !strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return timegm(&tm);
}

// When the event was last seen: the latest of its timestamps (a recorder that counts repeats
// moves lastTimestamp or series.lastObservedTime), or its creation.
std::time_t last_seen(const Json& e) {
  std::time_t t = parse_time(e["metadata"].value("creationTimestamp", ""));
  auto later = [&](const Json& v) {
    if (v.is_string()) t = std::max(t, parse_time(v.get<std::string>()));
  };
  later(e.value("lastTimestamp", Json()));
  later(e.value("eventTime", Json()));
  if (e.contains("series") && e["series"].is_object()) later(e["series"].value("lastObservedTime", Json()));
  return t;
}

}  // namespace

void ObjectRegistry::expire_events() {
  const std::int64_t ttl = event_ttl_seconds_.load();
  const std::int64_t now = std::time(nullptr);
  std::int64_t due = next_event_sweep_.load();
  if (now < due || !next_event_sweep_.compare_exchange_strong(due, now + std::clamp<std::int64_t>(ttl / 2, 1, 60))) return;
  const ResourceInfo& events = *find_resource("", "v1", "events");
  auto page = store_.list(storage_prefix(events, ""), 0, "", 0);
  if (!page) {
    spdlog::warn("event=event_expiry_failed error=\"{}\"", page.error().message);
    return;
  }
  for (const auto& kv : page->items) {
    const Json e = Json::parse(kv.value, nullptr, false);
    if (e.is_discarded() || !e.contains("metadata")) continue;
    if (now - last_seen(e) < ttl) continue;
    // Only if unchanged since read: an Event seen again meanwhile lives on.
    if (auto gone = store_.remove(kv.key, kv.mod_revision);
        !gone && gone.error().code != store::StoreErrorCode::NotFound && gone.error().code != store::StoreErrorCode::Conflict)
      spdlog::warn("event=event_expiry_failed key={} error=\"{}\"", kv.key, gone.error().message);
  }
}

}  // namespace switchyard::apiserver
