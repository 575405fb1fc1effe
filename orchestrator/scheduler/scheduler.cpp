// The scheduler's event handlers, scheduling loop and binders.
#include "orchestrator/scheduler/scheduler.h"

#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"
#include "orchestrator/scheduler/volume_binding.h"

namespace switchyard::scheduler {

namespace {

using Json = nlohmann::json;

std::string now_rfc3339() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool terminal(const api::Pod& p) { return p.status.phase == "Succeeded" || p.status.phase == "Failed"; }

// What of a Node can make a pod fit that did not: anything the filters read.
bool node_changed_for_scheduling(const api::Node& a, const api::Node& b) {
  return a.metadata.labels != b.metadata.labels || a.allocatable != b.allocatable || a.taints != b.taints ||
         a.unschedulable != b.unschedulable;
}

std::string pod_path(const api::Pod& p) { return fmt::format("/api/v1/namespaces/{}/pods/{}", p.metadata.namespace_, p.metadata.name); }

}  // namespace

struct Scheduler::Handlers {
  Scheduler& s;
  std::uint64_t pods = 0, nodes = 0, namespaces = 0, claims = 0, volumes = 0;
  ~Handlers() {
    s.pods_.remove_event_handler(pods);
    s.nodes_.remove_event_handler(nodes);
    s.namespaces_.remove_event_handler(namespaces);
    s.claims_.remove_event_handler(claims);
    s.volumes_.remove_event_handler(volumes);
  }
};

Scheduler::Scheduler(client::SharedInformerFactory& informers, client::ClusterConnection connection, SchedulerOptions options)
    : informers_(informers),
      connection_(std::move(connection)),
      options_(std::move(options)),
      scheduler_name_json_(Json(options_.scheduler_name).dump()),
      pods_(informers.informer<api::Pod>()),
      nodes_(informers.informer<api::Node>()),
      pdbs_(informers.informer<api::PodDisruptionBudget>()),
      namespaces_(informers.informer<api::Namespace>()),
      claims_(informers.informer<api::PersistentVolumeClaim>()),
      volumes_(informers.informer<api::PersistentVolume>()),
      classes_(informers.informer<api::StorageClass>()),
      queue_(options_.queue),
      cycle_(options_.cycle) {
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  handlers_->pods = pods_.add_event_handler({[this](const auto& p) { on_pod_added(p); },
                                             [this](const auto& a, const auto& b) { on_pod_updated(a, b); },
                                             [this](const auto& p, bool) { on_pod_deleted(p); },
                                             {}});
  handlers_->nodes =
      nodes_.add_event_handler({[this](const client::ObjectPtr<api::Node>& n) {
                                  cache_.add_or_update_node(n);
                                  queue_.move_all_to_active_or_backoff();
                                },
                                [this](const client::ObjectPtr<api::Node>& a, const client::ObjectPtr<api::Node>& b) {
                                  cache_.add_or_update_node(b);
                                  if (node_changed_for_scheduling(*a, *b)) queue_.move_all_to_active_or_backoff();
                                },
                                [this](const client::ObjectPtr<api::Node>& n, bool) { cache_.remove_node(n->metadata.name); },
                                {}});
  // A namespace's labels can make a namespaceSelector match: as upstream's NamespaceUpdate event.
  handlers_->namespaces =
      namespaces_.add_event_handler({{},
                                     [this](const client::ObjectPtr<api::Namespace>& a, const client::ObjectPtr<api::Namespace>& b) {
                                       if (a->metadata.labels != b->metadata.labels) queue_.move_all_to_active_or_backoff();
                                     },
                                     {},
                                     {}});
  // A claim created or bound may let a waiting pod go (upstream's PVC/PV queueing hints).
  auto storage_changed = [this] { queue_.move_all_to_active_or_backoff(); };
  handlers_->claims = claims_.add_event_handler(
      {[storage_changed](const auto&) { storage_changed(); }, [storage_changed](const auto&, const auto&) { storage_changed(); }, {}, {}});
  handlers_->volumes = volumes_.add_event_handler(
      {[storage_changed](const auto&) { storage_changed(); }, [storage_changed](const auto&, const auto&) { storage_changed(); }, {}, {}});
}

std::map<std::string, api::StringMap> Scheduler::namespace_labels(const PodInfo& pod) const {
  std::map<std::string, api::StringMap> out;
  if (!pod.has_pod_affinity() && cache_.pods_with_affinity() == 0) return out;
  for (const auto& ns : namespaces_.indexer().list()) out.emplace(ns->metadata.name, ns->metadata.labels);
  return out;
}

Scheduler::~Scheduler() {
  stop();
  handlers_.reset();
}

bool Scheduler::responsible_for(const api::Pod& pod) const {
  auto it = pod.spec.passthrough.find("schedulerName");
  const std::string_view name = it == pod.spec.passthrough.end() ? std::string_view("\"default-scheduler\"") : it->second;
  return name == scheduler_name_json_;
}

void Scheduler::on_pod_added(const client::ObjectPtr<api::Pod>& pod) {
  if (!pod->spec.node_name.empty()) {
    if (terminal(*pod)) return;
    if (auto info = make_pod_info(pod)) cache_.add_or_update_pod(*info);
    return;
  }
  if (!responsible_for(*pod) || pod->metadata.deletion_timestamp || terminal(*pod)) return;
  auto info = make_pod_info(pod);
  if (!info) {
    spdlog::warn("event=pod_unparseable pod={}/{} error=\"{}\"", pod->metadata.namespace_, pod->metadata.name, info.error().describe());
    return;
  }
  if (auto n = pod->status.passthrough.find("nominatedNodeName"); n != pod->status.passthrough.end())
    if (const Json node = Json::parse(n->second, nullptr, false); node.is_string() && !node.get<std::string>().empty())
      nominate(*info, node.get<std::string>());
  queue_.add_or_update(*info);
}

void Scheduler::on_pod_updated(const client::ObjectPtr<api::Pod>& old_pod, const client::ObjectPtr<api::Pod>& pod) {
  const std::string key = client::object_key(pod->metadata);
  if (!pod->spec.node_name.empty()) {
    if (old_pod->spec.node_name.empty()) {  // bound (by us or by anyone)
      queue_.remove(key);
      unnominate(key);
    }
    if (terminal(*pod)) {
      cache_.remove_pod(key);
      queue_.move_all_to_active_or_backoff();  // its resources are free again
      return;
    }
    if (auto info = make_pod_info(pod)) cache_.add_or_update_pod(*info);
    return;
  }
  if (!responsible_for(*pod) || pod->metadata.deletion_timestamp) {
    queue_.remove(key);
    unnominate(key);
    return;
  }
  // Status-only changes (our own PodScheduled=False) do not make a pod schedulable.
  if (old_pod->spec == pod->spec && old_pod->metadata.labels == pod->metadata.labels) return;
  if (auto info = make_pod_info(pod)) queue_.add_or_update(*info);
}

void Scheduler::on_pod_deleted(const client::ObjectPtr<api::Pod>& pod) {
  const std::string key = client::object_key(pod->metadata);
  {
    std::lock_guard lock(events_mu_);
    last_failure_.erase(key);
  }
  if (!pod->spec.node_name.empty() || cache_.is_assumed(key)) {
    cache_.remove_pod(key);
    queue_.move_all_to_active_or_backoff();
  }
  queue_.remove(key);
  unnominate(key);
}

void Scheduler::start() {
  if (loop_.joinable()) return;
  stopping_ = false;
  informers_.start();
  for (int i = 0; i < std::max(1, options_.binders); ++i) binders_.emplace_back([this] { binder(); });
  loop_ = std::thread([this] { loop(); });
  flusher_ = std::thread([this] {
    while (!stopping_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      queue_.flush(SchedulingQueue::Clock::now());
    }
  });
}

void Scheduler::stop() {
  if (!loop_.joinable()) return;
  stopping_ = true;
  queue_.close();
  loop_.join();
  flusher_.join();
  {
    // Writes not started are dropped: unbound pods stay pending for the next scheduler, and what
    // this one assumed goes with its cache.
    std::lock_guard lock(tasks_mu_);
    tasks_.clear();
    deferred_tasks_.clear();
    tasks_cv_.notify_all();
  }
  for (auto& b : binders_) b.join();
  binders_.clear();
}

void Scheduler::submit(std::function<void(client::ApiClient&)> task, bool deferred) {
  std::lock_guard lock(tasks_mu_);
  if (!deferred) {
    tasks_.push_back(std::move(task));
  } else if (deferred_tasks_.size() < kMaxDeferred) {
    deferred_tasks_.push_back(std::move(task));
  } else {
    ++stats_.events_dropped;
    return;
  }
  tasks_cv_.notify_one();
}

void Scheduler::binder() {
  client::ApiClient api(connection_);
  for (;;) {
    std::function<void(client::ApiClient&)> task;
    {
      std::unique_lock lock(tasks_mu_);
      tasks_cv_.wait(lock, [&] { return stopping_ || !tasks_.empty() || !deferred_tasks_.empty(); });
      auto& from = !tasks_.empty() ? tasks_ : deferred_tasks_;
      if (from.empty()) return;  // stopping, and everything submitted is done
      task = std::move(from.front());
      from.pop_front();
    }
    task(api);
  }
}

void Scheduler::loop() {
  // No cycle before the caches listed once: a node not yet seen would look like a full cluster.
  while (!stopping_ && !informers_.wait_for_cache_sync(std::chrono::seconds(1), &stopping_)) {
  }
  while (!stopping_) {
    auto pod = queue_.pop();
    if (!pod) return;
    schedule_one(std::move(*pod));
  }
}

void Scheduler::schedule_one(QueuedPod queued) {
  const PodInfoPtr info = queued.info;
  // Skip a pod that was deleted or bound since it was queued.
  auto current = pods_.indexer().get(info->key);
  if (!current || !current->spec.node_name.empty() || current->metadata.deletion_timestamp) {
    queue_.done(info->key);
    return;
  }
  ++stats_.attempts;
  const VolumePlan volumes = plan_volumes(*current, claims_.indexer(), volumes_.indexer(), classes_.indexer());
  if (volumes.waiting_for_volumes) {  // a claim has its node: try again once its volume is bound
    queue_.requeue_backoff(std::move(queued));
    return;
  }
  if (!volumes.unschedulable.empty()) {
    ++stats_.unschedulable;
    queue_.requeue_unschedulable(queued);
    submit([this, info, message = volumes.unschedulable](client::ApiClient& api) { report_unschedulable(info, message, api); });
    return;
  }
  const NominatedPods nominated = nominated_snapshot();
  CycleResult result;
  const std::string node = cache_.pick_and_assume(info, [&](const std::vector<const NodeInfo*>& nodes) {
    std::vector<const NodeInfo*> fitting;
    std::vector<std::string> conflicts;
    for (const NodeInfo* n : nodes)
      if (volumes.node_affinities.empty() || node_fits_volumes(volumes, *n))
        fitting.push_back(n);
      else if (n->node)
        conflicts.push_back(n->name());
    if (fitting.empty() && !conflicts.empty()) {
      result = CycleResult{};
      result.error = FitError{};
    } else {
      result = cycle_.schedule(*info, fitting, namespace_labels(*info), cache_.pods_with_affinity() > 0,
                               nominated.empty() ? nullptr : &nominated);
    }
    if (result.error && !conflicts.empty()) {
      result.error->num_all_nodes = fitting.size() + conflicts.size();
      for (const auto& name : conflicts)
        result.error->statuses[name] = FilterResult::fail(FilterCode::UnschedulableAndUnresolvable, kVolumeNodeAffinityConflict);
    }
    return result.node;
  });
  if (!node.empty() && !volumes.claims_to_place.empty()) {
    // PreBind: the claims' provisioner follows the pod to this node; the pod binds once they are bound.
    cache_.forget_pod(info->key);
    queue_.requeue_backoff(std::move(queued));
    submit([claims = volumes.claims_to_place, node](client::ApiClient& api) {
      for (const auto& key : claims) {
        const auto [ns, name] = client::split_key(key);
        const Json patch = {{"metadata", {{"annotations", {{api::kSelectedNodeAnnotation, node}}}}}};
        if (auto ok = client::merge_patch_object(api, client::object_path<api::PersistentVolumeClaim>(ns, name), patch); !ok)
          spdlog::warn("event=selected_node_failed claim={} node={} error=\"{}\"", key, node, ok.error().describe());
        else
          spdlog::info("event=selected_node claim={} node={}", key, node);
      }
    });
    return;
  }
  if (!node.empty()) {
    ++stats_.scheduled;
    submit([this, queued = std::move(queued), node](client::ApiClient& api) { bind(queued, node, api); });
    return;
  }
  ++stats_.unschedulable;
  if (result.error && result.error->num_all_nodes > 0 && info->preemption_policy != "Never") post_filter(info, *result.error);
  const std::string message = result.error ? result.error->message() : std::string(kNoNodesAvailable);
  spdlog::info("event=pod_unschedulable pod={} attempts={} message=\"{}\"", info->key, queued.attempts, message);
  queue_.requeue_unschedulable(queued);
  submit([this, info, message](client::ApiClient& api) { report_unschedulable(info, message, api); });
}

void Scheduler::bind(QueuedPod queued, const std::string& node, client::ApiClient& api) {
  const api::Pod& pod = *queued.info->pod;
  const Json binding = {{"apiVersion", "v1"},
                        {"kind", "Binding"},
                        {"metadata", {{"name", pod.metadata.name}, {"namespace", pod.metadata.namespace_}, {"uid", pod.metadata.uid}}},
                        {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
  auto r = api.send("POST", pod_path(pod) + "/binding", binding.dump(), "application/json");
  if (r && (r->status == 200 || r->status == 201)) {
    ++stats_.bound;
    queue_.done(queued.info->key);
    {
      std::lock_guard lock(events_mu_);
      last_failure_.erase(queued.info->key);
    }
    if (options_.record_scheduled_events)
      submit(
          [this, p = queued.info->pod, node](client::ApiClient& a) {
            record_event(*p, "Normal", "Scheduled",
                         fmt::format("Successfully assigned {}/{} to {}", p->metadata.namespace_, p->metadata.name, node), a);
          },
          true);
    return;
  }
  ++stats_.bind_failures;
  cache_.forget_pod(queued.info->key);
  const std::string why = r ? fmt::format("HTTP {}: {}", r->status, r->body.substr(0, 300)) : r.error().describe();
  spdlog::warn("event=binding_failed pod={} node={} error=\"{}\"", queued.info->key, node, why);
  if (r && (r->status == 404 || r->status == 409)) {
    queue_.done(queued.info->key);  // gone, or bound by someone else: nothing left to do
    return;
  }
  queue_.requeue_backoff(queued);
  record_event(pod, "Warning", "FailedScheduling", "Binding rejected: " + why, api);
}

void Scheduler::report_unschedulable(const PodInfoPtr& info, const std::string& message, client::ApiClient& api) {
  const api::Pod& pod = *info->pod;
  {
    // One Event per distinct message (upstream's recorder aggregates repeats into a series).
    std::lock_guard lock(events_mu_);
    auto& last = last_failure_[info->key];
    if (last == message) return;
    last = message;
  }
  const Json patch = {{"status",
                       {{"conditions",
                         {{{"type", "PodScheduled"},
                           {"status", "False"},
                           {"reason", "Unschedulable"},
                           {"message", message},
                           {"lastProbeTime", nullptr},
                           {"lastTransitionTime", now_rfc3339()}}}}}}};
  auto r = api.send("PATCH", pod_path(pod) + "/status", patch.dump(), "application/strategic-merge-patch+json");
  if (!r || (r->status != 200 && r->status != 404))
    spdlog::warn("event=pod_condition_failed pod={} error=\"{}\"", info->key, r ? r->body.substr(0, 300) : r.error().describe());
  record_event(pod, "Warning", "FailedScheduling", message, api);
}

void Scheduler::record_event(const api::Pod& pod, const std::string& type, const std::string& reason, const std::string& message,
                             client::ApiClient& api) {
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string now = now_rfc3339();
  const Json event = {{"apiVersion", "v1"},
                      {"kind", "Event"},
                      {"metadata", {{"name", fmt::format("{}.{:x}", pod.metadata.name, nanos)}, {"namespace", pod.metadata.namespace_}}},
                      {"involvedObject",
                       {{"apiVersion", "v1"},
                        {"kind", "Pod"},
                        {"namespace", pod.metadata.namespace_},
                        {"name", pod.metadata.name},
                        {"uid", pod.metadata.uid},
                        {"resourceVersion", pod.metadata.resource_version}}},
                      {"reason", reason},
                      {"message", message},
                      {"type", type},
                      {"count", 1},
                      {"firstTimestamp", now},
                      {"lastTimestamp", now},
                      {"source", {{"component", options_.scheduler_name}}},
                      {"reportingComponent", options_.scheduler_name}};
  auto r = client::create_object(api, fmt::format("/api/v1/namespaces/{}/events", pod.metadata.namespace_), event);
  if (r) {
    ++stats_.events;
  } else {
    ++stats_.event_failures;
    spdlog::debug("event=event_write_failed pod={}/{} error=\"{}\"", pod.metadata.namespace_, pod.metadata.name, r.error().describe());
  }
}

}  // namespace switchyard::scheduler
