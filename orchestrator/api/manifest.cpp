#include "orchestrator/api/manifest.h"

#include <charconv>
#include <cmath>
#include <utility>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "orchestrator/api/field_error.h"

namespace switchyard::api {

using nlohmann::json;

namespace {

bool one_of(std::string_view s, std::initializer_list<std::string_view> options) {
  for (auto o : options)
    if (s == o) return true;
  return false;
}

// A plain (unquoted, untagged) YAML scalar, resolved the way go-yaml v2 (sigs.k8s.io/yaml) does.
json resolve_plain_scalar(const std::string& s) {
  if (s.empty() || one_of(s, {"~", "null", "Null", "NULL"})) return nullptr;
  if (one_of(s, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) return true;
  if (one_of(s, {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) return false;
  std::string digits;
  for (char c : s)
    if (c != '_') digits += c;
  std::string_view v = digits;
  bool negative = false;
  if (!v.empty() && (v[0] == '-' || v[0] == '+')) {
    negative = v[0] == '-';
    v.remove_prefix(1);
  }
  int base = 10;
  if (v.starts_with("0x")) base = 16, v.remove_prefix(2);
  else if (v.starts_with("0o")) base = 8, v.remove_prefix(2);
  else if (v.size() > 1 && v[0] == '0' && v.find_first_not_of("01234567") == std::string_view::npos) base = 8, v.remove_prefix(1);
  if (!v.empty()) {
    std::uint64_t u = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), u, base);
    if (ec == std::errc() && p == v.data() + v.size()) {
      if (!negative) return u;
      if (u <= static_cast<std::uint64_t>(INT64_MAX) + 1) return static_cast<std::int64_t>(0 - u);
    }
  }
  if (one_of(s, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})) return HUGE_VAL;
  if (one_of(s, {"-.inf", "-.Inf", "-.INF"})) return -HUGE_VAL;
  if (s.find_first_of("0123456789") != std::string::npos && s.find_first_not_of("0123456789+-.eE_") == std::string::npos) {
    double d = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), d);
    if (ec == std::errc() && p == digits.data() + digits.size()) return d;
  }
  return s;
}

class YamlToJson {
 public:
  explicit YamlToJson(const ManifestLimits& l) : limits_(l) {}

  std::expected<json, std::string> convert(const YAML::Node& n, std::size_t depth = 0) {
    if (++nodes_ > limits_.max_nodes) return std::unexpected(fmt::format("more than {} values (YAML aliases expanded)", limits_.max_nodes));
    if (depth > limits_.max_depth) return std::unexpected(fmt::format("nested deeper than {} levels", limits_.max_depth));
    switch (n.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nullptr;
      case YAML::NodeType::Scalar:
        return scalar(n);
      case YAML::NodeType::Sequence: {
        json a = json::array();
        for (const auto& item : n) {
          auto v = convert(item, depth + 1);
          if (!v) return v;
          a.push_back(std::move(*v));
        }
        return a;
      }
      case YAML::NodeType::Map: {
        json o = json::object();
        for (const auto& kv : n) {
          if (!kv.first.IsScalar())
            return std::unexpected(fmt::format("line {}: a mapping key must be a scalar", kv.first.Mark().line + 1));
          auto key = scalar(kv.first);
          std::string k = key.is_string() ? key.get<std::string>() : kv.first.Scalar();
          if (o.contains(k)) return std::unexpected(fmt::format("line {}: key {} is repeated", kv.first.Mark().line + 1, go_quoted(k)));
          auto v = convert(kv.second, depth + 1);
          if (!v) return v;
          o[k] = std::move(*v);
        }
        return o;
      }
    }
    return nullptr;
  }

 private:
  static json scalar(const YAML::Node& n) {
    const std::string& tag = n.Tag();
    const std::string& s = n.Scalar();
    if (tag == "!" || tag == "tag:yaml.org,2002:str") return s;  // quoted, or !!str
    if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" || tag == "tag:yaml.org,2002:bool" ||
        tag == "tag:yaml.org,2002:null" || tag == "?" || tag.empty())
      return resolve_plain_scalar(s);
    return s;
  }
  const ManifestLimits& limits_;
  std::size_t nodes_ = 0;
};

bool looks_like_json(std::string_view text) {
  auto p = text.find_first_not_of(" \t\r\n");
  return p != std::string_view::npos && (text[p] == '{' || text[p] == '[');
}

}  // namespace

std::size_t json_depth(const json& j) {
  std::size_t deepest = 0;
  std::vector<std::pair<const json*, std::size_t>> stack{{&j, 1}};
  while (!stack.empty()) {
    auto [v, d] = stack.back();
    stack.pop_back();
    if (!v->is_structured()) continue;
    deepest = std::max(deepest, d);
    for (const auto& child : *v)
      if (child.is_structured()) stack.emplace_back(&child, d + 1);
  }
  return deepest;
}

std::expected<std::vector<json>, DecodeError> parse_documents(std::string_view text, const ManifestLimits& limits) {
  if (text.size() > limits.max_bytes)
    return std::unexpected(DecodeError{fmt::format("the manifest is {} bytes, more than the limit of {}", text.size(), limits.max_bytes)});
  std::vector<json> docs;
  if (looks_like_json(text)) {
    // A JSON body of unbounded nesting would exhaust the stack in later recursive walks:
    // nlohmann's parser is iterative, so parse, then measure before anything recurses.
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) {
      if (json_depth(j) > limits.max_depth)
        return std::unexpected(DecodeError{fmt::format("the JSON is nested deeper than {} levels", limits.max_depth)});
      docs.push_back(std::move(j));
      return docs;
    }
    // Not valid JSON: fall through to YAML, which accepts JSON-like flow syntax and reports
    // errors with a line number.
  }
  try {
    YamlToJson to_json(limits);
    for (const YAML::Node& doc : YAML::LoadAll(std::string(text))) {
      auto j = to_json.convert(doc);
      if (!j) return std::unexpected(DecodeError{fmt::format("document {}: {}", docs.size() + 1, j.error())});
      if (j->is_null()) continue;  // an empty document (only comments, or a trailing ---)
      docs.push_back(std::move(*j));
    }
  } catch (const YAML::Exception& e) {
    return std::unexpected(DecodeError{fmt::format("yaml: line {}, column {}: {}", e.mark.line + 1, e.mark.column + 1, e.msg)});
  }
  return docs;
}

std::expected<std::vector<Decoded>, DecodeError> decode_manifest(std::string_view text, const ManifestLimits& limits) {
  auto docs = parse_documents(text, limits);
  if (!docs) return std::unexpected(docs.error());
  std::vector<Decoded> out;
  auto decode_one = [&](const json& j, const std::string& where) -> std::optional<DecodeError> {
    auto d = decode_object(j);
    if (!d) return DecodeError{fmt::format("{}: {}", where, d.error().message)};
    out.push_back(std::move(*d));
    return std::nullopt;
  };
  for (std::size_t i = 0; i < docs->size(); ++i) {
    const json& doc = (*docs)[i];
    const std::string where = fmt::format("document {}", i + 1);
    if (doc.is_object() && doc.value("kind", json()).is_string() && doc["kind"] == "List") {
      const json items = doc.value("items", json::array());
      if (!items.is_array()) return std::unexpected(DecodeError{where + ": items: expected an array"});
      for (std::size_t k = 0; k < items.size(); ++k)
        if (auto e = decode_one(items[k], fmt::format("{}: items[{}]", where, k))) return std::unexpected(*e);
      continue;
    }
    if (auto e = decode_one(doc, where)) return std::unexpected(*e);
  }
  return out;
}

}  // namespace switchyard::api
