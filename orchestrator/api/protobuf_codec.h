// The Kubernetes protobuf wire format (application/vnd.kubernetes.protobuf) as a transcoder to
// and from the JSON object model: a protobuf request becomes the same JSON value a JSON client
// would have sent and then takes the same decoding and validation path; a response is the JSON
// the server would have sent, re-encoded. The schemas come from protobuf_schema.h.
//
// Wire layout of an object: "k8s\0" + runtime.Unknown{typeMeta{apiVersion=1, kind=2}=1, raw=2,
// contentEncoding=3, contentType=4}, raw being the kind's message. A watch stream is a sequence
// of frames: 4-byte big-endian length + metav1.WatchEvent{type=1, object=2 {raw=1}} without the
// prefix or envelope, its object's raw being a whole enveloped object.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "orchestrator/api/protobuf_schema.h"
#include "orchestrator/base/error.h"

namespace switchyard::api::protobuf {

inline constexpr std::string_view kMagic{"k8s\0", 4};
inline constexpr std::string_view kMediaType = "application/vnd.kubernetes.protobuf";
inline constexpr std::string_view kWatchMediaType = "application/vnd.kubernetes.protobuf;stream=watch";

// One message's bytes to its JSON object and back. Zero-valued scalars that are not Go pointers
// are left out of the JSON, as upstream's JSON (omitempty) leaves them out.
Result<nlohmann::json> message_to_json(const Message& message, std::string_view bytes);
Result<std::string> json_to_message(const Message& message, const nlohmann::json& object);

// Whether objects of this kind have a protobuf form (lists included: "ServiceList").
bool has_protobuf_form(std::string_view api_version, std::string_view kind);

// A whole enveloped object to JSON (apiVersion and kind taken from the envelope), and back (the
// JSON's apiVersion and kind choose the schema).
Result<nlohmann::json> decode_object(std::string_view body);
Result<std::string> encode_object(const nlohmann::json& object);

// One watch event as a whole frame (length prefix included), and one frame's body back.
Result<std::string> encode_watch_frame(std::string_view type, const nlohmann::json& object);
struct WatchEventJson {
  std::string type;
  nlohmann::json object;
};
Result<WatchEventJson> decode_watch_event(std::string_view frame_body);

}  // namespace switchyard::api::protobuf
