// Objects to and from the Kubernetes JSON wire format: camelCase fields, empty fields omitted,
// int-or-string ports, Go pointer fields kept distinct from zero values.
#pragma once

#include <expected>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/api/types.h"

namespace switchyard::api {

struct DecodeError {
  std::string message;  // names the field and what is wrong with it
};

struct Decoded {
  Object object;
  // Fields Kubernetes does not define for the kind, as paths ("spec.portz"). The API server
  // turns them into warnings or a strict-decoding error according to fieldValidation.
  std::vector<std::string> unknown_fields;
};

// Decodes any supported kind, chosen by apiVersion and kind.
std::expected<Decoded, DecodeError> decode_object(const nlohmann::json& j);
// Decodes a body that must be of the given kind (apiVersion and kind may be omitted).
std::expected<Decoded, DecodeError> decode_object_as(const nlohmann::json& j, std::string_view api_version, std::string_view kind);

nlohmann::json encode_object(const Object& o);
nlohmann::json encode_meta(const ObjectMeta& m);

// Whether apiVersion/kind name a kind Switchyard serves.
bool is_known_kind(std::string_view api_version, std::string_view kind);

}  // namespace switchyard::api
