#include "orchestrator/apiserver/field_collector.h"

#include <fmt/format.h>

#include "orchestrator/apiserver/patch_schema.h"

namespace switchyard::apiserver {
namespace {

using nlohmann::json;

// Metadata fields that identify the object or belong to the server: never owned by a manager.
constexpr std::string_view kUnownedMeta[] = {"name",
                                             "namespace",
                                             "uid",
                                             "resourceVersion",
                                             "creationTimestamp",
                                             "generation",
                                             "managedFields",
                                             "deletionTimestamp",
                                             "deletionGracePeriodSeconds",
                                             "selfLink"};

std::string child_path(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : fmt::format("{}.{}", parent, key);
}

class FieldCollector {
 public:
  FieldCollector(std::string_view kind, Collect mode) : kind_(kind), mode_(mode) {}

  PatchResult<FieldSet> collect(const json& owned) {
    ManagedPath path;
    if (auto r = walk(owned, path, ""); !r) return std::unexpected(r.error());
    return std::move(out_);
  }

 private:
  PatchResult<void> walk(const json& obj, ManagedPath& path, const std::string& schema_path) {
    for (const auto& [k, v] : obj.items()) {
      const std::string sp = child_path(schema_path, k);
      if (k.starts_with('$') && mode_ == Collect::Strict)
        return std::unexpected(PatchError{400, fmt::format("an apply configuration cannot contain directives: {}", sp)});
      path.push_back("f:" + k);
      PatchResult<void> r;
      if (v.is_object() && !v.empty()) {
        r = walk(v, path, sp);
      } else if (v.is_array()) {
        r = list(v, path, sp);
      } else {
        out_.insert(path);
      }
      path.pop_back();
      if (!r) return r;
    }
    return {};
  }

  PatchResult<void> list(const json& items, ManagedPath& path, const std::string& sp) {
    auto schema = find_list_schema(kind_, sp);
    if (!schema || schema->strategy != ListStrategy::merge) {
      out_.insert(path);  // atomic: owned as a whole
      return {};
    }
    if (schema->merge_key.empty()) {
      for (const json& e : items) {
        path.push_back("v:" + e.dump());
        out_.insert(path);
        path.pop_back();
      }
      return {};
    }
    std::vector<std::string> key_fields{std::string(schema->merge_key)};
    if (schema->merge_key == "port" || schema->merge_key == "containerPort") key_fields.emplace_back("protocol");
    std::set<std::string> seen;
    std::vector<std::pair<std::string, const json*>> elements;
    for (const json& e : items) {
      std::string problem;
      if (!e.is_object() || !e.contains(schema->merge_key))
        problem = fmt::format("{}: element {} has no key field \"{}\"", sp, e.dump(), schema->merge_key);
      json key = json::object();
      if (problem.empty()) {
        for (const std::string& f : key_fields) key[f] = e.contains(f) ? e[f] : json("TCP");
        if (!seen.insert("k:" + key.dump()).second) problem = fmt::format("{}: duplicate entries for key {}", sp, key.dump());
      }
      if (!problem.empty()) {
        if (mode_ == Collect::Strict) return std::unexpected(PatchError{422, problem});
        out_.insert(path);  // a list no key can address is owned whole
        return {};
      }
      elements.emplace_back("k:" + key.dump(), &e);
    }
    for (const auto& [step, e] : elements) {
      path.push_back(step);
      path.push_back(".");
      out_.insert(path);
      path.pop_back();
      auto r = walk(*e, path, sp + "[]");
      path.pop_back();
      if (!r) return r;
    }
    return {};
  }

  std::string_view kind_;
  Collect mode_;
  FieldSet out_;
};

}  // namespace

nlohmann::json ownable_part(const nlohmann::json& object) {
  json owned = object.is_object() ? object : json::object();
  owned.erase("apiVersion");
  owned.erase("kind");
  owned.erase("status");
  if (owned.contains("metadata") && owned["metadata"].is_object()) {
    for (std::string_view k : kUnownedMeta) owned["metadata"].erase(std::string(k));
    if (owned["metadata"].empty()) owned.erase("metadata");
  }
  return owned;
}

PatchResult<FieldSet> collect_fields(const nlohmann::json& owned, std::string_view kind, Collect mode) {
  return FieldCollector(kind, mode).collect(owned);
}

}  // namespace switchyard::apiserver
