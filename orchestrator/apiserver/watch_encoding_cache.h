// The objects of the last few store events, decoded and encoded once: every watcher of a
// resource gets the same object for the same event (only its event type and filters differ), so
// N watchers cost one parse and one dump per event instead of N of each.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "orchestrator/apiserver/object_registry.h"

namespace switchyard::apiserver {

class WatchEncodingCache {
 public:
  // The object stored under `key` as `value` with resourceVersion `revision` (a store revision
  // names exactly one write, so it and the key identify the event).
  std::shared_ptr<const EncodedObject> get(const std::string& key, std::string_view value, store::Revision revision);

 private:
  // Watchers of one event read it within moments of each other; a lagging watcher just encodes
  // again. Large objects are not kept, so the cache stays small.
  static constexpr std::size_t kSlots = 64;
  static constexpr std::size_t kMaxCachedBytes = 64 * 1024;
  struct Slot {
    std::string key;
    std::shared_ptr<const EncodedObject> object;
  };
  std::mutex mu_;
  std::array<Slot, kSlots> slots_;
};

}  // namespace switchyard::apiserver
