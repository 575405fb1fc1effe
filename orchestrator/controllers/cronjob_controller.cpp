// The CronJob controller: event handlers, workers, and the sync of one CronJob.
#include "orchestrator/controllers/cronjob_controller.h"

#include <pthread.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"
#include "orchestrator/controllers/event_recorder.h"
#include "orchestrator/controllers/job_math.h"

namespace switchyard::controllers {

using client::ObjectPtr;

struct CronJobController::Handlers {
  CronJobController& c;
  std::uint64_t cronjobs = 0, jobs = 0;
  ~Handlers() {
    c.cronjobs_.remove_event_handler(cronjobs);
    c.jobs_.remove_event_handler(jobs);
  }
};

CronJobController::CronJobController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                                     CronJobControllerOptions options, const client::Clock& clock)
    : informers_(informers),
      connection_(std::move(connection)),
      options_(std::move(options)),
      cronjobs_(informers.informer<api::CronJob>()),
      jobs_(informers.informer<api::Job>()),
      queue_(client::default_controller_rate_limiter(), clock) {
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  auto enqueue = [this](const ObjectPtr<api::CronJob>& c) { queue_.add(client::object_key(c->metadata)); };
  handlers_->cronjobs = cronjobs_.add_event_handler({enqueue,
                                                     [enqueue](const auto&, const ObjectPtr<api::CronJob>& c) { enqueue(c); },
                                                     [enqueue](const auto& c, bool) { enqueue(c); },
                                                     {}});
  handlers_->jobs = jobs_.add_event_handler({[this](const ObjectPtr<api::Job>& j) { job_event(*j); },
                                             [this](const auto&, const ObjectPtr<api::Job>& j) { job_event(*j); },
                                             [this](const ObjectPtr<api::Job>& j, bool) { job_event(*j); },
                                             {}});
}

CronJobController::~CronJobController() {
  stop();
  handlers_.reset();
}

void CronJobController::job_event(const api::Job& job) {
  const auto* ref = controller_ref(job.metadata);
  if (ref && ref->kind == "CronJob") queue_.add(job.metadata.namespace_ + "/" + ref->name);
}

void CronJobController::start() {
  if (!workers_.empty()) return;
  stopping_ = false;
  informers_.start();
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { worker(); });
}

void CronJobController::stop() {
  stopping_ = true;
  queue_.shut_down();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void CronJobController::worker() {
  pthread_setname_np(pthread_self(), "cronjob-ctrl");
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
      spdlog::info("event=cronjob_sync_requeued cronjob={} error=\"{}\"", *key, synced.error().describe());
    }
    queue_.done(*key);
  }
}

Result<void> CronJobController::sync(const std::string& key) {
  client::ApiClient api(connection_);
  return sync(key, api);
}

namespace {
const EventSource kCronJobEvents{"cronjob-controller"};
}  // namespace

Result<void> CronJobController::sync(const std::string& key, client::ApiClient& api) {
  ++stats_.syncs;
  const auto cached = cronjobs_.indexer().get(key);
  if (!cached) return {};
  api::CronJob cj = *cached;
  const WallTime now = options_.now();
  std::vector<ObjectPtr<api::Job>> owned;
  for (const auto& j : jobs_.indexer().in_namespace(cj.metadata.namespace_))
    if (const auto* ref = controller_ref(j->metadata); ref && ref->uid == cj.metadata.uid) owned.push_back(j);

  // status.active: the running Jobs we own; lastSuccessfulTime: the newest completion.
  api::CronJobStatus st = cj.status;
  st.active.clear();
  std::vector<const api::Job*> finished;
  for (const auto& j : owned) {
    if (job_finished(*j)) {
      finished.push_back(j.get());
      if (job_condition(j->status, "Complete") && j->status.completion_time &&
          (!st.last_successful_time || *st.last_successful_time < *j->status.completion_time))
        st.last_successful_time = j->status.completion_time;
      continue;
    }
    if (j->metadata.deletion_timestamp) continue;
    api::ObjectReference ref;
    ref.kind = "Job";
    ref.namespace_ = j->metadata.namespace_;
    ref.name = j->metadata.name;
    ref.uid = j->metadata.uid;
    ref.api_version = "batch/v1";
    ref.resource_version = j->metadata.resource_version;
    st.active.push_back(ref);
  }
  std::ranges::sort(st.active, [](const auto& a, const auto& b) { return a.name < b.name; });

  auto write_status = [&]() -> Result<void> {
    if (st == cj.status) return {};
    api::CronJob updated = cj;
    updated.status = st;
    auto r = client::update_status(api, updated);
    if (!r) {
      ++stats_.failed_writes;
      return fail(r.error());
    }
    cj = std::move(*r);
    return {};
  };
  auto delete_job = [&](const api::Job& j) -> Result<void> {
    auto gone = client::remove<api::Job>(api, j.metadata.namespace_, j.metadata.name);
    if (!gone && gone.error().code != ErrorCode::NotFound) return gone;
    ++stats_.jobs_deleted;
    if (gone)
      record_event(api, kCronJobEvents, "batch/v1", "CronJob", cj.metadata, "Normal", "SuccessfulDelete", "Deleted job " + j.metadata.name);
    return {};
  };

  // History limits.
  for (bool succeeded : {true, false}) {
    const int limit = succeeded ? cj.spec.successful_jobs_history_limit.value_or(3) : cj.spec.failed_jobs_history_limit.value_or(1);
    for (const auto* j : jobs_past_history_limit(finished, succeeded, limit))
      if (auto r = delete_job(*j); !r) return r;
  }
  if (cj.metadata.deletion_timestamp || cj.spec.suspend.value_or(false)) return write_status();

  const CronJobPlan plan = plan_cronjob(cj, now);
  if (!plan.error.empty()) {
    spdlog::warn("event=cronjob_unparseable_schedule cronjob={} error=\"{}\"", key, plan.error);
    return write_status();
  }
  auto requeue_at_next = [&] {
    if (plan.next)
      queue_.add_after(key, std::chrono::duration_cast<client::Clock::Duration>(*plan.next - now) + std::chrono::milliseconds(100));
  };
  if (!plan.due) {
    requeue_at_next();
    return write_status();
  }
  if (plan.missed > 100)
    spdlog::warn(
        "event=cronjob_too_many_missed_times cronjob={} missed={} reason=TooManyMissedTimes "
        "message=\"too many missed start times: {}. Set or decrease .spec.startingDeadlineSeconds or check clock skew\"",
        key, plan.missed, plan.missed);
  if (plan.too_late) {
    ++stats_.missed_skipped;
    spdlog::info("event=cronjob_missed_schedule cronjob={} scheduled={}", key, format_rfc3339(*plan.due));
    requeue_at_next();
    return write_status();
  }
  const std::string job_name = cronjob_job_name(cj.metadata.name, *plan.due);
  const bool already = std::ranges::any_of(owned, [&](const auto& j) { return j->metadata.name == job_name; });
  if (!already) {
    if (cj.spec.concurrency_policy == "Forbid" && !st.active.empty()) {
      // Not now: the time stays due (the running Job's end enqueues this key) until it starts or
      // a later time replaces it.
      record_event(api, kCronJobEvents, "batch/v1", "CronJob", cj.metadata, "Normal", "JobAlreadyActive",
                   "Not starting job because prior execution is running and concurrency policy is Forbid");
      requeue_at_next();
      return write_status();
    }
    if (cj.spec.concurrency_policy == "Replace")
      for (const auto& j : owned)
        if (!job_finished(*j) && !j->metadata.deletion_timestamp)
          if (auto r = delete_job(*j); !r) return r;
    auto made = client::create(api, cronjob_job(cj, *plan.due));
    if (!made && made.error().code != ErrorCode::AlreadyExists) {
      ++stats_.failed_writes;
      return fail(made.error());
    }
    if (made) {
      ++stats_.jobs_created;
      api::ObjectReference ref;
      ref.kind = "Job";
      ref.namespace_ = made->metadata.namespace_;
      ref.name = made->metadata.name;
      ref.uid = made->metadata.uid;
      ref.api_version = "batch/v1";
      ref.resource_version = made->metadata.resource_version;
      if (cj.spec.concurrency_policy == "Replace") st.active.clear();
      st.active.push_back(ref);
      spdlog::info("event=cronjob_job_created cronjob={} job={}", key, job_name);
      record_event(api, kCronJobEvents, "batch/v1", "CronJob", cj.metadata, "Normal", "SuccessfulCreate", "Created job " + job_name);
    }
  }
  st.last_schedule_time = format_rfc3339(*plan.due);
  requeue_at_next();
  return write_status();
}

}  // namespace switchyard::controllers
