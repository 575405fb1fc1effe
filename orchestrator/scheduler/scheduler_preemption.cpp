// The scheduler's PostFilter: DefaultPreemption run on the cache, then its API writes (victims
// deleted with their grace period, the preemptor's status.nominatedNodeName) in a binder.
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"
#include "orchestrator/scheduler/scheduler.h"

namespace switchyard::scheduler {

namespace {

using Json = nlohmann::json;

std::string pod_path(const api::Pod& p) { return fmt::format("/api/v1/namespaces/{}/pods/{}", p.metadata.namespace_, p.metadata.name); }

std::string now_rfc3339() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string nominated_node_of(const api::Pod& pod) {
  auto it = pod.status.passthrough.find("nominatedNodeName");
  if (it == pod.status.passthrough.end()) return "";
  const Json v = Json::parse(it->second, nullptr, false);
  return v.is_string() ? v.get<std::string>() : "";
}

}  // namespace

void Scheduler::nominate(const PodInfoPtr& pod, const std::string& node) {
  std::lock_guard lock(nominated_mu_);
  if (auto it = nominated_on_.find(pod->key); it != nominated_on_.end())
    std::erase_if(nominated_[it->second], [&](const PodInfoPtr& p) { return p->key == pod->key; });
  nominated_[node].push_back(pod);
  nominated_on_[pod->key] = node;
}

void Scheduler::unnominate(const std::string& key) {
  std::lock_guard lock(nominated_mu_);
  auto it = nominated_on_.find(key);
  if (it == nominated_on_.end()) return;
  auto& pods = nominated_[it->second];
  std::erase_if(pods, [&](const PodInfoPtr& p) { return p->key == key; });
  if (pods.empty()) nominated_.erase(it->second);
  nominated_on_.erase(it);
}

NominatedPods Scheduler::nominated_snapshot() const {
  std::lock_guard lock(nominated_mu_);
  return nominated_;
}

std::string Scheduler::post_filter(const PodInfoPtr& info, FitError& fit) {
  // PodEligibleToPreemptOthers: a pod whose nominated node still has a lower-priority pod
  // terminating waits for it rather than preempting again.
  const std::string nominated_node = nominated_node_of(*info->pod);
  std::vector<DisruptionBudgetInfo> pdbs;
  for (const auto& pdb : pdbs_.indexer().list()) pdbs.push_back(make_disruption_budget_info(*pdb));
  const NominatedPods nominated = nominated_snapshot();
  bool waiting_for_victims = false;
  PreemptionResult result;
  cache_.with_nodes([&](const std::vector<const NodeInfo*>& nodes) {
    if (!nominated_node.empty()) {
      auto status = fit.statuses.find(nominated_node);
      const bool unresolvable = status != fit.statuses.end() && status->second.code == FilterCode::UnschedulableAndUnresolvable;
      for (const NodeInfo* n : nodes)
        if (!unresolvable && n->name() == nominated_node)
          for (const auto& p : n->pods)
            waiting_for_victims |= p->pod->metadata.deletion_timestamp.has_value() && p->priority < info->priority;
    }
    if (!waiting_for_victims) result = preempt(*info, nodes, fit, pdbs, nominated, namespace_labels(*info));
    return 0;
  });
  if (waiting_for_victims) {
    fit.preemption_message = "preemption: not eligible due to a terminating pod on the nominated node.";
    return "";
  }
  if (result.node.empty()) {
    fit.preemption_message = result.message;
    return "";
  }
  fit.preemption_message.clear();
  ++stats_.preemptions;
  stats_.victims += result.victims.size();
  // Lower-priority pods nominated to that node lose their place (upstream's
  // getLowerPriorityNominatedPods).
  std::vector<PodInfoPtr> displaced;
  if (auto it = nominated.find(result.node); it != nominated.end())
    for (const auto& p : it->second)
      if (p->priority < info->priority && p->key != info->key) displaced.push_back(p);
  for (const auto& p : displaced) unnominate(p->key);
  nominate(info, result.node);
  spdlog::info("event=preemption pod={} node={} victims={}", info->key, result.node, result.victims.size());
  submit([this, info, node = result.node, victims = std::move(result.victims), displaced](client::ApiClient& api) {
    prepare_candidate(info, node, victims, displaced, api);
  });
  return result.node;
}

void Scheduler::prepare_candidate(const PodInfoPtr& info, const std::string& node, const std::vector<PodInfoPtr>& victims,
                                  const std::vector<PodInfoPtr>& displaced, client::ApiClient& api) {
  const api::Pod& preemptor = *info->pod;
  for (const auto& v : victims) {
    const api::Pod& victim = *v->pod;
    const Json condition = {{"status",
                             {{"conditions",
                               {{{"type", "DisruptionTarget"},
                                 {"status", "True"},
                                 {"reason", "PreemptionByScheduler"},
                                 {"message", fmt::format("{}: preempting to accommodate a higher priority pod", options_.scheduler_name)},
                                 {"lastProbeTime", nullptr},
                                 {"lastTransitionTime", now_rfc3339()}}}}}}};
    auto patched = api.send("PATCH", pod_path(victim) + "/status", condition.dump(), "application/strategic-merge-patch+json");
    if (!patched || (patched->status != 200 && patched->status != 404))
      spdlog::warn("event=victim_condition_failed pod={} error=\"{}\"", v->key,
                   patched ? patched->body.substr(0, 300) : patched.error().describe());
    // The victim's own grace period: its containers get to stop as on any delete.
    if (auto gone = client::delete_object(api, pod_path(victim)); !gone && gone.error().code != ErrorCode::NotFound) {
      spdlog::warn("event=victim_delete_failed pod={} error=\"{}\"", v->key, gone.error().describe());
      continue;
    }
    record_event(victim, "Normal", "Preempted", fmt::format("Preempted by pod {} on node {}", preemptor.metadata.uid, node), api);
  }
  for (const auto& p : displaced) {
    auto r = api.send("PATCH", pod_path(*p->pod) + "/status", Json{{"status", {{"nominatedNodeName", nullptr}}}}.dump(),
                      "application/merge-patch+json");
    if (!r || (r->status != 200 && r->status != 404)) spdlog::warn("event=unnominate_failed pod={}", p->key);
  }
  auto r = api.send("PATCH", pod_path(preemptor) + "/status", Json{{"status", {{"nominatedNodeName", node}}}}.dump(),
                    "application/merge-patch+json");
  if (!r || (r->status != 200 && r->status != 404))
    spdlog::warn("event=nominate_failed pod={} error=\"{}\"", info->key, r ? r->body.substr(0, 300) : r.error().describe());
}

}  // namespace switchyard::scheduler
