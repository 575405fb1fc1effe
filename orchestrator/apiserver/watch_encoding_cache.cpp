#include "orchestrator/apiserver/watch_encoding_cache.h"

namespace switchyard::apiserver {

std::shared_ptr<const EncodedObject> WatchEncodingCache::get(const std::string& key, std::string_view value, store::Revision revision) {
  Slot& slot = slots_[static_cast<std::size_t>(revision) % kSlots];
  {
    std::lock_guard lock(mu_);
    if (slot.object && slot.object->revision == revision && slot.key == key) return slot.object;
  }
  // Encoded outside the lock: two watchers may both do it once; either result is the same.
  auto encoded = std::make_shared<EncodedObject>();
  encoded->revision = revision;
  encoded->object = Json::parse(value);
  encoded->object["metadata"]["resourceVersion"] = std::to_string(revision);
  encoded->json = encoded->object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (value.size() <= kMaxCachedBytes) {
    std::lock_guard lock(mu_);
    slot.key = key;
    slot.object = encoded;
  }
  return encoded;
}

std::shared_ptr<const SelectableFields> WatchEncodingCache::selectable(const std::string& key, store::Revision revision, bool previous,
                                                                       const std::function<SelectableFields()>& compute) {
  FieldsSlot& slot = fields_[static_cast<std::size_t>(revision) % kSlots];
  {
    std::lock_guard lock(mu_);
    if (slot.revision == revision && slot.key == key)
      if (auto& kept = previous ? slot.before : slot.now) return kept;
  }
  auto made = std::make_shared<const SelectableFields>(compute());
  std::lock_guard lock(mu_);
  if (slot.revision != revision || slot.key != key) {
    slot.key = key;
    slot.revision = revision;
    slot.now = slot.before = nullptr;
  }
  (previous ? slot.before : slot.now) = made;
  return made;
}

}  // namespace switchyard::apiserver
