// The ReplicaSet controller: event handlers, workers, and the sync of one ReplicaSet.
#include "orchestrator/controllers/replicaset_controller.h"

#include <pthread.h>

#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"
#include "orchestrator/controllers/event_recorder.h"

namespace switchyard::controllers {

using client::ObjectPtr;

namespace {
const EventSource kEvents{"replicaset-controller"};
}  // namespace

struct ReplicaSetController::Handlers {
  ReplicaSetController& c;
  std::uint64_t replicasets = 0, pods = 0;
  ~Handlers() {
    c.replicasets_.remove_event_handler(replicasets);
    c.pods_.remove_event_handler(pods);
  }
};

ReplicaSetController::ReplicaSetController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                                           ReplicaSetControllerOptions options, const client::Clock& clock)
    : informers_(informers),
      connection_(std::move(connection)),
      options_(std::move(options)),
      replicasets_(informers.informer<api::ReplicaSet>()),
      pods_(informers.informer<api::Pod>()),
      queue_(client::default_controller_rate_limiter(), clock),
      expectations_(clock) {
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  auto enqueue = [this](const ObjectPtr<api::ReplicaSet>& rs) { queue_.add(client::object_key(rs->metadata)); };
  handlers_->replicasets = replicasets_.add_event_handler({enqueue,
                                                           [enqueue](const auto&, const ObjectPtr<api::ReplicaSet>& rs) { enqueue(rs); },
                                                           [this](const ObjectPtr<api::ReplicaSet>& rs, bool) {
                                                             expectations_.forget(client::object_key(rs->metadata));
                                                             queue_.add(client::object_key(rs->metadata));
                                                           },
                                                           {}});
  handlers_->pods = pods_.add_event_handler({[this](const ObjectPtr<api::Pod>& p) { pod_added(p); },
                                             [this](const ObjectPtr<api::Pod>& a, const ObjectPtr<api::Pod>& b) { pod_updated(a, b); },
                                             [this](const ObjectPtr<api::Pod>& p, bool) { pod_deleted(p); },
                                             {}});
}

ReplicaSetController::~ReplicaSetController() {
  stop();
  handlers_.reset();
}

std::string ReplicaSetController::owner_key(const api::Pod& pod) const {
  const auto* ref = controller_ref(pod.metadata);
  if (!ref || ref->kind != "ReplicaSet") return "";
  const std::string key = pod.metadata.namespace_ + "/" + ref->name;
  auto rs = replicasets_.indexer().get(key);
  return rs && rs->metadata.uid == ref->uid ? key : "";
}

void ReplicaSetController::enqueue_owner_or_matching(const api::Pod& pod) {
  if (controller_ref(pod.metadata)) {
    if (auto key = owner_key(pod); !key.empty()) queue_.add(key);
    return;
  }
  // An orphan: every ReplicaSet that would adopt it.
  for (const auto& rs : replicasets_.indexer().in_namespace(pod.metadata.namespace_))
    if (selector_of(rs->selector).matches(pod.metadata.labels)) queue_.add(client::object_key(rs->metadata));
}

void ReplicaSetController::pod_added(const ObjectPtr<api::Pod>& pod) {
  if (pod->metadata.deletion_timestamp) return pod_deleted(pod);  // a restart saw it already going
  if (auto key = owner_key(*pod); !key.empty()) {
    expectations_.creation_observed(key);
    queue_.add(key);
    return;
  }
  enqueue_owner_or_matching(*pod);
}

void ReplicaSetController::pod_updated(const ObjectPtr<api::Pod>& old_pod, const ObjectPtr<api::Pod>& pod) {
  if (old_pod->metadata.resource_version == pod->metadata.resource_version) return;  // a resync
  if (pod->metadata.deletion_timestamp && !old_pod->metadata.deletion_timestamp) {
    // Graceful deletion began: count it as the deletion now, so replacements start at once.
    if (auto key = owner_key(*pod); !key.empty()) expectations_.deletion_observed(key, client::object_key(pod->metadata));
  }
  if (old_pod->metadata.labels != pod->metadata.labels || old_pod->metadata.owner_references != pod->metadata.owner_references)
    enqueue_owner_or_matching(*old_pod);
  enqueue_owner_or_matching(*pod);
  // Ready now: available after minReadySeconds, look again then.
  if (!is_pod_ready(*old_pod) && is_pod_ready(*pod))
    if (auto key = owner_key(*pod); !key.empty())
      if (auto rs = replicasets_.indexer().get(key); rs && rs->min_ready_seconds > 0)
        queue_.add_after(key, std::chrono::seconds(rs->min_ready_seconds) + std::chrono::seconds(1));
}

void ReplicaSetController::pod_deleted(const ObjectPtr<api::Pod>& pod) {
  const auto* ref = controller_ref(pod->metadata);
  if (!ref || ref->kind != "ReplicaSet") return;
  const std::string key = pod->metadata.namespace_ + "/" + ref->name;
  expectations_.deletion_observed(key, client::object_key(pod->metadata));
  queue_.add(key);
}

void ReplicaSetController::start() {
  if (!workers_.empty()) return;
  stopping_ = false;
  informers_.start();
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { worker(); });
}

void ReplicaSetController::stop() {
  stopping_ = true;
  queue_.shut_down();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void ReplicaSetController::worker() {
  pthread_setname_np(pthread_self(), "rs-controller");  // its CPU is told apart in /proc/PID/task (bench/)
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
      spdlog::info("event=replicaset_sync_requeued replicaset={} error=\"{}\"", *key, synced.error().describe());
    }
    queue_.done(*key);
  }
}

Result<void> ReplicaSetController::sync(const std::string& key) {
  client::ApiClient api(connection_);
  return sync(key, api);
}

Result<void> ReplicaSetController::sync(const std::string& key, client::ApiClient& api) {
  ++stats_.syncs;
  const auto rs = replicasets_.indexer().get(key);
  if (!rs) {
    expectations_.forget(key);
    return {};
  }
  const bool needs_sync = expectations_.satisfied(key);
  const auto pods = claim_pods(*rs, api);
  Result<void> managed;
  if (needs_sync && !rs->metadata.deletion_timestamp) managed = manage_replicas(pods, *rs, api);
  if (auto st = update_status(*rs, pods, managed, api); !st) return st;
  return managed;
}

std::vector<ObjectPtr<api::Pod>> ReplicaSetController::claim_pods(const api::ReplicaSet& rs, client::ApiClient& api) {
  const auto selector = selector_of(rs.selector);
  std::vector<ObjectPtr<api::Pod>> owned;
  for (const auto& pod : pods_.indexer().in_namespace(rs.metadata.namespace_)) {
    if (!is_pod_active(*pod)) continue;
    const auto* ref = controller_ref(pod->metadata);
    const bool matches = selector.matches(pod->metadata.labels);
    const std::string path = client::object_path<api::Pod>(pod->metadata.namespace_, pod->metadata.name);
    if (ref && ref->uid == rs.metadata.uid) {
      if (matches) {
        owned.push_back(pod);
        continue;
      }
      // Release: the pod's labels no longer match; drop our reference.
      if (rs.metadata.deletion_timestamp) continue;
      nlohmann::json refs = nlohmann::json::array();
      for (const auto& r : pod->metadata.owner_references)
        if (r.uid != rs.metadata.uid) refs.push_back(api::encode_meta(api::ObjectMeta{.owner_references = {r}})["ownerReferences"][0]);
      if (auto r = client::merge_patch_object(api, path, {{"metadata", {{"ownerReferences", refs}}}}); !r)
        spdlog::info("event=pod_release_failed replicaset={}/{} pod={} error=\"{}\"", rs.metadata.namespace_, rs.metadata.name,
                     pod->metadata.name, r.error().describe());
      continue;
    }
    if (ref || !matches || rs.metadata.deletion_timestamp) continue;
    // Adopt the orphan: add our controllerRef.
    api::ObjectMeta m;
    m.owner_references = pod->metadata.owner_references;
    m.owner_references.push_back(make_controller_ref("apps/v1", "ReplicaSet", rs.metadata));
    auto r = client::merge_patch_object(api, path, {{"metadata", {{"ownerReferences", api::encode_meta(m)["ownerReferences"]}}}});
    if (!r) {
      spdlog::info("event=pod_adopt_failed replicaset={}/{} pod={} error=\"{}\"", rs.metadata.namespace_, rs.metadata.name,
                   pod->metadata.name, r.error().describe());
      continue;
    }
    owned.push_back(pod);
  }
  return owned;
}

Result<void> ReplicaSetController::manage_replicas(const std::vector<ObjectPtr<api::Pod>>& pods, const api::ReplicaSet& rs,
                                                   client::ApiClient& api) {
  const std::string key = client::object_key(rs.metadata);
  const int want = rs.replicas.value_or(1);
  int diff = static_cast<int>(pods.size()) - want;
  if (diff < 0) {
    diff = std::min(-diff, options_.burst_replicas);
    expectations_.expect_creations(key, diff);
    api::Pod pod;
    pod.metadata.generate_name = rs.metadata.name + "-";
    pod.metadata.namespace_ = rs.metadata.namespace_;
    pod.metadata.labels = rs.template_.metadata.labels;
    pod.metadata.annotations = rs.template_.metadata.annotations;
    pod.metadata.finalizers = rs.template_.metadata.finalizers;
    pod.metadata.owner_references = {make_controller_ref("apps/v1", "ReplicaSet", rs.metadata)};
    pod.spec = rs.template_.spec;
    std::optional<Error> first_error;
    const int created = slow_start_batch(diff, 1, [&] {
      auto made = client::create(api, pod);
      if (made) {
        ++stats_.pods_created;
        record_event(api, kEvents, "apps/v1", "ReplicaSet", rs.metadata, "Normal", "SuccessfulCreate",
                     "Created pod: " + made->metadata.name);
        return true;
      }
      ++stats_.failed_writes;
      record_event(api, kEvents, "apps/v1", "ReplicaSet", rs.metadata, "Warning", "FailedCreate",
                   "Error creating: " + made.error().message);
      expectations_.creation_observed(key);  // it will never be seen
      if (!first_error) first_error = made.error();
      return false;
    });
    // Those never tried will never be seen either.
    for (int skipped = diff - created - (first_error ? 1 : 0); skipped > 0; --skipped) expectations_.creation_observed(key);
    if (first_error) return fail(ErrorCode::Internal, fmt::format("FailedCreate: {}", first_error->describe()));
    return {};
  }
  if (diff > 0) {
    diff = std::min(diff, options_.burst_replicas);
    std::vector<const api::Pod*> owned, related;
    for (const auto& p : pods) owned.push_back(p.get());
    // Siblings: pods of ReplicaSets with the same controller (a Deployment's), for the node ranking.
    const auto* my_owner = controller_ref(rs.metadata);
    std::set<std::string> sibling_uids{rs.metadata.uid};
    if (my_owner)
      for (const auto& other : replicasets_.indexer().in_namespace(rs.metadata.namespace_))
        if (const auto* o = controller_ref(other->metadata); o && o->uid == my_owner->uid) sibling_uids.insert(other->metadata.uid);
    const auto all = pods_.indexer().in_namespace(rs.metadata.namespace_);
    for (const auto& p : all)
      if (const auto* r = controller_ref(p->metadata); r && sibling_uids.contains(r->uid)) related.push_back(p.get());
    const auto victims = pods_to_delete(owned, related, diff);
    std::set<std::string> victim_keys;
    for (const auto* p : victims) victim_keys.insert(client::object_key(p->metadata));
    expectations_.expect_deletions(key, victim_keys);
    std::optional<Error> first_error;
    for (const auto* p : victims) {
      auto gone = client::remove<api::Pod>(api, p->metadata.namespace_, p->metadata.name);
      if (gone || gone.error().code == ErrorCode::NotFound) {
        ++stats_.pods_deleted;
        if (gone)
          record_event(api, kEvents, "apps/v1", "ReplicaSet", rs.metadata, "Normal", "SuccessfulDelete",
                       "Deleted pod: " + p->metadata.name);
        if (!gone) expectations_.deletion_observed(key, client::object_key(p->metadata));
        continue;
      }
      ++stats_.failed_writes;
      expectations_.deletion_observed(key, client::object_key(p->metadata));
      if (!first_error) first_error = gone.error();
    }
    if (first_error) return fail(ErrorCode::Internal, fmt::format("FailedDelete: {}", first_error->describe()));
  }
  return {};
}

Result<void> ReplicaSetController::update_status(const api::ReplicaSet& rs, const std::vector<ObjectPtr<api::Pod>>& pods,
                                                 const Result<void>& manage_error, client::ApiClient& api) {
  const WallTime now = options_.now();
  api::ReplicaSetStatus st = rs.status;
  st.replicas = static_cast<std::int32_t>(pods.size());
  st.fully_labeled_replicas = st.ready_replicas = st.available_replicas = 0;
  for (const auto& p : pods) {
    bool fully = true;
    for (const auto& [k, v] : rs.template_.metadata.labels)
      if (auto it = p->metadata.labels.find(k); it == p->metadata.labels.end() || it->second != v) fully = false;
    st.fully_labeled_replicas += fully;
    st.ready_replicas += is_pod_ready(*p);
    st.available_replicas += is_pod_available(*p, rs.min_ready_seconds, now);
  }
  st.observed_generation = rs.metadata.generation;
  auto failure = std::find_if(st.conditions.begin(), st.conditions.end(), [](const auto& c) { return c.type == "ReplicaFailure"; });
  if (!manage_error) {
    const std::string& msg = manage_error.error().message;
    const std::string reason = msg.starts_with("FailedDelete") ? "FailedDelete" : "FailedCreate";
    const std::string detail = msg.substr(msg.find(':') == std::string::npos ? 0 : msg.find(':') + 2);
    if (failure == st.conditions.end())
      st.conditions.push_back({"ReplicaFailure", "True", "", format_rfc3339(now), reason, detail});
    else
      *failure = {"ReplicaFailure", "True", "", failure->last_transition_time, reason, detail};
  } else if (failure != st.conditions.end()) {
    st.conditions.erase(failure);
  }
  if (st == rs.status) return {};
  api::ReplicaSet updated = rs;
  updated.status = st;
  auto r = client::update_status(api, updated);
  if (!r) {
    ++stats_.failed_writes;
    return fail(r.error());
  }
  ++stats_.status_updates;
  // Ready but not yet available: look again when minReadySeconds have passed.
  if (rs.min_ready_seconds > 0 && st.ready_replicas == rs.replicas.value_or(1) && st.available_replicas != st.ready_replicas)
    queue_.add_after(client::object_key(rs.metadata), std::chrono::seconds(rs.min_ready_seconds));
  return {};
}

}  // namespace switchyard::controllers
