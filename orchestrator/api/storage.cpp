// Reading the storage kinds' JSON bodies.
#include "orchestrator/api/storage.h"

#include <limits>

namespace switchyard::api {

using nlohmann::json;

json body_field(const Passthrough& body, const std::string& key) {
  auto it = body.find(key);
  if (it == body.end()) return json();
  json j = json::parse(it->second, nullptr, false);
  return j.is_discarded() ? json() : j;
}

void set_body_field(Passthrough& body, const std::string& key, const json& value) {
  if (value.is_null())
    body.erase(key);
  else
    body[key] = value.dump();
}

std::string text_of(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::optional<std::int64_t> quantity_bytes(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  __int128 mantissa = 0;
  int decimals = 0, digits = 0;
  bool point = false;
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    if (s[i] == '.' && !point) {
      point = true;
      continue;
    }
    if (s[i] < '0' || s[i] > '9') break;
    if (++digits > 30) return std::nullopt;
    mantissa = mantissa * 10 + (s[i] - '0');
    if (point) ++decimals;
  }
  if (digits == 0) return std::nullopt;
  const std::string_view suffix = s.substr(i);
  int exp10 = -decimals, exp2 = 0;
  static constexpr std::pair<std::string_view, int> kDecimal[] = {{"", 0},  {"m", -3}, {"k", 3},  {"M", 6},
                                                                  {"G", 9}, {"T", 12}, {"P", 15}, {"E", 18}};
  static constexpr std::pair<std::string_view, int> kBinary[] = {{"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60}};
  bool known = false;
  for (auto [name, e] : kDecimal)
    if (suffix == name) exp10 += e, known = true;
  for (auto [name, e] : kBinary)
    if (suffix == name) exp2 = e, known = true;
  if (!known) {
    if (suffix[0] != 'e' && suffix[0] != 'E') return std::nullopt;
    std::size_t j = 1;
    bool neg = false;
    if (j < suffix.size() && (suffix[j] == '+' || suffix[j] == '-')) neg = suffix[j++] == '-';
    if (j >= suffix.size()) return std::nullopt;
    int e = 0;
    for (; j < suffix.size(); ++j) {
      if (suffix[j] < '0' || suffix[j] > '9' || e > 100) return std::nullopt;
      e = e * 10 + (suffix[j] - '0');
    }
    exp10 += neg ? -e : e;
  }
  const __int128 limit = std::numeric_limits<std::int64_t>::max();
  __int128 v = mantissa;
  for (int k = 0; k < exp2; ++k)
    if ((v *= 2) > limit) return std::nullopt;
  for (; exp10 > 0; --exp10)
    if ((v *= 10) > limit) return std::nullopt;
  if (exp10 < 0) {
    __int128 d = 1;
    for (; exp10 < 0 && d < limit; ++exp10) d *= 10;
    v = (v + d - 1) / d;
  }
  return static_cast<std::int64_t>(negative ? -v : v);
}

std::string access_modes_short(const json& modes) {
  static constexpr std::pair<const char*, const char*> kModes[] = {
      {"ReadWriteOnce", "RWO"}, {"ReadOnlyMany", "ROX"}, {"ReadWriteMany", "RWX"}, {"ReadWriteOncePod", "RWOP"}};
  std::string out;
  if (!modes.is_array()) return out;
  for (auto [mode, abbreviation] : kModes) {
    bool present = false;
    for (const auto& m : modes) present |= m == mode;
    if (!present) continue;
    if (!out.empty()) out += ",";
    out += abbreviation;
  }
  return out;
}

namespace {
constexpr const char* kBetaClassAnnotation = "volume.beta.kubernetes.io/storage-class";
}

std::string pv_class(const PersistentVolume& pv) {
  if (auto it = pv.metadata.annotations.find(kBetaClassAnnotation); it != pv.metadata.annotations.end()) return it->second;
  const json spec = body_field(pv.body, "spec");
  return spec.is_object() ? text_of(spec, "storageClassName") : "";
}

std::optional<std::string> pvc_class(const PersistentVolumeClaim& pvc) {
  if (auto it = pvc.metadata.annotations.find(kBetaClassAnnotation); it != pvc.metadata.annotations.end()) return it->second;
  const json spec = body_field(pvc.body, "spec");
  if (!spec.is_object() || !spec.contains("storageClassName") || !spec["storageClassName"].is_string()) return std::nullopt;
  return spec["storageClassName"].get<std::string>();
}

namespace {

bool requirement_matches(const json& r, const std::string& value, bool present) {
  const std::string op = text_of(r, "operator");
  const json values = r.value("values", json::array());
  bool listed = false;
  for (const auto& v : values) listed |= v == value;
  if (op == "In") return present && listed;
  if (op == "NotIn") return !present || !listed;
  if (op == "Exists") return present;
  if (op == "DoesNotExist") return !present;
  if (op == "Gt" || op == "Lt") {
    if (!present || values.size() != 1 || !values[0].is_string()) return false;
    try {
      const long long have = std::stoll(value), want = std::stoll(values[0].get<std::string>());
      return op == "Gt" ? have > want : have < want;
    } catch (const std::exception&) {
      return false;
    }
  }
  return false;
}

}  // namespace

bool volume_node_affinity_matches(const json& node_affinity, const std::string& node_name, const StringMap& node_labels) {
  if (!node_affinity.is_object() || !node_affinity.contains("required")) return true;
  const json terms = node_affinity["required"].value("nodeSelectorTerms", json::array());
  for (const auto& term : terms) {
    bool ok = term.value("matchExpressions", json::array()).size() + term.value("matchFields", json::array()).size() > 0;
    for (const auto& r : term.value("matchExpressions", json::array())) {
      auto it = node_labels.find(text_of(r, "key"));
      ok = ok && requirement_matches(r, it == node_labels.end() ? "" : it->second, it != node_labels.end());
    }
    for (const auto& r : term.value("matchFields", json::array()))
      ok = ok && text_of(r, "key") == "metadata.name" && requirement_matches(r, node_name, true);
    if (ok) return true;
  }
  return false;
}

bool is_default_class(const ObjectMeta& m) {
  for (const char* key : {kIsDefaultClassAnnotation, "storageclass.beta.kubernetes.io/is-default-class"})
    if (auto it = m.annotations.find(key); it != m.annotations.end() && it->second == "true") return true;
  return false;
}

}  // namespace switchyard::api
