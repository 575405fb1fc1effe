// The field ownership of writes that are not server-side apply (create, update, JSON/merge/
// strategic patches), as kube-apiserver's field manager records it: the fields a write sets or
// changes move to its manager's `Update` entry in metadata.managedFields, and leave every other
// manager's entry, so that a later apply of a different value conflicts and names that manager.
// Fields the write removed leave every entry. A write that sends `managedFields: []` clears them.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "orchestrator/apiserver/patch.h"

namespace switchyard::apiserver {

struct FieldWriter {
  std::string manager;  // fieldManager, or the User-Agent's product ("kubectl" of "kubectl/v1.33.0 …")
  std::string time;     // RFC 3339
};

// The manager kube-apiserver names a write by: the fieldManager query parameter, else the
// User-Agent up to its first "/", at most 128 characters.
std::string field_manager_of(std::string_view field_manager_param, std::string_view user_agent);

// `old` is null for a create. Updates `updated`'s metadata.managedFields. A corrupt stored list
// is replaced, as upstream resets managed fields it cannot decode.
void record_update(const nlohmann::json& old, nlohmann::json& updated, std::string_view kind, const FieldWriter& writer);

}  // namespace switchyard::apiserver
