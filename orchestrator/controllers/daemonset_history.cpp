// The DaemonSet controller's ControllerRevisions (pkg/controller/daemon/update.go:
// constructHistory, snapshot, cleanupHistory): what `kubectl rollout history|undo daemonset`
// reads and applies.
#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"
#include "orchestrator/controllers/daemonset_controller.h"
#include "orchestrator/controllers/deployment_math.h"

namespace switchyard::controllers {

using client::ObjectPtr;

namespace {

bool same_data(const std::string& a, const std::string& b) {
  return nlohmann::json::parse(a, nullptr, false) == nlohmann::json::parse(b, nullptr, false);
}

std::string hash_of(const api::ControllerRevision& r) {
  auto it = r.metadata.labels.find(kControllerRevisionHashLabel);
  return it == r.metadata.labels.end() ? "" : it->second;
}

}  // namespace

Result<std::string> DaemonSetController::construct_history(const api::DaemonSet& ds, std::vector<ObjectPtr<api::ControllerRevision>>& old,
                                                           client::ApiClient& api) {
  const std::string hash = deployment::pod_template_hash(ds.template_, ds.status.collision_count);
  const std::string data = daemonset_revision_data(ds);
  ObjectPtr<api::ControllerRevision> current;
  std::int64_t max_revision = 0;
  for (const auto& r : revisions_.indexer().in_namespace(ds.metadata.namespace_)) {
    const auto* ref = controller_ref(r->metadata);
    if (!ref || ref->uid != ds.metadata.uid) continue;
    max_revision = std::max(max_revision, r->revision);
    if (!current && hash_of(*r) == hash && same_data(r->data_json, data))
      current = r;
    else
      old.push_back(r);
  }
  if (current) {
    // Back to an older template (a rollback): that revision becomes the newest.
    if (current->revision < max_revision) {
      api::ControllerRevision renumbered = *current;
      renumbered.revision = max_revision + 1;
      if (auto u = client::update(api, renumbered); !u) return fail(u.error());
    }
    return hash;
  }
  api::ControllerRevision rev;
  rev.metadata.name = controller_revision_name(ds.metadata.name, hash);
  rev.metadata.namespace_ = ds.metadata.namespace_;
  rev.metadata.labels = ds.template_.metadata.labels;
  rev.metadata.labels[kControllerRevisionHashLabel] = hash;
  rev.metadata.annotations = ds.metadata.annotations;
  rev.metadata.owner_references = {make_controller_ref("apps/v1", "DaemonSet", ds.metadata)};
  rev.data_json = data;
  rev.revision = max_revision + 1;
  auto made = client::create(api, rev);
  if (made) {
    ++stats_.revisions_created;
    return hash;
  }
  if (made.error().code != ErrorCode::AlreadyExists) return fail(made.error());
  // The cache may lag behind our own earlier create; a name taken by anything else is a hash
  // collision, resolved as upstream by bumping status.collisionCount (a new hash next sync).
  auto existing = api.get(client::object_path<api::ControllerRevision>(rev.metadata.namespace_, rev.metadata.name));
  if (existing && existing->status == 200) {
    auto d = api::decode_object_as(nlohmann::json::parse(existing->body, nullptr, false), "apps/v1", "ControllerRevision");
    if (d) {
      const auto& found = std::get<api::ControllerRevision>(d->object);
      const auto* ref = controller_ref(found.metadata);
      if (ref && ref->uid == ds.metadata.uid && same_data(found.data_json, data)) return hash;
    }
  }
  api::DaemonSet bumped = ds;
  bumped.status.collision_count = ds.status.collision_count.value_or(0) + 1;
  if (auto u = client::update_status(api, bumped); !u) return fail(u.error());
  return fail(ErrorCode::Conflict, fmt::format("hash collision on ControllerRevision {}: collisionCount is now {}", rev.metadata.name,
                                               *bumped.status.collision_count));
}

void DaemonSetController::cleanup_history(const api::DaemonSet& ds, const std::vector<ObjectPtr<api::ControllerRevision>>& old,
                                          const PodsByNode& pods, client::ApiClient& api) {
  const std::size_t limit = static_cast<std::size_t>(std::max(0, ds.revision_history_limit.value_or(10)));
  if (old.size() <= limit) return;
  std::set<std::string> live;  // hashes some pod still runs
  for (const auto& [node, list] : pods)
    for (const auto& p : list)
      if (auto it = p->metadata.labels.find(kControllerRevisionHashLabel); it != p->metadata.labels.end()) live.insert(it->second);
  std::vector<ObjectPtr<api::ControllerRevision>> removable;
  for (const auto& r : old)
    if (!live.contains(hash_of(*r))) removable.push_back(r);
  std::sort(removable.begin(), removable.end(), [](const auto& a, const auto& b) { return a->revision < b->revision; });
  std::size_t excess = old.size() - limit;
  for (const auto& r : removable) {
    if (excess == 0) break;
    if (auto gone = client::remove<api::ControllerRevision>(api, r->metadata.namespace_, r->metadata.name);
        !gone && gone.error().code != ErrorCode::NotFound)
      spdlog::info("event=controllerrevision_delete_failed daemonset={}/{} revision={} error=\"{}\"", ds.metadata.namespace_,
                   ds.metadata.name, r->metadata.name, gone.error().describe());
    --excess;
  }
}

}  // namespace switchyard::controllers
