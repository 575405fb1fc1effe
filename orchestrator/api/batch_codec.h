// Internal to the codec: the batch/v1 kinds (Job, CronJob) to and from the wire format, over the
// apps codec's pod template and selector.
#pragma once

#include <nlohmann/json.hpp>

#include "orchestrator/api/apps_codec.h"

namespace switchyard::api::codec {

// From the core codec.
void decode_fields(Reader& r, ObjectReference& o);
nlohmann::json encode(const ObjectReference& o);

void decode_body(Reader& r, Job& o);
void decode_body(Reader& r, CronJob& o);
void encode_body(nlohmann::json& j, const Job& o);
void encode_body(nlohmann::json& j, const CronJob& o);

}  // namespace switchyard::api::codec
