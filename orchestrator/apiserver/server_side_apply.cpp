// Simplified server-side apply; see server_side_apply.h for what is and is not Kubernetes' behaviour.
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "orchestrator/apiserver/field_collector.h"
#include "orchestrator/apiserver/managed_fields.h"
#include "orchestrator/apiserver/patch_schema.h"
#include "orchestrator/apiserver/server_side_apply.h"

namespace switchyard::apiserver {
namespace {

using nlohmann::json;

// o[key] when it is a string, else "": json::value throws on a present value of another type,
// and both the applied configuration and stored managedFields come from clients.
std::string string_field(const json& o, const char* key) {
  if (!o.is_object()) return "";
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

struct ManagerEntry {
  json raw;
  FieldSet fields;
  bool mine = false;
  std::string manager() const { return string_field(raw, "manager"); }
  std::string api_version() const { return string_field(raw, "apiVersion"); }
};

json drop_nulls(const json& j) {
  if (j.is_object()) {
    json out = json::object();
    for (const auto& [k, v] : j.items())
      if (!v.is_null()) out[k] = drop_nulls(v);
    return out;
  }
  if (j.is_array()) {
    json out = json::array();
    for (const json& e : j) out.push_back(drop_nulls(e));
    return out;
  }
  return j;
}

PatchResult<std::vector<ManagerEntry>> read_managed_fields(const json& live, std::string_view manager) {
  std::vector<ManagerEntry> entries;
  const json* mf = live.contains("metadata") ? &live["metadata"] : nullptr;
  if (!mf || !mf->is_object() || !mf->contains("managedFields")) return entries;
  const json& list = (*mf)["managedFields"];
  if (list.is_null()) return entries;
  auto corrupt = [](std::string m) { return std::unexpected(PatchError{500, std::move(m)}); };
  if (!list.is_array()) return corrupt("metadata.managedFields of the stored object is not a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& e = list[i];
    if (!e.is_object() || !e.value("manager", json()).is_string())
      return corrupt(fmt::format("metadata.managedFields[{}] of the stored object has no manager", i));
    if (e.contains("fieldsType") && string_field(e, "fieldsType") != "FieldsV1")
      return corrupt(fmt::format("metadata.managedFields[{}]: fieldsType {} is not supported", i, e["fieldsType"].dump()));
    auto fields = parse_fields_v1(e.value("fieldsV1", json::object()));
    if (!fields) return corrupt(fmt::format("metadata.managedFields[{}].fieldsV1: {}", i, fields.error().message));
    ManagerEntry entry{e, std::move(*fields)};
    entry.mine = entry.manager() == manager && string_field(e, "operation") == "Apply";
    entries.push_back(std::move(entry));
  }
  return entries;
}

// Kubernetes' wording: one conflict on one line, several grouped by manager as a list.
std::string conflict_message(const std::vector<std::pair<ManagerEntry*, ManagedPath>>& conflicts) {
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> by_manager;
  for (const auto& [entry, path] : conflicts) by_manager[{entry->manager(), entry->api_version()}].push_back(render_managed_path(path));
  if (conflicts.size() == 1) {
    const auto& [who, paths] = *by_manager.begin();
    return fmt::format("Apply failed with 1 conflict: conflict with \"{}\" using {}: {}", who.first, who.second, paths.front());
  }
  std::string m = fmt::format("Apply failed with {} conflicts:", conflicts.size());
  for (const auto& [who, paths] : by_manager) {
    m += fmt::format(" conflicts with \"{}\" using {}:", who.first, who.second);
    for (const std::string& p : paths) m += fmt::format("\n- {}", p);
  }
  return m;
}

}  // namespace

PatchResult<json> server_side_apply(const json& live_in, const json& applied, std::string_view kind, const ApplyOptions& options) {
  if (options.manager.empty())
    return std::unexpected(
        PatchError{422, "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"});
  if (!has_strategic_merge_schema(kind))
    return std::unexpected(PatchError{415, fmt::format("server-side apply is not supported for kind {}", kind)});
  if (!applied.is_object())
    return std::unexpected(PatchError{400, fmt::format("an apply configuration must be an object, got {}", applied.type_name())});
  const json live = live_in.is_object() ? live_in : json::object();

  // What gets merged into the object, and the part of it the manager owns.
  json config = drop_nulls(applied);
  config.erase("status");
  if (config.contains("metadata") && config["metadata"].is_object()) config["metadata"].erase("managedFields");
  const json owned = ownable_part(config);
  auto applied_set = collect_fields(owned, kind, Collect::Strict);
  if (!applied_set) return std::unexpected(applied_set.error());

  auto entries = read_managed_fields(live, options.manager);
  if (!entries) return std::unexpected(entries.error());

  // Conflicts: a field another manager owns, applied with a different value than it has.
  std::vector<std::pair<ManagerEntry*, ManagedPath>> conflicts;
  for (const ManagedPath& p : *applied_set) {
    if (p.back() == ".") continue;  // owning an element's existence never conflicts
    const json* have = find_managed(live, p);
    const json* want = find_managed(owned, p);
    if (!have || (want && *want == *have)) continue;
    for (ManagerEntry& e : *entries)
      if (!e.mine && e.fields.contains(p)) conflicts.emplace_back(&e, p);
  }
  if (!conflicts.empty() && !options.force) return std::unexpected(PatchError{409, conflict_message(conflicts)});
  for (auto& [entry, path] : conflicts) entry->fields.erase(path);  // force: the applier takes them

  auto owned_by_others = [&](const ManagedPath& p) {
    ManagedPath prefix = p;
    bool element = !prefix.empty() && prefix.back() == ".";
    if (element) prefix.pop_back();
    for (const ManagerEntry& e : *entries) {
      if (e.mine) continue;
      if (e.fields.contains(p)) return true;
      if (element)  // an element stays while anyone owns a field inside it
        for (const ManagedPath& q : e.fields)
          if (q.size() > prefix.size() && std::equal(prefix.begin(), prefix.end(), q.begin())) return true;
    }
    return false;
  };

  // Fields this manager applied before and omits now go away, unless someone else owns them.
  json result = live;
  auto mine = std::ranges::find_if(*entries, [](const ManagerEntry& e) { return e.mine; });
  if (mine != entries->end()) {
    for (const ManagedPath& p : mine->fields)
      if (!applied_set->contains(p) && !owned_by_others(p)) erase_managed(result, p);
  }

  auto merged = apply_strategic_merge_patch(result, config, kind);
  if (!merged) return std::unexpected(merged.error());

  json managed = json::array();
  json my_entry = {{"manager", options.manager}, {"operation", "Apply"},     {"apiVersion", string_field(applied, "apiVersion")},
                   {"time", options.time},       {"fieldsType", "FieldsV1"}, {"fieldsV1", to_fields_v1(*applied_set)}};
  bool placed = false;
  for (ManagerEntry& e : *entries) {
    if (e.mine) {
      if (!applied_set->empty()) managed.push_back(my_entry);
      placed = true;
    } else if (!e.fields.empty()) {
      e.raw["fieldsV1"] = to_fields_v1(e.fields);
      managed.push_back(std::move(e.raw));
    }
  }
  if (!placed && !applied_set->empty()) managed.push_back(std::move(my_entry));
  json& out = *merged;
  auto meta = out.find("metadata");
  if (meta == out.end() || meta->is_null()) {
    if (managed.empty()) return std::move(*merged);
    meta = out.emplace("metadata", json::object()).first;
  }
  if (!meta->is_object()) return std::unexpected(PatchError{400, fmt::format("metadata must be an object, got {}", meta->type_name())});
  if (managed.empty())
    meta->erase("managedFields");
  else
    (*meta)["managedFields"] = std::move(managed);
  return std::move(*merged);
}

}  // namespace switchyard::apiserver
