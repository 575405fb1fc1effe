#include "orchestrator/api/protobuf_codec.h"

#include <bit>
#include <cmath>

#include <fmt/format.h>

#include "orchestrator/api/protobuf_values.h"
#include "orchestrator/api/protobuf_wire.h"

namespace switchyard::api::protobuf {

using nlohmann::json;

namespace {

constexpr int kMaxDepth = 64;  // messages nest a dozen deep in the served kinds

std::unexpected<Error> invalid(std::string message) { return fail(ErrorCode::Invalid, std::move(message)); }

std::string child(const std::string& path, std::string_view name) {
  return path.empty() ? std::string(name) : path + "." + std::string(name);
}

WireType wire_type_of(Kind k) {
  switch (k) {
    case Kind::Bool:
    case Kind::Int32:
    case Kind::Int64:
    case Kind::UInt32:
    case Kind::UInt64:
      return WireType::Varint;
    case Kind::Double:
      return WireType::Fixed64;
    default:
      return WireType::Bytes;
  }
}

// ---- protobuf -> JSON ----------------------------------------------------------------------

Result<json> to_json(const Message& m, std::string_view bytes, const std::string& path, int depth);

Result<std::string> checked_string(std::string_view s, const std::string& path) {
  if (!values::valid_utf8(s)) return invalid(fmt::format("{}: a string that is not valid UTF-8", path));
  return std::string(s);
}

// One value of a field off the wire. `zero` tells whether it is its type's zero value.
Result<json> value_to_json(const ValueType& t, const WireField& wf, const std::string& path, int depth, bool& zero) {
  zero = false;
  switch (t.kind) {
    case Kind::String: {
      auto s = checked_string(wf.bytes, path);
      if (!s) return fail(s.error());
      zero = s->empty();
      return json(std::move(*s));
    }
    case Kind::Bytes:
      zero = wf.bytes.empty();
      return json(values::base64_encode(wf.bytes));
    case Kind::Bool:
      zero = wf.number == 0;
      return json(wf.number != 0);
    case Kind::Int32:
      zero = static_cast<std::int32_t>(wf.number) == 0;
      return json(static_cast<std::int32_t>(wf.number));
    case Kind::Int64:
      zero = wf.number == 0;
      return json(static_cast<std::int64_t>(wf.number));
    case Kind::UInt32:
      zero = static_cast<std::uint32_t>(wf.number) == 0;
      return json(static_cast<std::uint32_t>(wf.number));
    case Kind::UInt64:
      zero = wf.number == 0;
      return json(wf.number);
    case Kind::Double: {
      const double d = std::bit_cast<double>(wf.number);
      if (!std::isfinite(d)) return invalid(fmt::format("{}: a number JSON cannot carry", path));
      zero = d == 0;
      return json(d);
    }
    case Kind::Message:
      return to_json(*t.message, wf.bytes, path, depth + 1);
    case Kind::Time:
    case Kind::MicroTime: {
      // An empty message is Go's zero time, which JSON writes as null.
      if (wf.bytes.empty()) return json(nullptr);
      std::int64_t seconds = 0;
      std::int32_t nanos = 0;
      WireReader r(wf.bytes);
      WireField f;
      while (r.next(f)) {
        if (f.type != WireType::Varint) return invalid(fmt::format("{}: a timestamp field of the wrong wire type", path));
        if (f.field == 1) seconds = static_cast<std::int64_t>(f.number);
        if (f.field == 2) nanos = static_cast<std::int32_t>(f.number);
      }
      if (!r.error().empty()) return invalid(fmt::format("{}: {}", path, r.error()));
      // metav1.Time keeps whole seconds only (upstream drops nanos too); MicroTime keeps micros.
      auto text = values::format_time(seconds, t.kind == Kind::MicroTime ? nanos : 0, t.kind == Kind::MicroTime);
      if (!text) return invalid(fmt::format("{}: a timestamp outside years 0-9999", path));
      return json(std::move(*text));
    }
    case Kind::Duration:
    case Kind::IntOrString:
    case Kind::Quantity:
    case Kind::RawJson: {
      std::int64_t number = 0, type = 0;
      std::string_view text;
      bool has_text = false;
      WireReader r(wf.bytes);
      WireField f;
      while (r.next(f)) {
        if (f.type == WireType::Varint && f.field == 1) type = number = static_cast<std::int64_t>(f.number);
        if (f.type == WireType::Varint && f.field == 2) number = static_cast<std::int32_t>(f.number);
        if (f.type == WireType::Bytes && (f.field == 1 || f.field == 3)) {
          text = f.bytes;
          has_text = true;
        }
      }
      if (!r.error().empty()) return invalid(fmt::format("{}: {}", path, r.error()));
      if (t.kind == Kind::Duration) return json(values::format_duration(number));
      if (t.kind == Kind::IntOrString) {
        if (type == 1) {
          auto s = checked_string(text, path);
          if (!s) return fail(s.error());
          return json(std::move(*s));
        }
        return json(static_cast<std::int32_t>(number));
      }
      if (t.kind == Kind::Quantity) {
        auto s = checked_string(has_text ? text : "0", path);
        if (!s) return fail(s.error());
        return json(std::move(*s));
      }
      if (!has_text || text.empty()) {
        zero = true;
        return json(nullptr);
      }
      if (values::json_text_depth(text) > 100) return invalid(fmt::format("{}: embedded JSON nested too deeply", path));
      json inner = json::parse(text, nullptr, false);
      if (inner.is_discarded()) return invalid(fmt::format("{}: embedded data is not JSON", path));
      return inner;
    }
  }
  return invalid(fmt::format("{}: unsupported field", path));
}

// A map entry {key=1, value=2} into out[key].
Result<void> map_entry_to_json(const Field& f, std::string_view bytes, const std::string& path, int depth, json& out) {
  std::string key;
  json value;
  bool have_value = false;
  WireReader r(bytes);
  WireField wf;
  while (r.next(wf)) {
    if (wf.field == 1) {
      if (wf.type != WireType::Bytes) return invalid(fmt::format("{}: a map key of the wrong wire type", path));
      auto k = checked_string(wf.bytes, path);
      if (!k) return fail(k.error());
      key = std::move(*k);
    } else if (wf.field == 2) {
      if (wf.type != wire_type_of(f.value.kind)) return invalid(fmt::format("{}: a map value of the wrong wire type", path));
      bool zero = false;
      auto v = value_to_json(f.value, wf, path, depth, zero);
      if (!v) return fail(v.error());
      value = std::move(*v);
      have_value = true;
    }
  }
  if (!r.error().empty()) return invalid(fmt::format("{}: {}", path, r.error()));
  if (!have_value) {  // an absent value is its zero value
    bool zero = false;
    auto v = value_to_json(f.value, WireField{2, wire_type_of(f.value.kind), 0, {}}, path, depth, zero);
    if (!v) return fail(v.error());
    value = std::move(*v);
  }
  out[key] = std::move(value);
  return {};
}

Result<json> to_json(const Message& m, std::string_view bytes, const std::string& path, int depth) {
  if (depth > kMaxDepth) return invalid(fmt::format("{}: nested too deeply", path));
  json out = json::object();
  WireReader r(bytes);
  WireField wf;
  while (r.next(wf)) {
    const Field* f = m.by_number(wf.field);
    if (!f) continue;  // a field this schema does not know is skipped, as upstream's decoders do
    const std::string at = child(path, f->json_name);
    const WireType want = f->inline_ || f->map ? WireType::Bytes : wire_type_of(f->value.kind);
    const bool packed = f->repeated && !f->map && want != WireType::Bytes && wf.type == WireType::Bytes;
    if (wf.type != want && !packed)
      return invalid(fmt::format("{}: wire type {} where {} expects {}", at, static_cast<int>(wf.type), m.name, static_cast<int>(want)));
    if (f->inline_) {
      auto inner = to_json(*f->value.message, wf.bytes, path, depth + 1);
      if (!inner) return fail(inner.error());
      for (auto& [k, v] : inner->items()) out[k] = std::move(v);
      continue;
    }
    if (f->map) {
      json& target = out[f->json_name];
      if (!target.is_object()) target = json::object();
      if (auto done = map_entry_to_json(*f, wf.bytes, at, depth, target); !done) return fail(done.error());
      continue;
    }
    if (packed) {
      json& target = out[f->json_name];
      if (!target.is_array()) target = json::array();
      WireReader pr(wf.bytes);
      while (!pr.done()) {
        WireField one{wf.field, want, 0, {}};
        if (want == WireType::Varint ? !pr.read_varint(one.number) : true)
          return invalid(fmt::format("{}: malformed packed field {}", at, pr.error()));
        bool zero = false;
        auto v = value_to_json(f->value, one, at, depth, zero);
        if (!v) return fail(v.error());
        target.push_back(std::move(*v));
      }
      continue;
    }
    bool zero = false;
    auto v = value_to_json(f->value, wf, at, depth, zero);
    if (!v) return fail(v.error());
    if (f->repeated) {
      json& target = out[f->json_name];
      if (!target.is_array()) target = json::array();
      target.push_back(std::move(*v));
    } else if ((zero && !f->pointer && !f->always) || (v->is_null() && (f->pointer || f->value.kind == Kind::RawJson))) {
      // omitempty: a non-pointer zero is what absence means (fields without omitempty keep it,
      // as Go's JSON does); a null (zero time, no raw data) behind a Go pointer reads back from
      // JSON as no pointer at all.
      out.erase(f->json_name);
    } else {
      out[f->json_name] = std::move(*v);
    }
  }
  if (!r.error().empty()) return invalid(fmt::format("{}{}{}", path, path.empty() ? "" : ": ", r.error()));
  return out;
}

// ---- JSON -> protobuf ----------------------------------------------------------------------

Result<void> from_json(const Message& m, const json& j, const std::string& path, int depth, WireWriter& w);

std::unexpected<Error> wrong_type(const std::string& path, std::string_view want, const json& got) {
  return invalid(fmt::format("{}: expected {}, got {}", path, want, got.type_name()));
}

Result<std::int64_t> integer(const json& v, const std::string& path) {
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_number_float() && std::nearbyint(v.get<double>()) == v.get<double>() && std::abs(v.get<double>()) < 9.2e18)
    return static_cast<std::int64_t>(v.get<double>());
  return wrong_type(path, "an integer", v);
}

Result<void> value_from_json(const Field& f, const json& v, const std::string& path, int depth, WireWriter& w) {
  const std::uint32_t n = f.map ? 2 : f.number;
  switch (f.value.kind) {
    case Kind::String:
      if (!v.is_string()) return wrong_type(path, "a string", v);
      w.bytes_field(n, v.get_ref<const std::string&>());
      return {};
    case Kind::Bytes: {
      std::string raw;
      if (!v.is_string() || !values::base64_decode(v.get_ref<const std::string&>(), raw)) return wrong_type(path, "base64 text", v);
      w.bytes_field(n, raw);
      return {};
    }
    case Kind::Bool:
      if (!v.is_boolean()) return wrong_type(path, "a boolean", v);
      w.varint_field(n, v.get<bool>() ? 1 : 0);
      return {};
    case Kind::Int32:
    case Kind::Int64:
    case Kind::UInt32:
    case Kind::UInt64: {
      auto i = integer(v, path);
      if (!i) return fail(i.error());
      // Negative int32s go out sign-extended to 64 bits, as protobuf defines.
      w.varint_field(n, static_cast<std::uint64_t>(*i));
      return {};
    }
    case Kind::Double:
      if (!v.is_number()) return wrong_type(path, "a number", v);
      w.fixed64_field(n, std::bit_cast<std::uint64_t>(v.get<double>()));
      return {};
    case Kind::Message: {
      WireWriter inner;
      if (auto done = from_json(*f.value.message, v, path, depth + 1, inner); !done) return done;
      w.bytes_field(n, inner.buffer());
      return {};
    }
    case Kind::Time:
    case Kind::MicroTime: {
      std::int64_t seconds = 0;
      std::int32_t nanos = 0;
      if (!v.is_string() || !values::parse_time(v.get_ref<const std::string&>(), seconds, nanos))
        return wrong_type(path, "an RFC 3339 time", v);
      WireWriter inner;
      inner.varint_field(1, static_cast<std::uint64_t>(seconds));
      inner.varint_field(2, static_cast<std::uint64_t>(f.value.kind == Kind::MicroTime ? nanos / 1000 * 1000 : 0));
      w.bytes_field(n, inner.buffer());
      return {};
    }
    case Kind::Duration: {
      std::int64_t ns = 0;
      if (!v.is_string() || !values::parse_duration(v.get_ref<const std::string&>(), ns)) return wrong_type(path, "a duration", v);
      WireWriter inner;
      inner.varint_field(1, static_cast<std::uint64_t>(ns));
      w.bytes_field(n, inner.buffer());
      return {};
    }
    case Kind::IntOrString: {
      WireWriter inner;
      if (v.is_string()) {
        inner.varint_field(1, 1);
        inner.varint_field(2, 0);
        inner.bytes_field(3, v.get_ref<const std::string&>());
      } else {
        auto i = integer(v, path);
        if (!i) return fail(i.error());
        inner.varint_field(1, 0);
        inner.varint_field(2, static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int32_t>(*i))));
        inner.bytes_field(3, "");
      }
      w.bytes_field(n, inner.buffer());
      return {};
    }
    case Kind::Quantity: {
      if (!v.is_string() && !v.is_number()) return wrong_type(path, "a quantity", v);
      WireWriter inner;
      inner.bytes_field(1, v.is_string() ? v.get_ref<const std::string&>() : v.dump());
      w.bytes_field(n, inner.buffer());
      return {};
    }
    case Kind::RawJson: {
      WireWriter inner;
      inner.bytes_field(1, v.dump());
      w.bytes_field(n, inner.buffer());
      return {};
    }
  }
  return invalid(fmt::format("{}: unsupported field", path));
}

Result<void> from_json(const Message& m, const json& j, const std::string& path, int depth, WireWriter& w) {
  if (depth > kMaxDepth) return invalid(fmt::format("{}: nested too deeply", path));
  if (!j.is_object()) return wrong_type(path.empty() ? m.name : path, "an object", j);
  for (const Field& f : m.fields) {
    if (f.inline_) {
      // The embedded struct's fields sit in this same JSON object; Go always writes it.
      WireWriter inner;
      if (auto done = from_json(*f.value.message, j, path, depth + 1, inner); !done) return done;
      w.bytes_field(f.number, inner.buffer());
      continue;
    }
    auto it = j.find(f.json_name);
    if (it == j.end()) continue;
    if (it->is_null()) {
      // null is Go's zero time in a non-pointer Time, which Go writes as an empty message.
      if (!f.pointer && !f.repeated && (f.value.kind == Kind::Time || f.value.kind == Kind::MicroTime)) w.bytes_field(f.number, "");
      continue;
    }
    const std::string at = child(path, f.json_name);
    if (f.map) {
      if (!it->is_object()) return wrong_type(at, "an object", *it);
      for (const auto& [key, value] : it->items()) {
        if (value.is_null()) continue;
        WireWriter entry;
        entry.bytes_field(1, key);
        if (auto done = value_from_json(f, value, at + "." + key, depth, entry); !done) return done;
        w.bytes_field(f.number, entry.buffer());
      }
    } else if (f.repeated) {
      if (!it->is_array()) return wrong_type(at, "an array", *it);
      for (std::size_t i = 0; i < it->size(); ++i)
        if (!(*it)[i].is_null())
          if (auto done = value_from_json(f, (*it)[i], fmt::format("{}[{}]", at, i), depth, w); !done) return done;
    } else if (auto done = value_from_json(f, *it, at, depth, w); !done) {
      return done;
    }
  }
  return {};
}

// runtime.Unknown's typeMeta {apiVersion=1, kind=2}.
std::string type_meta(std::string_view api_version, std::string_view kind) {
  WireWriter w;
  w.bytes_field(1, api_version);
  w.bytes_field(2, kind);
  return w.take();
}

}  // namespace

Result<json> message_to_json(const Message& message, std::string_view bytes) { return to_json(message, bytes, "", 0); }

Result<std::string> json_to_message(const Message& message, const json& object) {
  WireWriter w;
  if (auto done = from_json(message, object, "", 0, w); !done) return fail(done.error());
  return w.take();
}

bool has_protobuf_form(std::string_view api_version, std::string_view kind) { return message_for_kind(api_version, kind) != nullptr; }

Result<json> decode_object(std::string_view body) {
  if (!body.starts_with(kMagic)) return invalid("the body does not start with the Kubernetes protobuf prefix \"k8s\\x00\"");
  std::string api_version, kind;
  std::string_view raw;
  bool have_type = false, have_raw = false;
  WireReader r(body.substr(kMagic.size()));
  WireField wf;
  while (r.next(wf)) {
    if (wf.type != WireType::Bytes) continue;
    if (wf.field == 1) {
      WireReader tr(wf.bytes);
      WireField tf;
      while (tr.next(tf)) {
        if (tf.type != WireType::Bytes) continue;
        if (tf.field == 1) api_version = tf.bytes;
        if (tf.field == 2) kind = tf.bytes;
      }
      if (!tr.error().empty()) return invalid("the envelope's typeMeta: " + tr.error());
      have_type = true;
    } else if (wf.field == 2) {
      raw = wf.bytes;
      have_raw = true;
    } else if (wf.field == 3 && !wf.bytes.empty()) {
      return invalid(fmt::format("unsupported content encoding {:?}", std::string(wf.bytes)));
    }
  }
  if (!r.error().empty()) return invalid("the envelope: " + r.error());
  if (!have_type || kind.empty()) return invalid("the envelope names no kind");
  if (!have_raw) return invalid("the envelope carries no object");
  if (!values::valid_utf8(api_version) || !values::valid_utf8(kind)) return invalid("the envelope's apiVersion or kind is not UTF-8");
  const Message* m = message_for_kind(api_version, kind);
  if (!m) return invalid(fmt::format("no protobuf form is known for kind {:?} in {:?}", kind, api_version));
  auto object = message_to_json(*m, raw);
  if (!object) return fail(with_context(object.error(), kind));
  (*object)["apiVersion"] = api_version;
  (*object)["kind"] = kind;
  return object;
}

Result<std::string> encode_object(const json& object) {
  if (!object.is_object()) return invalid("only objects have a protobuf form");
  const std::string api_version = object.value("apiVersion", ""), kind = object.value("kind", "");
  const Message* m = message_for_kind(api_version, kind);
  if (!m) return fail(ErrorCode::NotFound, fmt::format("no protobuf form for kind {:?} in {:?}", kind, api_version));
  auto raw = json_to_message(*m, object);
  if (!raw) return fail(raw.error());
  WireWriter w;
  w.raw(kMagic);
  w.bytes_field(1, type_meta(api_version, kind));
  w.bytes_field(2, *raw);
  w.bytes_field(3, "");
  w.bytes_field(4, "");
  return w.take();
}

Result<std::string> encode_watch_frame(std::string_view type, const json& object) {
  auto inner = encode_object(object);
  if (!inner) return fail(inner.error());
  WireWriter raw_extension;
  raw_extension.bytes_field(1, *inner);
  WireWriter event;
  event.buffer().resize(4);  // the frame's length, filled in below
  event.bytes_field(1, type);
  event.bytes_field(2, raw_extension.buffer());
  std::string frame = event.take();
  const auto n = static_cast<std::uint32_t>(frame.size() - 4);
  for (int i = 0; i < 4; ++i) frame[static_cast<std::size_t>(i)] = static_cast<char>(n >> (24 - 8 * i));
  return frame;
}

Result<WatchEventJson> decode_watch_event(std::string_view frame_body) {
  WatchEventJson out;
  std::string_view object;
  WireReader r(frame_body);
  WireField wf;
  while (r.next(wf)) {
    if (wf.type != WireType::Bytes) continue;
    if (wf.field == 1) out.type = wf.bytes;
    if (wf.field == 2) {
      WireReader er(wf.bytes);
      WireField ef;
      while (er.next(ef))
        if (ef.field == 1 && ef.type == WireType::Bytes) object = ef.bytes;
      if (!er.error().empty()) return invalid("watch event object: " + er.error());
    }
  }
  if (!r.error().empty()) return invalid("watch event: " + r.error());
  auto decoded = decode_object(object);
  if (!decoded) return fail(with_context(decoded.error(), "watch event object"));
  out.object = std::move(*decoded);
  return out;
}

}  // namespace switchyard::api::protobuf
