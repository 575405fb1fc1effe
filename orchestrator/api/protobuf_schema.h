// The protobuf schemas of the Kubernetes kinds Switchyard serves: per message, field number <->
// JSON name <-> wire kind, as upstream's generated.proto files define them. The table itself is
// generated (protobuf_schema_data.cpp, by tools/protobuf_schema_gen.py) and parsed once.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::api::protobuf {

// What a field holds on the wire and how that maps onto JSON.
enum class Kind : std::uint8_t {
  String,
  Bytes,  // base64 in JSON
  Bool,
  Int32,
  Int64,
  UInt32,
  UInt64,
  Double,
  Message,      // a nested message: a JSON object
  Time,         // metav1.Time {seconds=1, nanos=2}: RFC 3339 to the second
  MicroTime,    // metav1.MicroTime: RFC 3339 with microseconds
  Duration,     // metav1.Duration {duration=1 (ns)}: Go duration text ("1h0m0s")
  IntOrString,  // intstr.IntOrString {type=1, intVal=2, strVal=3}: a number or a string
  Quantity,     // resource.Quantity {string=1}: its canonical string
  RawJson,      // runtime.RawExtension {raw=1} or metav1.FieldsV1 {Raw=1}: JSON text inline
};

struct Message;

struct ValueType {
  Kind kind = Kind::String;
  const Message* message = nullptr;  // for Kind::Message
};

struct Field {
  std::uint32_t number = 0;
  std::string json_name;
  ValueType value;
  bool repeated = false;
  bool pointer = false;  // a Go pointer: present at its zero value is still present
  bool inline_ = false;  // an embedded struct whose fields sit in the parent's JSON object
  bool map = false;      // map<string, value>: repeated {key=1, value=2} entries
  bool always = false;   // no omitempty: JSON has it even at its zero value
};

struct Message {
  std::string name;  // "core/v1.Service"
  std::vector<Field> fields;
  const Field* by_number(std::uint32_t n) const;
  const Field* by_json_name(std::string_view name) const;

  std::map<std::uint32_t, std::size_t> number_index;
  std::map<std::string, std::size_t, std::less<>> name_index;
};

// The message of a top-level kind ("v1" "Service", "discovery.k8s.io/v1" "EndpointSliceList",
// "v1" "Status"), or nullptr when that kind has no protobuf form here.
const Message* message_for_kind(std::string_view api_version, std::string_view kind);
// A message by its table name ("meta/v1.WatchEvent"), or nullptr.
const Message* message_named(std::string_view name);

extern const char* const kSchemaText;

}  // namespace switchyard::api::protobuf
