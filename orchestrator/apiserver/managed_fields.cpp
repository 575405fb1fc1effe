// FieldsV1 field sets: parsing, writing, rendering, and resolving a path in an object.
#include <fmt/format.h>

#include "orchestrator/apiserver/managed_fields.h"

namespace switchyard::apiserver {
namespace {

using nlohmann::json;

Result<> flatten(const json& node, ManagedPath& path, FieldSet& out) {
  if (!node.is_object()) return fail(ErrorCode::Invalid, fmt::format("fieldsV1 node {} is a {}, not an object",
                                                           render_managed_path(path), node.type_name()));
  if (node.empty()) {
    if (!path.empty()) out.insert(path);
    return {};
  }
  for (const auto& [k, v] : node.items()) {
    if (k != "." && !k.starts_with("f:") && !k.starts_with("k:") && !k.starts_with("v:") && !k.starts_with("i:"))
      return fail(ErrorCode::Invalid, fmt::format("fieldsV1 key \"{}\" under {} has an unknown prefix", k, render_managed_path(path)));
    path.push_back(k);
    auto r = flatten(v, path, out);
    path.pop_back();
    if (!r) return r;
  }
  return {};
}

std::optional<json> parse_embedded(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

bool key_matches(const json& element, const json& key) {
  if (!element.is_object() || !key.is_object()) return false;
  for (const auto& [field, value] : key.items()) {
    auto it = element.find(field);
    if (it != element.end()) {
      if (*it != value) return false;
    } else if (!(field == "protocol" && value == "TCP")) {
      return false;
    }
  }
  return true;
}

// The index of the element `step` ("k:..." or "v:...") names in `list`, or npos.
std::size_t find_element(const json& list, std::string_view step) {
  if (!list.is_array()) return std::string::npos;
  auto what = parse_embedded(step.substr(2));
  if (!what) return std::string::npos;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (step.starts_with("k:") ? key_matches(list[i], *what) : list[i] == *what) return i;
  }
  return std::string::npos;
}

template <class Json>  // json or const json
Json* step_into(Json& node, std::string_view step) {
  if (step.starts_with("f:")) {
    if (!node.is_object()) return nullptr;
    auto it = node.find(step.substr(2));
    return it == node.end() ? nullptr : &*it;
  }
  std::size_t i = find_element(node, step);
  return i == std::string::npos ? nullptr : &node[i];
}

bool erase_step(json& parent, std::string_view step) {
  if (step.starts_with("f:")) return parent.is_object() && parent.erase(std::string(step.substr(2))) > 0;
  std::size_t i = find_element(parent, step);
  if (i == std::string::npos) return false;
  parent.erase(i);
  return true;
}

}  // namespace

Result<FieldSet> parse_fields_v1(const json& fields_v1) {
  FieldSet out;
  ManagedPath path;
  if (auto r = flatten(fields_v1, path, out); !r) return std::unexpected(r.error());
  return out;
}

json to_fields_v1(const FieldSet& set) {
  json root = json::object();
  for (const ManagedPath& p : set) {
    json* node = &root;
    for (const std::string& step : p) {
      json& next = (*node)[step];
      if (next.is_null()) next = json::object();
      node = &next;
    }
  }
  return root;
}

std::string render_managed_path(const ManagedPath& path) {
  std::string out;
  for (const std::string& step : path) {
    std::string_view s = step;
    if (s == ".") continue;
    if (s.starts_with("f:")) {
      out += fmt::format(".{}", s.substr(2));
    } else if (s.starts_with("k:")) {
      std::string inner;
      if (auto key = parse_embedded(s.substr(2)); key && key->is_object()) {
        for (const auto& [k, v] : key->items()) inner += fmt::format("{}{}={}", inner.empty() ? "" : ",", k, v.dump());
      } else {
        inner = std::string(s.substr(2));
      }
      out += fmt::format("[{}]", inner);
    } else if (s.starts_with("v:")) {
      out += fmt::format("[={}]", s.substr(2));
    } else {
      out += fmt::format("[{}]", s);
    }
  }
  return out.empty() ? "." : out;
}

const json* find_managed(const json& doc, const ManagedPath& path) {
  const json* cur = &doc;
  for (const std::string& step : path) {
    if (step == ".") continue;
    cur = step_into(*cur, step);
    if (!cur) return nullptr;
  }
  return cur;
}

bool erase_managed(json& doc, const ManagedPath& path) {
  ManagedPath target = path;
  if (!target.empty() && target.back() == ".") target.pop_back();
  if (target.empty()) return false;
  json* parent = &doc;
  for (std::size_t i = 0; i + 1 < target.size(); ++i) {
    parent = step_into(*parent, target[i]);
    if (!parent) return false;
  }
  return erase_step(*parent, target.back());
}

}  // namespace switchyard::apiserver
