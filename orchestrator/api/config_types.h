// core/v1 configuration objects: ConfigMap, Secret, ServiceAccount. Included by types.h after
// ObjectMeta. Byte maps (ConfigMap.binaryData, Secret.data) are kept as their base64 wire text,
// so a round trip is exact; config_validation.cpp decodes where a check needs the bytes.
#pragma once

namespace switchyard::api {

struct ConfigMap {
  static constexpr const char* kKind = "ConfigMap";
  static constexpr const char* kApiVersion = "v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  std::optional<bool> immutable;
  StringMap data;
  StringMap binary_data;  // key -> base64
  bool operator==(const ConfigMap&) const = default;
};

struct Secret {
  static constexpr const char* kKind = "Secret";
  static constexpr const char* kApiVersion = "v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  std::optional<bool> immutable;
  StringMap data;         // key -> base64
  StringMap string_data;  // write-only: merged into data by apply_defaults, never stored
  std::string type;       // Opaque when unset
  bool operator==(const Secret&) const = default;
};

struct ServiceAccount {
  static constexpr const char* kKind = "ServiceAccount";
  static constexpr const char* kApiVersion = "v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  std::optional<bool> automount_service_account_token;
  Passthrough passthrough;  // secrets, imagePullSecrets
  bool operator==(const ServiceAccount&) const = default;
};

}  // namespace switchyard::api
