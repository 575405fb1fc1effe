// libFuzzer entry point: any byte string through the manifest decoder, defaulting, validation
// and encoding. Must never crash, hang or leak; errors are fine.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "orchestrator/api/defaults.h"
#include "orchestrator/api/manifest.h"
#include "orchestrator/api/validation.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchyard::api;
  ManifestLimits limits;
  limits.max_bytes = 1 << 20;
  limits.max_nodes = 100'000;
  auto decoded = decode_manifest(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (!decoded) return 0;
  ClusterNetworkConfig net;
  for (auto& d : *decoded) {
    apply_defaults(d.object, net);
    auto errors = validate(d.object, net);
    if (!errors.empty()) (void)invalid_message(kind_of(d.object), meta_of(d.object).name, errors);
    auto again = decode_object(encode_object(d.object));
    if (!again) __builtin_trap();  // what we encode we must be able to read back
  }
  return 0;
}
