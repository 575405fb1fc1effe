#include "orchestrator/apiserver/update_managers.h"

#include <algorithm>

#include "orchestrator/apiserver/field_collector.h"
#include "orchestrator/apiserver/managed_fields.h"

namespace switchyard::apiserver {
namespace {

using nlohmann::json;

struct Entry {
  json raw;
  FieldSet fields;
};

// o[key] when it is a string, else "" (json::value throws on a value of another type).
std::string string_field(const json& o, const char* key) {
  auto it = o.is_object() ? o.find(key) : o.end();
  return o.is_object() && it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

std::vector<Entry> read_entries(const json& object) {
  std::vector<Entry> out;
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) return out;
  const json& list = object["metadata"].value("managedFields", json::array());
  if (!list.is_array()) return {};
  for (const json& e : list) {
    if (!e.is_object() || !e.value("manager", json()).is_string()) return {};
    auto fields = parse_fields_v1(e.value("fieldsV1", json::object()));
    if (!fields) return {};
    out.push_back({e, std::move(*fields)});
  }
  return out;
}

FieldSet fields_of(const json& object, std::string_view kind) {
  if (!object.is_object()) return {};
  return collect_fields(ownable_part(object), kind, Collect::Lenient).value_or(FieldSet{});
}

bool is_writers_entry(const json& e, const FieldWriter& w, const std::string& api_version) {
  return string_field(e, "manager") == w.manager && string_field(e, "operation") == "Update" &&
         string_field(e, "apiVersion") == api_version && !e.contains("subresource");
}

}  // namespace

std::string field_manager_of(std::string_view field_manager_param, std::string_view user_agent) {
  std::string_view m = field_manager_param.empty() ? user_agent.substr(0, user_agent.find('/')) : field_manager_param;
  // A header or query may carry bytes that are not UTF-8 (and the 128-byte cut may split a
  // character): they become U+FFFD, as Go's JSON encoder writes them, so the stored object stays JSON.
  const json name = std::string(m.substr(0, 128));
  return json::parse(name.dump(-1, ' ', false, json::error_handler_t::replace)).get<std::string>();
}

void record_update(const json& old, json& updated, std::string_view kind, const FieldWriter& writer) {
  if (!updated.is_object() || writer.manager.empty()) return;
  if (!updated.contains("metadata") || !updated["metadata"].is_object()) return;
  json& meta = updated["metadata"];
  const auto sent = meta.find("managedFields");
  if (!old.is_null() && sent != meta.end() && sent->is_array() && sent->empty()) {
    meta.erase("managedFields");  // the user resets ownership
    return;
  }
  std::vector<Entry> entries = read_entries(old);
  const FieldSet before = fields_of(old, kind), after = fields_of(updated, kind);
  const json old_owned = old.is_object() ? ownable_part(old) : json::object();
  const json new_owned = ownable_part(updated);
  FieldSet changed, removed;
  for (const ManagedPath& p : after) {
    if (!before.contains(p)) {
      changed.insert(p);
    } else if (p.back() != ".") {
      const json* was = find_managed(old_owned, p);
      const json* is = find_managed(new_owned, p);
      if (!was || !is || *was != *is) changed.insert(p);
    }
  }
  std::ranges::set_difference(before, after, std::inserter(removed, removed.end()));

  const std::string api_version = string_field(updated, "apiVersion");
  json managed = json::array();
  bool placed = false;
  json mine = {
      {"manager", writer.manager}, {"operation", "Update"}, {"apiVersion", api_version}, {"time", writer.time}, {"fieldsType", "FieldsV1"}};
  for (Entry& e : entries) {
    for (const ManagedPath& p : removed) e.fields.erase(p);
    if (is_writers_entry(e.raw, writer, api_version)) {
      e.fields.insert(changed.begin(), changed.end());
      placed = true;
      if (!changed.empty()) e.raw["time"] = writer.time;
    } else {
      for (const ManagedPath& p : changed) e.fields.erase(p);
    }
    if (e.fields.empty()) continue;
    e.raw["fieldsV1"] = to_fields_v1(e.fields);
    managed.push_back(std::move(e.raw));
  }
  if (!placed && !changed.empty()) {
    mine["fieldsV1"] = to_fields_v1(changed);
    managed.push_back(std::move(mine));
  }
  if (managed.empty())
    meta.erase("managedFields");
  else
    meta["managedFields"] = std::move(managed);
}

}  // namespace switchyard::apiserver
