// The fields an object (or an apply configuration) sets, as FieldsV1 leaf paths: keyed lists
// per element (with "." for the element's existence), sets per value, atomic lists and
// scalars as a whole. Server-side apply collects the applied configuration strictly; the
// Update bookkeeping of other writes collects stored objects leniently.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "orchestrator/apiserver/managed_fields.h"
#include "orchestrator/apiserver/patch.h"

namespace switchyard::apiserver {

enum class Collect {
  Strict,   // directives and keyed elements without their key are errors (an apply configuration)
  Lenient,  // such elements are owned as the whole list instead (an object as stored)
};

// The part of an object that managers can own: no apiVersion, kind or status, and none of the
// metadata that identifies the object or belongs to the server (name, uid, resourceVersion, …).
nlohmann::json ownable_part(const nlohmann::json& object);

PatchResult<FieldSet> collect_fields(const nlohmann::json& owned, std::string_view kind, Collect mode);

}  // namespace switchyard::apiserver
