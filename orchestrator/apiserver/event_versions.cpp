#include "orchestrator/apiserver/event_versions.h"

#include <array>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "orchestrator/api/names.h"

namespace switchyard::apiserver {

namespace {

using Json = nlohmann::json;

// {core/v1 name, events.k8s.io/v1 name}: the fields upstream's conversion renames.
constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kRenames{{
    {"involvedObject", "regarding"},
    {"message", "note"},
    {"source", "deprecatedSource"},
    {"firstTimestamp", "deprecatedFirstTimestamp"},
    {"lastTimestamp", "deprecatedLastTimestamp"},
    {"count", "deprecatedCount"},
    {"reportingComponent", "reportingController"},
}};

constexpr std::string_view kApiVersion = "events.k8s.io/v1";
constexpr std::size_t kReportingInstanceLimit = 128, kActionLimit = 128, kReasonLimit = 128, kNoteLimit = 1024;

bool set_string(const Json& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() && !it->get<std::string>().empty();
}

std::string string_at(const Json& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

bool is_events_v1(const ResourceInfo& r) { return r.group == "events.k8s.io" && r.kind == "Event"; }

const ResourceInfo& core_events_resource() {
  static const ResourceInfo* core = find_resource("", "v1", "events");
  return *core;
}

Json event_to_v1(const Json& core) {
  Json v1 = core;
  v1["apiVersion"] = kApiVersion;
  v1["kind"] = "Event";
  for (const auto& [from, to] : kRenames) {
    auto it = v1.find(from);
    if (it == v1.end()) continue;
    Json value = std::move(*it);
    v1.erase(it);
    v1[std::string(to)] = std::move(value);
  }
  // events.k8s.io/v1's omitempty fields; eventTime, regarding and deprecatedSource always appear.
  for (const char* key : {"reportingController", "reportingInstance", "action", "reason", "note", "type"})
    if (auto it = v1.find(key); it != v1.end() && it->is_string() && it->get<std::string>().empty()) v1.erase(it);
  if (auto it = v1.find("deprecatedCount"); it != v1.end() && it->is_number() && it->get<std::int64_t>() == 0) v1.erase(it);
  for (const char* key : {"eventTime", "deprecatedFirstTimestamp", "deprecatedLastTimestamp"})
    if (!v1.contains(key)) v1[key] = nullptr;
  for (const char* key : {"regarding", "deprecatedSource"})
    if (!v1.contains(key)) v1[key] = Json::object();
  return v1;
}

CoreEvent event_from_v1(const Json& v1) {
  CoreEvent out;
  if (!v1.is_object()) {
    out.object = v1;  // the decoder reports it
    return out;
  }
  out.object = v1;
  Json& o = out.object;
  if (auto av = o.find("apiVersion"); av != o.end()) {
    if (av->is_string() && (av->get<std::string>() == kApiVersion || av->get<std::string>().empty()))
      *av = "v1";
    else
      out.error = fmt::format("the body has apiVersion {}, expected \"{}\"", av->dump(), kApiVersion);
  }
  for (const auto& [core_name, v1_name] : kRenames) {
    if (auto it = o.find(core_name); it != o.end()) {
      out.unknown_fields.emplace_back(core_name);
      o.erase(it);
    }
  }
  for (const auto& [core_name, v1_name] : kRenames) {
    auto it = o.find(v1_name);
    if (it == o.end()) continue;
    Json value = std::move(*it);
    o.erase(it);
    o[std::string(core_name)] = std::move(value);
  }
  return out;
}

api::FieldErrors validate_v1_event_create(const Json& e) {
  using api::FieldPath;
  api::FieldErrors errs;
  const Json& meta = e.contains("metadata") && e["metadata"].is_object() ? e["metadata"] : Json::object();
  const std::string ns = string_at(meta, "namespace");
  const Json& ref = e.contains("involvedObject") && e["involvedObject"].is_object() ? e["involvedObject"] : Json::object();
  // legacyValidateEvent's branch for events with an eventTime (every events.k8s.io/v1 one).
  if (string_at(ref, "namespace").empty() && ns != "default" && ns != "kube-system")
    errs.push_back(api::invalid(FieldPath("involvedObject").child("namespace"), "\"\"", "does not match event.namespace"));
  const std::string controller = string_at(e, "reportingComponent");
  if (controller.empty()) errs.push_back(api::required(FieldPath("reportingController")));
  for (const auto& problem : api::qualified_name(controller))
    errs.push_back(api::invalid(FieldPath("reportingController"), api::go_quoted(controller), problem));
  const auto limited = [&](std::string_view key, std::string_view path, std::size_t limit, bool needed) {
    const std::string value = string_at(e, key);
    if (needed && value.empty()) errs.push_back(api::required(FieldPath(std::string(path))));
    if (value.size() > limit)
      errs.push_back(api::invalid(FieldPath(std::string(path)), "\"\"", fmt::format("can have at most {} characters", limit)));
  };
  limited("reportingInstance", "reportingInstance", kReportingInstanceLimit, true);
  limited("action", "action", kActionLimit, true);
  limited("reason", "reason", kReasonLimit, true);
  limited("message", "message", kNoteLimit, false);
  // ValidateEventCreate's strict part for events.k8s.io/v1.
  if (auto s = e.find("series"); s != e.end() && s->is_object()) {
    if (auto count = s->find("count"); count == s->end() || !count->is_number() || count->get<std::int64_t>() < 2)
      errs.push_back(api::invalid(FieldPath("series.count"), "\"\"", "should be at least 2"));
    if (!set_string(*s, "lastObservedTime")) errs.push_back(api::required(FieldPath("series.lastObservedTime")));
  }
  if (!set_string(e, "eventTime")) errs.push_back(api::required(FieldPath("eventTime")));
  const std::string type = string_at(e, "type");
  if (type != "Normal" && type != "Warning")
    errs.push_back(api::invalid(FieldPath("type"), "\"\"", fmt::format("has invalid value: {}", type)));
  if (set_string(e, "firstTimestamp")) errs.push_back(api::invalid(FieldPath("firstTimestamp"), "\"\"", "needs to be unset"));
  if (set_string(e, "lastTimestamp")) errs.push_back(api::invalid(FieldPath("lastTimestamp"), "\"\"", "needs to be unset"));
  if (auto c = e.find("count"); c != e.end() && c->is_number() && c->get<std::int64_t>() != 0)
    errs.push_back(api::invalid(FieldPath("count"), "\"\"", "needs to be unset"));
  const Json& source = e.contains("source") && e["source"].is_object() ? e["source"] : Json::object();
  if (set_string(source, "component") || set_string(source, "host"))
    errs.push_back(api::invalid(FieldPath("source"), "\"\"", "needs to be unset"));
  return errs;
}

std::string event_field_selector_from_v1(const std::string& selector) {
  std::string out;
  std::size_t start = 0;
  while (start <= selector.size()) {
    std::size_t comma = selector.find(',', start);
    if (comma == std::string::npos) comma = selector.size();
    std::string term = selector.substr(start, comma - start);
    for (const auto& [core_name, v1_name] : kRenames) {
      // Only the label (before = or !=) is renamed: `regarding.name=x`, `reportingController=y`.
      const std::string prefix(v1_name);
      if (term.starts_with(prefix) && term.size() > prefix.size() &&
          (term[prefix.size()] == '.' || term[prefix.size()] == '=' || term[prefix.size()] == '!'))
        term = std::string(core_name) + term.substr(prefix.size());
    }
    if (!out.empty() || start > 0) out += ',';
    out += term;
    start = comma + 1;
  }
  return out;
}

}  // namespace switchyard::apiserver
