// libFuzzer entry point for every PATCH algorithm and the field bookkeeping that follows it.
// Input: a first line "<mode> <kind>", a second line with the stored object's JSON, and the
// patch (or applied configuration) as the rest. Modes: 0 JSON patch, 1 merge patch, 2 strategic
// merge patch, 3 server-side apply, 4 server-side apply with force. Bodies pass the same JSON
// depth limit as the server's, and so do the results before the managed-fields code walks them.
// Must never crash, hang or leak; errors are fine.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "orchestrator/api/manifest.h"
#include "orchestrator/apiserver/patch.h"
#include "orchestrator/apiserver/server_side_apply.h"
#include "orchestrator/apiserver/update_managers.h"

namespace {

using nlohmann::json;
using namespace switchyard::apiserver;

constexpr std::size_t kMaxDepth = 200;  // the API server's limit on a body

bool parse_limited(std::string_view text, json& out) {
  out = json::parse(text, nullptr, false);
  return !out.is_discarded() && switchyard::api::json_depth(out) <= kMaxDepth;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto header_end = input.find('\n');
  if (header_end == std::string_view::npos) return 0;
  const auto doc_end = input.find('\n', header_end + 1);
  if (doc_end == std::string_view::npos) return 0;
  const std::string_view header = input.substr(0, header_end);
  if (header.size() < 3 || header[0] < '0' || header[0] > '4' || header[1] != ' ') return 0;
  const int mode = header[0] - '0';
  const std::string kind(header.substr(2));
  json doc, patch;
  if (!parse_limited(input.substr(header_end + 1, doc_end - header_end - 1), doc) || !doc.is_object()) return 0;
  if (!parse_limited(input.substr(doc_end + 1), patch)) return 0;

  PatchResult<json> result = std::unexpected(PatchError{});
  switch (mode) {
    case 0:
      result = apply_patch(PatchType::json_patch, doc, patch, kind);
      break;
    case 1:
      if (!patch.is_object()) return 0;
      result = apply_patch(PatchType::merge_patch, doc, patch, kind);
      // RFC 7386 merge patches are idempotent: applying one twice changes nothing more.
      if (result && apply_merge_patch(*result, patch) != *result) __builtin_trap();
      break;
    case 2:
      result = apply_patch(PatchType::strategic_merge_patch, doc, patch, kind);
      break;
    default:
      if (!patch.is_object()) return 0;
      result = server_side_apply(doc, patch, kind, ApplyOptions{"fuzz-apply", mode == 4, "2026-12-07T00:00:00Z"});
      break;
  }
  if (!result || !result->is_object() || switchyard::api::json_depth(*result) > kMaxDepth) return 0;
  json updated = *result;
  record_update(doc, updated, kind, FieldWriter{"fuzz-update", "2026-12-07T00:00:00Z"});
  return 0;
}
