// One shared informer per resource (and field selector) per process: every controller or feed
// that asks for Pods gets the same informer, cache and watch (client-go's
// SharedInformerFactory). Informers are made on first request and run from start() on.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <typeindex>
#include <utility>

#include "orchestrator/client/resources.h"
#include "orchestrator/client/shared_informer.h"

namespace switchyard::client {

// Makes the ListerWatcher of a collection path ("/api/v1/pods?fieldSelector=…").
using ListerWatcherFactory = std::function<std::unique_ptr<ListerWatcher>(const std::string& path)>;

// HttpListerWatchers on `connection`.
ListerWatcherFactory http_lister_watchers(ClusterConnection connection);

class SharedInformerFactory {
 public:
  explicit SharedInformerFactory(ClusterConnection connection, InformerOptions options = {})
      : SharedInformerFactory(http_lister_watchers(std::move(connection)), options) {}
  explicit SharedInformerFactory(ListerWatcherFactory lister_watchers, InformerOptions options = {})
      : lister_watchers_(std::move(lister_watchers)), options_(options) {}
  ~SharedInformerFactory() { stop(); }
  SharedInformerFactory(const SharedInformerFactory&) = delete;
  SharedInformerFactory& operator=(const SharedInformerFactory&) = delete;

  // The informer on every T in the cluster, or on those a field selector picks
  // ("spec.nodeName=n1", "metadata.name=n1"): the same object for the same arguments.
  template <class T>
  SharedIndexInformer<T>& informer(const std::string& field_selector = "") {
    std::lock_guard lock(mu_);
    auto& slot = informers_[{std::type_index(typeid(T)), field_selector}];
    if (!slot) {
      std::string path = collection_path<T>();
      if (!field_selector.empty()) path += "?fieldSelector=" + query_escape(field_selector);
      slot = std::make_unique<SharedIndexInformer<T>>(lister_watchers_(path), options_);
      if (started_) slot->start();
    }
    return static_cast<SharedIndexInformer<T>&>(*slot);
  }

  // Starts every informer, and those made later at once. Idempotent.
  void start();
  // Stops every informer (start() resumes them from where they were).
  void stop();
  // Every informer made so far listed once.
  bool has_synced() const;
  // Waits until has_synced(), `timeout` passes or `*cancel` becomes true.
  bool wait_for_cache_sync(std::chrono::milliseconds timeout, const std::atomic<bool>* cancel = nullptr) const;

 private:
  ListerWatcherFactory lister_watchers_;
  InformerOptions options_;
  mutable std::mutex mu_;
  bool started_ = false;
  std::map<std::pair<std::type_index, std::string>, std::unique_ptr<InformerBase>> informers_;
};

}  // namespace switchyard::client
