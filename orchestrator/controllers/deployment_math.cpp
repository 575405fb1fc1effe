#include "orchestrator/controllers/deployment_math.h"

#include <cmath>

#include "orchestrator/api/json_codec.h"

namespace switchyard::controllers::deployment {

int scaled_value(const api::IntOrString& v, int total, bool round_up) {
  if (!v.is_string) return v.int_value;
  const int percent = std::atoi(v.string_value.c_str());
  const double value = static_cast<double>(percent) * total / 100.0;
  return static_cast<int>(round_up ? std::ceil(value) : std::floor(value));
}

std::pair<int, int> resolve_fenceposts(const api::IntOrString& max_surge, const api::IntOrString& max_unavailable, int desired) {
  const int surge = scaled_value(max_surge, desired, true);
  int unavailable = scaled_value(max_unavailable, desired, false);
  if (surge == 0 && unavailable == 0) unavailable = 1;  // the rollout could not make progress otherwise
  return {surge, unavailable};
}

static bool rolling(const api::Deployment& d) { return d.strategy.type == "RollingUpdate" && d.strategy.rolling_update; }

static std::pair<int, int> fenceposts(const api::Deployment& d) {
  const auto& ru = *d.strategy.rolling_update;
  return resolve_fenceposts(ru.max_surge.value_or(api::IntOrString{}), ru.max_unavailable.value_or(api::IntOrString{}), replicas_of(d));
}

int max_surge(const api::Deployment& d) { return rolling(d) ? fenceposts(d).first : 0; }

int max_unavailable(const api::Deployment& d) {
  if (!rolling(d) || replicas_of(d) == 0) return 0;
  return std::min(fenceposts(d).second, replicas_of(d));
}

int replicas_of(const api::ReplicaSet& rs) { return rs.replicas.value_or(1); }
int replicas_of(const api::Deployment& d) { return d.replicas.value_or(1); }

int spec_replicas(const std::vector<const api::ReplicaSet*>& rss) {
  int n = 0;
  for (const auto* rs : rss)
    if (rs) n += replicas_of(*rs);
  return n;
}
int actual_replicas(const std::vector<const api::ReplicaSet*>& rss) {
  int n = 0;
  for (const auto* rs : rss)
    if (rs) n += rs->status.replicas;
  return n;
}
int available_replicas(const std::vector<const api::ReplicaSet*>& rss) {
  int n = 0;
  for (const auto* rs : rss)
    if (rs) n += rs->status.available_replicas;
  return n;
}
std::vector<const api::ReplicaSet*> active(const std::vector<const api::ReplicaSet*>& rss) {
  std::vector<const api::ReplicaSet*> out;
  for (const auto* rs : rss)
    if (rs && replicas_of(*rs) > 0) out.push_back(rs);
  return out;
}

int new_rs_new_replicas(const api::Deployment& d, const std::vector<const api::ReplicaSet*>& all, const api::ReplicaSet& new_rs) {
  if (!rolling(d)) return replicas_of(d);  // Recreate
  const int current = spec_replicas(all);
  const int max_total = replicas_of(d) + max_surge(d);
  if (current >= max_total) return replicas_of(new_rs);
  const int scale_up = std::min(max_total - current, replicas_of(d) - replicas_of(new_rs));
  return replicas_of(new_rs) + scale_up;
}

static bool older(const api::ReplicaSet* a, const api::ReplicaSet* b) {
  if (a->metadata.creation_timestamp != b->metadata.creation_timestamp)
    return a->metadata.creation_timestamp < b->metadata.creation_timestamp;
  return a->metadata.name < b->metadata.name;
}

std::vector<std::pair<const api::ReplicaSet*, int>> proportional_sizes(const api::Deployment& d, std::vector<const api::ReplicaSet*> all) {
  const int allowed = replicas_of(d) > 0 ? replicas_of(d) + max_surge(d) : 0;
  const int to_add = allowed - spec_replicas(all);
  // Growing: the largest first, newer first on ties; shrinking: the largest first, older first.
  std::sort(all.begin(), all.end(), [&](const api::ReplicaSet* a, const api::ReplicaSet* b) {
    if (replicas_of(*a) != replicas_of(*b)) return replicas_of(*a) > replicas_of(*b);
    return to_add > 0 ? older(b, a) : older(a, b);
  });
  std::vector<std::pair<const api::ReplicaSet*, int>> sizes;
  int added = 0;
  for (const auto* rs : all) {
    int proportion = 0;
    if (to_add != 0 && replicas_of(*rs) != 0 && to_add != added) {
      // getReplicaSetFraction: this set's share of the new size, by its max-replicas annotation.
      int fraction;
      if (replicas_of(d) == 0) {
        fraction = -replicas_of(*rs);
      } else {
        const int deployment_replicas = replicas_of(d) + max_surge(d);
        int annotated = 0;
        auto it = rs->metadata.annotations.find(kMaxReplicasAnnotation);
        annotated = it != rs->metadata.annotations.end() ? std::atoi(it->second.c_str()) : d.status.replicas;
        if (annotated == 0) annotated = d.status.replicas;
        const double size = annotated == 0 ? replicas_of(*rs) : static_cast<double>(replicas_of(*rs)) * deployment_replicas / annotated;
        fraction = static_cast<int>(std::lround(size)) - replicas_of(*rs);
      }
      const int left = to_add - added;
      proportion = to_add > 0 ? std::min(fraction, left) : std::max(fraction, left);
    }
    sizes.emplace_back(rs, replicas_of(*rs) + proportion);
    added += proportion;
  }
  if (to_add != added && !sizes.empty()) sizes[0].second = std::max(0, sizes[0].second + to_add - added);
  return sizes;
}

api::PodTemplateSpec without_hash(api::PodTemplateSpec t) {
  t.metadata.labels.erase(kPodTemplateHashLabel);
  return t;
}

std::string pod_template_hash(const api::PodTemplateSpec& t, std::optional<std::int32_t> collision_count) {
  api::Pod carrier;  // the template's metadata and spec, encoded canonically
  carrier.metadata = t.metadata;
  carrier.spec = t.spec;
  std::string bytes = api::encode_object(api::Object{carrier}).dump();
  if (collision_count) bytes += "/" + std::to_string(*collision_count);
  std::uint32_t h = 2166136261u;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 16777619u;
  }
  // rand.SafeEncodeString(fmt.Sprint(hash)): every digit through an alphabet without vowels.
  static constexpr char kAlphanums[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  for (char c : std::to_string(h)) out += kAlphanums[static_cast<unsigned char>(c) % (sizeof kAlphanums - 1)];
  return out;
}

std::int64_t revision_of(const api::ObjectMeta& m) {
  auto it = m.annotations.find(kRevisionAnnotation);
  return it == m.annotations.end() ? 0 : std::strtoll(it->second.c_str(), nullptr, 10);
}

std::int64_t max_revision(const std::vector<const api::ReplicaSet*>& rss) {
  std::int64_t most = 0;
  for (const auto* rs : rss)
    if (rs) most = std::max(most, revision_of(rs->metadata));
  return most;
}

bool copied_annotation(const std::string& key) {
  return key != "kubectl.kubernetes.io/last-applied-configuration" && key != kRevisionAnnotation && key != kRevisionHistoryAnnotation &&
         key != kDesiredReplicasAnnotation && key != kMaxReplicasAnnotation && key != "deprecated.deployment.rollback.to";
}

const api::WorkloadCondition* find_condition(const std::vector<api::WorkloadCondition>& cs, const std::string& type) {
  for (const auto& c : cs)
    if (c.type == type) return &c;
  return nullptr;
}

void set_condition(std::vector<api::WorkloadCondition>& cs, api::WorkloadCondition c) {
  for (auto& existing : cs)
    if (existing.type == c.type) {
      if (existing.status == c.status && existing.reason == c.reason) return;  // nothing new to say
      if (existing.status == c.status) c.last_transition_time = existing.last_transition_time;
      existing = std::move(c);
      return;
    }
  cs.push_back(std::move(c));
}

void remove_condition(std::vector<api::WorkloadCondition>& cs, const std::string& type) {
  std::erase_if(cs, [&](const auto& c) { return c.type == type; });
}

api::WorkloadCondition make_condition(std::string type, std::string status, std::string reason, std::string message, WallTime now) {
  const std::string t = format_rfc3339(now);
  return {std::move(type), std::move(status), t, t, std::move(reason), std::move(message)};
}

bool has_progress_deadline(const api::Deployment& d) {
  return d.progress_deadline_seconds && *d.progress_deadline_seconds != std::numeric_limits<std::int32_t>::max();
}

bool complete(const api::Deployment& d, const api::DeploymentStatus& s) {
  const int want = replicas_of(d);
  return s.updated_replicas == want && s.replicas == want && s.available_replicas == want && s.observed_generation >= d.metadata.generation;
}

bool progressing(const api::Deployment& d, const api::DeploymentStatus& s) {
  const auto& old = d.status;
  return s.updated_replicas > old.updated_replicas || (s.replicas - s.updated_replicas) < (old.replicas - old.updated_replicas) ||
         s.ready_replicas > old.ready_replicas || s.available_replicas > old.available_replicas;
}

bool timed_out(const api::Deployment& d, const api::DeploymentStatus& s, WallTime now) {
  if (!has_progress_deadline(d)) return false;
  const auto* c = find_condition(s.conditions, "Progressing");
  if (!c || c->reason == "NewReplicaSetAvailable") return false;
  if (c->reason == "ProgressDeadlineExceeded") return true;
  const auto from = parse_rfc3339(c->last_update_time);
  return from && *from + std::chrono::seconds(*d.progress_deadline_seconds) < now;
}

api::DeploymentStatus calculate_status(const api::Deployment& d, const std::vector<const api::ReplicaSet*>& all,
                                       const api::ReplicaSet* new_rs, WallTime now) {
  api::DeploymentStatus s;
  const int available = available_replicas(all);
  s.observed_generation = d.metadata.generation;
  s.replicas = actual_replicas(all);
  s.updated_replicas = actual_replicas({new_rs});
  for (const auto* rs : all)
    if (rs) s.ready_replicas += rs->status.ready_replicas;
  s.available_replicas = available;
  s.unavailable_replicas = std::max(0, spec_replicas(all) - available);
  s.collision_count = d.status.collision_count;
  s.conditions = d.status.conditions;
  if (available >= replicas_of(d) - max_unavailable(d))
    set_condition(s.conditions,
                  make_condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now));
  else
    set_condition(s.conditions, make_condition("Available", "False", "MinimumReplicasUnavailable",
                                               "Deployment does not have minimum availability.", now));
  return s;
}

}  // namespace switchyard::controllers::deployment
