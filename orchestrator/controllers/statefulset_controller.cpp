// The StatefulSet controller: event handlers, workers, and the sync of one StatefulSet.
#include "orchestrator/controllers/statefulset_controller.h"

#include <pthread.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/statefulset_claims.h"
#include "orchestrator/client/rest.h"
#include "orchestrator/controllers/event_recorder.h"
#include "orchestrator/controllers/statefulset_claims.h"
#include "orchestrator/controllers/statefulset_math.h"
#include "orchestrator/controllers/statefulset_revisions.h"

namespace switchyard::controllers {

using client::ObjectPtr;

namespace {

const EventSource kEvents{"statefulset-controller"};

std::string set_key_of(const api::Pod& pod) {
  const auto* ref = controller_ref(pod.metadata);
  if (!ref || ref->kind != "StatefulSet") return "";
  return pod.metadata.namespace_ + "/" + ref->name;
}

bool same_data(const std::string& a, const std::string& b) {
  return nlohmann::json::parse(a, nullptr, false) == nlohmann::json::parse(b, nullptr, false);
}

api::Pod new_pod(const api::StatefulSet& set, const api::PodTemplateSpec& tmpl, int ordinal, const std::string& revision,
                 const std::vector<api::PersistentVolumeClaim>& claim_templates) {
  api::Pod pod;
  pod.metadata.name = sts::pod_name(set.metadata.name, ordinal);
  pod.metadata.namespace_ = set.metadata.namespace_;
  pod.metadata.labels = tmpl.metadata.labels;
  pod.metadata.labels[api::kStatefulSetPodNameLabel] = pod.metadata.name;
  pod.metadata.labels[api::kPodIndexLabel] = std::to_string(ordinal);
  pod.metadata.labels[api::kControllerRevisionHashLabel] = revision;
  pod.metadata.annotations = tmpl.metadata.annotations;
  pod.metadata.finalizers = tmpl.metadata.finalizers;
  pod.metadata.owner_references = {make_controller_ref("apps/v1", "StatefulSet", set.metadata)};
  pod.spec = tmpl.spec;
  // The stable network identity: NAME.SERVICE.NS.svc through the governing Service.
  pod.spec.hostname = pod.metadata.name;
  pod.spec.subdomain = set.spec.service_name;
  // Stable storage: the template's volume of each claim template's name is the ordinal's claim.
  std::vector<api::ClaimVolume> volumes;
  for (const auto& t : claim_templates) volumes.push_back({t.metadata.name, sts::claim_name(t.metadata.name, set.metadata.name, ordinal)});
  api::use_claim_volumes(pod.spec, volumes);
  return pod;
}

}  // namespace

struct StatefulSetController::Handlers {
  StatefulSetController& c;
  std::uint64_t sets = 0, pods = 0, revisions = 0, claims = 0;
  ~Handlers() {
    c.sets_.remove_event_handler(sets);
    c.pods_.remove_event_handler(pods);
    c.revisions_.remove_event_handler(revisions);
    c.claims_.remove_event_handler(claims);
  }
};

StatefulSetController::StatefulSetController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                                             StatefulSetControllerOptions options, const client::Clock& clock)
    : informers_(informers),
      connection_(std::move(connection)),
      options_(std::move(options)),
      sets_(informers.informer<api::StatefulSet>()),
      pods_(informers.informer<api::Pod>()),
      revisions_(informers.informer<api::ControllerRevision>()),
      claims_(informers.informer<api::PersistentVolumeClaim>()),
      queue_(client::default_controller_rate_limiter(), clock) {
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  auto enqueue = [this](const ObjectPtr<api::StatefulSet>& s) { queue_.add(client::object_key(s->metadata)); };
  handlers_->sets = sets_.add_event_handler({enqueue,
                                             [enqueue](const auto&, const ObjectPtr<api::StatefulSet>& s) { enqueue(s); },
                                             [enqueue](const ObjectPtr<api::StatefulSet>& s, bool) { enqueue(s); },
                                             {}});
  handlers_->pods = pods_.add_event_handler({[this](const ObjectPtr<api::Pod>& p) { enqueue_for_pod(*p); },
                                             [this](const ObjectPtr<api::Pod>& a, const ObjectPtr<api::Pod>& b) {
                                               if (a->metadata.resource_version == b->metadata.resource_version) return;
                                               enqueue_for_pod(*a);
                                               enqueue_for_pod(*b);
                                             },
                                             [this](const ObjectPtr<api::Pod>& p, bool) { enqueue_for_pod(*p); },
                                             {}});
  auto revision_changed = [this](const ObjectPtr<api::ControllerRevision>& r) {
    if (const auto* ref = controller_ref(r->metadata); ref && ref->kind == "StatefulSet")
      queue_.add(r->metadata.namespace_ + "/" + ref->name);
  };
  handlers_->revisions =
      revisions_.add_event_handler({revision_changed,
                                    [revision_changed](const auto&, const ObjectPtr<api::ControllerRevision>& r) { revision_changed(r); },
                                    [revision_changed](const ObjectPtr<api::ControllerRevision>& r, bool) { revision_changed(r); },
                                    {}});
  // A claim TEMPLATE-SET-N seen (its owners to set) or gone (a pod it held back may go ahead).
  auto claim_changed = [this](const ObjectPtr<api::PersistentVolumeClaim>& c) {
    const auto& name = c->metadata.name;
    const auto dash = name.rfind('-');
    if (dash == std::string::npos || !sts::parse_ordinal(name.substr(0, dash), name)) return;
    const std::string prefix = name.substr(0, dash);
    for (const auto& s : sets_.indexer().in_namespace(c->metadata.namespace_))
      if (prefix.ends_with("-" + s->metadata.name)) queue_.add(client::object_key(s->metadata));
  };
  handlers_->claims =
      claims_.add_event_handler({claim_changed,
                                 [claim_changed](const auto&, const ObjectPtr<api::PersistentVolumeClaim>& c) { claim_changed(c); },
                                 [claim_changed](const ObjectPtr<api::PersistentVolumeClaim>& c, bool) { claim_changed(c); },
                                 {}});
}

StatefulSetController::~StatefulSetController() {
  stop();
  handlers_.reset();
}

void StatefulSetController::enqueue_for_pod(const api::Pod& pod) {
  if (auto key = set_key_of(pod); !key.empty()) {
    queue_.add(key);
    return;
  }
  if (controller_ref(pod.metadata)) return;
  // An orphan: the set that would adopt it.
  for (const auto& s : sets_.indexer().in_namespace(pod.metadata.namespace_))
    if (sts::parse_ordinal(s->metadata.name, pod.metadata.name) && selector_of(s->spec.selector).matches(pod.metadata.labels))
      queue_.add(client::object_key(s->metadata));
}

void StatefulSetController::start() {
  if (!workers_.empty()) return;
  stopping_ = false;
  informers_.start();
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { worker(); });
}

void StatefulSetController::stop() {
  stopping_ = true;
  queue_.shut_down();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void StatefulSetController::worker() {
  pthread_setname_np(pthread_self(), "sts-controller");
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
      spdlog::info("event=statefulset_sync_requeued statefulset={} error=\"{}\"", *key, synced.error().describe());
    }
    queue_.done(*key);
  }
}

Result<void> StatefulSetController::sync(const std::string& key) {
  client::ApiClient api(connection_);
  return sync(key, api);
}

Result<void> StatefulSetController::sync(const std::string& key, client::ApiClient& api) {
  ++stats_.syncs;
  const auto found = sets_.indexer().get(key);
  if (!found) return {};
  const api::StatefulSet& set = *found;
  const auto& ns = set.metadata.namespace_;

  // Revisions: the one the spec asks for, created (or renumbered to the newest) if need be.
  std::vector<ObjectPtr<api::ControllerRevision>> history;
  for (const auto& r : revisions_.indexer().in_namespace(ns))
    if (const auto* ref = controller_ref(r->metadata); ref && ref->uid == set.metadata.uid) history.push_back(r);
  std::sort(history.begin(), history.end(), [](const auto& a, const auto& b) { return a->revision < b->revision; });
  const std::int64_t newest = history.empty() ? 0 : history.back()->revision;
  const std::int32_t collisions = set.status.collision_count.value_or(0);
  api::ControllerRevision wanted = sts::new_revision(set, newest + 1, collisions);
  std::string update_revision;
  for (const auto& r : history)
    if (same_data(r->data_json, wanted.data_json)) update_revision = r->metadata.name;
  if (!update_revision.empty()) {
    auto it = std::find_if(history.begin(), history.end(), [&](const auto& r) { return r->metadata.name == update_revision; });
    if ((*it)->revision != newest) {  // a rollback to an earlier template: it becomes the newest
      api::ControllerRevision bumped = **it;
      bumped.revision = newest + 1;
      if (auto r = client::update(api, bumped); !r) return fail(r.error());
    }
  } else {
    if (set.metadata.deletion_timestamp) return {};
    auto made = client::create(api, wanted);
    if (!made && made.error().code != ErrorCode::AlreadyExists) return fail(made.error());
    if (!made) {
      // A revision of that name with other data: a hash collision; the next name differs.
      auto existing = revisions_.indexer().get(ns + "/" + wanted.metadata.name);
      if (existing && !same_data(existing->data_json, wanted.data_json)) {
        api::StatefulSet bumped = set;
        bumped.status.collision_count = collisions + 1;
        if (auto r = client::update_status(api, bumped); !r) return fail(r.error());
      }
      return fail(ErrorCode::Conflict, "revision " + wanted.metadata.name + " is not in the cache yet");
    }
    ++stats_.revisions_created;
    update_revision = wanted.metadata.name;
    history.push_back(std::make_shared<const api::ControllerRevision>(*made));
  }
  std::string current_revision = update_revision;
  ObjectPtr<api::ControllerRevision> current_rev;
  for (const auto& r : history)
    if (!set.status.current_revision.empty() && r->metadata.name == set.status.current_revision) {
      current_revision = r->metadata.name;
      current_rev = r;
    }

  // Pods: the set's own (adopting orphans named SET-N that its selector matches).
  const auto selector = selector_of(set.spec.selector);
  const WallTime now = options_.now();
  std::vector<sts::PodState> states;
  std::vector<const api::Pod*> owned;
  const auto all_pods = pods_.indexer().in_namespace(ns);
  for (const auto& pod : all_pods) {
    const auto ordinal = sts::parse_ordinal(set.metadata.name, pod->metadata.name);
    const auto* ref = controller_ref(pod->metadata);
    if (ref && ref->uid != set.metadata.uid) continue;
    if (!ref) {
      if (!ordinal || !selector.matches(pod->metadata.labels) || set.metadata.deletion_timestamp) continue;
      api::ObjectMeta m;
      m.owner_references = pod->metadata.owner_references;
      m.owner_references.push_back(make_controller_ref("apps/v1", "StatefulSet", set.metadata));
      auto r = client::merge_patch_object(api, client::object_path<api::Pod>(ns, pod->metadata.name),
                                          {{"metadata", {{"ownerReferences", api::encode_meta(m)["ownerReferences"]}}}});
      if (!r) continue;
    }
    if (!ordinal) continue;
    const auto& labels = pod->metadata.labels;
    auto rev = labels.find(api::kControllerRevisionHashLabel);
    const bool failed = pod->status.phase == "Failed" || pod->status.phase == "Succeeded";
    const bool running_ready = pod->status.phase == "Running" && is_pod_ready(*pod);
    states.push_back({*ordinal, rev == labels.end() ? "" : rev->second, pod->metadata.deletion_timestamp.has_value(), failed, running_ready,
                      running_ready && is_pod_available(*pod, set.spec.min_ready_seconds, now)});
    owned.push_back(pod.get());
  }

  sts::Spec spec;
  spec.replicas = set.spec.replicas.value_or(1);
  spec.start = set.spec.ordinals ? set.spec.ordinals->start : 0;
  spec.parallel = set.spec.pod_management_policy == "Parallel";
  spec.on_delete = set.spec.update_strategy.type == "OnDelete";
  if (const auto& ru = set.spec.update_strategy.rolling_update) {
    spec.partition = ru->partition.value_or(0);
    if (ru->max_unavailable) {
      const auto& mu = *ru->max_unavailable;
      spec.max_unavailable =
          sts::resolve_max_unavailable(mu.is_string, mu.is_string ? std::atoi(mu.string_value.c_str()) : mu.int_value, spec.replicas);
    }
  }

  std::optional<Error> first_error;
  const auto claim_templates = api::volume_claim_templates(set).claims;
  bool condemned_claims_unsettled = false;  // then no condemned pod goes this sync: its claim would stay behind
  if (!set.metadata.deletion_timestamp && !claim_templates.empty()) {
    // Claims follow the retention policy before any pod is deleted (a condemned pod's claims get
    // the pod as owner first); a Pending pod whose claim went away gets it again.
    for (const api::Pod* pod : owned) {
      const int ordinal = *sts::parse_ordinal(set.metadata.name, pod->metadata.name);
      const bool in_range = ordinal >= spec.start && ordinal < spec.start + spec.replicas;
      if (in_range && pod->metadata.deletion_timestamp) continue;
      if (in_range && pod->status.phase == "Pending")
        if (auto r = create_missing_claims(api, set, claim_templates, ordinal); !r && !first_error) first_error = r.error();
      if (auto r = update_claim_owners(api, set, claim_templates, *pod, ordinal); !r) {
        if (!first_error) first_error = r.error();
        if (!in_range) condemned_claims_unsettled = true;
      }
    }
  }
  if (!set.metadata.deletion_timestamp) {
    const auto plan = sts::plan(spec, states, current_revision, update_revision);
    std::optional<api::PodTemplateSpec> old_template;
    if (current_rev) old_template = sts::template_of(*current_rev);
    for (const auto& c : plan.create) {
      const bool old = c.current_revision && old_template;
      api::Pod pod =
          new_pod(set, old ? *old_template : set.spec.template_, c.ordinal, old ? current_revision : update_revision, claim_templates);
      // The pod's claims first; without them (or with one being deleted) no pod.
      if (auto claims = create_missing_claims(api, set, claim_templates, c.ordinal); !claims) {
        record_event(
            api, kEvents, "apps/v1", "StatefulSet", set.metadata, "Warning", "FailedCreate",
            fmt::format("create Pod {} in StatefulSet {} failed error: {}", pod.metadata.name, set.metadata.name, claims.error().message));
        if (!first_error) first_error = claims.error();
        continue;
      }
      auto made = client::create(api, pod);
      if (made) {
        ++stats_.pods_created;
        if (auto r = update_claim_owners(api, set, claim_templates, *made, c.ordinal); !r && !first_error) first_error = r.error();
        record_event(api, kEvents, "apps/v1", "StatefulSet", set.metadata, "Normal", "SuccessfulCreate",
                     fmt::format("create Pod {} in StatefulSet {} successful", pod.metadata.name, set.metadata.name));
      } else if (made.error().code != ErrorCode::AlreadyExists) {  // exists: the cache is behind
        ++stats_.failed_writes;
        record_event(
            api, kEvents, "apps/v1", "StatefulSet", set.metadata, "Warning", "FailedCreate",
            fmt::format("create Pod {} in StatefulSet {} failed error: {}", pod.metadata.name, set.metadata.name, made.error().message));
        if (!first_error) first_error = made.error();
      }
    }
    for (int ordinal : plan.remove) {
      if (condemned_claims_unsettled && (ordinal < spec.start || ordinal >= spec.start + spec.replicas)) continue;
      const std::string name = sts::pod_name(set.metadata.name, ordinal);
      auto gone = client::remove<api::Pod>(api, ns, name);
      if (gone) {
        ++stats_.pods_deleted;
        record_event(api, kEvents, "apps/v1", "StatefulSet", set.metadata, "Normal", "SuccessfulDelete",
                     fmt::format("delete Pod {} in StatefulSet {} successful", name, set.metadata.name));
      } else if (gone.error().code != ErrorCode::NotFound) {
        ++stats_.failed_writes;
        if (!first_error) first_error = gone.error();
      }
    }
  }

  // Status, from what the cache showed at the start of this sync (the pod events bring the rest).
  const auto counts = sts::count(states, current_revision, update_revision);
  api::StatefulSetStatus st = set.status;
  st.observed_generation = set.metadata.generation;
  st.replicas = counts.replicas;
  st.ready_replicas = counts.ready;
  st.available_replicas = counts.available;
  st.current_replicas = counts.current;
  st.updated_replicas = counts.updated;
  st.current_revision = current_revision;
  st.update_revision = update_revision;
  // A finished rolling update: the update revision becomes the current one.
  if (!spec.on_delete && st.updated_replicas == st.replicas && st.ready_replicas == st.replicas && st.replicas == spec.replicas) {
    st.current_revision = st.update_revision;
    st.current_replicas = st.updated_replicas;
  }
  if (st != set.status) {
    api::StatefulSet updated = set;
    updated.status = st;
    auto r = client::update_status(api, updated);
    if (!r) {
      ++stats_.failed_writes;
      return fail(r.error());
    }
    ++stats_.status_updates;
  }
  if (set.spec.min_ready_seconds > 0 && counts.available < counts.ready)
    queue_.add_after(key, std::chrono::seconds(set.spec.min_ready_seconds));

  // History: keep revisionHistoryLimit revisions besides the live ones (current, update, and any a
  // pod still runs), oldest deleted first.
  std::set<std::string> live{st.current_revision, st.update_revision};
  for (const auto& s : states) live.insert(s.revision);
  std::vector<const api::ControllerRevision*> old;
  for (const auto& r : history)
    if (!live.contains(r->metadata.name)) old.push_back(r.get());
  const auto limit = static_cast<std::size_t>(std::max(0, set.spec.revision_history_limit.value_or(10)));
  for (std::size_t i = 0; old.size() > limit && i < old.size() - limit; ++i)
    if (auto gone = client::remove<api::ControllerRevision>(api, ns, old[i]->metadata.name);
        !gone && gone.error().code != ErrorCode::NotFound && !first_error)
      first_error = gone.error();

  if (first_error) return fail(*first_error);
  return {};
}

}  // namespace switchyard::controllers
