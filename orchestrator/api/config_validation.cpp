// Defaulting and validation of ConfigMap, Secret and ServiceAccount with kube-apiserver's field
// paths and messages (pkg/apis/core/validation: ValidateConfigMap, ValidateSecret and their
// Update forms; the v1 Secret conversion that folds stringData into data).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "orchestrator/api/protobuf_values.h"
#include "orchestrator/api/validation.h"

namespace switchyard::api {

namespace {

constexpr std::size_t kMaxSecretSize = 1024 * 1024;  // core.MaxSecretSize, for ConfigMaps too

std::size_t decoded_size(const std::string& b64) {
  std::string bytes;
  if (!protobuf::values::base64_decode(b64, bytes)) return b64.size();
  return bytes.size();
}

std::string decoded(const StringMap& data, const std::string& key) {
  std::string bytes;
  auto it = data.find(key);
  if (it != data.end() && !protobuf::values::base64_decode(it->second, bytes)) return {};
  return bytes;
}

// What Go's json.Unmarshal into map[string]interface{} says about text it refuses.
std::optional<std::string> json_object_error(const std::string& text) {
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "unexpected end of JSON input";
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded()) {
    const char c = text[first];
    if (c != '{' && c != '[' && c != '"' && c != '-' && !(c >= '0' && c <= '9') && c != 't' && c != 'f' && c != 'n')
      return fmt::format("invalid character '{}' looking for beginning of value", c);
    return "unexpected end of JSON input";
  }
  if (parsed.is_object() || parsed.is_null()) return std::nullopt;
  const char* type = parsed.is_array() ? "array" : parsed.is_string() ? "string" : parsed.is_boolean() ? "bool" : "number";
  return fmt::format("json: cannot unmarshal {} into Go value of type map[string]interface {{}}", type);
}

void check_keys(FieldErrors& errs, const FieldPath& path, const StringMap& data) {
  for (const auto& [key, value] : data)
    for (const auto& msg : config_map_key(key)) errs.push_back(invalid(path.key(key), go_quoted(key), msg));
}

void check_secret_type(FieldErrors& errs, const Secret& o) {
  const FieldPath data("data");
  const auto has = [&](const char* k) { return o.data.contains(k); };
  const std::string& t = o.type;
  if (t == "kubernetes.io/service-account-token") {
    auto it = o.metadata.annotations.find("kubernetes.io/service-account.name");
    if (it == o.metadata.annotations.end() || it->second.empty())
      errs.push_back(required(FieldPath("metadata").child("annotations").key("kubernetes.io/service-account.name")));
  } else if (t == "kubernetes.io/dockercfg" || t == "kubernetes.io/dockerconfigjson") {
    const char* key = t == "kubernetes.io/dockercfg" ? ".dockercfg" : ".dockerconfigjson";
    if (!has(key)) {
      errs.push_back(required(data.key(key)));
      return;
    }
    if (auto why = json_object_error(decoded(o.data, key))) errs.push_back(invalid(data.key(key), "\"<secret contents redacted>\"", *why));
  } else if (t == "kubernetes.io/basic-auth") {
    // username or password may be empty, but one of them must be there
    if (!has("username") && !has("password")) {
      errs.push_back(required(data.key("username")));
      errs.push_back(required(data.key("password")));
    }
  } else if (t == "kubernetes.io/ssh-auth") {
    if (decoded(o.data, "ssh-privatekey").empty()) errs.push_back(required(data.key("ssh-privatekey")));
  } else if (t == "kubernetes.io/tls") {
    if (!has("tls.crt")) errs.push_back(required(data.key("tls.crt")));
    if (!has("tls.key")) errs.push_back(required(data.key("tls.key")));
  }
}

template <class T>
void immutable_fields(FieldErrors& errs, const T& now, const T& before, std::initializer_list<std::pair<const char*, bool>> changed) {
  if (!before.immutable.value_or(false)) return;
  constexpr const char* kWhy = "field is immutable when `immutable` is set";
  if (!now.immutable.value_or(false)) errs.push_back(forbidden(FieldPath("immutable"), kWhy));
  for (const auto& [field, differs] : changed)
    if (differs) errs.push_back(forbidden(FieldPath(field), kWhy));
}

}  // namespace

void apply_defaults(ConfigMap&) {}

void apply_defaults(Secret& s) {
  // The v1 conversion: stringData entries overwrite data's, and stringData is never stored.
  for (const auto& [key, value] : s.string_data) s.data[key] = protobuf::values::base64_encode(value);
  s.string_data.clear();
  if (s.type.empty()) s.type = "Opaque";
}

void apply_defaults(ServiceAccount&) {}

FieldErrors validate(const ConfigMap& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain);
  std::size_t total = 0;
  for (const auto& [key, value] : o.data) {
    for (const auto& msg : config_map_key(key)) errs.push_back(invalid(FieldPath("data").key(key), go_quoted(key), msg));
    if (o.binary_data.contains(key))
      errs.push_back(invalid(FieldPath("data").key(key), go_quoted(key), "duplicate of key present in binaryData"));
    total += value.size();
  }
  check_keys(errs, FieldPath("binaryData"), o.binary_data);
  for (const auto& [key, value] : o.binary_data) total += decoded_size(value);
  if (total > kMaxSecretSize) errs.push_back(too_long(FieldPath(""), "", kMaxSecretSize));
  return errs;
}

FieldErrors validate(const Secret& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain);
  check_keys(errs, FieldPath("data"), o.data);
  std::size_t total = 0;
  for (const auto& [key, value] : o.data) total += decoded_size(value);
  if (total > kMaxSecretSize) errs.push_back(too_long(FieldPath("data"), "", kMaxSecretSize));
  check_secret_type(errs, o);
  return errs;
}

FieldErrors validate(const ServiceAccount& o) { return validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain); }

void validate_config_update(FieldErrors& errs, const Object& o, const Object& old) {
  if (const auto* c = std::get_if<ConfigMap>(&o))
    if (const auto* oc = std::get_if<ConfigMap>(&old))
      immutable_fields(errs, *c, *oc, {{"data", c->data != oc->data}, {"binaryData", c->binary_data != oc->binary_data}});
  if (const auto* s = std::get_if<Secret>(&o))
    if (const auto* os = std::get_if<Secret>(&old)) {
      if (s->type != os->type) errs.push_back(invalid(FieldPath("type"), go_quoted(s->type), "field is immutable"));
      immutable_fields(errs, *s, *os, {{"data", s->data != os->data}});
    }
}

}  // namespace switchyard::api
