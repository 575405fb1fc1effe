// Internal to the codec: walks a JSON object, decodes known fields by type, keeps passthrough
// fields verbatim and records the rest as unknown. Errors carry the field path.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/api/field_error.h"
#include "orchestrator/api/types.h"

namespace switchyard::api::codec {

using nlohmann::json;

struct Context {
  std::string error;  // first hard error; decoding stops caring after it
  std::vector<std::string> unknown_fields;
  bool failed() const { return !error.empty(); }
  void fail(const FieldPath& p, const std::string& what);
};

std::string_view json_type_name(const json& j);

void decode_value(const json& j, const FieldPath& p, Context& c, std::string& out);
void decode_value(const json& j, const FieldPath& p, Context& c, bool& out);
void decode_value(const json& j, const FieldPath& p, Context& c, std::int32_t& out);
void decode_value(const json& j, const FieldPath& p, Context& c, std::int64_t& out);
void decode_value(const json& j, const FieldPath& p, Context& c, IntOrString& out);
void decode_value(const json& j, const FieldPath& p, Context& c, StringMap& out);

template <class T>
void decode_value(const json& j, const FieldPath& p, Context& c, std::optional<T>& out);
template <class T>
void decode_value(const json& j, const FieldPath& p, Context& c, std::vector<T>& out);

// Reads the fields of one JSON object. Every key must be claimed by field() or passthrough();
// what is left when the Reader is finished is reported as unknown.
class Reader {
 public:
  Reader(const json& j, FieldPath path, Context& c);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  bool is_object() const { return obj_ != nullptr; }
  const FieldPath& path() const { return path_; }
  Context& context() { return c_; }

  template <class T>
  void field(std::string_view key, T& out) {
    if (const json* v = claim(key)) decode_value(*v, path_.child(key), c_, out);
  }
  // The raw value of a field the caller decodes itself (nullptr when absent or null).
  const json* raw(std::string_view key) { return claim(key); }
  // Keep these Kubernetes-defined fields verbatim.
  void passthrough(std::initializer_list<std::string_view> keys, Passthrough& out);
  // Accept and drop (fields with no meaning here, such as status of a create body).
  void ignore(std::string_view key) { claim(key); }

 private:
  const json* claim(std::string_view key);
  const json* obj_ = nullptr;
  FieldPath path_;
  Context& c_;
  std::set<std::string, std::less<>> claimed_;
};

// Struct types implement decode_fields(Reader&, T&); this adapts them to decode_value.
template <class T>
concept DecodableStruct = requires(Reader& r, T& t) {
  decode_fields(r, t);
};

template <DecodableStruct T>
void decode_value(const json& j, const FieldPath& p, Context& c, T& out) {
  if (j.is_null()) return;
  Reader r(j, p, c);
  if (r.is_object()) decode_fields(r, out);
}

template <class T>
void decode_value(const json& j, const FieldPath& p, Context& c, std::optional<T>& out) {
  if (j.is_null()) return;
  out.emplace();
  decode_value(j, p, c, *out);
}

template <class T>
void decode_value(const json& j, const FieldPath& p, Context& c, std::vector<T>& out) {
  if (j.is_null()) return;
  if (!j.is_array()) return c.fail(p, "expected an array, got " + std::string(json_type_name(j)));
  out.resize(j.size());
  for (std::size_t i = 0; i < j.size() && !c.failed(); ++i) decode_value(j[i], p.index(i), c, out[i]);
}

// ---- writing: empty values are omitted, as Go's omitempty does -------------------------
inline void put(json& o, const char* k, const std::string& v) {
  if (!v.empty()) o[k] = v;
}
inline void put(json& o, const char* k, bool v) {
  if (v) o[k] = v;
}
inline void put(json& o, const char* k, std::int32_t v) {
  if (v) o[k] = v;
}
inline void put(json& o, const char* k, std::int64_t v) {
  if (v) o[k] = v;
}
inline void put(json& o, const char* k, const StringMap& v) {
  if (!v.empty()) o[k] = v;
}
inline void put(json& o, const char* k, const std::vector<std::string>& v) {
  if (!v.empty()) o[k] = v;
}
template <class T>
void put(json& o, const char* k, const std::optional<T>& v) {
  if (v) o[k] = *v;
}
void put_passthrough(json& o, const Passthrough& p);

}  // namespace switchyard::api::codec
