// A simplified server-side apply (PATCH with application/apply-patch+yaml, body already
// converted from YAML to JSON by the handler).
//
// What it does, as Kubernetes does:
//   - the fields of the applied configuration become the manager's field set, recorded in
//     metadata.managedFields as an {manager, operation: Apply, apiVersion, time, FieldsV1} entry;
//   - fields the manager applied before and omits now are removed from the object, unless
//     another manager also owns them;
//   - setting a field that another manager owns to a different value is a conflict: 409 with
//     every conflicting field, unless force, which moves those fields to the applier; setting it
//     to the same value shares ownership;
//   - keyed lists are owned per element (k:{"port":80,"protocol":"TCP"}), sets per value (v:),
//     maps per key, atomic lists and scalars as a whole.
//
// What is simplified:
//   - the list keys are the strategic-merge-patch merge keys (patch_schema.h) plus "protocol"
//     (defaulting to "TCP") for Service and container ports; there is no OpenAPI schema, so
//     maps are always granular (Kubernetes treats some, e.g. a Service selector, as atomic);
//   - the applied configuration is merged into the object with strategic merge patch, so new
//     list elements come first rather than in the applied order;
//   - only Apply operations are recorded here; the handler records the `Update` entries of
//     creates, PUTs and other PATCHes (update_managers.h), and applies conflict with them too;
//   - nulls in the applied configuration are dropped (not "unset this field"), status is
//     ignored (apply to the main resource), and apiVersion, kind, metadata.name/namespace/uid/
//     resourceVersion/creationTimestamp/generation/managedFields are never owned;
//   - no version conversion: field sets of all apiVersions are compared as if they were one.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "orchestrator/apiserver/patch.h"

namespace switchyard::apiserver {

struct ApplyOptions {
  std::string manager;  // fieldManager, required
  bool force = false;
  std::string time;  // RFC 3339, written into the manager's managedFields entry
};

// `live` is the stored object, or null/{} when the apply creates it. The result carries the
// updated metadata.managedFields.
PatchResult<nlohmann::json> server_side_apply(const nlohmann::json& live, const nlohmann::json& applied, std::string_view kind,
                                              const ApplyOptions& options);

}  // namespace switchyard::apiserver
