// The PATCH algorithms of the API server, as pure functions over JSON documents:
//   application/json-patch+json            RFC 6902 (with RFC 6901 JSON Pointers)
//   application/merge-patch+json           RFC 7386
//   application/strategic-merge-patch+json Kubernetes strategic merge patch, with the list merge
//                                          keys of the kinds Switchyard serves (patch_schema.h)
//   application/apply-patch+yaml           a simplified server-side apply (server_side_apply.h)
// Nothing here touches storage, versions or validation: the handler decodes the body, calls one
// of these on the stored object's JSON, then decodes, defaults and validates the result.
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace switchyard::apiserver {

struct PatchError {
  // 400 malformed patch, 409 apply conflict, 413 too many JSON patch operations, 415 patch type
  // not supported for the kind, 422 a well-formed patch that does not apply to this document.
  int http_status = 400;
  std::string message;  // names the path or field and the cause
};

template <class T>
using PatchResult = std::expected<T, PatchError>;

enum class PatchType { json_patch, merge_patch, strategic_merge_patch, apply_yaml };

// The patch type named by a Content-Type header ("application/merge-patch+json; charset=utf-8"),
// or nullopt for anything else (the handler answers 415 Unsupported Media Type).
std::optional<PatchType> parse_patch_type(std::string_view content_type);
std::string_view content_type_of(PatchType t);

// RFC 6902. `patch` must be an array of operation objects. Operations apply in order to a copy;
// the first failing one fails the whole patch and `doc` is never half-patched.
// Errors: 400 when the patch itself is malformed (not an array, an operation without op, path,
// from or value, a bad pointer), 422 when an operation does not apply ("doc is missing path",
// "testing value /a failed", "Unexpected kind: frob"), worded as the kube-apiserver words them.
// More than kMaxJsonPatchOperations operations is 413, as in the kube-apiserver.
inline constexpr std::size_t kMaxJsonPatchOperations = 10000;
PatchResult<nlohmann::json> apply_json_patch(const nlohmann::json& doc, const nlohmann::json& patch);

// RFC 7386, exactly: a non-object patch replaces the document, null deletes, objects merge
// recursively, arrays replace. Cannot fail.
nlohmann::json apply_merge_patch(const nlohmann::json& doc, const nlohmann::json& patch);

// Kubernetes strategic merge patch for `kind` (Namespace, Pod, Service, Endpoints, EndpointSlice,
// Node). Other kinds get 415, as the kube-apiserver answers for custom resources.
PatchResult<nlohmann::json> apply_strategic_merge_patch(const nlohmann::json& doc, const nlohmann::json& patch, std::string_view kind);

// Dispatch for the handler: JSON patch, merge patch (which must be an object here, as the
// kube-apiserver requires) or strategic merge patch. apply_yaml is not handled here (see
// server_side_apply.h) and yields 415.
PatchResult<nlohmann::json> apply_patch(PatchType type, const nlohmann::json& doc, const nlohmann::json& patch, std::string_view kind);

}  // namespace switchyard::apiserver
