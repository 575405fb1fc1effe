#include "kubelet/volumes/volume_payload.h"

#include <fmt/format.h>

#include "orchestrator/api/protobuf_values.h"

namespace switchyard::kubelet {

using nlohmann::json;

std::map<std::string, std::string> config_map_bytes(const api::ConfigMap& cm) {
  std::map<std::string, std::string> out(cm.data.begin(), cm.data.end());
  for (const auto& [k, b64] : cm.binary_data) {
    std::string bytes;
    if (api::protobuf::values::base64_decode(b64, bytes)) out[k] = std::move(bytes);
  }
  return out;
}

std::map<std::string, std::string> secret_bytes(const api::Secret& s) {
  std::map<std::string, std::string> out;
  for (const auto& [k, b64] : s.data) {
    std::string bytes;
    if (api::protobuf::values::base64_decode(b64, bytes)) out[k] = std::move(bytes);
  }
  return out;
}

namespace {

constexpr std::uint32_t kDefaultMode = 0644;
constexpr std::int64_t kDefaultTokenExpirationSeconds = 3600;  // the API's default for a token projection

std::optional<std::uint32_t> mode_of(const json& o, const char* field) {
  if (o.is_object() && o.contains(field) && o[field].is_number_integer())
    return static_cast<std::uint32_t>(o[field].get<std::int64_t>() & 0777);
  return std::nullopt;
}

// A relative path that stays inside the volume (the API validates it; the node checks again).
Result<> check_path(const std::string& path) {
  if (path.empty() || path.front() == '/') return fail(ErrorCode::Invalid, fmt::format("invalid path \"{}\": must be relative", path));
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto end = std::min(path.find('/', start), path.size());
    const std::string part = path.substr(start, end - start);
    if (part == "..") return fail(ErrorCode::Invalid, fmt::format("invalid path \"{}\": must not contain '..'", path));
    if (start == 0 && part.starts_with(".."))
      return fail(ErrorCode::Invalid, fmt::format("invalid path \"{}\": must not start with '..'", path));
    start = end + 1;
  }
  return {};
}

// The keys of a configMap or secret source (items, or every key) into `out`.
Result<> project_keys(const std::map<std::string, std::string>& bytes, const json& source, std::uint32_t default_mode,
                      const std::string& missing_key_message, Payload& out) {
  const json items = source.value("items", json::array());
  if (!items.is_array() || items.empty()) {
    for (const auto& [k, v] : bytes) {
      if (auto ok = check_path(k); !ok) return ok;
      out[k] = {v, default_mode};
    }
    return {};
  }
  const bool optional = source.value("optional", false);
  for (const auto& item : items) {
    const std::string key = item.value("key", ""), path = item.value("path", "");
    auto it = bytes.find(key);
    if (it == bytes.end()) {
      if (optional) continue;
      return fail(ErrorCode::Invalid, missing_key_message + key);
    }
    if (auto ok = check_path(path); !ok) return ok;
    out[path] = {it->second, mode_of(item, "mode").value_or(default_mode)};
  }
  return {};
}

Result<> project_config_map(const api::Pod& pod, const json& source, std::uint32_t default_mode, const ConfigLookup& lookup, Payload& out) {
  const std::string name = source.value("name", "");
  auto cm = lookup.config_map(pod.metadata.namespace_, name);
  if (!cm) return fail(cm.error());
  if (!*cm) {
    if (source.value("optional", false)) return {};
    return fail(ErrorCode::NotFound, fmt::format("configmap \"{}\" not found", name));
  }
  return project_keys(config_map_bytes(**cm), source, default_mode, "configmap references non-existent config key: ", out);
}

Result<> project_secret(const api::Pod& pod, const json& source, const std::string& name, std::uint32_t default_mode,
                        const ConfigLookup& lookup, Payload& out) {
  auto s = lookup.secret(pod.metadata.namespace_, name);
  if (!s) return fail(s.error());
  if (!*s) {
    if (source.value("optional", false)) return {};
    return fail(ErrorCode::NotFound, fmt::format("secret \"{}\" not found", name));
  }
  return project_keys(secret_bytes(**s), source, default_mode, "references non-existent secret key: ", out);
}

Result<> project_downward(const api::Pod& pod, const json& source, std::uint32_t default_mode, const NodeSettings& node, Payload& out) {
  for (const auto& item : source.value("items", json::array())) {
    const std::string path = item.value("path", "");
    if (auto ok = check_path(path); !ok) return ok;
    std::string value;
    if (item.contains("fieldRef")) {
      auto v = downward_field(pod, item["fieldRef"].value("fieldPath", ""), node);
      if (!v) return fail(v.error());
      value = *v;
    } else if (item.contains("resourceFieldRef")) {
      const json& ref = item["resourceFieldRef"];
      auto v = container_resource_value(pod, ref.value("containerName", ""), ref, node);
      if (!v) return fail(v.error());
      value = *v;
    }
    out[path] = {value, mode_of(item, "mode").value_or(default_mode)};
  }
  return {};
}

// A serviceAccountToken source: the token, under its path, with the volume's mode.
Result<> project_token(const api::Pod& pod, const json& source, std::uint32_t mode, const ConfigLookup& lookup, Payload& out) {
  const std::string path = source.value("path", "");
  if (auto ok = check_path(path); !ok) return ok;
  const json expiration = source.value("expirationSeconds", json());
  auto token = lookup.service_account_token(
      pod, source.value("audience", ""), expiration.is_number_integer() ? expiration.get<std::int64_t>() : kDefaultTokenExpirationSeconds);
  if (!token) return fail(token.error());
  // With an fsGroup the token is the owner's and the group's only (0600, 0640 once the group
  // can read it), as the kubelet writes it.
  const json sc =
      pod.spec.passthrough.contains("securityContext") ? json::parse(pod.spec.passthrough.at("securityContext"), nullptr, false) : json();
  const bool fs_group = sc.is_object() && sc.contains("fsGroup") && sc["fsGroup"].is_number_integer();
  out[path] = {*token, fs_group ? 0600u : mode};
  return {};
}

// fieldpath.FormatMap: sorted `key="value"` lines.
std::string format_map(const api::StringMap& m) {
  std::string out;
  for (const auto& [k, v] : m) out += fmt::format("{}={}\n", k, nlohmann::json(v).dump());
  if (!out.empty()) out.pop_back();
  return out;
}

}  // namespace

bool is_projected_kind(const json& volume) {
  return volume.contains("configMap") || volume.contains("secret") || volume.contains("downwardAPI") || volume.contains("projected");
}

Result<std::string> downward_field(const api::Pod& pod, const std::string& path, const NodeSettings& node) {
  if (path == "metadata.labels") return format_map(pod.metadata.labels);
  if (path == "metadata.annotations") return format_map(pod.metadata.annotations);
  RuntimeFacts facts;
  facts.pod_ip = pod.status.pod_ip;
  facts.pod_ips = pod.status.pod_ips;
  return pod_field_value(pod, path, facts, node);
}

Result<Payload> volume_payload(const api::Pod& pod, const json& volume, const ConfigLookup& lookup, const NodeSettings& node) {
  Payload out;
  if (volume.contains("configMap")) {
    const json& src = volume["configMap"];
    if (auto ok = project_config_map(pod, src, mode_of(src, "defaultMode").value_or(kDefaultMode), lookup, out); !ok)
      return fail(ok.error());
  } else if (volume.contains("secret")) {
    const json& src = volume["secret"];
    if (auto ok = project_secret(pod, src, src.value("secretName", ""), mode_of(src, "defaultMode").value_or(kDefaultMode), lookup, out);
        !ok)
      return fail(ok.error());
  } else if (volume.contains("downwardAPI")) {
    const json& src = volume["downwardAPI"];
    if (auto ok = project_downward(pod, src, mode_of(src, "defaultMode").value_or(kDefaultMode), node, out); !ok) return fail(ok.error());
  } else if (volume.contains("projected")) {
    const json& src = volume["projected"];
    const std::uint32_t mode = mode_of(src, "defaultMode").value_or(kDefaultMode);
    for (const auto& source : src.value("sources", json::array())) {
      Result<> ok;
      if (source.contains("configMap"))
        ok = project_config_map(pod, source["configMap"], mode, lookup, out);
      else if (source.contains("secret"))
        ok = project_secret(pod, source["secret"], source["secret"].value("name", ""), mode, lookup, out);
      else if (source.contains("downwardAPI"))
        ok = project_downward(pod, source["downwardAPI"], mode, node, out);
      else if (source.contains("serviceAccountToken"))
        ok = project_token(pod, source["serviceAccountToken"], mode, lookup, out);
      else
        return fail(ErrorCode::Invalid, "projected volume: unsupported source (clusterTrustBundle and podCertificate are not served)");
      if (!ok) return fail(ok.error());
    }
  }
  return out;
}

}  // namespace switchyard::kubelet
