// A StatefulSet's ControllerRevisions as upstream's history package writes them: the data is a
// strategic merge patch that replaces spec.template (what `kubectl rollout undo` applies), the
// name is SET-HASH, and the revision number grows with each new template.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "orchestrator/api/types.h"

namespace switchyard::controllers::sts {

// {"spec":{"template":{…,"$patch":"replace"}}}
nlohmann::json revision_patch(const api::StatefulSet& set);
// The template a revision's data carries (for pods below a partition), or nullopt if unreadable.
std::optional<api::PodTemplateSpec> template_of(const api::ControllerRevision& revision);
// A new revision of `set` named SET-HASH, owned by it, labelled with the template's labels and
// the hash.
api::ControllerRevision new_revision(const api::StatefulSet& set, std::int64_t number, std::int32_t collision_count);

}  // namespace switchyard::controllers::sts
