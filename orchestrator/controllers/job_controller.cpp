// The Job controller: event handlers, workers, and the sync of one Job.
#include "orchestrator/controllers/job_controller.h"

#include <pthread.h>

#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"
#include "orchestrator/controllers/job_failure_policy.h"

namespace switchyard::controllers {

using client::ObjectPtr;
using nlohmann::json;

struct JobController::Handlers {
  JobController& c;
  std::uint64_t jobs = 0, pods = 0;
  ~Handlers() {
    c.jobs_.remove_event_handler(jobs);
    c.pods_.remove_event_handler(pods);
  }
};

JobController::JobController(client::SharedInformerFactory& informers, client::ClusterConnection connection, JobControllerOptions options,
                             const client::Clock& clock)
    : informers_(informers),
      connection_(std::move(connection)),
      options_(std::move(options)),
      jobs_(informers.informer<api::Job>()),
      pods_(informers.informer<api::Pod>()),
      queue_(client::default_controller_rate_limiter(), clock),
      expectations_(clock) {
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  auto enqueue = [this](const ObjectPtr<api::Job>& j) { queue_.add(client::object_key(j->metadata)); };
  handlers_->jobs = jobs_.add_event_handler({enqueue,
                                             [enqueue](const auto&, const ObjectPtr<api::Job>& j) { enqueue(j); },
                                             [this](const ObjectPtr<api::Job>& j, bool) {
                                               expectations_.forget(client::object_key(j->metadata));
                                               queue_.add(client::object_key(j->metadata));
                                             },
                                             {}});
  handlers_->pods = pods_.add_event_handler({[this](const ObjectPtr<api::Pod>& p) { pod_event(*p, true, false); },
                                             [this](const ObjectPtr<api::Pod>& a, const ObjectPtr<api::Pod>& b) {
                                               if (a->metadata.resource_version == b->metadata.resource_version) return;
                                               finalizer_observed(*b, false);
                                               pod_event(*b, false, b->metadata.deletion_timestamp && !a->metadata.deletion_timestamp);
                                             },
                                             [this](const ObjectPtr<api::Pod>& p, bool) {
                                               finalizer_observed(*p, true);
                                               pod_event(*p, false, true);
                                             },
                                             {}});
}

JobController::~JobController() {
  stop();
  handlers_.reset();
}

void JobController::finalizer_observed(const api::Pod& pod, bool gone) {
  std::lock_guard lock(mu_);
  if (released_.empty()) return;
  if (gone || std::ranges::find(pod.metadata.finalizers, std::string(kJobTrackingFinalizer)) == pod.metadata.finalizers.end())
    released_.erase(pod.metadata.uid);
}

void JobController::pod_event(const api::Pod& pod, bool added, bool deleted) {
  const auto* ref = controller_ref(pod.metadata);
  if (!ref || ref->kind != "Job") return;
  const std::string key = pod.metadata.namespace_ + "/" + ref->name;
  if (added) expectations_.creation_observed(key);
  if (deleted) expectations_.deletion_observed(key, client::object_key(pod.metadata));
  queue_.add(key);
}

void JobController::start() {
  if (!workers_.empty()) return;
  stopping_ = false;
  informers_.start();
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { worker(); });
}

void JobController::stop() {
  stopping_ = true;
  queue_.shut_down();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void JobController::worker() {
  pthread_setname_np(pthread_self(), "job-controller");
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
      spdlog::info("event=job_sync_requeued job={} error=\"{}\"", *key, synced.error().describe());
    }
    queue_.done(*key);
  }
}

Result<void> JobController::sync(const std::string& key) {
  client::ApiClient api(connection_);
  return sync(key, api);
}

Result<void> JobController::release(const api::Pod& pod, client::ApiClient& api) {
  std::vector<std::string> kept;
  for (const auto& f : pod.metadata.finalizers)
    if (f != kJobTrackingFinalizer) kept.push_back(f);
  if (kept.size() == pod.metadata.finalizers.size()) return {};
  // A merge patch replaces the list; the resourceVersion makes it fail rather than drop a
  // finalizer someone else added meanwhile.
  const json patch = {{"metadata", {{"finalizers", kept}, {"resourceVersion", pod.metadata.resource_version}}}};
  {
    // Until the pod cache shows the finalizer gone, the cached pod is stale: not to be counted again.
    std::lock_guard lock(mu_);
    released_.insert(pod.metadata.uid);
  }
  auto r = client::merge_patch_object(api, client::object_path<api::Pod>(pod.metadata.namespace_, pod.metadata.name), patch);
  if (!r && r.error().code != ErrorCode::NotFound) {
    ++stats_.failed_writes;
    std::lock_guard lock(mu_);
    released_.erase(pod.metadata.uid);
    return fail(r.error());
  }
  return {};
}

Result<void> JobController::stop_pods(const std::string& key, const std::vector<const api::Pod*>& pods, client::ApiClient& api) {
  std::set<std::string> keys;
  for (const auto* p : pods) keys.insert(client::object_key(p->metadata));
  expectations_.expect_deletions(key, keys);
  std::optional<Error> first;
  for (const auto* p : pods) {
    auto released = release(*p, api);
    auto gone = released ? client::remove<api::Pod>(api, p->metadata.namespace_, p->metadata.name) : Result<void>(fail(released.error()));
    if (gone || gone.error().code == ErrorCode::NotFound) {
      ++stats_.pods_deleted;
      if (!gone) expectations_.deletion_observed(key, client::object_key(p->metadata));
      continue;
    }
    expectations_.deletion_observed(key, client::object_key(p->metadata));
    if (!first) first = gone.error();
  }
  if (first) return fail(*first);
  return {};
}

Result<void> JobController::create_pods(const std::string& key, const api::Job& job, const std::vector<int>& indexes,
                                        const std::map<int, int>& failures, client::ApiClient& api) {
  const int n = static_cast<int>(indexes.size());
  expectations_.expect_creations(key, n);
  std::optional<Error> first;
  int next = 0;
  const int created = slow_start_batch(n, 1, [&] {
    const int index = indexes[next++];
    const auto f = failures.find(index);
    auto made = client::create(api, job_pod(job, index, f == failures.end() ? 0 : f->second));
    if (made) {
      ++stats_.pods_created;
      return true;
    }
    ++stats_.failed_writes;
    expectations_.creation_observed(key);
    if (!first) first = made.error();
    return false;
  });
  for (int skipped = n - created - (first ? 1 : 0); skipped > 0; --skipped) expectations_.creation_observed(key);
  if (first) return fail(ErrorCode::Internal, "FailedCreate: " + first->describe());
  return {};
}

Result<void> JobController::sync_finished(const api::Job& job, const std::vector<const api::Pod*>& pods, client::ApiClient& api) {
  // Whatever still carries our finalizer is let go: the Job is done counting.
  for (const auto* p : pods)
    if (auto r = release(*p, api); !r) return r;
  if (!job.spec.ttl_seconds_after_finished || job.metadata.deletion_timestamp) return {};
  std::optional<WallTime> finished;
  if (job.status.completion_time) finished = parse_rfc3339(*job.status.completion_time);
  if (const auto* f = job_condition(job.status, "Failed"); !finished && f) finished = parse_rfc3339(f->last_transition_time);
  if (!finished) return {};
  const WallTime expires = *finished + std::chrono::seconds(*job.spec.ttl_seconds_after_finished);
  const WallTime now = options_.now();
  if (now < expires) {
    queue_.add_after(client::object_key(job.metadata), std::chrono::duration_cast<client::Clock::Duration>(expires - now));
    return {};
  }
  auto gone = client::remove<api::Job>(api, job.metadata.namespace_, job.metadata.name);
  if (!gone && gone.error().code != ErrorCode::NotFound) return gone;
  ++stats_.jobs_deleted;
  spdlog::info("event=job_ttl_expired job={}/{}", job.metadata.namespace_, job.metadata.name);
  return {};
}

namespace {

void set_condition(api::JobStatus& st, const std::string& type, const std::string& status, const std::string& reason,
                   const std::string& message, const std::string& now) {
  for (auto& c : st.conditions)
    if (c.type == type) {
      if (c.status != status) c.last_transition_time = now;
      c.status = status;
      c.reason = reason;
      c.message = message;
      c.last_probe_time = now;
      return;
    }
  st.conditions.push_back({type, status, now, now, reason, message});
}

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::ranges::find(v, s) != v.end(); }

// resourceVersions are opaque to clients, but the API servers we talk to (ours, and etcd-backed
// kube-apiserver) give increasing integers; anything else is never "before".
bool resource_version_before(const std::string& a, const std::string& b) {
  std::uint64_t x = 0, y = 0;
  const auto pa = std::from_chars(a.data(), a.data() + a.size(), x);
  const auto pb = std::from_chars(b.data(), b.data() + b.size(), y);
  return pa.ec == std::errc() && pb.ec == std::errc() && x < y;
}

// The failures each index has had (backoffLimitPerIndex): the most any of its pods carries, plus
// one when that pod failed in a way that counts.
std::map<int, int> index_failures(const std::vector<const api::Pod*>& pods, const api::PodFailurePolicy* policy) {
  std::map<int, int> out;
  for (const auto* p : pods) {
    const int i = completion_index_of(*p);
    if (i < 0) continue;
    int n = index_failure_count(*p);
    if (p->status.phase == "Failed" && match_pod_failure_policy(policy, *p).counts()) ++n;
    out[i] = std::max(out[i], n);
  }
  return out;
}

}  // namespace

Result<void> JobController::sync(const std::string& key, client::ApiClient& api) {
  ++stats_.syncs;
  const auto cached = jobs_.indexer().get(key);
  if (!cached) {
    expectations_.forget(key);
    {
      std::lock_guard lock(mu_);
      last_failure_.erase(key);
      written_.erase(key);
    }
    // The Job is gone: its pods keep no finalizer of ours, or their deletion would never end.
    const auto slash = key.find('/');
    const std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
    for (const auto& p : pods_.indexer().in_namespace(ns))
      if (const auto* ref = controller_ref(p->metadata); ref && ref->kind == "Job" && ref->name == name)
        if (auto r = release(*p, api); !r) return r;
    return {};
  }
  api::Job job = *cached;
  std::vector<ObjectPtr<api::Pod>> owned_ptrs;
  {
    std::lock_guard lock(mu_);
    // The Job cache has not caught up with our last status write: its counters are stale, and
    // counting on them could create a pod too many. Our write's event enqueues the key again.
    if (auto it = written_.find(key); it != written_.end()) {
      if (resource_version_before(job.metadata.resource_version, it->second)) return {};
      written_.erase(it);
    }
    for (const auto& p : pods_.indexer().in_namespace(job.metadata.namespace_))
      if (const auto* ref = controller_ref(p->metadata); ref && ref->uid == job.metadata.uid) {
        // A pod whose finalizer we took off but whose cache entry still has it: already counted.
        if (released_.contains(p->metadata.uid) &&
            std::ranges::find(p->metadata.finalizers, std::string(kJobTrackingFinalizer)) != p->metadata.finalizers.end())
          continue;
        owned_ptrs.push_back(p);
      }
  }
  std::vector<const api::Pod*> owned;
  for (const auto& p : owned_ptrs) owned.push_back(p.get());
  if (job_finished(job)) return sync_finished(job, owned, api);

  const WallTime now = options_.now();
  const std::string now_s = format_rfc3339(now);
  const auto& spec = job.spec;
  const bool indexed = spec.completion_mode.value_or("NonIndexed") == "Indexed";
  const bool suspended = spec.suspend.value_or(false);
  const int completions = spec.completions.value_or(0);
  const auto counts = count_job_pods(owned);
  api::JobStatus st = job.status;

  // 1. Finished pods still carrying our finalizer: record their uids (and indexes) first.
  api::UncountedTerminatedPods uncounted = st.uncounted_terminated_pods.value_or(api::UncountedTerminatedPods{});
  std::set<int> completed = parse_index_set(st.completed_indexes, completions);
  bool new_failure = false;
  for (const auto* p : counts.newly_succeeded) {
    if (!contains(uncounted.succeeded, p->metadata.uid)) uncounted.succeeded.push_back(p->metadata.uid);
    if (indexed)
      if (int i = completion_index_of(*p); i >= 0 && i < completions) completed.insert(i);
  }
  // The podFailurePolicy decides what each failure does; Ignored ones are let go uncounted.
  const auto policy_value = api::pod_failure_policy(spec);
  const api::PodFailurePolicy* policy = policy_value ? &*policy_value : nullptr;
  const bool per_index = indexed && spec.backoff_limit_per_index.has_value();
  std::set<int> failed_indexes = parse_index_set(st.failed_indexes.value_or(""), completions);
  std::vector<const api::Pod*> ignored;
  for (const auto* p : counts.newly_failed) {
    if (contains(uncounted.failed, p->metadata.uid)) continue;
    const auto decision = match_pod_failure_policy(policy, *p);
    if (!decision.counts()) {
      ignored.push_back(p);
      continue;
    }
    uncounted.failed.push_back(p->metadata.uid);
    new_failure = true;
    if (decision.action == "FailJob" && !job_condition(st, "FailureTarget"))
      set_condition(st, "FailureTarget", "True", "PodFailurePolicy", decision.message, now_s);
    const int i = completion_index_of(*p);
    if (per_index && i >= 0 && i < completions && !completed.contains(i) &&
        (decision.action == "FailIndex" || index_failure_count(*p) + 1 > *spec.backoff_limit_per_index))
      failed_indexes.insert(i);
  }
  if (per_index) st.failed_indexes = format_index_set(failed_indexes);
  if (indexed) st.completed_indexes = format_index_set(completed);
  if (!uncounted.succeeded.empty() || !uncounted.failed.empty() || st.uncounted_terminated_pods) st.uncounted_terminated_pods = uncounted;
  if (!st.start_time && !suspended) st.start_time = now_s;
  if (new_failure) {
    std::lock_guard lock(mu_);
    last_failure_[key] = now;
  }
  auto write = [&](api::JobStatus next) -> Result<void> {
    if (next == job.status) return {};
    api::Job updated = job;
    updated.status = std::move(next);
    auto r = client::update_status(api, updated);
    if (!r) {
      ++stats_.failed_writes;
      return fail(r.error());
    }
    ++stats_.status_updates;
    job = std::move(*r);
    std::lock_guard lock(mu_);
    written_[key] = job.metadata.resource_version;
    return {};
  };
  if (auto r = write(st); !r) return r;
  for (const auto* p : ignored)
    if (auto r = release(*p, api); !r) return r;

  // 2. Their finalizers off, then 3. into the counters, in one status write.
  std::map<std::string, const api::Pod*> by_uid;
  for (const auto* p : owned) by_uid[p->metadata.uid] = p;
  auto settle = [&](std::vector<std::string>& uids, std::int32_t& counter) -> Result<void> {
    std::vector<std::string> left;
    for (const auto& uid : uids) {
      auto it = by_uid.find(uid);
      if (it != by_uid.end())
        if (auto r = release(*it->second, api); !r) {
          left.push_back(uid);
          continue;
        }
      ++counter;
    }
    uids = std::move(left);
    return {};
  };
  if (auto r = settle(uncounted.succeeded, st.succeeded); !r) return r;
  if (auto r = settle(uncounted.failed, st.failed); !r) return r;
  if (indexed) st.succeeded = static_cast<std::int32_t>(completed.size());
  st.uncounted_terminated_pods = api::UncountedTerminatedPods{uncounted.succeeded, uncounted.failed};

  // 4. The verdict.
  const int succeeded = indexed ? static_cast<int>(completed.size()) : st.succeeded + static_cast<int>(uncounted.succeeded.size());
  const int failed = st.failed + static_cast<int>(uncounted.failed.size());
  // A FailJob rule matched (now or before a restart): the Job fails with the rule's message.
  const auto* target = job_condition(st, "FailureTarget");
  const auto verdict = target ? JobVerdict{JobVerdict::Outcome::Failed, target->reason, target->message}
                              : judge_job(job, succeeded, failed, static_cast<int>(counts.active.size()), counts.restarts, completed.size(),
                                          now, failed_indexes.size());
  Result<void> managed;
  int active = static_cast<int>(counts.active.size());
  if (verdict.outcome != JobVerdict::Outcome::Running) {
    managed = stop_pods(key, counts.active, api);
    active = 0;
    if (verdict.outcome == JobVerdict::Outcome::Complete) {
      set_condition(st, "Complete", "True", "", "", now_s);
      st.completion_time = now_s;
    } else {
      set_condition(st, "Failed", "True", verdict.reason, verdict.message, now_s);
    }
  } else if (suspended) {
    if (!counts.active.empty()) managed = stop_pods(key, counts.active, api);
    active = 0;
    if (!job_condition(st, "Suspended")) {
      set_condition(st, "Suspended", "True", "JobSuspended", "Job suspended", now_s);
      st.start_time.reset();
    }
  } else {
    if (job_condition(st, "Suspended")) set_condition(st, "Suspended", "False", "JobResumed", "Job resumed", now_s);
    if (expectations_.satisfied(key)) {
      const int parallelism = spec.parallelism.value_or(1);
      std::vector<int> to_create;
      if (indexed) {
        for (int i : missing_indexes(completions, completed, counts.active, failed_indexes))
          if (static_cast<int>(to_create.size()) + active < parallelism) to_create.push_back(i);
      } else {
        int want = spec.completions ? std::min(parallelism, completions - succeeded) : (succeeded > 0 ? active : parallelism);
        want = std::max(want, 0);
        for (int i = active; i < want; ++i) to_create.push_back(-1);
        if (active > want) {
          std::vector<const api::Pod*> extra(counts.active.begin(), counts.active.end());
          // Not-ready and newest first, as upstream picks pods to delete.
          std::ranges::sort(extra, [](const api::Pod* a, const api::Pod* b) {
            if (is_pod_ready(*a) != is_pod_ready(*b)) return !is_pod_ready(*a);
            return a->metadata.creation_timestamp > b->metadata.creation_timestamp;
          });
          extra.resize(active - want);
          managed = stop_pods(key, extra, api);
        }
      }
      if (to_create.size() > static_cast<std::size_t>(options_.burst_pods)) to_create.resize(options_.burst_pods);
      if (!to_create.empty()) {
        // Back off after failures: 10s, 20s, 40s, … since the latest one.
        WallTime last{};
        {
          std::lock_guard lock(mu_);
          if (auto it = last_failure_.find(key); it != last_failure_.end()) last = it->second;
        }
        const auto delay = failure_backoff(failed, options_.failure_backoff_base);
        if (failed > 0 && last != WallTime{} && now < last + delay) {
          queue_.add_after(key, std::chrono::duration_cast<client::Clock::Duration>(last + delay - now));
        } else {
          managed = create_pods(key, job, to_create, per_index ? index_failures(owned, policy) : std::map<int, int>{}, api);
        }
      }
    }
    if (spec.active_deadline_seconds && st.start_time)
      if (auto start = parse_rfc3339(*st.start_time))
        queue_.add_after(key, std::chrono::duration_cast<client::Clock::Duration>(
                                  std::max(*start + std::chrono::seconds(*spec.active_deadline_seconds) - now, WallTime::duration(0)) +
                                  std::chrono::milliseconds(100)));
  }
  st.active = active;
  st.ready = verdict.outcome == JobVerdict::Outcome::Running && !suspended ? counts.ready : 0;
  st.terminating = counts.terminating;
  if (uncounted.succeeded.empty() && uncounted.failed.empty()) st.uncounted_terminated_pods = api::UncountedTerminatedPods{};
  if (auto r = write(st); !r) return r;
  return managed;
}

}  // namespace switchyard::controllers
