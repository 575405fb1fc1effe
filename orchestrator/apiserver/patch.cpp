// Patch types, RFC 7386 merge patch, and the dispatch the PATCH handler calls.
#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "orchestrator/apiserver/patch.h"

namespace switchyard::apiserver {

using nlohmann::json;

std::optional<PatchType> parse_patch_type(std::string_view content_type) {
  // Media type up to the first ';' (parameters such as charset are allowed), trimmed, any case.
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && std::isspace(static_cast<unsigned char>(media.front()))) media.remove_prefix(1);
  while (!media.empty() && std::isspace(static_cast<unsigned char>(media.back()))) media.remove_suffix(1);
  std::string lower(media);
  std::ranges::transform(lower, lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "application/json-patch+json") return PatchType::json_patch;
  if (lower == "application/merge-patch+json") return PatchType::merge_patch;
  if (lower == "application/strategic-merge-patch+json") return PatchType::strategic_merge_patch;
  if (lower == "application/apply-patch+yaml") return PatchType::apply_yaml;
  return std::nullopt;
}

std::string_view content_type_of(PatchType t) {
  switch (t) {
    case PatchType::json_patch:
      return "application/json-patch+json";
    case PatchType::merge_patch:
      return "application/merge-patch+json";
    case PatchType::strategic_merge_patch:
      return "application/strategic-merge-patch+json";
    case PatchType::apply_yaml:
      return "application/apply-patch+yaml";
  }
  return "";
}

json apply_merge_patch(const json& doc, const json& patch) {
  if (!patch.is_object()) return patch;
  json result = doc.is_object() ? doc : json::object();
  for (const auto& [key, value] : patch.items()) {
    if (value.is_null()) {
      result.erase(key);
      continue;
    }
    auto it = result.find(key);
    result[key] = apply_merge_patch(it == result.end() ? json() : *it, value);
  }
  return result;
}

PatchResult<json> apply_patch(PatchType type, const json& doc, const json& patch, std::string_view kind) {
  switch (type) {
    case PatchType::json_patch:
      return apply_json_patch(doc, patch);
    case PatchType::merge_patch:
      if (!patch.is_object())
        return std::unexpected(PatchError{400, fmt::format("a merge patch must be a JSON object, got {}", patch.type_name())});
      return apply_merge_patch(doc, patch);
    case PatchType::strategic_merge_patch:
      return apply_strategic_merge_patch(doc, patch, kind);
    case PatchType::apply_yaml:
      break;
  }
  return std::unexpected(PatchError{415, "apply patches are handled by server-side apply, not apply_patch"});
}

}  // namespace switchyard::apiserver
