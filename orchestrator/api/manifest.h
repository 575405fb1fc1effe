// Manifests as users write them: JSON, YAML, multi-document YAML, and v1 List wrappers,
// read into the same objects as request bodies.
#pragma once

#include <cstddef>
#include <expected>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/api/json_codec.h"

namespace switchyard::api {

struct ManifestLimits {
  std::size_t max_bytes = 16u << 20;  // whole input
  std::size_t max_depth = 200;        // nesting of objects and arrays
  std::size_t max_nodes = 1'000'000;  // after YAML aliases are expanded
};

// Parses JSON or (multi-document) YAML into one JSON value per non-empty document.
// YAML scalars are typed as Kubernetes' YAML reader types them (YAML 1.1 booleans included).
std::expected<std::vector<nlohmann::json>, DecodeError> parse_documents(std::string_view text, const ManifestLimits& limits = {});

// parse_documents + decode_object for each document; `kind: List` documents are expanded.
// Errors name the document ("document 2: spec.ports[0].port: ...").
std::expected<std::vector<Decoded>, DecodeError> decode_manifest(std::string_view text, const ManifestLimits& limits = {});

// Nesting depth of a JSON value, counted without recursion.
std::size_t json_depth(const nlohmann::json& j);

}  // namespace switchyard::api
