#include "orchestrator/api/protobuf_schema.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace switchyard::api::protobuf {

const Field* Message::by_number(std::uint32_t n) const {
  auto it = number_index.find(n);
  return it == number_index.end() ? nullptr : &fields[it->second];
}

const Field* Message::by_json_name(std::string_view name) const {
  auto it = name_index.find(name);
  return it == name_index.end() ? nullptr : &fields[it->second];
}

namespace {

struct Schema {
  std::deque<Message> messages;  // stable addresses for ValueType::message
  std::map<std::string, Message*, std::less<>> by_name;
};

Message& message_slot(Schema& s, const std::string& name) {
  auto it = s.by_name.find(name);
  if (it != s.by_name.end()) return *it->second;
  Message& m = s.messages.emplace_back();
  m.name = name;
  s.by_name.emplace(name, &m);
  return m;
}

ValueType parse_value(Schema& s, std::string_view t) {
  static const std::map<std::string_view, Kind> scalars = {
      {"string", Kind::String},     {"bytes", Kind::Bytes},         {"bool", Kind::Bool},         {"int32", Kind::Int32},
      {"int64", Kind::Int64},       {"uint32", Kind::UInt32},       {"uint64", Kind::UInt64},     {"double", Kind::Double},
      {"time", Kind::Time},         {"microtime", Kind::MicroTime}, {"duration", Kind::Duration}, {"intstr", Kind::IntOrString},
      {"quantity", Kind::Quantity}, {"rawext", Kind::RawJson},      {"fieldsv1", Kind::RawJson}};
  if (t.starts_with("m:")) return {Kind::Message, &message_slot(s, std::string(t.substr(2)))};
  auto it = scalars.find(t);
  // The table is generated and compiled in: a malformed line is a programmer error.
  if (it == scalars.end()) throw std::logic_error("protobuf schema: unknown type " + std::string(t));
  return {it->second, nullptr};
}

Field parse_field(Schema& s, std::uint32_t number, std::string name, std::string_view t) {
  Field f;
  f.number = number;
  f.json_name = std::move(name);
  if (t.starts_with("inline:")) {
    f.inline_ = true;
    t.remove_prefix(7);
  }
  if (t.starts_with("?")) {
    f.pointer = true;
    t.remove_prefix(1);
  }
  if (t.starts_with("[]")) {
    f.repeated = true;
    t.remove_prefix(2);
    if (t.starts_with("?")) t.remove_prefix(1);
  }
  if (t.starts_with("map:")) {
    // map:KEY:VALUE; every map key in the Kubernetes API is a string.
    f.map = true;
    f.repeated = true;
    t.remove_prefix(4);
    t.remove_prefix(t.find(':') + 1);
  }
  f.value = parse_value(s, t);
  return f;
}

const Schema& schema() {
  static const Schema* parsed = [] {
    auto* s = new Schema();
    std::istringstream in(kSchemaText);
    std::string line;
    Message* current = nullptr;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      std::istringstream words(line);
      std::string first, name, type;
      words >> first;
      if (first == "message") {
        words >> name;
        current = &message_slot(*s, name);
        continue;
      }
      std::string flag;
      words >> name >> type >> flag;
      if (!current || name.empty() || type.empty()) throw std::logic_error("protobuf schema: malformed line " + line);
      current->fields.push_back(parse_field(*s, static_cast<std::uint32_t>(std::stoul(first)), name, type));
      current->fields.back().always = flag == "always";
    }
    for (Message& m : s->messages) {
      // Encoders write fields in number order, as upstream's generated marshallers do.
      std::stable_sort(m.fields.begin(), m.fields.end(), [](const Field& a, const Field& b) { return a.number < b.number; });
      for (std::size_t i = 0; i < m.fields.size(); ++i) {
        m.number_index.emplace(m.fields[i].number, i);
        m.name_index.emplace(m.fields[i].json_name, i);
      }
    }
    return s;
  }();
  return *parsed;
}

}  // namespace

const Message* message_named(std::string_view name) {
  const auto& s = schema();
  auto it = s.by_name.find(name);
  return it == s.by_name.end() || it->second->fields.empty() ? nullptr : it->second;
}

const Message* message_for_kind(std::string_view api_version, std::string_view kind) {
  // apiVersion "v1" is the core group; "discovery.k8s.io/v1" is package discovery/v1. The
  // meta/v1 kinds (Status, WatchEvent, DeleteOptions) are served under every group version.
  std::string package;
  if (auto slash = api_version.find('/'); slash == std::string_view::npos) {
    package = "core/" + std::string(api_version);
  } else {
    std::string_view group = api_version.substr(0, slash);
    package = std::string(group.substr(0, group.find('.'))) + "/" + std::string(api_version.substr(slash + 1));
  }
  if (const Message* m = message_named(package + "." + std::string(kind))) return m;
  static const std::string_view meta_kinds[] = {"Status", "WatchEvent", "DeleteOptions"};
  for (auto k : meta_kinds)
    if (k == kind) return message_named("meta/v1." + std::string(kind));
  return nullptr;
}

}  // namespace switchyard::api::protobuf
