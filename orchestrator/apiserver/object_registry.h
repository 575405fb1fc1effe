// What the API server does with objects between the HTTP layer and the Store: system fields,
// defaulting, validation, optimistic concurrency on resourceVersion, finalizers (the garbage
// collector's orphan and foregroundDeletion among them), the first phase of namespace deletion
// (Terminating; the namespace controller empties it and finalizes), list with selectors and
// paging, and watch.
#pragma once

#include <atomic>
#include <chrono>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/api/defaults.h"
#include "orchestrator/apiserver/delete_options.h"
#include "orchestrator/apiserver/resources.h"
#include "orchestrator/apiserver/service_allocation.h"
#include "orchestrator/apiserver/status.h"
#include "orchestrator/store/store.h"

namespace switchyard::apiserver {

using Json = nlohmann::json;
template <class T>
using ApiResult = std::expected<T, ApiError>;

enum class FieldValidation { Ignore, Warn, Strict };

struct ListOptions {
  std::string label_selector, field_selector;
  std::size_t limit = 0;
  std::string continue_token;
  std::string resource_version;  // "", "0" or N
};

// A stored object at one revision, decoded and encoded once however many watchers follow it.
struct EncodedObject {
  store::Revision revision = 0;
  Json object;       // with metadata.resourceVersion
  std::string json;  // object.dump()
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, ERROR, BOOKMARK
  Json object;       // null when `encoded` carries the object
  std::shared_ptr<const EncodedObject> encoded;
  const Json& object_ref() const { return encoded ? encoded->object : object; }
};

// The last few events' objects, shared by the watchers of a store (ObjectRegistry::watch).
class WatchEncodingCache;

class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // The resourceVersion a bookmark may carry now: every change up to it has been given to the
  // sink already (see store::Watch::progress).
  virtual store::Revision progress() const = 0;
};

class ObjectRegistry {
 public:
  // `allocators` (may be null in tests): cluster IPs and node ports for Services.
  ObjectRegistry(store::Store& store, api::ClusterNetworkConfig net, const ServiceAllocators* allocators = nullptr);

  // `dry_run` (dryRun=All): admitted, defaulted and validated as for real, then not written
  // (and a Service's allocations given back); the answer is the object as it would be.
  ApiResult<Json> create(const ResourceInfo& r, const std::string& ns, const Json& body, FieldValidation fv,
                         std::vector<std::string>& warnings, bool dry_run = false);
  ApiResult<Json> get(const ResourceInfo& r, const std::string& ns, const std::string& name);
  ApiResult<Json> list(const ResourceInfo& r, const std::string& ns, const ListOptions& o);
  // PUT of the object (status_only: the status subresource).
  ApiResult<Json> update(const ResourceInfo& r, const std::string& ns, const std::string& name, const Json& body, bool status_only,
                         FieldValidation fv, std::vector<std::string>& warnings, bool dry_run = false);
  // Returns the object (still there: finalizers, or a Pod's graceful deletion under way) or a
  // Success Status. `grace_period_seconds`: DeleteOptions.gracePeriodSeconds (0: at once).
  ApiResult<Json> remove(const ResourceInfo& r, const std::string& ns, const std::string& name, const std::string& precondition_uid = "",
                         std::optional<std::int64_t> grace_period_seconds = std::nullopt);
  // With the garbage collector's propagation policy: Orphan and Foreground keep the object, with
  // their finalizer, until the garbage collector is done with its dependents.
  ApiResult<Json> remove(const ResourceInfo& r, const std::string& ns, const std::string& name, const DeleteOptions& options);
  // PUT namespaces/NAME/finalize: only spec.finalizers changes; a Terminating namespace whose
  // last finalizer goes is deleted (namespace_deletion.cpp).
  ApiResult<Json> finalize_namespace(const std::string& name, const Json& body, FieldValidation fv, std::vector<std::string>& warnings);
  // Calls `sink` with each event (on another thread) until the returned stream is destroyed.
  // Initial ADDED events for resourceVersion "" / "0"; ERROR 410 when N is compacted.
  ApiResult<std::unique_ptr<WatchStream>> watch(const ResourceInfo& r, const std::string& ns, const ListOptions& o,
                                                std::function<void(const WatchEvent&)> sink);
  store::Revision current_revision();
  // pods/binding (pod_binding.cpp): spec.nodeName and PodScheduled=True in one write, only if
  // the pod has no node and is not being deleted (409 otherwise, in upstream's words).
  ApiResult<Json> assign_pod(const std::string& ns, const std::string& name, const std::string& node,
                             const std::map<std::string, std::string>& annotations);
  // The store itself, for kinds kept as JSON with writes of their own (certificate_requests.h).
  store::Store& backing_store() { return store_; }
  // How long an Event lives after it was last seen (kube-apiserver's --event-ttl, 1 h).
  void set_event_ttl(std::chrono::seconds ttl) { event_ttl_seconds_ = ttl.count(); }

 private:
  // `stale`: the store read it through an encryption key that no longer writes (rewrite it).
  ApiResult<Json> read_object(const ResourceInfo& r, const std::string& key, bool must_exist, const std::string& name,
                              store::Revision* mod_revision, bool* stale = nullptr);
  ApiResult<Json> admit(const ResourceInfo& r, const Json& body, FieldValidation fv, std::vector<std::string>& warnings, api::Object& out);
  enum class UpdateMode { Main, Status, Finalize };
  ApiResult<Json> update(const ResourceInfo& r, const std::string& ns, const std::string& name, const Json& body, UpdateMode mode,
                         FieldValidation fv, std::vector<std::string>& warnings, bool dry_run = false);
  // The first DELETE of a namespace marks it Terminating; later ones delete it once the namespace
  // controller has removed its `kubernetes` finalizer (409 until then, as upstream).
  ApiResult<Json> remove_namespace(const ResourceInfo& r, const std::string& name, const Json& stored, store::Revision mod,
                                   const DeleteOptions& options);
  // Writes `stored` (read at `mod`) back: the object as it now is, or the Status of the failure.
  ApiResult<Json> write_back(const ResourceInfo& r, const std::string& key, const std::string& name, Json stored, store::Revision mod);

  // Allocates what a Service needs before validation, as the real registry does.
  ApiResult<std::optional<ServiceAllocationTransaction>> allocate(const ResourceInfo& r, const api::Object* old, api::Object& obj);

  // Deletes the Events past their TTL; runs (on an Event list or create) at most every
  // min(TTL/2, 60 s), in one thread at a time.
  void expire_events();

  store::Store& store_;
  api::ClusterNetworkConfig net_;
  std::atomic<std::int64_t> event_ttl_seconds_{3600};
  std::atomic<std::int64_t> next_event_sweep_{0};
  const ServiceAllocators* allocators_;
  std::shared_ptr<WatchEncodingCache> watch_cache_;
};

std::string storage_prefix(const ResourceInfo& r, const std::string& ns);
std::string storage_key(const ResourceInfo& r, const std::string& ns, const std::string& name);
std::string now_rfc3339();
std::string new_uid();

}  // namespace switchyard::apiserver
