// The Deployment controller: event handlers, workers, claiming ReplicaSets, and the sync of one
// Deployment key (the strategies are in deployment_rollout.cpp).
#include "orchestrator/controllers/deployment_controller.h"

#include <pthread.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"
#include "orchestrator/controllers/deployment_rollout.h"

namespace switchyard::controllers {

using client::ObjectPtr;
using namespace deployment;

struct DeploymentController::Handlers {
  DeploymentController& c;
  std::uint64_t deployments = 0, replicasets = 0, pods = 0;
  ~Handlers() {
    c.deployments_.remove_event_handler(deployments);
    c.replicasets_.remove_event_handler(replicasets);
    c.pods_.remove_event_handler(pods);
  }
};

DeploymentController::DeploymentController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                                           DeploymentControllerOptions options, const client::Clock& clock)
    : informers_(informers),
      connection_(std::move(connection)),
      options_(std::move(options)),
      deployments_(informers.informer<api::Deployment>()),
      replicasets_(informers.informer<api::ReplicaSet>()),
      pods_(informers.informer<api::Pod>()),
      queue_(client::default_controller_rate_limiter(), clock) {
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  auto enqueue = [this](const ObjectPtr<api::Deployment>& d) { queue_.add(client::object_key(d->metadata)); };
  handlers_->deployments = deployments_.add_event_handler({enqueue,
                                                           [enqueue](const auto&, const ObjectPtr<api::Deployment>& d) { enqueue(d); },
                                                           [enqueue](const ObjectPtr<api::Deployment>& d, bool) { enqueue(d); },
                                                           {}});
  handlers_->replicasets = replicasets_.add_event_handler(
      {[this](const ObjectPtr<api::ReplicaSet>& rs) { enqueue_for_replicaset(*rs); },
       [this](const ObjectPtr<api::ReplicaSet>& a, const ObjectPtr<api::ReplicaSet>& b) {
         if (a->metadata.resource_version == b->metadata.resource_version) return;
         if (a->metadata.labels != b->metadata.labels || a->metadata.owner_references != b->metadata.owner_references)
           enqueue_for_replicaset(*a);
         enqueue_for_replicaset(*b);
       },
       [this](const ObjectPtr<api::ReplicaSet>& rs, bool) { enqueue_for_replicaset(*rs); },
       {}});
  // Recreate waits for the old pods to go: their deletions move it on.
  handlers_->pods = pods_.add_event_handler({{},
                                             {},
                                             [this](const ObjectPtr<api::Pod>& p, bool) {
                                               const auto* ref = controller_ref(p->metadata);
                                               if (!ref || ref->kind != "ReplicaSet") return;
                                               if (auto rs = replicasets_.indexer().get(p->metadata.namespace_ + "/" + ref->name))
                                                 enqueue_for_replicaset(*rs);
                                             },
                                             {}});
}

DeploymentController::~DeploymentController() {
  stop();
  handlers_.reset();
}

void DeploymentController::enqueue_for_replicaset(const api::ReplicaSet& rs) {
  if (const auto* ref = controller_ref(rs.metadata)) {
    if (ref->kind == "Deployment") queue_.add(rs.metadata.namespace_ + "/" + ref->name);
    return;
  }
  for (const auto& d : deployments_.indexer().in_namespace(rs.metadata.namespace_))
    if (selector_of(d->selector).matches(rs.metadata.labels)) queue_.add(client::object_key(d->metadata));
}

void DeploymentController::start() {
  if (!workers_.empty()) return;
  stopping_ = false;
  informers_.start();
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { worker(); });
}

void DeploymentController::stop() {
  stopping_ = true;
  queue_.shut_down();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void DeploymentController::worker() {
  pthread_setname_np(pthread_self(), "deploy-ctrl");
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
      spdlog::info("event=deployment_sync_requeued deployment={} error=\"{}\"", *key, synced.error().describe());
    }
    queue_.done(*key);
  }
}

Result<void> DeploymentController::sync(const std::string& key) {
  client::ApiClient api(connection_);
  return sync(key, api);
}

std::vector<api::ReplicaSet> DeploymentController::claim_replicasets(const api::Deployment& d, client::ApiClient& api) {
  const auto selector = selector_of(d.selector);
  std::vector<api::ReplicaSet> owned;
  for (const auto& rs : replicasets_.indexer().in_namespace(d.metadata.namespace_)) {
    const auto* ref = controller_ref(rs->metadata);
    const bool matches = selector.matches(rs->metadata.labels);
    const std::string path = client::object_path<api::ReplicaSet>(rs->metadata.namespace_, rs->metadata.name);
    if (ref && ref->uid == d.metadata.uid) {
      if (matches || d.metadata.deletion_timestamp) {
        owned.push_back(*rs);
        continue;
      }
      api::ObjectMeta m;
      for (const auto& r : rs->metadata.owner_references)
        if (r.uid != d.metadata.uid) m.owner_references.push_back(r);
      const auto refs = m.owner_references.empty() ? nlohmann::json::array() : api::encode_meta(m)["ownerReferences"];
      if (auto r = client::merge_patch_object(api, path, {{"metadata", {{"ownerReferences", refs}}}}); !r)
        spdlog::info("event=replicaset_release_failed deployment={}/{} replicaset={} error=\"{}\"", d.metadata.namespace_, d.metadata.name,
                     rs->metadata.name, r.error().describe());
      continue;
    }
    if (ref || !matches || d.metadata.deletion_timestamp) continue;
    api::ObjectMeta m;
    m.owner_references = rs->metadata.owner_references;
    m.owner_references.push_back(make_controller_ref("apps/v1", "Deployment", d.metadata));
    auto adopted = client::merge_patch_object(api, path, {{"metadata", {{"ownerReferences", api::encode_meta(m)["ownerReferences"]}}}});
    if (!adopted) continue;
    auto decoded = api::decode_object_as(*adopted, "apps/v1", "ReplicaSet");
    if (decoded) owned.push_back(std::get<api::ReplicaSet>(std::move(decoded->object)));
  }
  return owned;
}

Result<void> DeploymentController::sync(const std::string& key, client::ApiClient& api) {
  ++stats_.syncs;
  const auto cached = deployments_.indexer().get(key);
  if (!cached) return {};
  deployment::Rollout r{*cached, {}, std::nullopt, {}, api, options_.now(), stats_, queue_, key};
  r.pods_running = [this, ns = cached->metadata.namespace_](const std::set<std::string>& uids) {
    for (const auto& p : pods_.indexer().in_namespace(ns))
      if (const auto* ref = controller_ref(p->metadata);
          ref && uids.contains(ref->uid) && p->status.phase != "Succeeded" && p->status.phase != "Failed")
        return true;
    return false;
  };
  api::Deployment& d = r.d;
  if (selector_of(d.selector).matches_nothing()) {
    // An empty selector would match every pod: do nothing but say we saw this generation.
    if (d.status.observed_generation >= d.metadata.generation) return {};
    d.status.observed_generation = d.metadata.generation;
    auto u = client::update_status(api, d);
    return u ? Result<void>{} : fail(u.error());
  }
  r.owned = claim_replicasets(d, api);
  if (d.metadata.deletion_timestamp) {
    if (auto res = resolve(r, false); !res) return res;
    return sync_status(r, false);
  }
  if (auto paused = check_paused_conditions(r); !paused) return paused;
  if (d.paused) return scale_only(r);
  if (auto res = resolve(r, false); !res) return res;
  if (is_scaling_event(r)) return scale_only(r);
  return d.strategy.type == "Recreate" ? recreate(r) : rolling_update(r);
}

}  // namespace switchyard::controllers
