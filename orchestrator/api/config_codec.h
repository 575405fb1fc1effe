// Internal to the codec: the core/v1 configuration kinds (ConfigMap, Secret, ServiceAccount) to
// and from the wire format.
#pragma once

#include <nlohmann/json.hpp>

#include "orchestrator/api/json_reader.h"
#include "orchestrator/api/types.h"

namespace switchyard::api::codec {

void decode_body(Reader& r, ConfigMap& o);
void decode_body(Reader& r, Secret& o);
void decode_body(Reader& r, ServiceAccount& o);
void encode_body(nlohmann::json& j, const ConfigMap& o);
void encode_body(nlohmann::json& j, const Secret& o);
void encode_body(nlohmann::json& j, const ServiceAccount& o);

}  // namespace switchyard::api::codec
