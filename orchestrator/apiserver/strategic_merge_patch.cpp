// Kubernetes strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch, the apply half),
// written from its documented semantics over the list table in patch_schema.h:
//   - maps merge recursively; a null value deletes the key;
//   - a list with a merge key merges element by element (same key value: merge the maps; new key
//     value: add), a merged list of primitives is a set union, every other list is replaced;
//   - directives: `$patch: replace|delete` in a map, `{"$patch": "delete", <key>: v}` and
//     `{"$patch": "replace"}` as list elements, `$deleteFromPrimitiveList/<list>`,
//     `$setElementOrder/<list>`, `$retainKeys`.
// Element order follows Kubernetes: without $setElementOrder the patch's elements come in the
// patch's order and the elements only the server had keep their relative order around them (so
// a new element lands first, as `kubectl patch` users see); $setElementOrder dictates the order.
//
// Deliberate differences, all about malformed or odd patches:
//   - a patch value for a key the document lacks is applied to an empty value, so directives and
//     nulls inside it are resolved (Kubernetes copies such a value verbatim, directives included);
//   - `$deleteFromPrimitiveList/x` deletes from x whatever x's strategy (Kubernetes replaces a
//     non-merge list with the deletion list), and always after the patch's own x was merged:
//     a value a patch both adds and deletes is gone (Kubernetes walks a Go map, so either
//     outcome happens there, run to run);
//   - none for keys that start with '$' but are no directive: like Kubernetes, they are plain
//     fields here, and the decoder reports them as unknown fields (warning or strict error).
#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "orchestrator/apiserver/patch.h"
#include "orchestrator/apiserver/patch_schema.h"

namespace switchyard::apiserver {
namespace {

using nlohmann::json;

constexpr std::string_view kDirective = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kSetElementOrder = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList/";
constexpr std::size_t kNotFound = std::numeric_limits<std::size_t>::max();

PatchError bad_patch(std::string m) { return {400, std::move(m)}; }
PatchError unprocessable(std::string m) { return {422, std::move(m)}; }

std::string child_path(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : fmt::format("{}.{}", parent, key);
}
std::string_view shown(std::string_view path) { return path.empty() ? "<root>" : path; }

enum class Shape { object, array, scalar };
Shape shape_of(const json& j) { return j.is_object() ? Shape::object : j.is_array() ? Shape::array : Shape::scalar; }

// Position of `item` in `list`: by merge key for lists of maps, by value for primitives.
std::size_t index_in(const json& list, const json& item, std::string_view merge_key) {
  if (!list.is_array()) return kNotFound;
  if (merge_key.empty()) {
    for (std::size_t i = 0; i < list.size(); ++i)
      if (list[i] == item) return i;
    return kNotFound;
  }
  if (!item.is_object()) return kNotFound;
  auto key = item.find(merge_key);
  if (key == item.end()) return kNotFound;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_object()) continue;
    auto other = list[i].find(merge_key);
    if (other != list[i].end() && *other == *key) return i;
  }
  return kNotFound;
}

// Reorders `merged` the way strategicpatch's normalizeElementOrder does: the elements named in
// `patch_order` sorted by it, the others ("server-only") sorted by `server_order`, then the two
// interleaved so that a server-only element goes before a patch element only when the server
// had it before that element.
json normalize_order(const json& merged, const json& patch_order, const json& server_order, std::string_view key) {
  std::vector<json> patch_items, server_only;
  for (const json& e : merged) (index_in(patch_order, e, key) != kNotFound ? patch_items : server_only).push_back(e);
  auto by = [&](const json& order) {
    return [&order, key](const json& a, const json& b) { return index_in(order, a, key) < index_in(order, b, key); };
  };
  std::ranges::stable_sort(patch_items, by(patch_order));
  std::ranges::stable_sort(server_only, by(server_order));

  json out = json::array();
  std::size_t i = 0, j = 0;
  while (i < server_only.size() || j < patch_items.size()) {
    if (j >= patch_items.size()) {
      out.push_back(std::move(server_only[i++]));
    } else if (i >= server_only.size()) {
      out.push_back(std::move(patch_items[j++]));
    } else {
      std::size_t li = index_in(server_order, server_only[i], key);
      std::size_t ri = index_in(server_order, patch_items[j], key);
      bool server_first = li != kNotFound && ri != kNotFound && li < ri;
      out.push_back(server_first ? std::move(server_only[i++]) : std::move(patch_items[j++]));
    }
  }
  return out;
}

class StrategicMerge {
 public:
  explicit StrategicMerge(std::string_view kind) : kind_(kind) {}

  PatchResult<void> merge_map(json& original, const json& patch, const std::string& path);

 private:
  PatchResult<void> merge_list(json& original, const json& patch, const std::string& path, const ListSchema& s);
  PatchResult<json> materialize(const json& patch, const std::string& path);
  PatchResult<void> apply_retain_keys(json& original, const json& patch, const json& keys, const std::string& path);
  PatchResult<void> apply_element_order(json& original, const std::string& field, const json& order, const json& before, const json& patch,
                                        const std::string& path);

  std::string_view kind_;
};

// A patch value for a key the document does not have: the patch applied to nothing.
PatchResult<json> StrategicMerge::materialize(const json& patch, const std::string& path) {
  if (patch.is_object()) {
    json out = json::object();
    if (auto r = merge_map(out, patch, path); !r) return std::unexpected(r.error());
    return out;
  }
  if (patch.is_array()) {
    auto schema = find_list_schema(kind_, path);
    if (!schema || schema->strategy != ListStrategy::merge) return patch;
    json out = json::array();
    if (auto r = merge_list(out, patch, path, *schema); !r) return std::unexpected(r.error());
    return out;
  }
  return patch;
}

PatchResult<void> StrategicMerge::apply_retain_keys(json& original, const json& patch, const json& keys, const std::string& path) {
  if (!keys.is_array() || !std::ranges::all_of(keys, [](const json& k) { return k.is_string(); }))
    return std::unexpected(bad_patch(fmt::format("invalid patch format of retainKeys at {}: must be a list of field names", shown(path))));
  auto retained = [&](std::string_view k) { return std::ranges::find(keys, json(k)) != keys.end(); };
  for (const auto& [k, v] : patch.items()) {
    if (v.is_null() || k.starts_with('$')) continue;
    if (!retained(k))
      return std::unexpected(
          bad_patch(fmt::format("invalid patch format of retainKeys: {} is not in the $retainKeys list of {}", k, shown(path))));
  }
  for (auto it = original.begin(); it != original.end();) it = retained(it.key()) ? std::next(it) : original.erase(it);
  return {};
}

PatchResult<void> StrategicMerge::apply_element_order(json& original, const std::string& field, const json& order, const json& before,
                                                      const json& patch, const std::string& path) {
  const std::string list_path = child_path(path, field);
  auto schema = find_list_schema(kind_, list_path);
  std::string_view key = schema ? schema->merge_key : std::string_view{};
  // Every element the patch names must appear in the order list, in the same relative order.
  if (auto p = patch.find(field); p != patch.end() && p->is_array()) {
    std::size_t last = 0;
    bool first = true;
    for (const json& e : *p) {
      if (e.is_object() && e.contains(kDirective)) continue;
      std::size_t at = index_in(order, e, key);
      if (at == kNotFound || (!first && at <= last))
        return std::unexpected(bad_patch(
            fmt::format("the order in patch list {} doesn't match $setElementOrder list {} of {}", p->dump(), order.dump(), list_path)));
      last = at;
      first = false;
    }
  }
  auto it = original.find(field);
  if (it == original.end() || !it->is_array()) return {};
  *it = normalize_order(*it, order, before, key);
  return {};
}

PatchResult<void> StrategicMerge::merge_map(json& original, const json& patch, const std::string& path) {
  if (auto d = patch.find(kDirective); d != patch.end()) {
    if (*d == "replace") {
      json rest = patch;
      rest.erase(std::string(kDirective));
      auto r = materialize(rest, path);
      if (!r) return std::unexpected(r.error());
      original = std::move(*r);
      return {};
    }
    if (*d == "delete") {
      original = json::object();
      return {};
    }
    return std::unexpected(bad_patch(fmt::format("unknown patch type: {} in map at {}", d->dump(), shown(path))));
  }
  if (!original.is_object()) original = json::object();
  if (auto keys = patch.find(kRetainKeys); keys != patch.end())
    if (auto r = apply_retain_keys(original, patch, *keys, path); !r) return r;

  // The lists named by $setElementOrder, as they were before the merge (the server's order).
  std::vector<std::pair<std::string, json>> orders;
  for (const auto& [k, v] : patch.items()) {
    std::string_view key = k;
    if (key.starts_with(kSetElementOrder) || key.starts_with(kDeleteFromPrimitiveList)) {
      if (!v.is_array()) return std::unexpected(bad_patch(fmt::format("invalid patch format: {} at {} must be a list", k, shown(path))));
      if (key.starts_with(kSetElementOrder)) {
        std::string field(key.substr(kSetElementOrder.size()));
        auto cur = original.find(field);
        orders.emplace_back(field, cur == original.end() ? json::array() : *cur);
      }
      continue;
    }
    if (key == kRetainKeys) continue;

    const std::string child = child_path(path, k);
    if (v.is_null()) {
      original.erase(k);
      continue;
    }
    auto cur = original.find(k);
    if (cur == original.end() || shape_of(*cur) != shape_of(v)) {
      auto r = materialize(v, child);
      if (!r) return std::unexpected(r.error());
      original[k] = std::move(*r);
    } else if (v.is_object()) {
      if (auto r = merge_map(*cur, v, child); !r) return r;
    } else if (v.is_array()) {
      auto schema = find_list_schema(kind_, child);
      if (schema && schema->strategy == ListStrategy::merge) {
        if (auto r = merge_list(*cur, v, child, *schema); !r) return r;
      } else {
        *cur = v;
      }
    } else {
      *cur = v;
    }
  }

  for (const auto& [k, v] : patch.items()) {
    std::string_view key = k;
    if (!key.starts_with(kDeleteFromPrimitiveList)) continue;
    auto cur = original.find(std::string(key.substr(kDeleteFromPrimitiveList.size())));
    if (cur == original.end() || !cur->is_array()) continue;
    json kept = json::array();
    for (json& e : *cur)
      if (std::ranges::find(v, e) == v.end()) kept.push_back(std::move(e));
    *cur = std::move(kept);
  }
  for (const auto& [field, before] : orders) {
    const json& order = patch.at(std::string(kSetElementOrder) + field);
    if (auto r = apply_element_order(original, field, order, before, patch, path); !r) return r;
  }
  return {};
}

PatchResult<void> StrategicMerge::merge_list(json& original, const json& patch, const std::string& path, const ListSchema& schema) {
  if (original.empty() && patch.empty()) return {};
  bool any_object = false, any_other = false;
  for (const json* list : std::initializer_list<const json*>{&original, &patch}) {
    for (const json& e : *list) {
      if (e.is_array()) return std::unexpected(unprocessable(fmt::format("lists of lists are not supported (in {})", path)));
      (e.is_object() ? any_object : any_other) = true;
    }
  }
  if (any_object && any_other) return std::unexpected(unprocessable(fmt::format("list element types are not identical (in {})", path)));

  if (!any_object) {  // a set of primitives: union, without duplicates
    json merged = json::array();
    for (const json* list : std::initializer_list<const json*>{&original, &patch})
      for (const json& e : *list)
        if (std::ranges::find(merged, e) == merged.end()) merged.push_back(e);
    original = normalize_order(merged, patch, original, {});
    return {};
  }

  const std::string_view key = schema.merge_key;
  if (key.empty()) return std::unexpected(unprocessable(fmt::format("cannot merge lists without merge key for {}", path)));
  const std::string element_path = path + "[]";
  auto no_merge_key = [&](const json& e) {
    return unprocessable(fmt::format("map: {} does not contain declared merge key: {} (in {})", e.dump(), key, path));
  };

  json items = json::array();  // the patch without its directive elements
  bool replace = false;
  for (const json& e : patch) {
    auto d = e.find(kDirective);
    if (d == e.end()) {
      items.push_back(e);
    } else if (*d == "delete") {
      auto value = e.find(key);
      if (value == e.end()) return std::unexpected(no_merge_key(e));
      json kept = json::array();
      for (json& o : original)
        if (!(o.is_object() && o.contains(key) && o[std::string(key)] == *value)) kept.push_back(std::move(o));
      original = std::move(kept);
    } else if (*d == "replace") {
      replace = true;
    } else if (*d == "merge") {
      return std::unexpected(bad_patch(fmt::format("merging lists cannot yet be specified in the patch ({})", path)));
    } else {
      return std::unexpected(bad_patch(fmt::format("unknown patch type: {} in list {}", d->dump(), path)));
    }
  }
  if (replace) {
    json out = json::array();
    for (const json& e : items) {
      auto r = materialize(e, element_path);
      if (!r) return std::unexpected(r.error());
      out.push_back(std::move(*r));
    }
    original = std::move(out);
    return {};
  }

  const json server_order = original;
  for (const json& e : items) {
    if (!e.contains(key)) return std::unexpected(no_merge_key(e));
    std::size_t at = index_in(original, e, key);
    if (at != kNotFound) {
      if (auto r = merge_map(original[at], e, element_path); !r) return r;
    } else {
      auto r = materialize(e, element_path);
      if (!r) return std::unexpected(r.error());
      original.push_back(std::move(*r));
    }
  }
  original = normalize_order(original, items, server_order, key);
  return {};
}

}  // namespace

PatchResult<nlohmann::json> apply_strategic_merge_patch(const json& doc, const json& patch, std::string_view kind) {
  if (!has_strategic_merge_schema(kind))
    return std::unexpected(
        PatchError{415, fmt::format("the body of the request was in an unknown format - strategic merge patch is not supported "
                                    "for kind {}; accepted media types include: application/json-patch+json, "
                                    "application/merge-patch+json, application/apply-patch+yaml",
                                    kind.empty() ? "<none>" : kind)});
  if (!patch.is_object())
    return std::unexpected(PatchError{400, fmt::format("a strategic merge patch must be a JSON object, got {}", patch.type_name())});
  json result = doc.is_object() ? doc : json::object();
  StrategicMerge merge(kind);
  if (auto r = merge.merge_map(result, patch, ""); !r) return std::unexpected(r.error());
  return result;
}

}  // namespace switchyard::apiserver
