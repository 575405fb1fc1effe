// The DaemonSet controller: event handlers, workers, and the sync of one DaemonSet (the
// revision history is in daemonset_history.cpp).
#include "orchestrator/controllers/daemonset_controller.h"

#include <pthread.h>

#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"
#include "orchestrator/controllers/event_recorder.h"

namespace switchyard::controllers {

using client::ObjectPtr;

namespace {
const EventSource kEvents{"daemonset-controller"};

bool is_updated(const api::Pod& p, const std::string& hash) {
  auto it = p.metadata.labels.find(kControllerRevisionHashLabel);
  return it != p.metadata.labels.end() && it->second == hash;
}
}  // namespace

struct DaemonSetController::Handlers {
  DaemonSetController& c;
  std::uint64_t daemonsets = 0, pods = 0, nodes = 0, revisions = 0;
  ~Handlers() {
    c.daemonsets_.remove_event_handler(daemonsets);
    c.pods_.remove_event_handler(pods);
    c.nodes_.remove_event_handler(nodes);
    c.revisions_.remove_event_handler(revisions);
  }
};

DaemonSetController::DaemonSetController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                                         DaemonSetControllerOptions options, const client::Clock& clock)
    : informers_(informers),
      connection_(std::move(connection)),
      options_(std::move(options)),
      clock_(clock),
      daemonsets_(informers.informer<api::DaemonSet>()),
      pods_(informers.informer<api::Pod>()),
      nodes_(informers.informer<api::Node>()),
      revisions_(informers.informer<api::ControllerRevision>()),
      queue_(client::default_controller_rate_limiter(), clock),
      expectations_(clock) {
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  auto enqueue = [this](const ObjectPtr<api::DaemonSet>& ds) { queue_.add(client::object_key(ds->metadata)); };
  handlers_->daemonsets = daemonsets_.add_event_handler({enqueue,
                                                         [enqueue](const auto&, const ObjectPtr<api::DaemonSet>& ds) { enqueue(ds); },
                                                         [this](const ObjectPtr<api::DaemonSet>& ds, bool) {
                                                           expectations_.forget(client::object_key(ds->metadata));
                                                           queue_.add(client::object_key(ds->metadata));
                                                         },
                                                         {}});
  handlers_->pods = pods_.add_event_handler({[this](const ObjectPtr<api::Pod>& p) { pod_added(p); },
                                             [this](const ObjectPtr<api::Pod>& a, const ObjectPtr<api::Pod>& b) { pod_updated(a, b); },
                                             [this](const ObjectPtr<api::Pod>& p, bool) { pod_deleted(p); },
                                             {}});
  // A node's labels, taints and existence decide where daemon pods run; heartbeats do not.
  handlers_->nodes = nodes_.add_event_handler({[this](const ObjectPtr<api::Node>&) { enqueue_all(); },
                                               [this](const ObjectPtr<api::Node>& a, const ObjectPtr<api::Node>& b) {
                                                 if (a->metadata.labels != b->metadata.labels || a->taints != b->taints ||
                                                     a->unschedulable != b->unschedulable)
                                                   enqueue_all();
                                               },
                                               [this](const ObjectPtr<api::Node>&, bool) { enqueue_all(); },
                                               {}});
  auto revision_changed = [this](const ObjectPtr<api::ControllerRevision>& r) {
    if (auto key = owner_key(r->metadata); !key.empty()) queue_.add(key);
  };
  handlers_->revisions =
      revisions_.add_event_handler({revision_changed,
                                    [revision_changed](const auto&, const ObjectPtr<api::ControllerRevision>& r) { revision_changed(r); },
                                    [revision_changed](const ObjectPtr<api::ControllerRevision>& r, bool) { revision_changed(r); },
                                    {}});
}

DaemonSetController::~DaemonSetController() {
  stop();
  handlers_.reset();
}

std::string DaemonSetController::owner_key(const api::ObjectMeta& m) const {
  const auto* ref = controller_ref(m);
  if (!ref || ref->kind != "DaemonSet") return "";
  const std::string key = m.namespace_ + "/" + ref->name;
  auto ds = daemonsets_.indexer().get(key);
  return ds && ds->metadata.uid == ref->uid ? key : "";
}

void DaemonSetController::enqueue_all() {
  for (const auto& ds : daemonsets_.indexer().list()) queue_.add(client::object_key(ds->metadata));
}

void DaemonSetController::enqueue_owner_or_matching(const api::Pod& pod) {
  if (controller_ref(pod.metadata)) {
    if (auto key = owner_key(pod.metadata); !key.empty()) queue_.add(key);
    return;
  }
  for (const auto& ds : daemonsets_.indexer().in_namespace(pod.metadata.namespace_))
    if (selector_of(ds->selector).matches(pod.metadata.labels)) queue_.add(client::object_key(ds->metadata));
}

void DaemonSetController::pod_added(const ObjectPtr<api::Pod>& pod) {
  if (pod->metadata.deletion_timestamp) return pod_deleted(pod);  // a restart saw it already going
  if (auto key = owner_key(pod->metadata); !key.empty()) {
    expectations_.creation_observed(key);
    queue_.add(key);
    return;
  }
  enqueue_owner_or_matching(*pod);
}

void DaemonSetController::pod_updated(const ObjectPtr<api::Pod>& old_pod, const ObjectPtr<api::Pod>& pod) {
  if (old_pod->metadata.resource_version == pod->metadata.resource_version) return;  // a resync
  if (pod->metadata.deletion_timestamp && !old_pod->metadata.deletion_timestamp)
    if (auto key = owner_key(pod->metadata); !key.empty()) expectations_.deletion_observed(key, client::object_key(pod->metadata));
  if (old_pod->metadata.labels != pod->metadata.labels || old_pod->metadata.owner_references != pod->metadata.owner_references)
    enqueue_owner_or_matching(*old_pod);
  enqueue_owner_or_matching(*pod);
  // Ready now: available after minReadySeconds, look again then.
  if (!is_pod_ready(*old_pod) && is_pod_ready(*pod))
    if (auto key = owner_key(pod->metadata); !key.empty())
      if (auto ds = daemonsets_.indexer().get(key); ds && ds->min_ready_seconds > 0)
        queue_.add_after(key, std::chrono::seconds(ds->min_ready_seconds) + std::chrono::seconds(1));
}

void DaemonSetController::pod_deleted(const ObjectPtr<api::Pod>& pod) {
  const auto* ref = controller_ref(pod->metadata);
  if (!ref || ref->kind != "DaemonSet") return;
  const std::string key = pod->metadata.namespace_ + "/" + ref->name;
  expectations_.deletion_observed(key, client::object_key(pod->metadata));
  queue_.add(key);
}

void DaemonSetController::start() {
  if (!workers_.empty()) return;
  stopping_ = false;
  informers_.start();
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { worker(); });
}

void DaemonSetController::stop() {
  stopping_ = true;
  queue_.shut_down();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void DaemonSetController::worker() {
  pthread_setname_np(pthread_self(), "ds-controller");
  while (!stopping_ && !informers_.wait_for_cache_sync(std::chrono::seconds(1), &stopping_)) {
  }
  if (stopping_) return;
  client::ApiClient api(connection_);
  while (auto key = queue_.get()) {
    auto synced = sync(*key, api);
    if (synced) {
      queue_.forget(*key);
    } else {
      queue_.add_rate_limited(*key);
      spdlog::info("event=daemonset_sync_requeued daemonset={} error=\"{}\"", *key, synced.error().describe());
    }
    queue_.done(*key);
  }
}

Result<void> DaemonSetController::sync(const std::string& key) {
  client::ApiClient api(connection_);
  return sync(key, api);
}

Result<void> DaemonSetController::sync(const std::string& key, client::ApiClient& api) {
  ++stats_.syncs;
  const auto ds = daemonsets_.indexer().get(key);
  if (!ds) {
    expectations_.forget(key);
    return {};
  }
  if (ds->metadata.deletion_timestamp) return {};  // the garbage collector takes its pods
  const auto nodes = nodes_.indexer().list();
  std::vector<ObjectPtr<api::ControllerRevision>> old;
  auto hash = construct_history(*ds, old, api);
  if (!hash) return fail(hash.error());
  const PodsByNode pods = claim_pods(*ds, api);
  Result<void> managed;
  if (expectations_.satisfied(key)) {
    managed = manage(*ds, nodes, pods, *hash, api);
    // The rolling update acts only on what the cache shows after manage's writes were seen.
    if (managed && expectations_.satisfied(key) && ds->update_strategy.type == "RollingUpdate")
      managed = rolling_update(*ds, nodes, pods, *hash, api);
    if (managed) cleanup_history(*ds, old, pods, api);
  }
  if (auto st = update_status(*ds, nodes, pods, *hash, api); !st) return st;
  return managed;
}

DaemonSetController::PodsByNode DaemonSetController::claim_pods(const api::DaemonSet& ds, client::ApiClient& api) {
  const auto selector = selector_of(ds.selector);
  PodsByNode out;
  for (const auto& pod : pods_.indexer().in_namespace(ds.metadata.namespace_)) {
    const auto* ref = controller_ref(pod->metadata);
    const bool matches = selector.matches(pod->metadata.labels);
    const std::string path = client::object_path<api::Pod>(pod->metadata.namespace_, pod->metadata.name);
    if (ref && ref->uid == ds.metadata.uid) {
      if (matches) {
        out[target_node_of(*pod)].push_back(pod);
        continue;
      }
      // Release: the pod's labels no longer match; drop our reference.
      nlohmann::json refs = nlohmann::json::array();
      for (const auto& r : pod->metadata.owner_references)
        if (r.uid != ds.metadata.uid) refs.push_back(api::encode_meta(api::ObjectMeta{.owner_references = {r}})["ownerReferences"][0]);
      if (auto r = client::merge_patch_object(api, path, {{"metadata", {{"ownerReferences", refs}}}}); !r)
        spdlog::info("event=pod_release_failed daemonset={}/{} pod={} error=\"{}\"", ds.metadata.namespace_, ds.metadata.name,
                     pod->metadata.name, r.error().describe());
      continue;
    }
    if (ref || !matches || pod->metadata.deletion_timestamp) continue;
    api::ObjectMeta m;
    m.owner_references = pod->metadata.owner_references;
    m.owner_references.push_back(make_controller_ref("apps/v1", "DaemonSet", ds.metadata));
    if (auto r = client::merge_patch_object(api, path, {{"metadata", {{"ownerReferences", api::encode_meta(m)["ownerReferences"]}}}}); !r) {
      spdlog::info("event=pod_adopt_failed daemonset={}/{} pod={} error=\"{}\"", ds.metadata.namespace_, ds.metadata.name,
                   pod->metadata.name, r.error().describe());
      continue;
    }
    out[target_node_of(*pod)].push_back(pod);
  }
  return out;
}

bool DaemonSetController::failed_pod_backoff_allows(const std::string& ds_key, const std::string& node) {
  std::lock_guard lock(backoff_mu_);
  auto& b = failed_backoff_[ds_key + "/" + node];
  const auto now = clock_.now();
  if (b.delay.count() > 0 && now - b.last < b.delay) {
    queue_.add_after(ds_key, b.delay - std::chrono::duration_cast<std::chrono::seconds>(now - b.last) + std::chrono::seconds(1));
    return false;
  }
  b.delay = b.delay.count() == 0 ? std::chrono::seconds(1) : std::min<std::chrono::seconds>(b.delay * 2, std::chrono::minutes(15));
  b.last = now;
  return true;
}

Result<void> DaemonSetController::manage(const api::DaemonSet& ds, const std::vector<ObjectPtr<api::Node>>& nodes, const PodsByNode& pods,
                                         const std::string& hash, client::ApiClient& api) {
  const std::string key = client::object_key(ds.metadata);
  const bool surge = rolling_budget(ds, 1).max_surge > 0;
  std::vector<std::string> to_create, to_delete;
  std::set<std::string> node_names;
  for (const auto& node : nodes) {
    const std::string& name = node->metadata.name;
    node_names.insert(name);
    const auto fit = node_should_run_daemon_pod(*node, ds);
    auto it = pods.find(name);
    const bool exists = it != pods.end() && !it->second.empty();
    if (fit.should_run && !exists) {
      to_create.push_back(name);
    } else if (fit.should_continue_running && exists) {
      std::vector<const api::Pod*> running;
      for (const auto& p : it->second) {
        if (p->metadata.deletion_timestamp) continue;
        if (p->status.phase == "Failed") {
          // The kubelet rejected or lost it: replace it, but not in a hot loop.
          if (failed_pod_backoff_allows(key, name)) to_delete.push_back(p->metadata.name);
          continue;
        }
        running.push_back(p.get());
      }
      for (const auto* p : surplus_daemon_pods(running, hash, surge, ds.min_ready_seconds, options_.now()))
        to_delete.push_back(p->metadata.name);
    } else if (!fit.should_continue_running && exists) {
      for (const auto& p : it->second)
        if (!p->metadata.deletion_timestamp) to_delete.push_back(p->metadata.name);
    }
  }
  // Pods for nodes that no longer exist (or that name none).
  for (const auto& [node, list] : pods)
    if (!node_names.contains(node))
      for (const auto& p : list)
        if (!p->metadata.deletion_timestamp) to_delete.push_back(p->metadata.name);
  return sync_nodes(ds, to_delete, to_create, hash, api);
}

Result<void> DaemonSetController::rolling_update(const api::DaemonSet& ds, const std::vector<ObjectPtr<api::Node>>& nodes,
                                                 const PodsByNode& pods, const std::string& hash, client::ApiClient& api) {
  const WallTime now = options_.now();
  std::vector<DaemonNode> view;
  int desired = 0;
  for (const auto& node : nodes) {
    const bool wants = node_should_run_daemon_pod(*node, ds).should_run;
    desired += wants;
    auto it = pods.find(node->metadata.name);
    if (!wants && it == pods.end()) continue;
    DaemonNode n{node->metadata.name, {}};
    if (it != pods.end())
      for (const auto& p : it->second)
        if (!p->metadata.deletion_timestamp)
          n.pods.push_back({p->metadata.name, is_updated(*p, hash), is_pod_available(*p, ds.min_ready_seconds, now)});
    view.push_back(std::move(n));
  }
  const RollingStep step = plan_rolling_update(view, rolling_budget(ds, desired));
  if (step.pods_to_delete.empty() && step.nodes_to_create.empty()) return {};
  return sync_nodes(ds, step.pods_to_delete, step.nodes_to_create, hash, api);
}

Result<void> DaemonSetController::sync_nodes(const api::DaemonSet& ds, const std::vector<std::string>& pods_to_delete,
                                             const std::vector<std::string>& nodes_to_create, const std::string& hash,
                                             client::ApiClient& api) {
  const std::string key = client::object_key(ds.metadata);
  const int creates = std::min(static_cast<int>(nodes_to_create.size()), options_.burst_replicas);
  const int deletes = std::min(static_cast<int>(pods_to_delete.size()), options_.burst_replicas);
  if (creates == 0 && deletes == 0) return {};
  std::set<std::string> delete_keys;
  for (int i = 0; i < deletes; ++i) delete_keys.insert(ds.metadata.namespace_ + "/" + pods_to_delete[i]);
  expectations_.expect(key, creates, delete_keys);
  std::optional<Error> first_error;

  api::Pod pod;
  pod.metadata.generate_name = ds.metadata.name + "-";
  pod.metadata.namespace_ = ds.metadata.namespace_;
  pod.metadata.labels = ds.template_.metadata.labels;
  pod.metadata.labels[kControllerRevisionHashLabel] = hash;
  pod.metadata.annotations = ds.template_.metadata.annotations;
  pod.metadata.finalizers = ds.template_.metadata.finalizers;
  pod.metadata.owner_references = {make_controller_ref("apps/v1", "DaemonSet", ds.metadata)};
  const api::PodSpec spec = with_daemon_tolerations(ds.template_.spec);
  int next = 0;
  const int created = slow_start_batch(creates, 1, [&] {
    pod.spec = spec;
    pin_to_node(pod.spec, nodes_to_create[next++]);
    auto made = client::create(api, pod);
    if (made) {
      ++stats_.pods_created;
      record_event(api, kEvents, "apps/v1", "DaemonSet", ds.metadata, "Normal", "SuccessfulCreate", "Created pod: " + made->metadata.name);
      return true;
    }
    ++stats_.failed_writes;
    record_event(api, kEvents, "apps/v1", "DaemonSet", ds.metadata, "Warning", "FailedCreate", "Error creating: " + made.error().message);
    expectations_.creation_observed(key);  // it will never be seen
    if (!first_error) first_error = made.error();
    return false;
  });
  for (int skipped = creates - created - (first_error ? 1 : 0); skipped > 0; --skipped) expectations_.creation_observed(key);

  for (int i = 0; i < deletes; ++i) {
    const std::string& name = pods_to_delete[i];
    auto gone = client::remove<api::Pod>(api, ds.metadata.namespace_, name);
    if (gone) {
      ++stats_.pods_deleted;
      record_event(api, kEvents, "apps/v1", "DaemonSet", ds.metadata, "Normal", "SuccessfulDelete", "Deleted pod: " + name);
      continue;
    }
    expectations_.deletion_observed(key, ds.metadata.namespace_ + "/" + name);
    if (gone.error().code == ErrorCode::NotFound) continue;
    ++stats_.failed_writes;
    if (!first_error) first_error = gone.error();
  }
  if (first_error) return fail(first_error->code, fmt::format("syncing daemon pods: {}", first_error->describe()));
  return {};
}

Result<void> DaemonSetController::update_status(const api::DaemonSet& ds, const std::vector<ObjectPtr<api::Node>>& nodes,
                                                const PodsByNode& pods, const std::string& hash, client::ApiClient& api) {
  const WallTime now = options_.now();
  api::DaemonSetStatus st = ds.status;
  st.desired_number_scheduled = st.current_number_scheduled = st.number_misscheduled = 0;
  st.number_ready = st.number_available = st.updated_number_scheduled = 0;
  for (const auto& node : nodes) {
    const bool should_run = node_should_run_daemon_pod(*node, ds).should_run;
    auto it = pods.find(node->metadata.name);
    const bool scheduled = it != pods.end() && !it->second.empty();
    if (!should_run) {
      st.number_misscheduled += scheduled;
      continue;
    }
    ++st.desired_number_scheduled;
    if (!scheduled) continue;
    ++st.current_number_scheduled;
    std::vector<const api::Pod*> sorted;
    for (const auto& p : it->second) sorted.push_back(p.get());
    sort_daemon_pods(sorted);
    const api::Pod& oldest = *sorted.front();
    if (is_pod_ready(oldest)) {
      ++st.number_ready;
      st.number_available += is_pod_available(oldest, ds.min_ready_seconds, now);
    }
    st.updated_number_scheduled += is_updated(oldest, hash);
  }
  st.number_unavailable = st.desired_number_scheduled - st.number_available;
  st.observed_generation = ds.metadata.generation;
  if (st == ds.status) return {};
  api::DaemonSet updated = ds;
  updated.status = st;
  auto r = client::update_status(api, updated);
  if (!r) {
    ++stats_.failed_writes;
    return fail(r.error());
  }
  ++stats_.status_updates;
  if (ds.min_ready_seconds > 0 && st.number_ready != st.number_available)
    queue_.add_after(client::object_key(ds.metadata), std::chrono::seconds(ds.min_ready_seconds));
  return {};
}

}  // namespace switchyard::controllers
