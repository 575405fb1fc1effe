#include "kubelet/storage/local_path_provisioner.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "orchestrator/api/storage.h"
#include "orchestrator/client/rest.h"

namespace switchyard::kubelet {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr const char* kProvisionedBy = "pv.kubernetes.io/provisioned-by";
constexpr const char* kStorageProvisioner = "volume.kubernetes.io/storage-provisioner";
constexpr const char* kNodeAnnotation = "switchyard.io/local-path-node";

bool ours(const std::string& provisioner) { return provisioner == kLocalPathProvisioner || provisioner == "switchyard.io/local-path"; }

Json object_of(const api::Passthrough& body, const char* key) {
  Json j = api::body_field(body, key);
  return j.is_object() ? j : Json::object();
}

std::string annotation(const api::ObjectMeta& m, const char* key) {
  auto it = m.annotations.find(key);
  return it == m.annotations.end() ? "" : it->second;
}

// True when `path` is strictly inside `dir` (never the directory itself, never outside it).
bool inside(const fs::path& path, const fs::path& dir) {
  const fs::path p = path.lexically_normal(), d = dir.lexically_normal();
  auto [dir_end, path_it] = std::mismatch(d.begin(), d.end(), p.begin(), p.end());
  if (dir_end != d.end() || path_it == p.end()) return false;
  for (auto it = path_it; it != p.end(); ++it)
    if (*it == ".." || it->empty()) return false;
  return true;
}

}  // namespace

struct LocalPathProvisioner::Handlers {
  LocalPathProvisioner& p;
  std::uint64_t claims = 0, volumes = 0;
  ~Handlers() {
    p.claims_.remove_event_handler(claims);
    p.volumes_.remove_event_handler(volumes);
  }
};

LocalPathProvisioner::LocalPathProvisioner(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                                           LocalPathOptions options)
    : informers_(informers),
      connection_(std::move(connection)),
      options_(std::move(options)),
      claims_(informers.informer<api::PersistentVolumeClaim>()),
      volumes_(informers.informer<api::PersistentVolume>()),
      classes_(informers.informer<api::StorageClass>()) {
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  auto claim = [this](const client::ObjectPtr<api::PersistentVolumeClaim>& c) {
    queue_.add("claim/" + c->metadata.namespace_ + "/" + c->metadata.name);
  };
  handlers_->claims = claims_.add_event_handler({claim, [claim](const auto&, const auto& c) { claim(c); }, {}, {}});
  auto volume = [this](const client::ObjectPtr<api::PersistentVolume>& v) { queue_.add("volume/" + v->metadata.name); };
  handlers_->volumes = volumes_.add_event_handler({volume, [volume](const auto&, const auto& v) { volume(v); }, {}, {}});
}

LocalPathProvisioner::~LocalPathProvisioner() { stop(); }

void LocalPathProvisioner::start() {
  if (worker_.joinable()) return;
  claims_.start();
  volumes_.start();
  classes_.start();
  worker_ = std::thread([this] { worker(); });
}

void LocalPathProvisioner::stop() {
  stopping_ = true;
  queue_.shut_down();
  if (worker_.joinable()) worker_.join();
}

void LocalPathProvisioner::worker() {
  while (!stopping_ && !(claims_.has_synced() && volumes_.has_synced() && classes_.has_synced()))
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (stopping_) return;
  client::ApiClient api(connection_);
  while (auto key = queue_.get()) {
    if (auto synced = sync(*key, api); synced) {
      queue_.forget(*key);
    } else {
      queue_.add_rate_limited(*key);
      spdlog::warn("event=local_path_sync_requeued key={} error=\"{}\"", *key, synced.error().describe());
    }
    queue_.done(*key);
  }
}

Result<void> LocalPathProvisioner::sync(const std::string& key, client::ApiClient& api) {
  if (key.starts_with("claim/")) return provision(key.substr(6), api);
  if (key.starts_with("volume/")) return reclaim(key.substr(7), api);
  return {};
}

Result<void> LocalPathProvisioner::provision(const std::string& key, client::ApiClient& api) {
  const auto claim = claims_.indexer().get(key);
  if (!claim || claim->metadata.deletion_timestamp) return {};
  const Json spec = object_of(claim->body, "spec");
  if (!api::text_of(spec, "volumeName").empty()) return {};
  if (annotation(claim->metadata, api::kSelectedNodeAnnotation) != options_.node_name) return {};
  const std::string provisioner = annotation(claim->metadata, kStorageProvisioner);
  if (!ours(provisioner)) return {};
  const std::string class_name = api::pvc_class(*claim).value_or("");
  const auto storage_class = classes_.indexer().get(class_name);
  if (!storage_class || api::body_field(storage_class->body, "provisioner") != provisioner) return {};
  const std::string name = "pvc-" + claim->metadata.uid;
  if (volumes_.indexer().get(name)) return {};

  // Node affinity on the node's kubernetes.io/hostname label, as k3s's provisioner writes it.
  std::string hostname = options_.node_name;
  if (auto node = api.get(client::object_path<api::Node>("", options_.node_name)); node && node->status == 200) {
    const Json parsed = Json::parse(node->body, nullptr, false);
    const Json meta = parsed.is_object() ? parsed.value("metadata", Json()) : Json();
    const Json labels = meta.is_object() ? meta.value("labels", Json()) : Json();
    if (!api::text_of(labels, "kubernetes.io/hostname").empty()) hostname = api::text_of(labels, "kubernetes.io/hostname");
  }
  const fs::path dir = fs::path(options_.storage_dir) / fmt::format("{}_{}_{}", name, claim->metadata.namespace_, claim->metadata.name);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(ErrorCode::Internal, fmt::format("creating {}: {}", dir.string(), ec.message()));
  fs::permissions(dir, fs::perms::all, ec);  // 0777, as k3s's helper makes it: pods run as any user

  const Json policy = api::body_field(storage_class->body, "reclaimPolicy");
  const Json resources = spec.value("resources", Json::object());
  const std::string size = api::text_of(resources.is_object() ? resources.value("requests", Json::object()) : Json(), "storage");
  api::PersistentVolume pv;
  pv.metadata.name = name;
  pv.metadata.annotations[kProvisionedBy] = provisioner;
  pv.metadata.annotations[kNodeAnnotation] = options_.node_name;
  Json pv_spec = {{"capacity", {{"storage", size}}},
                  {"accessModes", spec.value("accessModes", Json::array({"ReadWriteOnce"}))},
                  {"persistentVolumeReclaimPolicy", policy.is_string() ? policy.get<std::string>() : "Delete"},
                  {"storageClassName", class_name},
                  {"volumeMode", "Filesystem"},
                  {"hostPath", {{"path", dir.string()}, {"type", "DirectoryOrCreate"}}},
                  {"claimRef",
                   {{"kind", "PersistentVolumeClaim"},
                    {"apiVersion", "v1"},
                    {"namespace", claim->metadata.namespace_},
                    {"name", claim->metadata.name},
                    {"uid", claim->metadata.uid}}},
                  {"nodeAffinity",
                   {{"required",
                     {{"nodeSelectorTerms",
                       {{{"matchExpressions", {{{"key", "kubernetes.io/hostname"}, {"operator", "In"}, {"values", {hostname}}}}}}}}}}}}};
  api::set_body_field(pv.body, "spec", pv_spec);
  auto created = client::create(api, pv);
  if (!created && created.error().code != ErrorCode::AlreadyExists && created.error().code != ErrorCode::Conflict) {
    fs::remove(dir, ec);  // nothing left half-made on the node
    return fail(created.error());
  }
  spdlog::info("event=local_path_provisioned claim={} volume={} path={}", key, name, dir.string());
  return {};
}

Result<void> LocalPathProvisioner::reclaim(const std::string& name, client::ApiClient& api) {
  const auto pv = volumes_.indexer().get(name);
  if (!pv || !ours(annotation(pv->metadata, kProvisionedBy)) || annotation(pv->metadata, kNodeAnnotation) != options_.node_name) return {};
  const Json spec = object_of(pv->body, "spec");
  if (api::text_of(object_of(pv->body, "status"), "phase") != "Released" || api::text_of(spec, "persistentVolumeReclaimPolicy") != "Delete")
    return {};
  const std::string path = api::text_of(spec.value("hostPath", Json()), "path");
  if (!path.empty()) {
    if (!inside(path, options_.storage_dir))
      return fail(ErrorCode::Invalid, fmt::format("volume {}: {} is not under {}, left in place", name, path, options_.storage_dir));
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) return fail(ErrorCode::Internal, fmt::format("removing {}: {}", path, ec.message()));
  }
  auto removed = client::remove<api::PersistentVolume>(api, "", name);
  if (!removed && removed.error().code != ErrorCode::NotFound) return fail(removed.error());
  spdlog::info("event=local_path_deleted volume={} path={}", name, path);
  return {};
}

}  // namespace switchyard::kubelet
