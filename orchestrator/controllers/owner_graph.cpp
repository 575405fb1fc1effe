#include "orchestrator/controllers/owner_graph.h"

#include <algorithm>

#include <fmt/format.h>

namespace switchyard::controllers {

using nlohmann::json;

namespace {
constexpr const char* kOrphan = "orphan";
constexpr const char* kForeground = "foregroundDeletion";
}  // namespace

bool ObjectMetadata::has_finalizer(const std::string& f) const {
  return std::find(finalizers.begin(), finalizers.end(), f) != finalizers.end();
}

ObjectMetadata ObjectMetadata::from_json(const json& object, const std::string& api_version, const std::string& kind) {
  ObjectMetadata m;
  m.api_version = object.value("apiVersion", api_version);
  m.kind = object.value("kind", kind);
  if (m.api_version.empty()) m.api_version = api_version;
  if (m.kind.empty()) m.kind = kind;
  const json meta = object.value("metadata", json::object());
  m.ns = meta.value("namespace", "");
  m.name = meta.value("name", "");
  m.uid = meta.value("uid", "");
  m.being_deleted = meta.contains("deletionTimestamp") && !meta["deletionTimestamp"].is_null();
  for (const auto& f : meta.value("finalizers", json::array()))
    if (f.is_string()) m.finalizers.push_back(f.get<std::string>());
  for (const auto& r : meta.value("ownerReferences", json::array())) {
    if (!r.is_object()) continue;
    OwnerLink l{r.value("apiVersion", ""), r.value("kind", ""), r.value("name", ""), r.value("uid", ""), false};
    if (r.contains("blockOwnerDeletion") && r["blockOwnerDeletion"].is_boolean())
      l.block_owner_deletion = r["blockOwnerDeletion"].get<bool>();
    if (!l.uid.empty()) m.owners.push_back(std::move(l));
  }
  return m;
}

std::string ObjectMetadata::describe() const { return fmt::format("{} {}{} ({})", kind, ns.empty() ? "" : ns + "/", name, uid); }

void OwnerGraph::add_dependent_locked(const std::string& dependent_uid, const ObjectMetadata& dependent, const OwnerLink& owner,
                                      GraphWork& work) {
  auto [it, fresh] = nodes_.try_emplace(owner.uid);
  if (fresh) {
    // Virtual until seen: the collector asks the server whether it exists (it may have been
    // deleted while nobody watched).
    it->second.object = ObjectMetadata{owner.api_version, owner.kind, dependent.ns, owner.name, owner.uid, {}, {}, false};
    work.to_delete.push_back(owner.uid);
  }
  it->second.dependents.insert(dependent_uid);
  // A dependent of an owner that is already gone, or deleting in the foreground, is looked at.
  if (it->second.deleting_dependents) work.to_delete.push_back(owner.uid);
}

void OwnerGraph::remove_dependent_locked(const std::string& dependent_uid, const std::string& owner_uid, GraphWork& work) {
  auto it = nodes_.find(owner_uid);
  if (it == nodes_.end()) return;
  it->second.dependents.erase(dependent_uid);
  if (it->second.deleting_dependents) work.to_delete.push_back(owner_uid);  // one blocker fewer
  if (!it->second.observed && it->second.dependents.empty()) nodes_.erase(it);
}

GraphWork OwnerGraph::upsert(const ObjectMetadata& m) {
  GraphWork work;
  std::lock_guard lock(mu_);
  auto [it, fresh] = nodes_.try_emplace(m.uid);
  Node& n = it->second;
  const std::vector<OwnerLink> before = fresh || !n.observed ? std::vector<OwnerLink>{} : n.object.owners;
  const bool was_virtual = !fresh && !n.observed;
  n.object = m;
  n.observed = true;
  for (const auto& o : m.owners) {
    auto same = std::find_if(before.begin(), before.end(), [&](const OwnerLink& b) { return b.uid == o.uid; });
    if (same == before.end() || was_virtual) {
      add_dependent_locked(m.uid, m, o, work);
    } else if (same->block_owner_deletion != o.block_owner_deletion) {
      if (auto owner = nodes_.find(o.uid); owner != nodes_.end() && owner->second.deleting_dependents) work.to_delete.push_back(o.uid);
    }
  }
  for (const auto& b : before)
    if (std::none_of(m.owners.begin(), m.owners.end(), [&](const OwnerLink& o) { return o.uid == b.uid; }))
      remove_dependent_locked(m.uid, b.uid, work);
  // A node that turned out to have no dependents may still be garbage itself.
  if (was_virtual) work.to_delete.push_back(m.uid);
  // Transitions (processTransitions): deletions with the GC's finalizers.
  if (m.being_deleted && m.has_finalizer(kOrphan)) work.to_orphan.push_back(m.uid);
  if (m.being_deleted && m.has_finalizer(kForeground)) {
    n.deleting_dependents = true;
    for (const auto& d : n.dependents) work.to_delete.push_back(d);
    work.to_delete.push_back(m.uid);
  } else {
    n.deleting_dependents = false;
  }
  return work;
}

GraphWork OwnerGraph::remove(const std::string& uid) {
  GraphWork work;
  std::lock_guard lock(mu_);
  auto it = nodes_.find(uid);
  if (it == nodes_.end()) return work;
  Node n = std::move(it->second);
  nodes_.erase(it);
  for (const auto& o : n.object.owners) remove_dependent_locked(uid, o.uid, work);
  // Its dependents lost an owner: each may be garbage now.
  for (const auto& d : n.dependents) work.to_delete.push_back(d);
  return work;
}

std::optional<OwnerGraph::NodeView> OwnerGraph::node(const std::string& uid) const {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(uid);
  if (it == nodes_.end()) return std::nullopt;
  NodeView v{it->second.object, it->second.observed, it->second.deleting_dependents, {}};
  for (const auto& d : it->second.dependents)
    if (auto dn = nodes_.find(d); dn != nodes_.end()) v.dependents.push_back(dn->second.object);
  return v;
}

std::size_t OwnerGraph::size() const {
  std::lock_guard lock(mu_);
  return nodes_.size();
}

}  // namespace switchyard::controllers
