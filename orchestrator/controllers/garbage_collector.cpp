// The garbage collector: metadata monitors feeding the owner graph, and the workers that act on it.
#include "orchestrator/controllers/garbage_collector.h"

#include <pthread.h>

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/client/list_watch.h"
#include "orchestrator/client/reflector.h"

namespace switchyard::controllers {

using nlohmann::json;

namespace {

constexpr const char* kOrphanFinalizer = "orphan";
constexpr const char* kForegroundFinalizer = "foregroundDeletion";

// The object at `path`, or nothing when the server has none.
Result<std::optional<json>> get_object(client::ApiClient& api, const std::string& path) {
  auto r = api.get(path);
  if (!r) return fail(r.error());
  if (r->status == 404) return std::optional<json>();
  if (r->status != 200) return fail(client::http_error(r->status, r->body, "GET " + path));
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_object()) return fail(ErrorCode::Internal, "GET " + path + ": not a JSON object");
  return std::optional<json>(std::move(j));
}

// Read, change, write back (optimistic on the resourceVersion read), again on a conflict. An
// object that is gone, or whose uid is not `uid`, or that `change` leaves alone, is no failure.
Result<bool> modify_object(client::ApiClient& api, const std::string& path, const std::string& uid,
                           const std::function<bool(json&)>& change) {
  for (int attempt = 0;; ++attempt) {
    auto current = get_object(api, path);
    if (!current) return fail(current.error());
    if (!*current || (**current)["metadata"].value("uid", "") != uid) return false;
    json object = std::move(**current);
    if (!change(object)) return false;
    auto r = api.send("PUT", path, object.dump(), "application/json");
    if (!r) return fail(r.error());
    if (r->status == 200) return true;
    if (r->status == 404) return false;
    if (r->status != 409 || attempt >= 5) return fail(client::http_error(r->status, r->body, "PUT " + path));
  }
}

bool erase_finalizer(json& object, const std::string& finalizer) {
  auto& meta = object["metadata"];
  if (!meta.contains("finalizers") || !meta["finalizers"].is_array()) return false;
  auto& f = meta["finalizers"];
  const auto before = f.size();
  f.erase(std::remove(f.begin(), f.end(), json(finalizer)), f.end());
  return f.size() != before;
}

bool erase_owner_references(json& object, const std::vector<std::string>& uids) {
  auto& meta = object["metadata"];
  if (!meta.contains("ownerReferences") || !meta["ownerReferences"].is_array()) return false;
  auto& refs = meta["ownerReferences"];
  const auto before = refs.size();
  refs.erase(std::remove_if(refs.begin(), refs.end(),
                            [&](const json& r) { return std::find(uids.begin(), uids.end(), r.value("uid", "")) != uids.end(); }),
             refs.end());
  const bool changed = refs.size() != before;
  if (refs.empty()) meta.erase("ownerReferences");
  return changed;
}

std::string policy_for(const json& object) {
  const auto finalizers = object["metadata"].value("finalizers", json::array());
  for (const auto& f : finalizers)
    if (f == kOrphanFinalizer) return "Orphan";
  for (const auto& f : finalizers)
    if (f == kForegroundFinalizer) return "Foreground";
  return "Background";
}

// DELETE with a propagation policy, only if the object is still the one with `uid`.
Result<void> delete_with_policy(client::ApiClient& api, const std::string& path, const std::string& uid, const std::string& policy) {
  const json options = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", policy}, {"preconditions", {{"uid", uid}}}};
  auto r = api.send("DELETE", path, options.dump(), "application/json");
  if (!r) return fail(r.error());
  // Gone already, or another object by that name now (the precondition's 409): nothing to do.
  if (r->status == 200 || r->status == 202 || r->status == 404 || r->status == 409) return {};
  return fail(client::http_error(r->status, r->body, "DELETE " + path));
}

}  // namespace

// One resource's list+watch, turned into graph changes.
class GarbageCollector::Monitor final : private client::ReflectorSink {
 public:
  Monitor(GarbageCollector& gc, ApiResource r)
      : gc_(gc),
        resource_(std::move(r)),
        reflector_(std::make_unique<client::HttpListerWatcher>(gc.connection_, resource_.collection_path()), *this) {}
  ~Monitor() override { reflector_.stop(); }
  void start() { reflector_.start(); }
  bool synced() const { return synced_; }

 private:
  void replace(std::vector<json>&& items) override {
    std::unordered_map<std::string, std::string> fresh;  // uid -> resourceVersion
    for (const auto& item : items) {
      auto m = ObjectMetadata::from_json(item, resource_.api_version(), resource_.kind);
      if (m.uid.empty()) continue;
      const std::string rv = item["metadata"].value("resourceVersion", "");
      fresh[m.uid] = rv;
      if (auto it = known_.find(m.uid); it != known_.end() && it->second == rv) continue;
      gc_.apply(gc_.graph_.upsert(m));
    }
    for (const auto& [uid, _] : known_)
      if (!fresh.contains(uid)) gc_.apply(gc_.graph_.remove(uid));
    known_ = std::move(fresh);
    synced_ = true;
  }
  void apply(client::WatchEvent&& e) override {
    auto m = ObjectMetadata::from_json(e.object, resource_.api_version(), resource_.kind);
    if (m.uid.empty()) return;
    if (e.type == client::WatchEventType::Deleted) {
      known_.erase(m.uid);
      gc_.apply(gc_.graph_.remove(m.uid));
      return;
    }
    known_[m.uid] = e.object["metadata"].value("resourceVersion", "");
    gc_.apply(gc_.graph_.upsert(m));
  }

  GarbageCollector& gc_;
  ApiResource resource_;
  std::unordered_map<std::string, std::string> known_;  // the reflector's thread only
  std::atomic<bool> synced_{false};
  client::Reflector reflector_;  // last: stopped before the rest goes
};

GarbageCollector::GarbageCollector(client::ClusterConnection connection, GarbageCollectorOptions options)
    : connection_(std::move(connection)), options_(std::move(options)) {}

GarbageCollector::~GarbageCollector() { stop(); }

void GarbageCollector::apply(const GraphWork& work) {
  for (const auto& uid : work.to_delete) to_delete_.add(uid);
  for (const auto& uid : work.to_orphan) to_orphan_.add(uid);
}

void GarbageCollector::start() {
  if (started_.exchange(true)) return;
  discovery_thread_ = std::thread([this] { discovery_loop(); });
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { delete_worker(); });
  workers_.emplace_back([this] { orphan_worker(); });
}

void GarbageCollector::stop() {
  if (stopping_.exchange(true)) return;
  { std::lock_guard lock(wake_mu_); }
  wake_.notify_all();
  to_delete_.shut_down();
  to_orphan_.shut_down();
  if (discovery_thread_.joinable()) discovery_thread_.join();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
  std::lock_guard lock(mu_);
  monitors_.clear();
}

bool GarbageCollector::synced() const {
  std::lock_guard lock(mu_);
  if (monitors_.empty()) return false;
  return std::all_of(monitors_.begin(), monitors_.end(), [](const auto& m) { return m.second->synced(); });
}

void GarbageCollector::sync_monitors() {
  client::ApiClient api(connection_);
  auto found = discover(api);
  if (!found) {
    spdlog::warn("event=gc_discovery_failed error=\"{}\"", found.error().message);
    return;
  }
  for (const auto& f : found->failures) spdlog::warn("event=gc_discovery_partial error=\"{}\"", f);
  std::lock_guard lock(mu_);
  for (const auto& r : found->resources) {
    const std::string group_resource = r.group.empty() ? r.plural : r.plural + "." + r.group;
    if (!r.supports("list") || !r.supports("watch") || !r.supports("delete")) continue;
    if (std::find(options_.ignored_resources.begin(), options_.ignored_resources.end(), group_resource) != options_.ignored_resources.end())
      continue;
    auto& slot = monitors_[r.api_version() + "/" + r.plural];
    if (slot) continue;
    slot = std::make_unique<Monitor>(*this, r);
    slot->start();
    spdlog::info("event=gc_monitor_started resource={}", group_resource);
  }
  discovery_ = std::move(*found);
}

void GarbageCollector::discovery_loop() {
  pthread_setname_np(pthread_self(), "gc-discovery");
  while (!stopping_) {
    sync_monitors();
    std::unique_lock lock(wake_mu_);
    // Soon again while nothing could be discovered.
    const auto period = monitors_.empty() ? std::chrono::milliseconds(500) : options_.rediscovery_period;
    wake_.wait_for(lock, period, [this] { return stopping_.load(); });
  }
}

std::optional<ApiResource> GarbageCollector::resource_for(const std::string& api_version, const std::string& kind) {
  std::lock_guard lock(mu_);
  if (const auto* r = discovery_.find_kind(api_version, kind)) return *r;
  return std::nullopt;
}

void GarbageCollector::delete_worker() {
  pthread_setname_np(pthread_self(), "gc-delete");
  client::ApiClient api(connection_);
  // Nothing is decided before every monitor listed: the graph would miss dependents.
  while (!stopping_ && !synced()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  while (auto uid = to_delete_.get()) {
    auto done = attempt_to_delete(*uid, api);
    if (done) {
      to_delete_.forget(*uid);
    } else {
      ++stats_.failures;
      spdlog::warn("event=gc_attempt_to_delete_failed uid={} error=\"{}\"", *uid, done.error().message);
      to_delete_.add_rate_limited(*uid);
    }
    to_delete_.done(*uid);
  }
}

void GarbageCollector::orphan_worker() {
  pthread_setname_np(pthread_self(), "gc-orphan");
  client::ApiClient api(connection_);
  while (!stopping_ && !synced()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  while (auto uid = to_orphan_.get()) {
    auto done = attempt_to_orphan(*uid, api);
    if (done) {
      to_orphan_.forget(*uid);
    } else {
      ++stats_.failures;
      spdlog::warn("event=gc_attempt_to_orphan_failed uid={} error=\"{}\"", *uid, done.error().message);
      to_orphan_.add_rate_limited(*uid);
    }
    to_orphan_.done(*uid);
  }
}

Result<void> GarbageCollector::process_deleting_dependents(const OwnerGraph::NodeView& node, const ApiResource& r, client::ApiClient& api) {
  // Blocking dependents: those whose reference to this owner says blockOwnerDeletion.
  std::size_t blocking = 0;
  for (const auto& d : node.dependents) {
    const bool blocks = std::any_of(d.owners.begin(), d.owners.end(),
                                    [&](const OwnerLink& o) { return o.uid == node.object.uid && o.block_owner_deletion; });
    if (!blocks) continue;
    ++blocking;
    if (!d.being_deleted || d.has_finalizer(kForegroundFinalizer)) to_delete_.add(d.uid);
  }
  if (blocking > 0) return {};  // each dependent that goes brings this owner back
  const std::string path = r.object_path(node.object.ns, node.object.name);
  auto removed = modify_object(api, path, node.object.uid, [](json& o) { return erase_finalizer(o, kForegroundFinalizer); });
  if (!removed) return fail(removed.error());
  if (*removed) {
    ++stats_.finalizers_removed;
    spdlog::info("event=gc_foreground_done object=\"{}\"", node.object.describe());
  }
  return {};
}

Result<void> GarbageCollector::attempt_to_delete(const std::string& uid, client::ApiClient& api) {
  auto node = graph_.node(uid);
  if (!node) return {};
  auto r = resource_for(node->object.api_version, node->object.kind);
  if (!r)
    return fail(ErrorCode::NotFound, fmt::format("{}: the server lists no resource for {} {}", node->object.describe(),
                                                 node->object.api_version, node->object.kind));
  const std::string path = r->object_path(r->namespaced ? node->object.ns : "", node->object.name);
  auto live = get_object(api, path);
  if (!live) return fail(live.error());
  if (!*live || (**live)["metadata"].value("uid", "") != uid) {
    // Gone (or another object by that name): what depended on it is looked at again.
    apply(graph_.remove(uid));
    return {};
  }
  if (!node->observed) return {};  // it exists: its monitor will show it
  const auto meta = ObjectMetadata::from_json(**live, node->object.api_version, node->object.kind);
  if (meta.being_deleted) {
    if (meta.has_finalizer(kForegroundFinalizer)) return process_deleting_dependents(*node, *r, api);
    return {};
  }
  if (meta.owners.empty()) return {};
  std::vector<std::string> dangling, waiting;
  std::size_t solid = 0;
  for (const auto& o : meta.owners) {
    auto owner_resource = resource_for(o.api_version, o.kind);
    if (!owner_resource)
      return fail(ErrorCode::NotFound,
                  fmt::format("{}: owner {} {} {}: the server lists no such resource", meta.describe(), o.api_version, o.kind, o.name));
    auto owner = get_object(api, owner_resource->object_path(owner_resource->namespaced ? meta.ns : "", o.name));
    if (!owner) return fail(owner.error());
    if (!*owner || (**owner)["metadata"].value("uid", "") != o.uid) {
      dangling.push_back(o.uid);
      continue;
    }
    const auto om = ObjectMetadata::from_json(**owner, o.api_version, o.kind);
    if (om.being_deleted && om.has_finalizer(kForegroundFinalizer))
      waiting.push_back(o.uid);
    else
      ++solid;
  }
  if (solid > 0) {
    if (dangling.empty() && waiting.empty()) return {};
    // A live owner remains: only the references to owners that are gone (or going) are dropped.
    std::vector<std::string> drop = dangling;
    drop.insert(drop.end(), waiting.begin(), waiting.end());
    auto patched = modify_object(api, path, uid, [&](json& o) { return erase_owner_references(o, drop); });
    if (!patched) return fail(patched.error());
    if (*patched) ++stats_.references_removed;
    return {};
  }
  // No live owner: garbage. Under an owner deleting in the foreground, with dependents of its
  // own, it goes in the foreground too; otherwise as its own finalizers say.
  const std::string policy = !waiting.empty() && !node->dependents.empty() ? "Foreground" : policy_for(**live);
  if (auto gone = delete_with_policy(api, path, uid, policy); !gone) return gone;
  ++stats_.deleted;
  spdlog::info("event=gc_deleted object=\"{}\" propagation={}", meta.describe(), policy);
  return {};
}

Result<void> GarbageCollector::attempt_to_orphan(const std::string& uid, client::ApiClient& api) {
  auto node = graph_.node(uid);
  if (!node) return {};
  for (const auto& d : node->dependents) {
    auto r = resource_for(d.api_version, d.kind);
    if (!r) return fail(ErrorCode::NotFound, fmt::format("{}: the server lists no resource for it", d.describe()));
    auto done = modify_object(api, r->object_path(r->namespaced ? d.ns : "", d.name), d.uid,
                              [&](json& o) { return erase_owner_references(o, {uid}); });
    if (!done) return fail(done.error());
  }
  auto r = resource_for(node->object.api_version, node->object.kind);
  if (!r) return fail(ErrorCode::NotFound, fmt::format("{}: the server lists no resource for it", node->object.describe()));
  auto removed = modify_object(api, r->object_path(r->namespaced ? node->object.ns : "", node->object.name), uid,
                               [](json& o) { return erase_finalizer(o, kOrphanFinalizer); });
  if (!removed) return fail(removed.error());
  if (*removed) {
    ++stats_.orphaned;
    spdlog::info("event=gc_orphaned object=\"{}\" dependents={}", node->object.describe(), node->dependents.size());
  }
  return {};
}

}  // namespace switchyard::controllers
