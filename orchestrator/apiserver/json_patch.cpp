// RFC 6902 JSON Patch over RFC 6901 JSON Pointers. Errors of operations that do not apply use
// the words of evanphx/json-patch (the kube-apiserver's library, as `kubectl patch --local
// --type json` prints them) and always name the path; errors in the patch itself name the
// operation's index. Where that library is laxer than the RFC, the RFC wins: replace of a
// missing member, copy from a missing path, indices with leading zeros or a sign, and an add
// without a value are errors here.
#include <charconv>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "orchestrator/apiserver/patch.h"
#include "orchestrator/base/error.h"

namespace switchyard::apiserver {
namespace {

using nlohmann::json;

PatchError bad_patch(std::string message) { return {400, std::move(message)}; }
PatchError does_not_apply(std::string message) { return {422, std::move(message)}; }

// "/a~1b/~0c" -> {"a/b", "~c"}; "" -> {} (the whole document).
Result<std::vector<std::string>> parse_pointer(std::string_view p) {
  std::vector<std::string> tokens;
  if (p.empty()) return tokens;
  if (p.front() != '/') return fail(ErrorCode::Invalid, fmt::format("JSON pointer \"{}\" must be empty or start with '/'", p));
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
        return fail(ErrorCode::Invalid, fmt::format("JSON pointer \"{}\" has an invalid escape: '~' must be followed by 0 or 1", p));
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

// Why a location could not be used.
enum class Miss { none, parent, key, index_syntax, index_range };

// The container that holds the last token, and whether the last token is usable in it: present
// (for reading or removing) or insertable (for add). `tokens` is not empty.
struct Location {
  json* parent = nullptr;
  Miss miss = Miss::parent;
  std::size_t index = 0;  // for arrays; size() for "-" when inserting
};

Location locate(json& doc, const std::vector<std::string>& tokens, bool for_insert) {
  json* cur = &doc;
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (cur->is_object()) {
      auto it = cur->find(t);
      if (it == cur->end()) return {};
      cur = &*it;
    } else if (cur->is_array()) {
      auto idx = parse_index(t);
      if (!idx || *idx >= cur->size()) return {};
      cur = &(*cur)[*idx];
    } else {
      return {};
    }
  }
  const std::string& last = tokens.back();
  if (cur->is_object()) return {cur, for_insert || cur->contains(last) ? Miss::none : Miss::key};
  if (!cur->is_array()) return {};
  if (last == "-" && for_insert) return {cur, Miss::none, cur->size()};
  auto idx = parse_index(last);
  if (!idx) return {cur, Miss::index_syntax};
  if (*idx > cur->size() || (*idx == cur->size() && !for_insert)) return {cur, Miss::index_range};
  return {cur, Miss::none, *idx};
}

// The words of evanphx/json-patch, the library behind the kube-apiserver's JSON patch.
PatchError index_error(std::string_view op, std::string_view path, std::string_view token, Miss miss) {
  if (miss == Miss::index_syntax)
    return does_not_apply(
        fmt::format("error in {} for path: '{}': value was not a proper array index: '{}'", op, path, token));
  return does_not_apply(fmt::format("error in {} for path: '{}': Unable to access invalid index: {}: invalid index referenced",
                                    op, path, token));
}

json* find_value(json& doc, const std::vector<std::string>& tokens) {
  if (tokens.empty()) return &doc;
  Location at = locate(doc, tokens, false);
  if (at.miss != Miss::none) return nullptr;
  return at.parent->is_object() ? &(*at.parent)[tokens.back()] : &(*at.parent)[at.index];
}

json take(const Location& at, const std::string& last) {
  if (at.parent->is_object()) {
    json v = std::move((*at.parent)[last]);
    at.parent->erase(last);
    return v;
  }
  json v = std::move((*at.parent)[at.index]);
  at.parent->erase(at.index);
  return v;
}

void put(const Location& at, const std::string& last, json value) {
  if (at.parent->is_object()) {
    (*at.parent)[last] = std::move(value);
  } else {
    at.parent->insert(at.parent->begin() + static_cast<std::ptrdiff_t>(at.index), std::move(value));
  }
}

// add, and the second half of move and copy (`destination` says which wording to use).
PatchResult<void> add_value(json& doc, std::string_view op, const std::string& path,
                            const std::vector<std::string>& tokens, json value, bool destination) {
  if (tokens.empty()) {
    doc = std::move(value);
    return {};
  }
  Location at = locate(doc, tokens, true);
  if (at.miss == Miss::parent)
    return std::unexpected(does_not_apply(
        destination ? fmt::format("{} operation does not apply: doc is missing destination path: {}: missing value", op, path)
                    : fmt::format("{} operation does not apply: doc is missing path: \"{}\": missing value", op, path)));
  if (at.miss != Miss::none) return std::unexpected(index_error(op, path, tokens.back(), at.miss));
  put(at, tokens.back(), std::move(value));
  return {};
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

PatchResult<std::vector<std::string>> pointer_member(const json& op_json, std::string_view member, std::size_t index,
                                                     std::string& text) {
  auto s = string_member(op_json, member, index);
  if (!s) return std::unexpected(s.error());
  text = std::move(*s);
  auto tokens = parse_pointer(text);
  if (!tokens) return std::unexpected(bad_patch(fmt::format("operation {}: \"{}\": {}", index, member, tokens.error().message)));
  return *tokens;
}

PatchResult<void> apply_one(json& doc, const json& op_json, std::size_t index) {
  if (!op_json.is_object())
    return std::unexpected(bad_patch(fmt::format("operation {} must be an object, got {}", index, op_json.type_name())));
  auto op_name = string_member(op_json, "op", index);
  if (!op_name) return std::unexpected(op_name.error());
  const std::string& op = *op_name;
  if (op != "add" && op != "remove" && op != "replace" && op != "move" && op != "copy" && op != "test")
    return std::unexpected(does_not_apply(fmt::format("Unexpected kind: {}", op)));
  std::string path;
  auto tokens = pointer_member(op_json, "path", index, path);
  if (!tokens) return std::unexpected(tokens.error());

  json value;
  if (op == "add" || op == "replace" || op == "test") {
    auto it = op_json.find("value");
    if (it == op_json.end())
      return std::unexpected(bad_patch(fmt::format("operation {} ({} \"{}\") is missing \"value\"", index, op, path)));
    value = *it;
  }

  if (op == "add") return add_value(doc, op, path, *tokens, std::move(value), false);

  if (op == "test") {
    const json* target = find_value(doc, *tokens);
    if (!target || *target != value)
      return std::unexpected(does_not_apply(fmt::format("testing value {} failed: test failed", path)));
    return {};
  }

  if (op == "remove" || op == "replace") {
    if (tokens->empty()) {
      if (op == "remove")
        return std::unexpected(does_not_apply("remove operation does not apply: cannot remove the whole document"));
      doc = std::move(value);
      return {};
    }
    Location at = locate(doc, *tokens, false);
    if (at.miss == Miss::parent)
      return std::unexpected(does_not_apply(
          op == "remove" ? fmt::format("remove operation does not apply: doc is missing path: \"{}\": missing value", path)
                         : fmt::format("replace operation does not apply: doc is missing path: {}: missing value", path)));
    if (at.miss == Miss::key)
      return std::unexpected(does_not_apply(
          op == "remove"
              ? fmt::format("error in remove for path: '{}': Unable to remove nonexistent key: {}: missing value", path,
                            tokens->back())
              : fmt::format("replace operation does not apply: doc is missing key: {}: missing value", path)));
    if (at.miss != Miss::none) return std::unexpected(index_error(op, path, tokens->back(), at.miss));
    if (op == "remove") {
      take(at, tokens->back());
    } else {
      (at.parent->is_object() ? (*at.parent)[tokens->back()] : (*at.parent)[at.index]) = std::move(value);
    }
    return {};
  }

  // move, copy
  std::string from;
  auto from_tokens = pointer_member(op_json, "from", index, from);
  if (!from_tokens) return std::unexpected(from_tokens.error());
  auto missing_from = [&] {
    return std::unexpected(
        does_not_apply(fmt::format("{} operation does not apply: doc is missing from path: {}: missing value", op, from)));
  };
  if (op == "copy") {
    const json* source = find_value(doc, *from_tokens);
    if (!source) return missing_from();
    return add_value(doc, op, path, *tokens, *source, true);
  }
  if (from == path) return find_value(doc, *from_tokens) ? PatchResult<void>{} : missing_from();
  if (tokens->size() > from_tokens->size() && std::equal(from_tokens->begin(), from_tokens->end(), tokens->begin()))
    return std::unexpected(does_not_apply(
        fmt::format("move operation does not apply: from {} is a prefix of path {}: a value cannot move into itself", from, path)));
  if (from_tokens->empty()) return missing_from();  // the root moved into itself was caught above
  Location at = locate(doc, *from_tokens, false);
  if (at.miss != Miss::none) return missing_from();
  json moved = take(at, from_tokens->back());
  return add_value(doc, op, path, *tokens, std::move(moved), true);
}

}  // namespace

PatchResult<nlohmann::json> apply_json_patch(const json& doc, const json& patch) {
  if (!patch.is_array())
    return std::unexpected(bad_patch(fmt::format("a JSON patch must be an array of operations, got {}", patch.type_name())));
  if (patch.size() > kMaxJsonPatchOperations)
    return std::unexpected(PatchError{413, fmt::format("The allowed maximum operations in a JSON patch is {}, got {}",
                                                       kMaxJsonPatchOperations, patch.size())});
  json result = doc;
  for (std::size_t i = 0; i < patch.size(); ++i) {
    if (auto r = apply_one(result, patch[i], i); !r) return std::unexpected(r.error());
  }
  return result;
}

}  // namespace switchyard::apiserver
