// RFC 6902 JSON Patch over RFC 6901 JSON Pointers. Error texts follow evanphx/json-patch (which
// the kube-apiserver uses), always naming the operation's index, its op and the path.
#include <charconv>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "orchestrator/apiserver/patch.h"

namespace switchyard::apiserver {
namespace {

using nlohmann::json;

PatchError bad_patch(std::string message) { return {400, std::move(message)}; }
PatchError does_not_apply(std::string message) { return {422, std::move(message)}; }

// "/a~1b/~0c" -> {"a/b", "~c"}; "" -> {} (the whole document).
std::expected<std::vector<std::string>, std::string> parse_pointer(std::string_view p) {
  std::vector<std::string> tokens;
  if (p.empty()) return tokens;
  if (p.front() != '/') return std::unexpected(fmt::format("JSON pointer \"{}\" must be empty or start with '/'", p));
  std::size_t pos = 1;
  while (true) {
    std::size_t end = p.find('/', pos);
    std::string_view raw = p.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    std::string token;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '~') {
        token += raw[i];
      } else if (i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        return std::unexpected(fmt::format("JSON pointer \"{}\" has an invalid escape: '~' must be followed by 0 or 1", p));
      }
    }
    tokens.push_back(std::move(token));
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return tokens;
}

// An RFC 6901 array index: "0" or digits without a leading zero. "-" is handled by callers.
std::optional<std::size_t> parse_index(std::string_view token) {
  if (token.empty() || token.size() > 18) return std::nullopt;
  if (token.size() > 1 && token.front() == '0') return std::nullopt;
  std::size_t v = 0;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
  if (ec != std::errc{} || ptr != token.data() + token.size()) return std::nullopt;
  return v;
}

struct Operation {
  std::size_t index;
  std::string op, path;
  std::vector<std::string> path_tokens;

  // "add operation does not apply: doc is missing path: \"/a/b\""
  PatchError missing(std::string_view what, std::string_view which_path, std::string_view why = {}) const {
    std::string m = fmt::format("{} operation does not apply: doc is missing {}: \"{}\"", op, what, which_path);
    if (!why.empty()) m += fmt::format(": {}", why);
    return does_not_apply(std::move(m));
  }
};

// The container that holds the last token of `tokens` (the parent), or nullptr when a step on the
// way does not exist. `why` says which step failed.
json* find_parent(json& doc, const std::vector<std::string>& tokens, std::string& why) {
  json* cur = &doc;
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (cur->is_object()) {
      auto it = cur->find(t);
      if (it == cur->end()) {
        why = fmt::format("no key \"{}\"", t);
        return nullptr;
      }
      cur = &*it;
    } else if (cur->is_array()) {
      auto idx = parse_index(t);
      if (!idx || *idx >= cur->size()) {
        why = fmt::format("invalid array index \"{}\" (array has {} elements)", t, cur->size());
        return nullptr;
      }
      cur = &(*cur)[*idx];
    } else {
      why = fmt::format("\"{}\" is inside a {}", t, cur->type_name());
      return nullptr;
    }
  }
  return cur;
}

// The value at `tokens`, or nullptr.
json* find_value(json& doc, const std::vector<std::string>& tokens, std::string& why) {
  if (tokens.empty()) return &doc;
  json* parent = find_parent(doc, tokens, why);
  if (!parent) return nullptr;
  const std::string& last = tokens.back();
  if (parent->is_object()) {
    auto it = parent->find(last);
    if (it == parent->end()) {
      why = fmt::format("no key \"{}\"", last);
      return nullptr;
    }
    return &*it;
  }
  if (parent->is_array()) {
    auto idx = parse_index(last);
    if (!idx || *idx >= parent->size()) {
      why = fmt::format("invalid array index \"{}\" (array has {} elements)", last, parent->size());
      return nullptr;
    }
    return &(*parent)[*idx];
  }
  why = fmt::format("\"{}\" is inside a {}", last, parent->type_name());
  return nullptr;
}

PatchResult<void> add_value(json& doc, const Operation& o, const std::vector<std::string>& tokens,
                            std::string_view path, json value) {
  if (tokens.empty()) {
    doc = std::move(value);
    return {};
  }
  std::string why;
  json* parent = find_parent(doc, tokens, why);
  if (!parent) return std::unexpected(o.missing("path", path, why));
  const std::string& last = tokens.back();
  if (parent->is_object()) {
    (*parent)[last] = std::move(value);
    return {};
  }
  if (parent->is_array()) {
    if (last == "-") {
      parent->push_back(std::move(value));
      return {};
    }
    auto idx = parse_index(last);
    if (!idx || *idx > parent->size())
      return std::unexpected(o.missing("path", path, fmt::format("invalid array index \"{}\" (array has {} elements)",
                                                                  last, parent->size())));
    parent->insert(parent->begin() + static_cast<std::ptrdiff_t>(*idx), std::move(value));
    return {};
  }
  return std::unexpected(o.missing("path", path, fmt::format("cannot add \"{}\" to a {}", last, parent->type_name())));
}

// Removes and returns the value at `tokens` (which must not be the root).
std::optional<json> take_value(json& doc, const std::vector<std::string>& tokens, std::string& why) {
  json* parent = find_parent(doc, tokens, why);
  if (!parent) return std::nullopt;
  const std::string& last = tokens.back();
  if (parent->is_object()) {
    auto it = parent->find(last);
    if (it == parent->end()) {
      why = fmt::format("no key \"{}\"", last);
      return std::nullopt;
    }
    json v = std::move(*it);
    parent->erase(it);
    return v;
  }
  if (parent->is_array()) {
    auto idx = parse_index(last);
    if (!idx || *idx >= parent->size()) {
      why = fmt::format("invalid array index \"{}\" (array has {} elements)", last, parent->size());
      return std::nullopt;
    }
    json v = std::move((*parent)[*idx]);
    parent->erase(*idx);
    return v;
  }
  why = fmt::format("\"{}\" is inside a {}", last, parent->type_name());
  return std::nullopt;
}

PatchResult<std::string> string_member(const json& op, std::string_view member, std::size_t index) {
  auto it = op.find(member);
  if (it == op.end())
    return std::unexpected(bad_patch(fmt::format("operation {} is missing \"{}\"", index, member)));
  if (!it->is_string())
    return std::unexpected(
        bad_patch(fmt::format("operation {}: \"{}\" must be a string, got {}", index, member, it->type_name())));
  return it->get<std::string>();
}

PatchResult<void> apply_one(json& doc, const json& op_json, std::size_t index) {
  if (!op_json.is_object())
    return std::unexpected(bad_patch(fmt::format("operation {} must be an object, got {}", index, op_json.type_name())));
  auto op = string_member(op_json, "op", index);
  if (!op) return std::unexpected(op.error());
  auto path = string_member(op_json, "path", index);
  if (!path) return std::unexpected(path.error());
  auto tokens = parse_pointer(*path);
  if (!tokens) return std::unexpected(bad_patch(fmt::format("operation {} ({}): {}", index, *op, tokens.error())));
  Operation o{index, *op, *path, *tokens};

  auto value = [&]() -> PatchResult<json> {
    auto it = op_json.find("value");
    if (it == op_json.end())
      return std::unexpected(bad_patch(fmt::format("operation {} ({} \"{}\") is missing \"value\"", index, o.op, o.path)));
    return *it;
  };
  auto from = [&]() -> PatchResult<std::pair<std::string, std::vector<std::string>>> {
    auto f = string_member(op_json, "from", index);
    if (!f) return std::unexpected(f.error());
    auto ft = parse_pointer(*f);
    if (!ft) return std::unexpected(bad_patch(fmt::format("operation {} ({}): {}", index, o.op, ft.error())));
    return std::pair{*f, *ft};
  };

  std::string why;
  if (o.op == "add") {
    auto v = value();
    if (!v) return std::unexpected(v.error());
    return add_value(doc, o, o.path_tokens, o.path, std::move(*v));
  }
  if (o.op == "remove") {
    if (o.path_tokens.empty()) return std::unexpected(does_not_apply("remove operation does not apply: cannot remove the whole document"));
    if (!take_value(doc, o.path_tokens, why)) return std::unexpected(o.missing("path", o.path, why));
    return {};
  }
  if (o.op == "replace") {
    auto v = value();
    if (!v) return std::unexpected(v.error());
    json* target = find_value(doc, o.path_tokens, why);
    if (!target) return std::unexpected(o.missing("key", o.path, why));
    *target = std::move(*v);
    return {};
  }
  if (o.op == "test") {
    auto v = value();
    if (!v) return std::unexpected(v.error());
    json* target = find_value(doc, o.path_tokens, why);
    if (!target) return std::unexpected(o.missing("path", o.path, why));
    if (*target != *v)
      return std::unexpected(does_not_apply(fmt::format("testing value {} failed: have {}, want {}", o.path,
                                                        target->dump(), v->dump())));
    return {};
  }
  if (o.op == "move" || o.op == "copy") {
    auto f = from();
    if (!f) return std::unexpected(f.error());
    const auto& [from_path, from_tokens] = *f;
    if (o.op == "move") {
      if (from_path == o.path) return {};
      bool into_itself = o.path_tokens.size() > from_tokens.size() &&
                         std::equal(from_tokens.begin(), from_tokens.end(), o.path_tokens.begin());
      if (into_itself)
        return std::unexpected(does_not_apply(
            fmt::format("move operation does not apply: from \"{}\" is a prefix of path \"{}\"", from_path, o.path)));
      if (from_tokens.empty())
        return std::unexpected(does_not_apply("move operation does not apply: cannot move the whole document"));
      auto taken = take_value(doc, from_tokens, why);
      if (!taken) return std::unexpected(o.missing("from path", from_path, why));
      return add_value(doc, o, o.path_tokens, o.path, std::move(*taken));
    }
    json* source = find_value(doc, from_tokens, why);
    if (!source) return std::unexpected(o.missing("from path", from_path, why));
    return add_value(doc, o, o.path_tokens, o.path, *source);
  }
  return std::unexpected(bad_patch(fmt::format("operation {}: unexpected kind: {}", index, o.op)));
}

}  // namespace

PatchResult<nlohmann::json> apply_json_patch(const json& doc, const json& patch) {
  if (!patch.is_array())
    return std::unexpected(bad_patch(fmt::format("a JSON patch must be an array of operations, got {}", patch.type_name())));
  json result = doc;
  for (std::size_t i = 0; i < patch.size(); ++i) {
    if (auto r = apply_one(result, patch[i], i); !r) return std::unexpected(r.error());
  }
  return result;
}

}  // namespace switchyard::apiserver
