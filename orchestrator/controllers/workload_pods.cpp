#include "orchestrator/controllers/workload_pods.h"

#include <ctime>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace switchyard::controllers {

std::optional<WallTime> parse_rfc3339(const std::string& s) {
  if (s.empty()) return std::nullopt;
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  auto t = std::chrono::system_clock::from_time_t(timegm(&tm));
  if (*end == '.') {
    double frac = std::strtod(end, nullptr);
    t += std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(frac));
  }
  return t;
}

std::string format_rfc3339(WallTime t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool is_pod_active(const api::Pod& p) {
  return p.status.phase != "Succeeded" && p.status.phase != "Failed" && !p.metadata.deletion_timestamp;
}

static const api::PodCondition* ready_condition(const api::Pod& p) {
  for (const auto& c : p.status.conditions)
    if (c.type == "Ready") return &c;
  return nullptr;
}

bool is_pod_ready(const api::Pod& p) {
  const auto* c = ready_condition(p);
  return c && c->status == "True";
}

bool is_pod_available(const api::Pod& p, std::int32_t min_ready_seconds, WallTime now) {
  if (!is_pod_ready(p)) return false;
  if (min_ready_seconds == 0) return true;
  const auto since = parse_rfc3339(ready_condition(p)->last_transition_time);
  return since && *since + std::chrono::seconds(min_ready_seconds) <= now;
}

const api::OwnerReference* controller_ref(const api::ObjectMeta& m) {
  for (const auto& r : m.owner_references)
    if (r.controller.value_or(false)) return &r;
  return nullptr;
}

api::OwnerReference make_controller_ref(const std::string& api_version, const std::string& kind, const api::ObjectMeta& owner) {
  return {api_version, kind, owner.name, owner.uid, true, true};
}

api::LabelSelector selector_of(const std::optional<api::LabelSelectorSpec>& s) {
  if (!s) return api::LabelSelector::nothing();
  std::vector<api::LabelSelectorExpression> exprs;
  for (const auto& e : s->match_expressions) exprs.push_back({e.key, e.operator_, e.values});
  auto parsed = api::LabelSelector::from_api(s->match_labels, exprs, api::FieldPath("spec.selector"));
  if (!parsed || parsed->matches_everything()) return api::LabelSelector::nothing();
  return *parsed;
}

namespace {

int phase_rank(const std::string& phase) {
  if (phase == "Pending") return 0;
  if (phase == "Running") return 2;
  return 1;  // Unknown and anything else
}

std::int64_t deletion_cost(const api::Pod& p) {
  auto it = p.metadata.annotations.find("controller.kubernetes.io/pod-deletion-cost");
  if (it == p.metadata.annotations.end()) return 0;
  return std::strtoll(it->second.c_str(), nullptr, 10);
}

int restarts(const api::Pod& p) {
  auto it = p.status.passthrough.find("containerStatuses");
  if (it == p.status.passthrough.end()) return 0;
  int most = 0;
  auto statuses = nlohmann::json::parse(it->second, nullptr, false);
  if (!statuses.is_array()) return 0;
  for (const auto& s : statuses) most = std::max(most, s.value("restartCount", 0));  // upstream compares the max
  return most;
}

std::optional<WallTime> ready_since(const api::Pod& p) {
  const auto* c = ready_condition(p);
  if (!c || c->status != "True") return std::nullopt;
  return parse_rfc3339(c->last_transition_time);
}

// True when a should be deleted before b.
bool delete_first(const RankedPod& x, const RankedPod& y) {
  const api::Pod& a = *x.pod;
  const api::Pod& b = *y.pod;
  if (a.spec.node_name.empty() != b.spec.node_name.empty()) return a.spec.node_name.empty();
  if (phase_rank(a.status.phase) != phase_rank(b.status.phase)) return phase_rank(a.status.phase) < phase_rank(b.status.phase);
  if (is_pod_ready(a) != is_pod_ready(b)) return !is_pod_ready(a);
  if (deletion_cost(a) != deletion_cost(b)) return deletion_cost(a) < deletion_cost(b);
  if (x.rank != y.rank) return x.rank > y.rank;
  if (is_pod_ready(a) && is_pod_ready(b)) {
    const auto ta = ready_since(a), tb = ready_since(b);
    if (ta != tb) return !ta || (tb && *ta > *tb);  // ready for less time first
  }
  if (restarts(a) != restarts(b)) return restarts(a) > restarts(b);
  const auto ca = parse_rfc3339(a.metadata.creation_timestamp), cb = parse_rfc3339(b.metadata.creation_timestamp);
  if (ca != cb) return !ca || (cb && *ca > *cb);  // newer first
  return false;
}

}  // namespace

void sort_for_deletion(std::vector<RankedPod>& pods) { std::stable_sort(pods.begin(), pods.end(), delete_first); }

std::vector<const api::Pod*> pods_to_delete(const std::vector<const api::Pod*>& owned, const std::vector<const api::Pod*>& related,
                                            int diff) {
  if (diff >= static_cast<int>(owned.size())) return owned;
  std::map<std::string, int> per_node;
  for (const auto* p : related)
    if (!p->spec.node_name.empty() && is_pod_active(*p)) ++per_node[p->spec.node_name];
  std::vector<RankedPod> ranked;
  ranked.reserve(owned.size());
  for (const auto* p : owned) ranked.push_back({p, p->spec.node_name.empty() ? 0 : per_node[p->spec.node_name]});
  sort_for_deletion(ranked);
  std::vector<const api::Pod*> out;
  for (int i = 0; i < diff; ++i) out.push_back(ranked[static_cast<std::size_t>(i)].pod);
  return out;
}

int slow_start_batch(int count, int initial_batch, const std::function<bool()>& fn) {
  int remaining = count, successes = 0;
  for (int batch = std::min(remaining, initial_batch); batch > 0; batch = std::min(2 * batch, remaining)) {
    int ok = 0;
    for (int i = 0; i < batch; ++i)
      if (fn()) ++ok;
    successes += ok;
    if (ok < batch) break;
    remaining -= batch;
  }
  return successes;
}

}  // namespace switchyard::controllers
