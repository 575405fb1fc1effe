#include "orchestrator/controllers/deployment_rollout.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"
#include "orchestrator/controllers/deployment_controller.h"
#include "orchestrator/controllers/event_recorder.h"

namespace switchyard::controllers::deployment {

namespace {
const EventSource kEvents{"deployment-controller"};
}  // namespace

std::vector<const api::ReplicaSet*> Rollout::olds() const {
  std::vector<const api::ReplicaSet*> out;
  for (auto i : old_indices) out.push_back(&owned[i]);
  return out;
}

std::vector<const api::ReplicaSet*> Rollout::all() const {
  auto out = olds();
  if (new_index) out.push_back(&owned[*new_index]);
  return out;
}

namespace {

bool by_creation(const api::ReplicaSet* a, const api::ReplicaSet* b) {
  if (a->metadata.creation_timestamp != b->metadata.creation_timestamp)
    return a->metadata.creation_timestamp < b->metadata.creation_timestamp;
  return a->metadata.name < b->metadata.name;
}

std::size_t index_of(const Rollout& r, const api::ReplicaSet* rs) { return static_cast<std::size_t>(rs - r.owned.data()); }

Result<void> write_deployment_status(Rollout& r, const api::DeploymentStatus& status) {
  api::Deployment updated = r.d;
  updated.status = status;
  auto written = client::update_status(r.api, updated);
  if (!written) {
    ++r.stats.failed_writes;
    return fail(written.error());
  }
  r.d = std::move(*written);
  return {};
}

// Sets replicas and the desired/max annotations; true when anything was written.
Result<bool> scale(Rollout& r, std::size_t index, int replicas) {
  api::ReplicaSet rs = r.owned[index];
  const std::string desired = std::to_string(replicas_of(r.d));
  const std::string max = std::to_string(replicas_of(r.d) + max_surge(r.d));
  if (replicas_of(rs) == replicas && rs.metadata.annotations[kDesiredReplicasAnnotation] == desired &&
      rs.metadata.annotations[kMaxReplicasAnnotation] == max)
    return false;
  const int from = replicas_of(rs);
  rs.replicas = replicas;
  rs.metadata.annotations[kDesiredReplicasAnnotation] = desired;
  rs.metadata.annotations[kMaxReplicasAnnotation] = max;
  auto written = client::update(r.api, rs);
  if (!written) {
    ++r.stats.failed_writes;
    return fail(written.error());
  }
  r.owned[index] = std::move(*written);
  ++r.stats.replicasets_scaled;
  if (from != replicas) {
    spdlog::info("event=replicaset_scaled deployment={} replicaset={} from={} to={}", r.key, rs.metadata.name, from, replicas);
    record_event(r.api, kEvents, "apps/v1", "Deployment", r.d.metadata, "Normal", "ScalingReplicaSet",
                 fmt::format("Scaled {} replica set {} to {} from {}", from < replicas ? "up" : "down", rs.metadata.name, replicas, from));
  }
  return from != replicas;
}

Result<void> create_new_replicaset(Rollout& r, std::int64_t revision) {
  const api::Deployment& d = r.d;
  const std::string hash = pod_template_hash(d.template_, d.status.collision_count);
  api::ReplicaSet rs;
  rs.metadata.name = d.metadata.name + "-" + hash;
  rs.metadata.namespace_ = d.metadata.namespace_;
  rs.metadata.labels = d.template_.metadata.labels;
  rs.metadata.labels[kPodTemplateHashLabel] = hash;
  for (const auto& [k, v] : d.metadata.annotations)
    if (copied_annotation(k)) rs.metadata.annotations[k] = v;
  rs.metadata.annotations[kRevisionAnnotation] = std::to_string(revision);
  rs.metadata.annotations[kDesiredReplicasAnnotation] = std::to_string(replicas_of(d));
  rs.metadata.annotations[kMaxReplicasAnnotation] = std::to_string(replicas_of(d) + max_surge(d));
  rs.metadata.owner_references = {make_controller_ref("apps/v1", "Deployment", d.metadata)};
  rs.selector = d.selector;
  rs.selector->match_labels[kPodTemplateHashLabel] = hash;
  rs.template_ = d.template_;
  rs.template_.metadata.labels[kPodTemplateHashLabel] = hash;
  rs.min_ready_seconds = d.min_ready_seconds;
  api::ReplicaSet zero = rs;
  zero.replicas = 0;
  rs.replicas = new_rs_new_replicas(d, r.olds(), zero);

  auto made = client::create(r.api, rs);
  if (!made && made.error().code == ErrorCode::AlreadyExists) {
    // Ours, made by an earlier sync the cache does not show yet? Or a hash collision.
    auto current = r.api.get(client::object_path<api::ReplicaSet>(rs.metadata.namespace_, rs.metadata.name));
    if (current && current->status == 200) {
      auto decoded = api::decode_object_as(nlohmann::json::parse(current->body, nullptr, false), "apps/v1", "ReplicaSet");
      if (decoded) {
        auto& existing = std::get<api::ReplicaSet>(decoded->object);
        const auto* ref = controller_ref(existing.metadata);
        if (ref && ref->uid == d.metadata.uid && without_hash(existing.template_) == without_hash(d.template_)) {
          r.owned.push_back(std::move(existing));
          r.new_index = r.owned.size() - 1;
          return {};
        }
      }
    }
    api::DeploymentStatus status = r.d.status;
    status.collision_count = status.collision_count.value_or(0) + 1;
    if (auto w = write_deployment_status(r, status); !w) return w;
    return fail(ErrorCode::Conflict, fmt::format("replica set {} exists with another template: collisionCount is now {}", rs.metadata.name,
                                                 *r.d.status.collision_count));
  }
  if (!made) {
    ++r.stats.failed_writes;
    return fail(made.error());
  }
  ++r.stats.replicasets_created;
  spdlog::info("event=replicaset_created deployment={} replicaset={} replicas={} revision={}", r.key, made->metadata.name,
               replicas_of(*made), revision);
  if (replicas_of(*made) > 0)
    record_event(r.api, kEvents, "apps/v1", "Deployment", r.d.metadata, "Normal", "ScalingReplicaSet",
                 fmt::format("Scaled up replica set {} to {} from 0", made->metadata.name, replicas_of(*made)));
  r.owned.push_back(std::move(*made));
  r.new_index = r.owned.size() - 1;
  if (has_progress_deadline(r.d)) {
    api::DeploymentStatus status = r.d.status;
    set_condition(status.conditions, make_condition("Progressing", "True", "NewReplicaSetCreated",
                                                    fmt::format("Created new replica set \"{}\"", rs.metadata.name), r.now));
    return write_deployment_status(r, status);
  }
  return {};
}

}  // namespace

Result<void> resolve(Rollout& r, bool create) {
  r.new_index.reset();
  r.old_indices.clear();
  std::vector<std::size_t> order(r.owned.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return by_creation(&r.owned[a], &r.owned[b]); });
  const auto wanted = without_hash(r.d.template_);
  for (auto i : order) {
    if (!r.new_index && without_hash(r.owned[i].template_) == wanted)
      r.new_index = i;
    else
      r.old_indices.push_back(i);
  }
  const std::int64_t revision = max_revision(r.olds()) + 1;
  if (r.new_index) {
    api::ReplicaSet rs = r.owned[*r.new_index];
    bool changed = false;
    const std::int64_t had = revision_of(rs.metadata);
    if (had < revision) {
      if (had > 0) {
        auto& history = rs.metadata.annotations[kRevisionHistoryAnnotation];
        history += (history.empty() ? "" : ",") + std::to_string(had);
      }
      rs.metadata.annotations[kRevisionAnnotation] = std::to_string(revision);
      changed = true;
    }
    for (const auto& [k, v] : r.d.metadata.annotations)
      if (copied_annotation(k) && rs.metadata.annotations[k] != v) {
        rs.metadata.annotations[k] = v;
        changed = true;
      }
    if (changed) {
      auto written = client::update(r.api, rs);
      if (!written) {
        ++r.stats.failed_writes;
        return fail(written.error());
      }
      r.owned[*r.new_index] = std::move(*written);
    }
    if (!find_condition(r.d.status.conditions, "Progressing") && has_progress_deadline(r.d)) {
      api::DeploymentStatus status = r.d.status;
      set_condition(status.conditions, make_condition("Progressing", "True", "FoundNewReplicaSet",
                                                      fmt::format("Found new replica set \"{}\"", rs.metadata.name), r.now));
      if (auto w = write_deployment_status(r, status); !w) return w;
    }
  } else if (create) {
    if (auto made = create_new_replicaset(r, revision); !made) return made;
  }
  // The Deployment carries the revision of its newest ReplicaSet.
  const std::int64_t current = r.new_rs() ? revision_of(r.new_rs()->metadata) : 0;
  if (current > 0 && revision_of(r.d.metadata) != current) {
    api::Deployment d = r.d;
    d.metadata.annotations[kRevisionAnnotation] = std::to_string(current);
    auto written = client::update(r.api, d);
    if (!written) {
      ++r.stats.failed_writes;
      return fail(written.error());
    }
    r.d = std::move(*written);
  }
  return {};
}

bool is_scaling_event(const Rollout& r) {
  for (const auto* rs : active(r.all())) {
    auto it = rs->metadata.annotations.find(kDesiredReplicasAnnotation);
    if (it != rs->metadata.annotations.end() && std::atoi(it->second.c_str()) != replicas_of(r.d)) return true;
  }
  return false;
}

Result<void> check_paused_conditions(Rollout& r) {
  if (!has_progress_deadline(r.d)) return {};
  const auto* c = find_condition(r.d.status.conditions, "Progressing");
  if (c && c->reason == "ProgressDeadlineExceeded") return {};
  const bool paused_shown = c && c->reason == "DeploymentPaused";
  api::DeploymentStatus status = r.d.status;
  if (r.d.paused && !paused_shown)
    set_condition(status.conditions, make_condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", r.now));
  else if (!r.d.paused && paused_shown)
    set_condition(status.conditions, make_condition("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", r.now));
  else
    return {};
  return write_deployment_status(r, status);
}

namespace {

// revisionHistoryLimit: the oldest old ReplicaSets that are scaled down and settled go.
Result<void> cleanup(Rollout& r) {
  if (!r.d.revision_history_limit) return {};
  std::vector<const api::ReplicaSet*> cleanable;
  for (const auto* rs : r.olds())
    if (!rs->metadata.deletion_timestamp) cleanable.push_back(rs);
  const int extra = static_cast<int>(cleanable.size()) - *r.d.revision_history_limit;
  if (extra <= 0) return {};
  std::sort(cleanable.begin(), cleanable.end(), [](const api::ReplicaSet* a, const api::ReplicaSet* b) {
    if (revision_of(a->metadata) != revision_of(b->metadata)) return revision_of(a->metadata) < revision_of(b->metadata);
    return by_creation(a, b);
  });
  for (int i = 0; i < extra; ++i) {
    const auto* rs = cleanable[static_cast<std::size_t>(i)];
    if (rs->status.replicas != 0 || replicas_of(*rs) != 0 || rs->metadata.generation > rs->status.observed_generation) continue;
    auto gone = client::remove<api::ReplicaSet>(r.api, rs->metadata.namespace_, rs->metadata.name);
    if (!gone && gone.error().code != ErrorCode::NotFound) {
      ++r.stats.failed_writes;
      return fail(gone.error());
    }
    ++r.stats.replicasets_deleted;
    spdlog::info("event=replicaset_cleaned_up deployment={} replicaset={}", r.key, rs->metadata.name);
  }
  return {};
}

bool saturated(const Rollout& r) {
  const auto* rs = r.new_rs();
  if (!rs || replicas_of(*rs) != replicas_of(r.d)) return false;
  auto it = rs->metadata.annotations.find(kDesiredReplicasAnnotation);
  return it != rs->metadata.annotations.end() && std::atoi(it->second.c_str()) == replicas_of(r.d) &&
         rs->status.available_replicas == replicas_of(r.d);
}

}  // namespace

Result<void> scale_only(Rollout& r) {
  if (auto res = resolve(r, false); !res) return res;
  // FindActiveOrLatest: with one active ReplicaSet (or none), it alone takes the new size.
  const api::ReplicaSet* target = nullptr;
  auto olds = r.olds();
  std::sort(olds.begin(), olds.end(), [](const auto* a, const auto* b) { return by_creation(b, a); });
  const auto actives = active(r.all());
  if (r.new_rs() || !olds.empty()) {
    if (actives.empty())
      target = r.new_rs() ? r.new_rs() : olds.front();
    else if (actives.size() == 1)
      target = actives.front();
  }
  if (target) {
    if (auto s = scale(r, index_of(r, target), replicas_of(r.d)); !s) return fail(s.error());
  } else if (saturated(r)) {
    for (const auto* rs : active(r.olds()))
      if (auto s = scale(r, index_of(r, rs), 0); !s) return fail(s.error());
  } else if (r.d.strategy.type == "RollingUpdate") {
    std::vector<std::pair<std::size_t, int>> sizes;
    for (const auto& [rs, size] : proportional_sizes(r.d, active(r.all()))) sizes.emplace_back(index_of(r, rs), size);
    for (const auto& [i, size] : sizes)
      if (auto s = scale(r, i, size); !s) return fail(s.error());
  }
  if (r.d.paused)
    if (auto c = cleanup(r); !c) return c;
  return sync_status(r, false);
}

Result<void> rolling_update(Rollout& r) {
  if (auto res = resolve(r, true); !res) return res;
  const int want = replicas_of(r.d);
  // reconcileNewReplicaSet
  if (const auto* nrs = r.new_rs(); nrs && replicas_of(*nrs) != want) {
    const int to = replicas_of(*nrs) > want ? want : new_rs_new_replicas(r.d, r.all(), *nrs);
    auto scaled = scale(r, *r.new_index, to);
    if (!scaled) return fail(scaled.error());
    if (*scaled) return sync_status(r, true);
  }
  // reconcileOldReplicaSets
  if (spec_replicas(r.olds()) > 0) {
    const int min_available = want - max_unavailable(r.d);
    const auto* nrs = r.new_rs();
    const int new_unavailable = nrs ? replicas_of(*nrs) - nrs->status.available_replicas : 0;
    const int max_scaled_down = spec_replicas(r.all()) - min_available - new_unavailable;
    if (max_scaled_down > 0) {
      int cleaned = 0, scaled_down = 0;
      auto olds = r.olds();
      std::sort(olds.begin(), olds.end(), by_creation);
      std::vector<std::size_t> order;
      for (const auto* rs : olds) order.push_back(index_of(r, rs));
      // Unhealthy replicas of old sets first: they serve nothing.
      for (auto i : order) {
        if (cleaned >= max_scaled_down) break;
        const auto& rs = r.owned[i];
        const int unhealthy = replicas_of(rs) - rs.status.available_replicas;
        if (replicas_of(rs) == 0 || unhealthy <= 0) continue;
        const int down = std::min(max_scaled_down - cleaned, unhealthy);
        if (auto s = scale(r, i, replicas_of(rs) - down); !s) return fail(s.error());
        cleaned += down;
      }
      // Then healthy ones, as far as maxUnavailable allows.
      const int available = available_replicas(r.all());
      if (available > min_available) {
        const int total = available - min_available;
        for (auto i : order) {
          if (scaled_down >= total) break;
          const auto& rs = r.owned[i];
          if (replicas_of(rs) == 0) continue;
          const int down = std::min(replicas_of(rs), total - scaled_down);
          if (auto s = scale(r, i, replicas_of(rs) - down); !s) return fail(s.error());
          scaled_down += down;
        }
      }
      if (cleaned + scaled_down > 0) return sync_status(r, true);
    }
  }
  if (complete(r.d, r.d.status))
    if (auto c = cleanup(r); !c) return c;
  return sync_status(r, true);
}

Result<void> recreate(Rollout& r) {
  bool scaled = false;
  for (const auto* rs : active(r.olds())) {
    auto s = scale(r, index_of(r, rs), 0);
    if (!s) return fail(s.error());
    scaled |= *s;
  }
  if (scaled) return sync_status(r, true);
  std::set<std::string> old_uids;
  for (const auto* rs : r.olds()) old_uids.insert(rs->metadata.uid);
  if (!old_uids.empty() && r.pods_running(old_uids)) return sync_status(r, true);  // their pods' deletions enqueue us
  if (!r.new_rs())
    if (auto res = resolve(r, true); !res) return res;
  if (r.new_rs())
    if (auto s = scale(r, *r.new_index, replicas_of(r.d)); !s) return fail(s.error());
  if (complete(r.d, r.d.status))
    if (auto c = cleanup(r); !c) return c;
  return sync_status(r, true);
}

Result<void> sync_status(Rollout& r, bool rollout) {
  const auto* nrs = r.new_rs();
  api::DeploymentStatus s = calculate_status(r.d, r.all(), nrs, r.now);
  if (rollout) {
    if (!has_progress_deadline(r.d)) remove_condition(s.conditions, "Progressing");
    const auto* current = find_condition(r.d.status.conditions, "Progressing");
    const bool done = s.replicas == s.updated_replicas && current && current->reason == "NewReplicaSetAvailable";
    const std::string subject =
        nrs ? fmt::format("ReplicaSet \"{}\"", nrs->metadata.name) : fmt::format("Deployment \"{}\"", r.d.metadata.name);
    if (has_progress_deadline(r.d) && !done) {
      if (complete(r.d, s)) {
        set_condition(s.conditions,
                      make_condition("Progressing", "True", "NewReplicaSetAvailable", subject + " has successfully progressed.", r.now));
      } else if (progressing(r.d, s)) {
        auto c = make_condition("Progressing", "True", "ReplicaSetUpdated", subject + " is progressing.", r.now);
        if (current && current->status == "True") c.last_transition_time = current->last_transition_time;
        remove_condition(s.conditions, "Progressing");
        s.conditions.push_back(std::move(c));
      } else if (timed_out(r.d, s, r.now)) {
        set_condition(s.conditions,
                      make_condition("Progressing", "False", "ProgressDeadlineExceeded", subject + " has timed out progressing.", r.now));
      }
    }
  }
  // A ReplicaSet that cannot create or delete its pods: the Deployment says so.
  std::optional<api::WorkloadCondition> failure;
  for (const auto* rs : r.all())
    if (const auto* c = find_condition(rs->status.conditions, "ReplicaFailure"); c && !failure)
      failure = make_condition("ReplicaFailure", c->status, c->reason, c->message, r.now);
  if (failure)
    set_condition(s.conditions, *failure);
  else
    remove_condition(s.conditions, "ReplicaFailure");
  if (s == r.d.status) {
    // Nothing changed: look again when the progress deadline would pass.
    const auto* c = find_condition(s.conditions, "Progressing");
    if (rollout && c && has_progress_deadline(r.d) && c->reason != "NewReplicaSetAvailable" && c->reason != "ProgressDeadlineExceeded" &&
        !complete(r.d, s))
      if (auto from = parse_rfc3339(c->last_update_time)) {
        auto after = *from + std::chrono::seconds(*r.d.progress_deadline_seconds) - r.now;
        r.queue.add_after(r.key, std::max<std::chrono::steady_clock::duration>(
                                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(after), std::chrono::seconds(1)));
      }
    return {};
  }
  return write_deployment_status(r, s);
}

}  // namespace switchyard::controllers::deployment
