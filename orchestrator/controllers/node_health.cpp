#include "orchestrator/controllers/node_health.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace switchyard::controllers {

void NodeHealthTracker::observe(const std::string& node, const std::string& lease_renew_time, const std::string& ready_heartbeat,
                                TimePoint now) {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) {
    nodes_.emplace(node, Health{now, lease_renew_time, ready_heartbeat});
    return;
  }
  Health& h = it->second;
  if (h.lease_renew_time != lease_renew_time || h.ready_heartbeat != ready_heartbeat) {
    h.probe = now;
    h.lease_renew_time = lease_renew_time;
    h.ready_heartbeat = ready_heartbeat;
  }
}

bool NodeHealthTracker::stale(const std::string& node, TimePoint now, std::chrono::milliseconds grace) const {
  auto it = nodes_.find(node);
  return it != nodes_.end() && now - it->second.probe > grace;
}

void NodeHealthTracker::forget(const std::string& node) { nodes_.erase(node); }

std::string ready_status(const api::Node& node) {
  for (const auto& c : node.conditions)
    if (c.type == "Ready") return c.status;
  return "";
}

std::vector<api::Taint> lifecycle_taints(const api::Node& node, const std::string& now) {
  const std::string ready = ready_status(node);
  std::vector<std::pair<std::string, std::string>> wanted;  // key, effect
  if (ready == "False") wanted = {{kTaintNotReady, "NoSchedule"}, {kTaintNotReady, "NoExecute"}};
  if (ready == "Unknown") wanted = {{kTaintUnreachable, "NoSchedule"}, {kTaintUnreachable, "NoExecute"}};
  if (node.unschedulable) wanted.emplace_back(kTaintUnschedulable, "NoSchedule");
  auto owned = [](const api::Taint& t) {
    return t.key == kTaintNotReady || t.key == kTaintUnreachable || (t.key == kTaintUnschedulable && t.effect == "NoSchedule");
  };
  std::vector<api::Taint> out;
  for (const auto& t : node.taints) {
    if (!owned(t)) {
      out.push_back(t);
      continue;
    }
    // Kept as it is (with its timeAdded) while still wanted.
    auto w = std::find(wanted.begin(), wanted.end(), std::make_pair(t.key, t.effect));
    if (w != wanted.end()) {
      out.push_back(t);
      wanted.erase(w);
    }
  }
  for (const auto& [key, effect] : wanted) out.push_back({key, "", effect, effect == "NoExecute" ? now : ""});
  return out;
}

bool NoExecuteToleration::tolerates(const api::Taint& taint) const {
  if (!effect.empty() && effect != taint.effect) return false;
  if (!key.empty() && key != taint.key) return false;
  if (op == "Exists") return true;
  return (op.empty() || op == "Equal") && value == taint.value;
}

std::vector<NoExecuteToleration> tolerations_of(const api::Pod& pod) {
  std::vector<NoExecuteToleration> out;
  auto it = pod.spec.passthrough.find("tolerations");
  if (it == pod.spec.passthrough.end()) return out;
  const auto list = nlohmann::json::parse(it->second, nullptr, false);
  if (!list.is_array()) return out;
  for (const auto& t : list) {
    if (!t.is_object()) continue;
    NoExecuteToleration x{t.value("key", ""), t.value("operator", ""), t.value("value", ""), t.value("effect", ""), std::nullopt};
    if (t.contains("tolerationSeconds") && t["tolerationSeconds"].is_number_integer())
      x.seconds = t["tolerationSeconds"].get<std::int64_t>();
    out.push_back(std::move(x));
  }
  return out;
}

std::optional<std::chrono::seconds> eviction_delay(const std::vector<NoExecuteToleration>& tolerations,
                                                   const std::vector<api::Taint>& taints) {
  std::vector<const NoExecuteToleration*> used;
  bool any = false;
  for (const auto& taint : taints) {
    if (taint.effect != "NoExecute") continue;
    any = true;
    auto t = std::find_if(tolerations.begin(), tolerations.end(), [&](const NoExecuteToleration& x) { return x.tolerates(taint); });
    if (t == tolerations.end()) return std::chrono::seconds(0);
    used.push_back(&*t);
  }
  if (!any) return std::nullopt;
  // getMinTolerationTime: the shortest tolerationSeconds among those used; none set: forever.
  std::optional<std::int64_t> min;
  for (const auto* t : used)
    if (t->seconds) min = std::min(min.value_or(*t->seconds), *t->seconds);
  if (!min) return std::nullopt;
  return std::chrono::seconds(std::max<std::int64_t>(0, *min));
}

void TaintEvictionQueue::update(const std::string& pod, std::optional<std::chrono::seconds> delay, TimePoint now) {
  if (!delay) {
    entries_.erase(pod);
    return;
  }
  auto [it, added] = entries_.try_emplace(pod, Entry{now, now});
  it->second.due = it->second.first_seen + *delay;
}

void TaintEvictionQueue::cancel(const std::string& pod) { entries_.erase(pod); }

void TaintEvictionQueue::retain_only(const std::set<std::string>& pods) {
  std::erase_if(entries_, [&](const auto& e) { return !pods.contains(e.first); });
}

std::vector<std::string> TaintEvictionQueue::take_due(TimePoint now) {
  std::vector<std::string> out;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.due <= now) {
      out.push_back(it->first);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::optional<TaintEvictionQueue::TimePoint> TaintEvictionQueue::due_at(const std::string& pod) const {
  auto it = entries_.find(pod);
  if (it == entries_.end()) return std::nullopt;
  return it->second.due;
}

}  // namespace switchyard::controllers
