// The objects of the last few store events, decoded and encoded once: every watcher of a
// resource gets the same object for the same event (only its event type and filters differ), so
// N watchers cost one parse and one dump per event instead of N of each. The same for what
// label and field selectors look at in the event's object and in its previous state: N watchers
// with selectors (every kubelet's spec.nodeName=NODE on pods) cost one parse of the previous
// state and one field set of each per event, instead of N.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "orchestrator/apiserver/object_registry.h"

namespace switchyard::apiserver {

// What selectors test in one object: its labels, and its fields (metadata.name, and the kind's
// selectable fields).
struct SelectableFields {
  api::StringMap labels, fields;
};

class WatchEncodingCache {
 public:
  // The object stored under `key` as `value` with resourceVersion `revision` (a store revision
  // names exactly one write, so it and the key identify the event).
  std::shared_ptr<const EncodedObject> get(const std::string& key, std::string_view value, store::Revision revision);
  // The selectable fields of the event at `revision` on `key`: of its object, or (`previous`) of
  // the object's state before it; `compute` makes them when no watcher has yet.
  std::shared_ptr<const SelectableFields> selectable(const std::string& key, store::Revision revision, bool previous,
                                                     const std::function<SelectableFields()>& compute);

 private:
  // Watchers of one event read it within moments of each other; a lagging watcher just encodes
  // again. Large objects are not kept, so the cache stays small.
  static constexpr std::size_t kSlots = 64;
  static constexpr std::size_t kMaxCachedBytes = 64 * 1024;
  struct Slot {
    std::string key;
    std::shared_ptr<const EncodedObject> object;
  };
  struct FieldsSlot {
    std::string key;
    store::Revision revision = 0;
    std::shared_ptr<const SelectableFields> now, before;
  };
  std::mutex mu_;
  std::array<Slot, kSlots> slots_;
  std::array<FieldsSlot, kSlots> fields_;
};

}  // namespace switchyard::apiserver
