// The EndpointSlice controller: indices, event handlers that map changes to Service keys, the
// workers, and the reconcile of one key from the caches.
#include "orchestrator/controllers/endpointslice_controller.h"

#include <charconv>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"

namespace switchyard::controllers {

namespace {

using client::ObjectPtr;

// Index names; the values carry the namespace ("shop/app=web") so that one lookup is enough.
constexpr const char* kSelectorIndex = "endpointslice-controller/selector";    // Services by selector pair
constexpr const char* kLabelIndex = "endpointslice-controller/label";          // Pods by label pair
constexpr const char* kServiceNameIndex = "endpointslice-controller/service";  // slices by their Service

std::vector<std::string> pairs_in(const std::string& ns, const api::StringMap& labels) {
  std::vector<std::string> out;
  out.reserve(labels.size());
  for (const auto& [k, v] : labels) out.push_back(ns + "/" + k + "=" + v);
  return out;
}

std::optional<std::string> service_key_of_slice(const api::EndpointSlice& slice) {
  auto it = slice.metadata.labels.find("kubernetes.io/service-name");
  if (it == slice.metadata.labels.end() || it->second.empty()) return std::nullopt;
  return slice.metadata.namespace_ + "/" + it->second;
}

bool selector_matches(const api::StringMap& selector, const api::StringMap& labels) {
  if (selector.empty()) return false;  // selectorless Services are mirrored, not matched
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

// What the reconciler reads of a Node (NodeLookup): existence, labels, allocatable CPU,
// conditions and taints; not heartbeats or images.
bool node_changed_for_slices(const api::Node& a, const api::Node& b) {
  if (a.metadata.labels != b.metadata.labels || a.allocatable != b.allocatable || a.taints != b.taints) return true;
  if (a.conditions.size() != b.conditions.size()) return true;
  for (std::size_t i = 0; i < a.conditions.size(); ++i)
    if (a.conditions[i].type != b.conditions[i].type || a.conditions[i].status != b.conditions[i].status) return true;
  return false;
}

}  // namespace

// The handler registrations, removed before the controller goes.
struct EndpointSliceController::Handlers {
  EndpointSliceController& c;
  std::uint64_t services = 0, pods = 0, nodes = 0, endpoints = 0, slices = 0;
  ~Handlers() {
    c.services_.remove_event_handler(services);
    c.pods_.remove_event_handler(pods);
    c.nodes_.remove_event_handler(nodes);
    c.endpoints_.remove_event_handler(endpoints);
    c.slices_.remove_event_handler(slices);
  }
};

EndpointSliceController::EndpointSliceController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                                                 EndpointSliceControllerOptions options)
    : informers_(informers),
      connection_(std::move(connection)),
      options_(options),
      services_(informers.informer<api::Service>()),
      pods_(informers.informer<api::Pod>()),
      nodes_(informers.informer<api::Node>()),
      endpoints_(informers.informer<api::Endpoints>()),
      slices_(informers.informer<api::EndpointSlice>()) {
  services_.ensure_index(kSelectorIndex, [](const api::Service& s) { return pairs_in(s.metadata.namespace_, s.spec.selector); });
  pods_.ensure_index(kLabelIndex, [](const api::Pod& p) { return pairs_in(p.metadata.namespace_, p.metadata.labels); });
  slices_.ensure_index(kServiceNameIndex, [](const api::EndpointSlice& s) {
    auto key = service_key_of_slice(s);
    return key ? std::vector<std::string>{*key} : std::vector<std::string>{};
  });

  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  auto enqueue_service = [this](const ObjectPtr<api::Service>& s) { queue_.add(client::object_key(s->metadata)); };
  handlers_->services = services_.add_event_handler({enqueue_service,
                                                     [enqueue_service](const auto&, const auto& s) { enqueue_service(s); },
                                                     [enqueue_service](const auto& s, bool) { enqueue_service(s); },
                                                     {}});
  handlers_->pods = pods_.add_event_handler({[this](const ObjectPtr<api::Pod>& p) { enqueue_services_of_pod(*p); },
                                             [this](const ObjectPtr<api::Pod>& old_pod, const ObjectPtr<api::Pod>& new_pod) {
                                               if (old_pod->metadata.labels != new_pod->metadata.labels) enqueue_services_of_pod(*old_pod);
                                               enqueue_services_of_pod(*new_pod);
                                             },
                                             [this](const ObjectPtr<api::Pod>& p, bool) { enqueue_services_of_pod(*p); },
                                             {}});
  auto node_changed = [this] {
    {
      std::lock_guard lock(nodes_mu_);
      ++nodes_version_;
    }
    if (nodes_.has_synced()) enqueue_all_services();  // before: the initial list's adds, nothing to redo
  };
  handlers_->nodes = nodes_.add_event_handler({[node_changed](const auto&) { node_changed(); },
                                               [node_changed](const ObjectPtr<api::Node>& a, const ObjectPtr<api::Node>& b) {
                                                 if (node_changed_for_slices(*a, *b)) node_changed();
                                               },
                                               [node_changed](const auto&, bool) { node_changed(); },
                                               {}});
  auto enqueue_named = [this](const api::ObjectMeta& m) { queue_.add(m.namespace_ + "/" + m.name); };
  handlers_->endpoints =
      endpoints_.add_event_handler({[enqueue_named](const ObjectPtr<api::Endpoints>& e) { enqueue_named(e->metadata); },
                                    [enqueue_named](const auto&, const ObjectPtr<api::Endpoints>& e) { enqueue_named(e->metadata); },
                                    [enqueue_named](const ObjectPtr<api::Endpoints>& e, bool) { enqueue_named(e->metadata); },
                                    {}});
  auto enqueue_slice_service = [this](const ObjectPtr<api::EndpointSlice>& s) {
    if (auto key = service_key_of_slice(*s)) queue_.add(*key);
  };
  handlers_->slices = slices_.add_event_handler({enqueue_slice_service,
                                                 [enqueue_slice_service](const auto&, const auto& s) { enqueue_slice_service(s); },
                                                 [this, enqueue_slice_service](const ObjectPtr<api::EndpointSlice>& s, bool) {
                                                   // Gone (deleted by us, the garbage collector or anyone): no write of ours to wait for.
                                                   if (auto key = service_key_of_slice(*s)) {
                                                     std::lock_guard lock(written_mu_);
                                                     if (auto it = written_.find(*key); it != written_.end())
                                                       it->second.erase(s->metadata.name);
                                                   }
                                                   enqueue_slice_service(s);
                                                 },
                                                 {}});
}

EndpointSliceController::~EndpointSliceController() {
  stop();
  handlers_.reset();  // no handler runs once this returns
}

void EndpointSliceController::enqueue_services_of_pod(const api::Pod& pod) {
  std::set<std::string> keys;
  for (const auto& pair : pairs_in(pod.metadata.namespace_, pod.metadata.labels))
    for (const auto& svc : services_.indexer().by_index(kSelectorIndex, pair))
      if (selector_matches(svc->spec.selector, pod.metadata.labels)) keys.insert(client::object_key(svc->metadata));
  for (const auto& k : keys) queue_.add(k);
}

void EndpointSliceController::enqueue_all_services() {
  for (const auto& key : services_.indexer().keys()) queue_.add(key);
}

std::vector<api::Pod> EndpointSliceController::pods_selected_by(const api::Service& service) const {
  std::vector<api::Pod> out;
  if (service.spec.selector.empty()) return out;
  // The pods carrying the selector's rarest pair; the reconciler checks the whole selector.
  std::vector<client::ObjectPtr<api::Pod>> candidates;
  bool first = true;
  for (const auto& pair : pairs_in(service.metadata.namespace_, service.spec.selector)) {
    auto some = pods_.indexer().by_index(kLabelIndex, pair);
    if (first || some.size() < candidates.size()) candidates = std::move(some);
    first = false;
    if (candidates.empty()) break;
  }
  out.reserve(candidates.size());
  for (const auto& p : candidates)
    if (selector_matches(service.spec.selector, p->metadata.labels)) out.push_back(*p);
  return out;
}

void EndpointSliceController::start() {
  if (!workers_.empty()) return;
  stopping_ = false;
  informers_.start();
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { worker(); });
}

void EndpointSliceController::stop() {
  stopping_ = true;
  queue_.shut_down();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void EndpointSliceController::worker() {
  // No reconcile before every cache has listed once: a Service seen before its pods would
  // lose its endpoints.
  while (!stopping_ && !informers_.wait_for_cache_sync(std::chrono::seconds(1), &stopping_)) {
  }
  if (stopping_) return;
  client::ApiClient api(connection_);
  while (auto key = queue_.get()) {
    if (services_.indexer().get(*key) && !cache_caught_up(*key)) {
      // The usual case right after our own writes: their watch events enqueue the key again.
      // This is only the safety net, and not a failure: no backoff, no token from the bucket.
      spdlog::debug("event=slice_sync_deferred service={} reason=cache_behind_own_writes", *key);
      queue_.add_after(*key, std::chrono::seconds(1));
      queue_.done(*key);
      continue;
    }
    auto synced = sync_service(*key, api);
    if (synced) {
      queue_.forget(*key);
    } else {
      ++stats_.requeues;
      queue_.add_rate_limited(*key);
      spdlog::info("event=slice_sync_requeued service={} failures={} error=\"{}\"", *key, queue_.num_requeues(*key),
                   synced.error().describe());
    }
    queue_.done(*key);
  }
}

Result<void> EndpointSliceController::sync_service(const std::string& key) {
  client::ApiClient api(connection_);
  return sync_service(key, api);
}

Result<void> EndpointSliceController::reconcile_all() {
  informers_.start();
  if (!informers_.wait_for_cache_sync(options_.sync_timeout))
    return fail(ErrorCode::Unavailable, "endpointslice controller: caches did not sync");
  client::ApiClient api(connection_);
  std::set<std::string> keys;
  for (const auto& k : services_.indexer().keys()) keys.insert(k);
  for (const auto& s : slices_.indexer().list())
    if (auto k = service_key_of_slice(*s)) keys.insert(*k);
  Result<void> first_failure;
  for (const auto& k : keys)
    if (auto r = sync_service(k, api); !r && first_failure) first_failure = fail(r.error());
  return first_failure;
}

// ---- one key ---------------------------------------------------------------------------------

namespace {

// resourceVersions are opaque to clients; ours (and etcd's) are revisions, so "at least" is
// numeric when both are numbers and equality otherwise.
std::optional<std::uint64_t> revision(const std::string& rv) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(rv.data(), rv.data() + rv.size(), n);
  if (ec != std::errc() || end != rv.data() + rv.size() || rv.empty()) return std::nullopt;
  return n;
}

bool at_least(const std::string& seen, const std::string& wrote) {
  const auto a = revision(seen), b = revision(wrote);
  return a && b ? *a >= *b : seen == wrote;
}

}  // namespace

std::shared_ptr<const slice_controller::NodeLookup> EndpointSliceController::node_lookup() {
  std::lock_guard lock(nodes_mu_);
  if (!lookup_ || lookup_version_ != nodes_version_) {
    std::vector<api::Node> nodes;
    for (const auto& n : nodes_.indexer().list()) nodes.push_back(*n);
    lookup_ = std::make_shared<const slice_controller::NodeLookup>(nodes);
    lookup_version_ = nodes_version_;
  }
  return lookup_;
}

bool EndpointSliceController::cache_caught_up(const std::string& service_key) {
  std::lock_guard lock(written_mu_);
  auto it = written_.find(service_key);
  if (it == written_.end()) return true;
  const auto ns = client::split_key(service_key).first;
  std::erase_if(it->second, [&](const auto& entry) {
    const auto& [name, wrote] = entry;
    auto cached = slices_.indexer().get(ns + "/" + name);
    if (wrote.deleted)
      return !cached || (cached->metadata.resource_version != wrote.resource_version &&
                         at_least(cached->metadata.resource_version, wrote.resource_version));
    return cached && at_least(cached->metadata.resource_version, wrote.resource_version);
  });
  const bool caught_up = it->second.empty();
  if (caught_up) written_.erase(it);
  return caught_up;
}

Result<void> EndpointSliceController::sync_service(const std::string& key, client::ApiClient& api) {
  ++stats_.passes;
  const auto service = services_.indexer().get(key);
  if (!service) {
    std::lock_guard lock(written_mu_);
    written_.erase(key);  // only deletions are left to do for it
  }
  if (!cache_caught_up(key)) return fail(ErrorCode::Unavailable, "the slice cache does not show this controller's last writes yet");
  std::vector<api::EndpointSlice> existing;
  for (const auto& s : slices_.indexer().by_index(kServiceNameIndex, key)) existing.push_back(*s);
  const auto user_endpoints = endpoints_.indexer().get(key);
  try {
    if (service) {
      // A Service with a selector gets slices from its pods; without one, the reconciler removes
      // any it made and the mirroring below takes over (and the other way round).
      const auto pods = pods_selected_by(*service);
      const auto lookup = node_lookup();
      auto made = slice_controller::reconcile_service_slices(*service, pods, *lookup, existing, options_.reconciler);
      if (auto r = apply(made, key, api); !r) return r;
      // A pod's node was not in the cache: its Node's add event enqueues every Service, this is
      // the safety net.
      if (made.retry_later) queue_.add_after(key, std::chrono::seconds(5));
    }
    // Mirrored slices follow the Endpoints while the Service exists without a selector; with the
    // Service gone (or given a selector) they are deleted. Slices the selector path owns are the
    // API server's garbage collector's once the Service is gone.
    auto mirrored = slice_controller::mirror_endpoints(user_endpoints.get(), service.get(), existing, options_.mirroring);
    return apply(mirrored, key, api);
  } catch (const std::exception& e) {
    return fail(ErrorCode::Internal, fmt::format("service {}: {}", key, e.what()));
  }
}

Result<void> EndpointSliceController::apply(const slice_controller::SliceChanges& changes, const std::string& service_key,
                                            client::ApiClient& api) {
  Result<void> outcome;
  auto failed = [&](const Error& e, const char* what, const std::string& slice) {
    ++stats_.failed_writes;
    spdlog::warn("event=slice_{}_failed service={} slice={} error=\"{}\"", what, service_key, slice, e.describe());
    if (outcome) outcome = fail(e);
  };
  auto wrote = [&](const std::string& slice, WrittenSlice w) {
    std::lock_guard lock(written_mu_);
    written_[service_key][slice] = std::move(w);
  };
  for (const auto& s : changes.to_create) {
    auto r = client::create(api, s);
    if (!r) {
      failed(r.error(), "create", s.metadata.name.empty() ? s.metadata.generate_name + "*" : s.metadata.name);
      continue;
    }
    ++stats_.created;
    wrote(r->metadata.name, {r->metadata.resource_version, false});
  }
  for (const auto& s : changes.to_update) {
    auto r = client::update(api, s);
    if (!r) {
      failed(r.error(), "update", s.metadata.name);
      continue;
    }
    ++stats_.updated;
    wrote(r->metadata.name, {r->metadata.resource_version, false});
  }
  for (const auto& s : changes.to_delete) {
    auto r = client::remove<api::EndpointSlice>(api, s.metadata.namespace_, s.metadata.name);
    if (!r && r.error().code != ErrorCode::NotFound) {
      failed(r.error(), "delete", s.metadata.name);
      continue;
    }
    ++stats_.deleted;
    wrote(s.metadata.name, {s.metadata.resource_version, true});
  }
  for (const auto& w : changes.warnings) spdlog::info("event=slice_controller_warning service={} message=\"{}\"", service_key, w);
  return outcome;
}

}  // namespace switchyard::controllers
