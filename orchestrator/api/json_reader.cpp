#include "orchestrator/api/json_reader.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace switchyard::api::codec {

void Context::fail(const FieldPath& p, const std::string& what) {
  if (error.empty()) error = p.empty() ? what : p.str() + ": " + what;
}

std::string_view json_type_name(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    default:
      return "value";
  }
}

static std::string shown(const json& j) {
  std::string s = j.dump();
  return s.size() > 64 ? s.substr(0, 61) + "..." : s;
}

void decode_value(const json& j, const FieldPath& p, Context& c, std::string& out) {
  if (j.is_null()) return;
  if (!j.is_string()) return c.fail(p, fmt::format("expected a string, got {} {}", json_type_name(j), shown(j)));
  out = j.get<std::string>();
}

void decode_value(const json& j, const FieldPath& p, Context& c, bool& out) {
  if (j.is_null()) return;
  if (!j.is_boolean()) return c.fail(p, fmt::format("expected a boolean, got {} {}", json_type_name(j), shown(j)));
  out = j.get<bool>();
}

template <class Int>
static void decode_int(const json& j, const FieldPath& p, Context& c, Int& out, const char* type) {
  if (j.is_null()) return;
  long double v;
  if (j.is_number_integer()) {
    v = j.is_number_unsigned() ? static_cast<long double>(j.get<std::uint64_t>()) : static_cast<long double>(j.get<std::int64_t>());
  } else if (j.is_number_float()) {
    v = j.get<double>();
    if (std::floor(v) != v) return c.fail(p, fmt::format("expected an integer, got {}", shown(j)));
  } else {
    return c.fail(p, fmt::format("expected an integer, got {} {}", json_type_name(j), shown(j)));
  }
  if (v < static_cast<long double>(std::numeric_limits<Int>::min()) || v > static_cast<long double>(std::numeric_limits<Int>::max()))
    return c.fail(p, fmt::format("{} is out of range for {}", shown(j), type));
  out = static_cast<Int>(v);
}

void decode_value(const json& j, const FieldPath& p, Context& c, std::int32_t& out) { decode_int(j, p, c, out, "int32"); }
void decode_value(const json& j, const FieldPath& p, Context& c, std::int64_t& out) { decode_int(j, p, c, out, "int64"); }

void decode_value(const json& j, const FieldPath& p, Context& c, IntOrString& out) {
  if (j.is_null()) return;
  if (j.is_string()) {
    out = IntOrString::of(j.get<std::string>());
    return;
  }
  if (!j.is_number()) return c.fail(p, fmt::format("expected an integer or a string, got {} {}", json_type_name(j), shown(j)));
  std::int32_t v = 0;
  decode_value(j, p, c, v);
  out = IntOrString::of(v);
}

void decode_value(const json& j, const FieldPath& p, Context& c, StringMap& out) {
  if (j.is_null()) return;
  if (!j.is_object()) return c.fail(p, fmt::format("expected an object of strings, got {}", json_type_name(j)));
  out.clear();
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it->is_null()) {
      out[it.key()] = "";
      continue;
    }
    if (!it->is_string()) return c.fail(p.key(it.key()), fmt::format("expected a string, got {} {}", json_type_name(*it), shown(*it)));
    out[it.key()] = it->get<std::string>();
  }
}

Reader::Reader(const json& j, FieldPath path, Context& c) : path_(std::move(path)), c_(c) {
  if (j.is_object())
    obj_ = &j;
  else if (!j.is_null())
    c_.fail(path_, fmt::format("expected an object, got {} {}", json_type_name(j), shown(j)));
}

Reader::~Reader() {
  if (!obj_ || c_.failed()) return;
  for (auto it = obj_->begin(); it != obj_->end(); ++it)
    if (!claimed_.contains(it.key())) c_.unknown_fields.push_back(path_.child(it.key()).str());
}

const json* Reader::claim(std::string_view key) {
  if (!obj_ || c_.failed()) return nullptr;
  claimed_.emplace(key);
  auto it = obj_->find(key);
  if (it == obj_->end() || it->is_null()) return nullptr;
  return &*it;
}

void Reader::passthrough(std::initializer_list<std::string_view> keys, Passthrough& out) {
  for (auto k : keys)
    if (const json* v = claim(k)) out[std::string(k)] = v->dump();
}

void put_passthrough(json& o, const Passthrough& p) {
  for (const auto& [k, v] : p) o[k] = json::parse(v);
}

}  // namespace switchyard::api::codec
