#include "orchestrator/api/manifest.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <sstream>
#include <cmath>
#include <utility>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "orchestrator/api/field_error.h"

namespace switchyard::api {

using nlohmann::json;

namespace {

std::size_t invalid_utf8_at(std::string_view s);

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
  if (v.starts_with("0x"))
    base = 16, v.remove_prefix(2);
  else if (v.starts_with("0o"))
    base = 8, v.remove_prefix(2);
  else if (v.size() > 1 && v[0] == '0' && v.find_first_not_of("01234567") == std::string_view::npos)
    base = 8, v.remove_prefix(1);
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

// Builds JSON straight from yaml-cpp's parse events. Going through YAML::LoadAll is not safe:
// yaml-cpp 0.7 loops forever, producing empty documents, on input such as "{}," (found by the
// fuzzer), and expands aliases without bound. Here each document must move the parser
// forward, aliases count toward the node limit, and map keys must be scalars.
class JsonFromYamlEvents : public YAML::EventHandler {
 public:
  explicit JsonFromYamlEvents(const ManifestLimits& l) : limits_(l) {}

  const std::string& error() const { return error_; }
  json take_document() { return std::move(document_); }
  int document_start_pos() const { return document_start_pos_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    document_ = nullptr;
    document_start_pos_ = mark.pos;
    stack_.clear();
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { add(mark, nullptr, anchor, 1); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) return fail(mark, "unknown alias");
    add(mark, it->second.value, 0, it->second.nodes);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, const std::string& value) override {
    // yaml-cpp writes some escapes (\N, \_) as single Latin-1 bytes: refuse what is not UTF-8.
    if (invalid_utf8_at(value) != std::string_view::npos) return fail(mark, "a string is not valid UTF-8 after unescaping");
    add(mark, scalar(tag, value), anchor, 1);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open(mark, json::array(), anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open(mark, json::object(), anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Open {
    json value;
    YAML::anchor_t anchor;
    std::size_t nodes_at_start;
    std::optional<std::string> pending_key;  // maps: the key waiting for its value
    int key_line = 0;
  };
  struct Anchored {
    json value;
    std::size_t nodes;
  };

  void fail(const YAML::Mark& mark, const std::string& what) {
    if (error_.empty()) error_ = fmt::format("line {}: {}", mark.line + 1, what);
  }

  bool count(const YAML::Mark& mark, std::size_t n) {
    nodes_ += n;
    if (nodes_ > limits_.max_nodes) {
      fail(mark, fmt::format("more than {} values (YAML aliases expanded)", limits_.max_nodes));
      return false;
    }
    return true;
  }

  void open(const YAML::Mark& mark, json container, YAML::anchor_t anchor) {
    if (!error_.empty() || !count(mark, 1)) return;
    if (stack_.size() >= limits_.max_depth) return fail(mark, fmt::format("nested deeper than {} levels", limits_.max_depth));
    if (!stack_.empty() && stack_.back().value.is_object() && !stack_.back().pending_key)
      return fail(mark, "a mapping key must be a scalar");
    stack_.push_back(Open{std::move(container), anchor, nodes_, std::nullopt, mark.line});
  }

  void close() {
    if (!error_.empty() || stack_.empty()) return;
    Open done = std::move(stack_.back());
    stack_.pop_back();
    if (done.anchor) anchors_[done.anchor] = Anchored{done.value, nodes_ - done.nodes_at_start + 1};
    place(YAML::Mark(), std::move(done.value));
  }

  void add(const YAML::Mark& mark, json value, YAML::anchor_t anchor, std::size_t nodes) {
    if (!error_.empty() || !count(mark, nodes)) return;
    if (anchor) anchors_[anchor] = Anchored{value, nodes};
    place(mark, std::move(value));
  }

  void place(const YAML::Mark& mark, json value) {
    if (stack_.empty()) {
      document_ = std::move(value);
      return;
    }
    Open& top = stack_.back();
    if (top.value.is_array()) {
      top.value.push_back(std::move(value));
    } else if (!top.pending_key) {
      if (value.is_structured()) return fail(mark, "a mapping key must be a scalar");
      std::string key = value.is_string() ? value.get<std::string>() : value.is_null() ? "null" : value.dump();
      if (top.value.contains(key)) return fail(mark, fmt::format("key {} is repeated", go_quoted(key)));
      top.pending_key = std::move(key);
      top.key_line = mark.line;
    } else {
      top.value[*top.pending_key] = std::move(value);
      top.pending_key.reset();
    }
  }

  static json scalar(const std::string& tag, const std::string& s) {
    if (tag == "!" || tag == "tag:yaml.org,2002:str") return s;  // quoted, or !!str
    if (tag == "?" || tag.empty() || tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" ||
        tag == "tag:yaml.org,2002:bool" || tag == "tag:yaml.org,2002:null")
      return resolve_plain_scalar(s);
    return s;
  }

  const ManifestLimits& limits_;
  std::vector<Open> stack_;
  std::map<YAML::anchor_t, Anchored> anchors_;
  json document_;
  std::size_t nodes_ = 0;
  int document_start_pos_ = -1;
  std::string error_;
};

// Offset of the first byte that is not part of well-formed UTF-8, or npos.
std::size_t invalid_utf8_at(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size() || (len == 2 && c < 0xC2)) return i;
    std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return i;
    i += len;
  }
  return std::string_view::npos;
}

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
  if (auto bad = invalid_utf8_at(text); bad != std::string_view::npos)
    return std::unexpected(DecodeError{fmt::format("the manifest is not valid UTF-8 (byte {})", bad)});
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
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    JsonFromYamlEvents builder(limits);
    int last_start = -1;
    while (parser.HandleNextDocument(builder)) {
      if (!builder.error().empty()) return std::unexpected(DecodeError{fmt::format("document {}: {}", docs.size() + 1, builder.error())});
      if (builder.document_start_pos() <= last_start) {  // the parser stopped moving: input it cannot read
        auto before = text.substr(0, std::min<std::size_t>(builder.document_start_pos(), text.size()));
        auto line = std::count(before.begin(), before.end(), '\n') + 1;
        auto column = before.size() - (before.rfind('\n') == std::string_view::npos ? 0 : before.rfind('\n') + 1) + 1;
        return std::unexpected(
            DecodeError{fmt::format("yaml: line {}, column {}: unexpected content after the end of a document", line, column)});
      }
      last_start = builder.document_start_pos();
      json j = builder.take_document();
      if (j.is_null()) continue;  // an empty document (only comments, or a trailing ---)
      docs.push_back(std::move(j));
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
