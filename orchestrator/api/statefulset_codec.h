// Internal to the codec: apps/v1 StatefulSet to and from the wire format, over the apps codec's
// pod template and selector.
#pragma once

#include <nlohmann/json.hpp>

#include "orchestrator/api/apps_codec.h"

namespace switchyard::api::codec {

void decode_body(Reader& r, StatefulSet& o);
void encode_body(nlohmann::json& j, const StatefulSet& o);

}  // namespace switchyard::api::codec
