// ConfigMap, Secret and ServiceAccount to and from the Kubernetes JSON wire format.
#include "orchestrator/api/config_codec.h"

namespace switchyard::api::codec {

using nlohmann::json;

void decode_body(Reader& r, ConfigMap& o) {
  r.field("immutable", o.immutable);
  r.field("data", o.data);
  r.field("binaryData", o.binary_data);
}

void decode_body(Reader& r, Secret& o) {
  r.field("immutable", o.immutable);
  r.field("data", o.data);
  r.field("stringData", o.string_data);
  r.field("type", o.type);
}

void decode_body(Reader& r, ServiceAccount& o) {
  r.passthrough({"secrets", "imagePullSecrets"}, o.passthrough);
  r.field("automountServiceAccountToken", o.automount_service_account_token);
}

void encode_body(json& j, const ConfigMap& o) {
  put(j, "immutable", o.immutable);
  put(j, "data", o.data);
  put(j, "binaryData", o.binary_data);
}

void encode_body(json& j, const Secret& o) {
  put(j, "immutable", o.immutable);
  put(j, "data", o.data);
  put(j, "stringData", o.string_data);
  put(j, "type", o.type);
}

void encode_body(json& j, const ServiceAccount& o) {
  put_passthrough(j, o.passthrough);
  put(j, "automountServiceAccountToken", o.automount_service_account_token);
}

}  // namespace switchyard::api::codec
