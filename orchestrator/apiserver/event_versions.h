// events.k8s.io/v1 Events: the same objects as core/v1 Events, stored once (as core/v1, where
// kube-apiserver stores both) and converted on the way in and out, with the field renames of
// upstream's conversion (involvedObject ↔ regarding, message ↔ note, source ↔ deprecatedSource,
// firstTimestamp/lastTimestamp/count ↔ deprecated*, reportingComponent ↔ reportingController).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/api/field_error.h"
#include "orchestrator/apiserver/resources.h"

namespace switchyard::apiserver {

// True for the events.k8s.io resource, which the registry serves from the core one.
bool is_events_v1(const ResourceInfo& r);
const ResourceInfo& core_events_resource();

// A stored (core/v1) Event as events.k8s.io/v1 shows it.
nlohmann::json event_to_v1(const nlohmann::json& core);

struct CoreEvent {
  nlohmann::json object;
  std::vector<std::string> unknown_fields;  // core-only names sent to events.k8s.io
  std::string error;                        // a body of another apiVersion
};
// An events.k8s.io/v1 body as the core/v1 object it is stored as. A core-only field name in
// it (message, involvedObject, …) is unknown to events.k8s.io/v1: it is reported, not renamed.
CoreEvent event_from_v1(const nlohmann::json& v1);

// What ValidateEventCreate adds for events.k8s.io/v1 (eventTime, reportingController,
// reportingInstance, action, reason required; the deprecated fields unset; series well formed),
// on the converted object, with upstream's field paths (which are core's names).
api::FieldErrors validate_v1_event_create(const nlohmann::json& core);

// A field selector in events.k8s.io/v1 names (regarding.name=x) in the stored object's names.
std::string event_field_selector_from_v1(const std::string& selector);

}  // namespace switchyard::apiserver
