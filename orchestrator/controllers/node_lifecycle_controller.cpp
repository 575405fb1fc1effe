#include "orchestrator/controllers/node_lifecycle_controller.h"

#include <ctime>
#include <set>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"
#include "orchestrator/controllers/event_recorder.h"

namespace switchyard::controllers {

namespace {

using Json = nlohmann::json;

std::string now_rfc3339() { return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::time(nullptr))); }

std::string pod_path(const api::Pod& p) { return fmt::format("/api/v1/namespaces/{}/pods/{}", p.metadata.namespace_, p.metadata.name); }

bool terminal(const api::Pod& p) { return p.status.phase == "Succeeded" || p.status.phase == "Failed"; }

// kube-controller-manager's node lifecycle controller records as "node-controller".
const EventSource kNodeController{"node-controller"};

// RecordNodeStatusChange: "Node X status is now: NodeNotReady".
void record_node_status_change(client::ApiClient& api, const api::Node& node, const std::string& status) {
  record_event(api, kNodeController, "v1", "Node", node.metadata, "Normal", status,
               fmt::format("Node {} status is now: {}", node.metadata.name, status));
}

}  // namespace

NodeLifecycleController::NodeLifecycleController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                                                 NodeLifecycleOptions options)
    : informers_(informers),
      connection_(std::move(connection)),
      options_(options),
      nodes_(informers.informer<api::Node>()),
      leases_(informers.informer<api::Lease>()),
      pods_(informers.informer<api::Pod>()) {}

NodeLifecycleController::~NodeLifecycleController() { stop(); }

void NodeLifecycleController::start() {
  if (loop_.joinable()) return;
  stopping_ = false;
  informers_.start();
  loop_ = std::thread([this] {
    while (!stopping_ && !informers_.wait_for_cache_sync(std::chrono::seconds(1), &stopping_)) {
    }
    client::ApiClient api(connection_);
    while (!stopping_) {
      monitor_once(api);
      for (auto waited = std::chrono::milliseconds(0); waited < options_.monitor_period && !stopping_;
           waited += std::chrono::milliseconds(50))
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
}

void NodeLifecycleController::stop() {
  stopping_ = true;
  if (loop_.joinable()) loop_.join();
}

api::Node NodeLifecycleController::mark_unknown(const api::Node& node, client::ApiClient& api) {
  api::Node n = node;
  const std::string now = now_rfc3339();
  bool has_ready = false;
  for (auto& c : n.conditions) {
    if (c.type != "Ready" && c.type != "MemoryPressure" && c.type != "DiskPressure" && c.type != "PIDPressure") continue;
    has_ready |= c.type == "Ready";
    if (c.status == "Unknown") continue;
    c.status = "Unknown";
    c.reason = "NodeStatusUnknown";
    c.message = "Kubelet stopped posting node status.";
    c.last_transition_time = now;
  }
  if (!has_ready) n.conditions.push_back({"Ready", "Unknown", "", now, "NodeStatusNeverUpdated", "Kubelet never posted node status."});
  auto written = client::update_status(api, n);
  if (!written) {
    ++stats_.write_failures;
    spdlog::warn("event=node_status_unknown_failed node={} error=\"{}\"", n.metadata.name, written.error().describe());
    return node;
  }
  ++stats_.nodes_marked_unknown;
  spdlog::info("event=node_not_ready node={} ready=Unknown reason=\"kubelet stopped posting node status\"", n.metadata.name);
  // Once, when it stops being Ready (a node that never was gets no Event, as upstream).
  if (ready_status(node) == "True") record_node_status_change(api, *written, "NodeNotReady");
  return std::move(*written);
}

void NodeLifecycleController::mark_pods_not_ready(const std::string& node, client::ApiClient& api) {
  for (const auto& pod : pods_.indexer().list()) {
    if (pod->spec.node_name != node || terminal(*pod)) continue;
    api::Pod p = *pod;
    bool changed = false;
    for (auto& c : p.status.conditions)
      if (c.type == "Ready" && c.status != "False") {
        c.status = "False";
        c.last_transition_time = now_rfc3339();
        changed = true;
      }
    if (!changed) continue;
    if (auto ok = client::update_status(api, p); ok) {
      ++stats_.pods_marked_not_ready;
      // After the write, so the pod still exists, as MarkPodsNotReady does.
      record_event(api, kNodeController, "v1", "Pod", ok->metadata, "Warning", "NodeNotReady", "Node is not ready");
    } else {
      ++stats_.write_failures;
      spdlog::warn("event=pod_not_ready_failed pod={} error=\"{}\"", client::object_key(p.metadata), ok.error().describe());
    }
  }
}

void NodeLifecycleController::evict(const std::string& key, client::ApiClient& api) {
  auto pod = pods_.indexer().get(key);
  if (!pod || pod->metadata.deletion_timestamp) return;
  const Json condition = {{"status",
                           {{"conditions",
                             {{{"type", "DisruptionTarget"},
                               {"status", "True"},
                               {"reason", "DeletionByTaintManager"},
                               {"message", "Taint manager: deleting due to NoExecute taint"},
                               {"lastProbeTime", nullptr},
                               {"lastTransitionTime", now_rfc3339()}}}}}}};
  if (auto r = api.send("PATCH", pod_path(*pod) + "/status", condition.dump(), "application/strategic-merge-patch+json");
      !r || r->status >= 300)
    spdlog::warn("event=disruption_condition_failed pod={}", key);
  if (auto gone = client::delete_object(api, pod_path(*pod)); !gone && gone.error().code != ErrorCode::NotFound) {
    ++stats_.write_failures;
    spdlog::warn("event=taint_eviction_failed pod={} error=\"{}\"", key, gone.error().describe());
    return;
  }
  ++stats_.evictions;
  spdlog::info("event=taint_eviction pod={} node={}", key, pod->spec.node_name);
  const std::string now = now_rfc3339();
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const Json event = {{"apiVersion", "v1"},
                      {"kind", "Event"},
                      {"metadata", {{"name", fmt::format("{}.{:x}", pod->metadata.name, nanos)}, {"namespace", pod->metadata.namespace_}}},
                      {"involvedObject",
                       {{"apiVersion", "v1"},
                        {"kind", "Pod"},
                        {"namespace", pod->metadata.namespace_},
                        {"name", pod->metadata.name},
                        {"uid", pod->metadata.uid}}},
                      {"reason", "TaintManagerEviction"},
                      {"message", fmt::format("Marking for deletion Pod {}", key)},
                      {"type", "Normal"},
                      {"count", 1},
                      {"firstTimestamp", now},
                      {"lastTimestamp", now},
                      {"source", {{"component", "taint-eviction-controller"}}}};
  if (auto e = client::create_object(api, fmt::format("/api/v1/namespaces/{}/events", pod->metadata.namespace_), event); !e)
    spdlog::debug("event=event_write_failed pod={} error=\"{}\"", key, e.error().describe());
}

void NodeLifecycleController::monitor_once(client::ApiClient& api) {
  std::lock_guard lock(mu_);
  const auto now = options_.clock->now();
  const std::string now_text = now_rfc3339();
  std::set<std::string> seen_pods, seen_nodes;
  const auto pods = pods_.indexer().list();
  for (const auto& node_ptr : nodes_.indexer().list()) {
    const std::string name = node_ptr->metadata.name;
    seen_nodes.insert(name);
    if (known_nodes_.insert(name).second) {
      spdlog::info("event=node_registered_in_controller node={}", name);
      record_event(api, kNodeController, "v1", "Node", node_ptr->metadata, "Normal", "RegisteredNode",
                   fmt::format("Registered Node {} in Controller", name));
    }
    std::string renew, heartbeat;
    if (auto lease = leases_.indexer().get("kube-node-lease/" + name); lease && lease->renew_time) renew = *lease->renew_time;
    for (const auto& c : node_ptr->conditions)
      if (c.type == "Ready") heartbeat = c.last_heartbeat_time;
    health_.observe(name, renew, heartbeat, now);
    api::Node node = *node_ptr;
    if (health_.stale(name, now, options_.grace_period) && ready_status(node) != "Unknown") {
      node = mark_unknown(node, api);
      if (ready_status(node) == "Unknown") mark_pods_not_ready(name, api);
    }
    if (auto taints = lifecycle_taints(node, now_text); taints != node.taints) {
      api::Node tainted = node;
      tainted.taints = std::move(taints);
      if (auto written = client::update(api, tainted); written) {
        ++stats_.taint_updates;
        spdlog::info("event=node_taints node={} ready={} unschedulable={} taints={}", name, ready_status(tainted), tainted.unschedulable,
                     tainted.taints.size());
        node = std::move(*written);
      } else {
        ++stats_.write_failures;  // a conflict with the kubelet: the next pass retries on a fresher cache
        spdlog::info("event=node_taints_failed node={} error=\"{}\"", name, written.error().describe());
      }
    }
    const bool no_execute =
        std::any_of(node.taints.begin(), node.taints.end(), [](const api::Taint& t) { return t.effect == "NoExecute"; });
    if (!no_execute) continue;
    for (const auto& pod : pods) {
      if (pod->spec.node_name != name || pod->metadata.deletion_timestamp || terminal(*pod)) continue;
      const std::string key = client::object_key(pod->metadata);
      seen_pods.insert(key);
      evictions_.update(key, eviction_delay(tolerations_of(*pod), node.taints), now);
    }
  }
  for (auto it = known_nodes_.begin(); it != known_nodes_.end();) {
    if (seen_nodes.contains(*it)) {
      ++it;
      continue;
    }
    api::ObjectMeta gone;
    gone.name = *it;
    gone.uid = *it;
    record_event(api, kNodeController, "v1", "Node", gone, "Normal", "RemovingNode", fmt::format("Removing Node {} from Controller", *it));
    it = known_nodes_.erase(it);
  }
  // Pods no longer on a NoExecute-tainted node (gone, moved, the taint removed) are not evicted.
  evictions_.retain_only(seen_pods);
  for (const auto& key : evictions_.take_due(now)) evict(key, api);
}

}  // namespace switchyard::controllers
