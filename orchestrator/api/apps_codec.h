// Internal to the codec: the apps/v1 kinds (ReplicaSet, Deployment, DaemonSet, ControllerRevision) to and
// from the wire format, over the core codec's PodSpec and ObjectMeta.
#pragma once

#include <nlohmann/json.hpp>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/json_reader.h"
#include "orchestrator/api/types.h"

namespace switchyard::api::codec {

// From the core codec (json_decode.cpp, json_encode.cpp).
void decode_fields(Reader& r, ObjectMeta& m);
void decode_fields(Reader& r, PodSpec& s);
nlohmann::json encode_pod_spec(const PodSpec& s);
// Shared with the batch/v1 codec (apps_codec.cpp).
void decode_fields(Reader& r, LabelSelectorSpec& s);
void decode_fields(Reader& r, PodTemplateSpec& t);
nlohmann::json encode_selector(const LabelSelectorSpec& s);
nlohmann::json encode_template(const PodTemplateSpec& t);

void decode_body(Reader& r, ReplicaSet& o);
void decode_body(Reader& r, Deployment& o);
void decode_body(Reader& r, DaemonSet& o);
void decode_body(Reader& r, ControllerRevision& o);
void encode_body(nlohmann::json& j, const ReplicaSet& o);
void encode_body(nlohmann::json& j, const Deployment& o);
void encode_body(nlohmann::json& j, const DaemonSet& o);
void encode_body(nlohmann::json& j, const ControllerRevision& o);

}  // namespace switchyard::api::codec
