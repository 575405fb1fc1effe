// libFuzzer entry point: any byte string as a Kubernetes protobuf request body, through the
// transcoder, the object model's decoding, defaulting and validation, and back out as protobuf.
// Must never crash, hang or leak; errors are fine. What it reads it must write and read again
// to the same JSON.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "orchestrator/api/defaults.h"
#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/protobuf_codec.h"
#include "orchestrator/api/validation.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchyard::api;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto json = protobuf::decode_object(body);
  if (!json) return 0;
  auto again = protobuf::encode_object(*json);
  if (!again) __builtin_trap();  // what we read we must be able to write
  auto reread = protobuf::decode_object(*again);
  if (!reread || *reread != *json) __builtin_trap();  // and read back unchanged
  if (json->dump().empty()) __builtin_trap();         // dump() throws on a string that is not UTF-8
  auto decoded = decode_object(*json);
  if (!decoded) return 0;
  ClusterNetworkConfig net;
  apply_defaults(decoded->object, net);
  auto errors = validate(decoded->object, net);
  if (!errors.empty()) return 0;
  if (!protobuf::encode_object(encode_object(decoded->object))) __builtin_trap();  // a valid object has a protobuf form
  return 0;
}
