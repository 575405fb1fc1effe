// A thread-safe cache of typed objects by key ("namespace/name", or "name" when cluster-scoped)
// with indices: named functions from an object to the values it is filed under (its namespace,
// a label's value, a field such as spec.nodeName), as client-go's cache.Indexer. Objects are
// immutable once cached (shared_ptr<const T>): readers keep what they got while the informer
// replaces it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "orchestrator/api/types.h"
#include "orchestrator/base/error.h"

namespace switchyard::client {

template <class T>
using ObjectPtr = std::shared_ptr<const T>;

// "namespace/name", or "name" for cluster-scoped objects (client-go's MetaNamespaceKeyFunc).
inline std::string object_key(const api::ObjectMeta& meta) {
  return meta.namespace_.empty() ? meta.name : meta.namespace_ + "/" + meta.name;
}
// "namespace/name" -> {namespace, name}; "name" -> {"", name}.
inline std::pair<std::string, std::string> split_key(std::string_view key) {
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) return {"", std::string(key)};
  return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

inline constexpr const char* kNamespaceIndex = "namespace";

template <class T>
class Indexer {
 public:
  using IndexFunc = std::function<std::vector<std::string>(const T&)>;

  Indexer() {
    indexers_[kNamespaceIndex] = [](const T& o) { return std::vector<std::string>{o.metadata.namespace_}; };
  }

  // Adds an index; the objects already cached are filed under it at once. A name that is taken
  // is AlreadyExists (two users of a shared informer must agree on one definition).
  Result<void> add_index(const std::string& name, IndexFunc index) {
    std::unique_lock lock(mu_);
    if (indexers_.contains(name)) return fail(ErrorCode::AlreadyExists, "index " + name + " exists");
    indexers_[name] = std::move(index);
    for (const auto& [key, object] : items_) file(name, indexers_[name], key, *object);
    return {};
  }
  bool has_index(const std::string& name) const {
    std::shared_lock lock(mu_);
    return indexers_.contains(name);
  }

  ObjectPtr<T> get(std::string_view key) const {
    std::shared_lock lock(mu_);
    auto it = items_.find(std::string(key));
    return it == items_.end() ? nullptr : it->second;
  }
  std::vector<ObjectPtr<T>> list() const {
    std::shared_lock lock(mu_);
    std::vector<ObjectPtr<T>> out;
    out.reserve(items_.size());
    for (const auto& [_, o] : items_) out.push_back(o);
    return out;
  }
  std::vector<std::string> keys() const {
    std::shared_lock lock(mu_);
    std::vector<std::string> out;
    out.reserve(items_.size());
    for (const auto& [k, _] : items_) out.push_back(k);
    return out;
  }
  std::size_t size() const {
    std::shared_lock lock(mu_);
    return items_.size();
  }
  // The objects filed under `value` in index `name` (none for an unknown index).
  std::vector<ObjectPtr<T>> by_index(std::string_view name, std::string_view value) const {
    std::shared_lock lock(mu_);
    std::vector<ObjectPtr<T>> out;
    auto index = indices_.find(std::string(name));
    if (index == indices_.end()) return out;
    auto keys = index->second.find(std::string(value));
    if (keys == index->second.end()) return out;
    out.reserve(keys->second.size());
    for (const auto& k : keys->second) out.push_back(items_.at(k));
    return out;
  }
  std::vector<ObjectPtr<T>> in_namespace(std::string_view ns) const { return by_index(kNamespaceIndex, ns); }

  // Writers (the informer). Each returns the object that was there before, if any.
  ObjectPtr<T> upsert(const std::string& key, ObjectPtr<T> object) {
    std::unique_lock lock(mu_);
    ObjectPtr<T> old;
    if (auto it = items_.find(key); it != items_.end()) {
      old = it->second;
      unfile(key, *old);
    }
    for (const auto& [name, index] : indexers_) file(name, index, key, *object);
    items_[key] = std::move(object);
    return old;
  }
  ObjectPtr<T> remove(const std::string& key) {
    std::unique_lock lock(mu_);
    auto it = items_.find(key);
    if (it == items_.end()) return nullptr;
    ObjectPtr<T> old = std::move(it->second);
    items_.erase(it);
    unfile(key, *old);
    return old;
  }

 private:
  void file(const std::string& name, const IndexFunc& index, const std::string& key, const T& object) {
    auto& by_value = indices_[name];
    for (auto& value : index(object)) by_value[std::move(value)].insert(key);
  }
  void unfile(const std::string& key, const T& object) {
    for (const auto& [name, index] : indexers_) {
      auto& by_value = indices_[name];
      for (const auto& value : index(object)) {
        auto it = by_value.find(value);
        if (it == by_value.end()) continue;
        it->second.erase(key);
        if (it->second.empty()) by_value.erase(it);
      }
    }
  }

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, ObjectPtr<T>> items_;
  std::map<std::string, IndexFunc> indexers_;
  // index name -> value -> keys
  std::map<std::string, std::unordered_map<std::string, std::set<std::string>>> indices_;
};

// Index functions for the common cases.
template <class T>
typename Indexer<T>::IndexFunc index_by_label(std::string label) {
  return [label = std::move(label)](const T& o) {
    auto it = o.metadata.labels.find(label);
    return it == o.metadata.labels.end() ? std::vector<std::string>{} : std::vector<std::string>{it->second};
  };
}

}  // namespace switchyard::client
