// Field sets as server-side apply records them in metadata.managedFields (fieldsType FieldsV1):
//   {"f:spec":{"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:targetPort":{}}}}}
// A field path is the list of FieldsV1 keys from the root to one leaf ("{}"):
//   "f:<field>"    a field of an object
//   "k:<json>"     the element of a keyed list whose key fields have these values
//   "v:<json>"     the element of a set of primitives with this value
//   "."            the node itself (a keyed list element exists), under a k: element
#pragma once

#include <expected>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include "orchestrator/base/error.h"

namespace switchyard::apiserver {

using ManagedPath = std::vector<std::string>;
using FieldSet = std::set<ManagedPath>;

// FieldsV1 JSON <-> set of leaf paths. Parsing fails when the value is not a tree of objects.
Result<FieldSet> parse_fields_v1(const nlohmann::json& fields_v1);
nlohmann::json to_fields_v1(const FieldSet& set);

// Kubernetes' rendering of a path in conflict messages: .spec.ports[port=80,protocol="TCP"].targetPort
std::string render_managed_path(const ManagedPath& path);

// The value a path names in an object, or nullptr. Keyed elements match on every key field; a
// missing "protocol" matches "TCP", its default.
const nlohmann::json* find_managed(const nlohmann::json& doc, const ManagedPath& path);

// Removes what a path names (a field, a keyed element when the path ends in ".", a set value).
// Returns false when it is not there.
bool erase_managed(nlohmann::json& doc, const ManagedPath& path);

}  // namespace switchyard::apiserver
