#include "orchestrator/controllers/event_recorder.h"

#include <chrono>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"

namespace switchyard::controllers {

void record_event(client::ApiClient& api, const EventSource& source, const std::string& api_version, const std::string& kind,
                  const api::ObjectMeta& object, const std::string& type, const std::string& reason, const std::string& message) {
  const auto clock = std::chrono::system_clock::now();
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(clock.time_since_epoch()).count();
  const std::time_t t = std::chrono::system_clock::to_time_t(clock);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char now[32];
  std::strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
  // Events about cluster-scoped objects (Nodes) live in "default", as client-go puts them.
  const std::string ns = object.namespace_.empty() ? "default" : object.namespace_;
  const nlohmann::json event = {{"apiVersion", "v1"},
                                {"kind", "Event"},
                                {"metadata", {{"name", fmt::format("{}.{:x}", object.name, nanos)}, {"namespace", ns}}},
                                {"involvedObject",
                                 {{"apiVersion", api_version},
                                  {"kind", kind},
                                  {"namespace", object.namespace_},
                                  {"name", object.name},
                                  {"uid", object.uid},
                                  {"resourceVersion", object.resource_version}}},
                                {"reason", reason},
                                {"message", message},
                                {"type", type},
                                {"count", 1},
                                {"firstTimestamp", now},
                                {"lastTimestamp", now},
                                {"source", {{"component", source.component}}},
                                {"reportingComponent", source.component}};
  auto written = client::create_object(api, fmt::format("/api/v1/namespaces/{}/events", ns), event);
  if (!written)
    spdlog::debug("event=event_write_failed object={}/{} reason={} error=\"{}\"", object.namespace_, object.name, reason,
                  written.error().describe());
}

}  // namespace switchyard::controllers
