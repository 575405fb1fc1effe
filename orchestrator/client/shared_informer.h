// client-go's SharedIndexInformer for one typed resource: a reflector (list+watch) fills an
// indexed cache and tells event handlers what changed. Handlers should only enqueue: they run on
// the reflector's thread, one event at a time, after the cache holds the change.
//
// A relist is a complete state: objects that are no longer in it are deleted from the cache and
// their handlers get the last state seen with final_state_unknown (client-go's
// DeletedFinalStateUnknown). A list that fails changes nothing: the cache, and has_synced(),
// stay as they were. A handler added to a running informer first gets the cached objects as adds.
//
// keep_keys_only() makes the informer remember only which objects exist, not the objects (as
// client-go's SetTransform strips what a user does not read, taken further): a user that turns
// each object into its own record needs no second copy of everything.
#pragma once

#include <stdexcept>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <spdlog/spdlog.h>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/client/indexer.h"
#include "orchestrator/client/reflector.h"

namespace switchyard::client {

template <class T>
struct ResourceEventHandlers {
  std::function<void(const ObjectPtr<T>&)> on_add;
  // Also on a relist and a resync, where old and new may be the same version.
  std::function<void(const ObjectPtr<T>& old_object, const ObjectPtr<T>& new_object)> on_update;
  // `final_state_unknown`: the deletion was found by a relist, `last_known` is the last state seen.
  std::function<void(const ObjectPtr<T>& last_known, bool final_state_unknown)> on_delete;
  // After each successful list or relist was applied to the cache (has_synced() is true).
  std::function<void()> on_list;
};

struct InformerOptions {
  ReflectorOptions reflector;
  // Every period, every cached object is handed to on_update again (0: never).
  std::chrono::milliseconds resync_period{0};
};

// What a factory needs of an informer, whatever its type.
class InformerBase {
 public:
  virtual ~InformerBase() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  virtual bool has_synced() const = 0;
  // Successful lists (1 after the first sync, one more per relist) and failed ones.
  virtual std::uint64_t lists() const = 0;
  virtual std::uint64_t failed_lists() const = 0;
};

template <class T>
class SharedIndexInformer final : public InformerBase, private ReflectorSink {
 public:
  SharedIndexInformer(std::unique_ptr<ListerWatcher> lister_watcher, InformerOptions options = {})
      : options_(options), reflector_(std::move(lister_watcher), *this, options.reflector) {}
  ~SharedIndexInformer() override { stop(); }

  Indexer<T>& indexer() { return indexer_; }
  const Indexer<T>& indexer() const { return indexer_; }
  // Adds an index unless one of that name exists (users of a shared informer register the same
  // index under the same name).
  void ensure_index(const std::string& name, typename Indexer<T>::IndexFunc index) {
    // AlreadyExists is the only failure: another user registered the name first, which is the point.
    if (auto added = indexer_.add_index(name, std::move(index)); !added && added.error().code != ErrorCode::AlreadyExists)
      throw std::logic_error(added.error().describe());
  }

  // From now on the informer keeps the keys of the objects, not the objects: the handlers get
  // every new object whole, and as the old object of an update and the last known state of a
  // delete an object with only its namespace and name; no resyncs (they have had every object
  // whole); indexer() stays empty. Only for an informer with one user: call it before start()
  // and before any handler is added, and add one handler only.
  Result<void> keep_keys_only() {
    std::lock_guard lock(dispatch_mu_);
    if (started_ || !handlers_.empty()) return fail(ErrorCode::Conflict, "keep_keys_only on an informer in use: " + reflector_.describe());
    keys_only_ = true;
    return {};
  }
  bool keeps_keys_only() const { return keys_only_; }

  // Returns an id for remove_event_handler(): a handler that refers to its owner must be
  // removed before the owner goes (after removal returns, it is not running and never will).
  std::uint64_t add_event_handler(ResourceEventHandlers<T> handlers) {
    std::lock_guard lock(dispatch_mu_);
    // A second or late user would miss the objects (only their keys are kept).
    if (keys_only_ && (!handlers_.empty() || !keys_.empty()))
      throw std::logic_error("a second handler on an informer that keeps keys only");
    if (handlers.on_add)
      for (const auto& o : indexer_.list()) handlers.on_add(o);
    if (synced_ && handlers.on_list) handlers.on_list();
    handlers_.push_back({++last_handler_id_, std::move(handlers)});
    return last_handler_id_;
  }
  void remove_event_handler(std::uint64_t id) {
    std::lock_guard lock(dispatch_mu_);
    std::erase_if(handlers_, [&](const auto& h) { return h.first == id; });
  }

  void start() override {
    {
      std::lock_guard lock(dispatch_mu_);
      started_ = true;
    }
    reflector_.start();
    if (options_.resync_period.count() > 0 && !keys_only_ && !resync_thread_.joinable()) {
      stopping_ = false;
      resync_thread_ = std::thread([this] { resync_loop(); });
    }
  }
  void stop() override {
    {
      std::lock_guard lock(resync_mu_);
      stopping_ = true;
    }
    resync_cv_.notify_all();
    if (resync_thread_.joinable()) resync_thread_.join();
    reflector_.stop();
  }
  bool has_synced() const override { return synced_; }
  // True while the changes of a list are being handed to the handlers (on_list comes after
  // them): a handler can leave the work to on_list (client-go's isInInitialList, for relists too).
  bool listing() const { return listing_; }
  std::uint64_t lists() const override { return reflector_.lists(); }
  std::uint64_t failed_lists() const override { return reflector_.failed_lists(); }

 private:
  static std::string key_of(const nlohmann::json& object) {
    const auto meta = object.value("metadata", nlohmann::json::object());
    api::ObjectMeta m;
    m.namespace_ = meta.value("namespace", "");
    m.name = meta.value("name", "");
    return object_key(m);
  }
  ObjectPtr<T> decode(const nlohmann::json& object) {
    auto d = api::decode_object_as(object, T::kApiVersion, T::kKind);
    if (!d) {
      spdlog::warn("event=decode_failed path={} object={} error=\"{}\"", reflector_.describe(), key_of(object), d.error().message);
      return nullptr;
    }
    return std::make_shared<const T>(std::get<T>(std::move(d->object)));
  }

  // The cache: the indexer, or only the keys. Each returns what was there (an object with only
  // the key, when keys only are kept).
  static ObjectPtr<T> key_object(const std::string& key) {
    auto [namespace_, name] = split_key(key);
    auto object = std::make_shared<T>();
    object->metadata.namespace_ = std::move(namespace_);
    object->metadata.name = std::move(name);
    return object;
  }
  ObjectPtr<T> cache_upsert(const std::string& key, const ObjectPtr<T>& object) {
    if (!keys_only_) return indexer_.upsert(key, object);
    return keys_.insert(key).second ? nullptr : key_object(key);
  }
  ObjectPtr<T> cache_remove(const std::string& key) {
    if (!keys_only_) return indexer_.remove(key);
    return keys_.erase(key) ? key_object(key) : nullptr;
  }
  std::vector<std::string> cache_keys() const {
    if (!keys_only_) return indexer_.keys();
    return {keys_.begin(), keys_.end()};
  }

  void replace(std::vector<nlohmann::json>&& items) override {
    std::unordered_map<std::string, ObjectPtr<T>> fresh;
    fresh.reserve(items.size());
    for (auto& item : items) {
      auto key = key_of(item);
      auto object = decode(item);
      item = nlohmann::json();  // the DOM goes as soon as its object is made
      if (!object) {
        // Undecodable now: keep what we had (a key alone is not handed to the handlers).
        if (keys_only_) {
          if (keys_.contains(key)) fresh.emplace(std::move(key), nullptr);
          continue;
        }
        object = indexer_.get(key);
      }
      if (object) fresh.emplace(std::move(key), std::move(object));
    }
    items.clear();
    std::lock_guard lock(dispatch_mu_);
    listing_ = true;
    for (auto& [key, object] : fresh) {
      if (!object) continue;
      auto old = cache_upsert(key, object);
      for (const auto& [_, h] : handlers_) {
        if (old && h.on_update)
          h.on_update(old, object);
        else if (!old && h.on_add)
          h.on_add(object);
      }
    }
    for (const auto& key : cache_keys()) {
      if (fresh.contains(key)) continue;
      auto gone = cache_remove(key);
      for (const auto& [_, h] : handlers_)
        if (gone && h.on_delete) h.on_delete(gone, true);
    }
    synced_ = true;
    listing_ = false;
    for (const auto& [_, h] : handlers_)
      if (h.on_list) h.on_list();
  }

  void apply(WatchEvent&& event) override {
    const std::string key = key_of(event.object);
    std::lock_guard lock(dispatch_mu_);
    if (event.type == WatchEventType::Deleted) {
      auto gone = cache_remove(key);
      if (!gone) gone = decode(event.object);
      for (const auto& [_, h] : handlers_)
        if (gone && h.on_delete) h.on_delete(gone, false);
      return;
    }
    auto object = decode(event.object);
    if (!object) return;
    auto old = cache_upsert(key, object);
    for (const auto& [_, h] : handlers_) {
      if (old && h.on_update)
        h.on_update(old, object);
      else if (!old && h.on_add)
        h.on_add(object);
    }
  }

  void resync_loop() {
    std::unique_lock lock(resync_mu_);
    while (!resync_cv_.wait_for(lock, options_.resync_period, [this] { return stopping_; })) {
      std::lock_guard dispatch(dispatch_mu_);
      for (const auto& o : indexer_.list())
        for (const auto& [_, h] : handlers_)
          if (h.on_update) h.on_update(o, o);
    }
  }

  InformerOptions options_;
  Indexer<T> indexer_;
  std::mutex dispatch_mu_;  // one event at a time through the cache and the handlers
  std::vector<std::pair<std::uint64_t, ResourceEventHandlers<T>>> handlers_;
  std::uint64_t last_handler_id_ = 0;
  std::atomic<bool> synced_{false}, listing_{false};
  bool keys_only_ = false;                // set before start(), read-only after
  std::unordered_set<std::string> keys_;  // the cache when keys_only_ (the reflector's thread only)
  bool started_ = false;                  // under dispatch_mu_
  std::mutex resync_mu_;
  std::condition_variable resync_cv_;
  bool stopping_ = false;
  std::thread resync_thread_;
  Reflector reflector_;  // last: stopped (in stop()) before the rest goes
};

}  // namespace switchyard::client
