#include "orchestrator/controllers/persistent_volume_controller.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "orchestrator/api/storage.h"
#include "orchestrator/api/validation.h"
#include "orchestrator/client/rest.h"
#include "orchestrator/controllers/event_recorder.h"

namespace switchyard::controllers {

namespace {

using Json = nlohmann::json;

constexpr const char* kComponent = "persistentvolume-controller";
constexpr const char* kProvisionedBy = "pv.kubernetes.io/provisioned-by";
constexpr const char* kStorageProvisioner = "volume.kubernetes.io/storage-provisioner";
constexpr const char* kBetaStorageProvisioner = "volume.beta.kubernetes.io/storage-provisioner";

Json object_of(const api::Passthrough& body, const char* key) {
  Json j = api::body_field(body, key);
  return j.is_object() ? j : Json::object();
}

std::int64_t bytes_of(const Json& quantity) {
  return quantity.is_string() ? api::quantity_bytes(quantity.get<std::string>()).value_or(0) : 0;
}

bool has_finalizer(const api::ObjectMeta& m, const char* f) { return std::ranges::find(m.finalizers, f) != m.finalizers.end(); }

void drop_finalizer(api::ObjectMeta& m, const char* f) { std::erase(m.finalizers, std::string(f)); }

bool local_path_provisioner(const std::string& name) { return name == "rancher.io/local-path" || name == "switchyard.io/local-path"; }

// The claims a pod's volumes name.
std::vector<std::string> claims_of(const api::Pod& pod) {
  std::vector<std::string> out;
  auto it = pod.spec.passthrough.find("volumes");
  if (it == pod.spec.passthrough.end()) return out;
  const Json volumes = Json::parse(it->second, nullptr, false);
  if (!volumes.is_array()) return out;
  for (const auto& v : volumes)
    if (v.is_object() && v.contains("persistentVolumeClaim") && v["persistentVolumeClaim"].is_object())
      out.push_back(api::text_of(v["persistentVolumeClaim"], "claimName"));
  return out;
}

bool modes_cover(const Json& volume_modes, const Json& wanted) {
  if (!wanted.is_array()) return true;
  for (const auto& m : wanted)
    if (!volume_modes.is_array() || std::ranges::find(volume_modes, m) == volume_modes.end()) return false;
  return true;
}

}  // namespace

client::ObjectPtr<api::PersistentVolume> find_matching_volume(const api::PersistentVolumeClaim& claim,
                                                              const std::vector<client::ObjectPtr<api::PersistentVolume>>& volumes,
                                                              const SelectedNode* node) {
  const Json spec = object_of(claim.body, "spec");
  const std::string wanted_class = api::pvc_class(claim).value_or("");
  const std::int64_t wanted = bytes_of(spec.value("resources", Json::object()).value("requests", Json::object()).value("storage", Json()));
  std::optional<api::LabelSelector> selector;
  if (spec.contains("selector") && !spec["selector"].is_null()) {
    auto s = api::label_selector_from_json(spec["selector"], api::FieldPath("spec.selector"));
    if (!s) return nullptr;
    selector = std::move(*s);
  }
  client::ObjectPtr<api::PersistentVolume> best;
  std::int64_t best_bytes = 0;
  for (const auto& pv : volumes) {
    if (pv->metadata.deletion_timestamp) continue;
    const Json pv_spec = object_of(pv->body, "spec");
    const Json ref = pv_spec.value("claimRef", Json());
    const bool pre_bound = ref.is_object() && api::text_of(ref, "namespace") == claim.metadata.namespace_ &&
                           api::text_of(ref, "name") == claim.metadata.name &&
                           (api::text_of(ref, "uid").empty() || api::text_of(ref, "uid") == claim.metadata.uid);
    if (ref.is_object() && !pre_bound) continue;  // someone else's
    if (api::pv_class(*pv) != wanted_class) continue;
    if (!modes_cover(pv_spec.value("accessModes", Json()), spec.value("accessModes", Json()))) continue;
    auto mode = [](const Json& s) { return api::text_of(s, "volumeMode").empty() ? "Filesystem" : api::text_of(s, "volumeMode"); };
    if (mode(pv_spec) != mode(spec)) continue;
    const std::int64_t have = bytes_of(pv_spec.value("capacity", Json::object()).value("storage", Json()));
    if (have < wanted) continue;
    if (node && !api::volume_node_affinity_matches(pv_spec.value("nodeAffinity", Json()), node->name, node->labels)) continue;
    if (pre_bound) return pv;  // the claim was promised this one
    if (selector && !selector->matches(pv->metadata.labels)) continue;
    const std::string phase = api::text_of(object_of(pv->body, "status"), "phase");
    if (phase != "Available" && phase != "Pending" && !phase.empty()) continue;
    if (!best || have < best_bytes) best = pv, best_bytes = have;
  }
  return best;
}

struct PersistentVolumeController::Handlers {
  PersistentVolumeController& c;
  std::uint64_t claims = 0, volumes = 0, classes = 0, pods = 0;
  ~Handlers() {
    c.claims_.remove_event_handler(claims);
    c.volumes_.remove_event_handler(volumes);
    c.classes_.remove_event_handler(classes);
    c.pods_.remove_event_handler(pods);
  }
};

PersistentVolumeController::PersistentVolumeController(client::SharedInformerFactory& informers, client::ClusterConnection connection)
    : informers_(informers),
      connection_(std::move(connection)),
      claims_(informers.informer<api::PersistentVolumeClaim>()),
      volumes_(informers.informer<api::PersistentVolume>()),
      classes_(informers.informer<api::StorageClass>()),
      pods_(informers.informer<api::Pod>()),
      nodes_(informers.informer<api::Node>()) {
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  auto claim = [this](const client::ObjectPtr<api::PersistentVolumeClaim>& c) {
    queue_.add("claim/" + c->metadata.namespace_ + "/" + c->metadata.name);
    // Its volume follows the claim's changes (Released once the claim is gone).
    if (const std::string volume = api::text_of(object_of(c->body, "spec"), "volumeName"); !volume.empty()) queue_.add("volume/" + volume);
  };
  handlers_->claims =
      claims_.add_event_handler({claim, [claim](const auto&, const auto& c) { claim(c); }, [claim](const auto& c, bool) { claim(c); }, {}});
  auto volume = [this](const client::ObjectPtr<api::PersistentVolume>& v) {
    queue_.add("volume/" + v->metadata.name);
    const Json ref = object_of(v->body, "spec").value("claimRef", Json());
    if (ref.is_object()) queue_.add("claim/" + api::text_of(ref, "namespace") + "/" + api::text_of(ref, "name"));
  };
  handlers_->volumes = volumes_.add_event_handler(
      {volume, [volume](const auto&, const auto& v) { volume(v); }, [volume](const auto& v, bool) { volume(v); }, {}});
  auto storage_class = [this](const client::ObjectPtr<api::StorageClass>&) {
    for (const auto& c : claims_.indexer().list())
      if (api::text_of(object_of(c->body, "spec"), "volumeName").empty())
        queue_.add("claim/" + c->metadata.namespace_ + "/" + c->metadata.name);
  };
  handlers_->classes =
      classes_.add_event_handler({storage_class, [storage_class](const auto&, const auto& s) { storage_class(s); }, {}, {}});
  // A pod that stops using a claim may free a deleted claim (protection).
  auto pod = [this](const client::ObjectPtr<api::Pod>& p) {
    for (const auto& name : claims_of(*p)) queue_.add("claim/" + p->metadata.namespace_ + "/" + name);
  };
  handlers_->pods =
      pods_.add_event_handler({{}, [pod](const auto&, const auto& p) { pod(p); }, [pod](const auto& p, bool) { pod(p); }, {}});
}

PersistentVolumeController::~PersistentVolumeController() { stop(); }

void PersistentVolumeController::start() {
  if (worker_.joinable()) return;
  informers_.start();
  worker_ = std::thread([this] { worker(); });
}

void PersistentVolumeController::stop() {
  stopping_ = true;
  queue_.shut_down();
  if (worker_.joinable()) worker_.join();
}

void PersistentVolumeController::worker() {
  while (!stopping_ && !informers_.wait_for_cache_sync(std::chrono::seconds(1), &stopping_)) {
  }
  if (stopping_) return;
  client::ApiClient api(connection_);
  while (auto key = queue_.get()) {
    if (auto synced = sync(*key, api); synced) {
      queue_.forget(*key);
    } else {
      queue_.add_rate_limited(*key);
      spdlog::info("event=persistentvolume_sync_requeued key={} error=\"{}\"", *key, synced.error().describe());
    }
    queue_.done(*key);
  }
}

Result<void> PersistentVolumeController::sync(const std::string& key, client::ApiClient& api) {
  if (key.starts_with("claim/")) return sync_claim(key.substr(6), api);
  if (key.starts_with("volume/")) return sync_volume(key.substr(7), api);
  return {};
}

bool PersistentVolumeController::claim_in_use(const api::PersistentVolumeClaim& claim) const {
  for (const auto& p : pods_.indexer().in_namespace(claim.metadata.namespace_)) {
    if (p->status.phase == "Succeeded" || p->status.phase == "Failed") continue;
    for (const auto& name : claims_of(*p))
      if (name == claim.metadata.name) return true;
  }
  return false;
}

void PersistentVolumeController::claim_event(client::ApiClient& api, const api::PersistentVolumeClaim& claim, const std::string& type,
                                             const std::string& reason, const std::string& message) {
  {
    std::lock_guard lock(events_mu_);
    auto& last = last_event_[claim.metadata.uid];
    if (last == message) return;
    last = message;
  }
  record_event(api, EventSource{kComponent}, "v1", "PersistentVolumeClaim", claim.metadata, type, reason, message);
}

Result<void> PersistentVolumeController::sync_claim(const std::string& key, client::ApiClient& api) {
  const auto cached = claims_.indexer().get(key);
  if (!cached) return {};
  api::PersistentVolumeClaim claim = *cached;
  if (claim.metadata.deletion_timestamp) {
    if (!has_finalizer(claim.metadata, api::kPvcProtectionFinalizer) || claim_in_use(claim)) return {};
    drop_finalizer(claim.metadata, api::kPvcProtectionFinalizer);
    auto written = client::update(api, claim);
    if (!written && written.error().code != ErrorCode::NotFound) return fail(written.error());
    return {};
  }
  const Json spec = object_of(claim.body, "spec");
  const Json status = object_of(claim.body, "status");
  const std::string volume_name = api::text_of(spec, "volumeName");
  if (!volume_name.empty()) {
    const auto pv = volumes_.indexer().get(volume_name);
    if (!pv) {
      if (api::text_of(status, "phase") == "Lost") return {};
      Json lost = status;
      lost["phase"] = "Lost";
      api::set_body_field(claim.body, "status", lost);
      if (auto w = client::update_status(api, claim); !w) return fail(w.error());
      claim_event(api, claim, "Warning", "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!");
      return {};
    }
    const Json ref = object_of(pv->body, "spec").value("claimRef", Json());
    if (ref.is_object() && !api::text_of(ref, "uid").empty() && api::text_of(ref, "uid") != claim.metadata.uid) {
      claim_event(api, claim, "Warning", "ClaimMisbound", "Two claims are bound to the same volume, this one is bound incorrectly");
      return {};
    }
    return bind(*pv, claim, api);
  }
  const std::optional<std::string> class_name = api::pvc_class(claim);
  client::ObjectPtr<api::StorageClass> storage_class;
  if (class_name && !class_name->empty()) storage_class = classes_.indexer().get(*class_name);
  const bool delayed = storage_class && api::body_field(storage_class->body, "volumeBindingMode") == "WaitForFirstConsumer";
  auto selected = claim.metadata.annotations.find(api::kSelectedNodeAnnotation);
  std::optional<SelectedNode> node;
  if (delayed) {
    if (selected == claim.metadata.annotations.end()) {
      claim_event(api, claim, "Normal", "WaitForFirstConsumer", "waiting for first consumer to be created before binding");
      return {};
    }
    node = SelectedNode{selected->second, {}};
    if (auto n = nodes_.indexer().get(selected->second)) node->labels = n->metadata.labels;
  }
  if (auto pv = find_matching_volume(claim, volumes_.indexer().list(), node ? &*node : nullptr)) return bind(*pv, claim, api);
  if (class_name && !class_name->empty() && !storage_class) {
    // As upstream: a claim may name a class only its static volumes carry; with none to bind and
    // no StorageClass object, nothing can provision it.
    claim_event(api, claim, "Warning", "ProvisioningFailed", fmt::format("storageclass.storage.k8s.io \"{}\" not found", *class_name));
    return {};
  }
  const Json provisioner_json = storage_class ? api::body_field(storage_class->body, "provisioner") : Json();
  const std::string provisioner = provisioner_json.is_string() ? provisioner_json.get<std::string>() : "";
  if (provisioner.empty() || provisioner == "kubernetes.io/no-provisioner") {
    claim_event(api, claim, "Normal", "FailedBinding",
                storage_class ? "no persistent volumes available for this claim"
                              : "no persistent volumes available for this claim and no storage class is set");
    return {};
  }
  if (claim.metadata.annotations[kStorageProvisioner] != provisioner) {
    claim.metadata.annotations[kStorageProvisioner] = provisioner;
    claim.metadata.annotations[kBetaStorageProvisioner] = provisioner;
    if (auto w = client::update(api, claim); !w) return fail(w.error());
  }
  claim_event(api, claim, "Normal", "ExternalProvisioning",
              fmt::format("Waiting for a volume to be created either by the external provisioner '{}' or manually by the system "
                          "administrator. If volume creation is delayed, please verify that the provisioner is running and correctly "
                          "registered.",
                          provisioner));
  return {};
}

// bindVolumeToClaim, then bindClaimToVolume, each object's main body before its status.
Result<void> PersistentVolumeController::bind(const api::PersistentVolume& volume, const api::PersistentVolumeClaim& claim_in,
                                              client::ApiClient& api) {
  api::PersistentVolume pv = volume;
  Json pv_spec = object_of(pv.body, "spec");
  const Json ref = pv_spec.value("claimRef", Json());
  if (!ref.is_object() || api::text_of(ref, "uid") != claim_in.metadata.uid) {
    pv_spec["claimRef"] = {{"kind", "PersistentVolumeClaim"},
                           {"namespace", claim_in.metadata.namespace_},
                           {"name", claim_in.metadata.name},
                           {"uid", claim_in.metadata.uid},
                           {"apiVersion", "v1"},
                           {"resourceVersion", claim_in.metadata.resource_version}};
    api::set_body_field(pv.body, "spec", pv_spec);
    pv.metadata.annotations["pv.kubernetes.io/bound-by-controller"] = "yes";
    auto w = client::update(api, pv);
    if (!w) return fail(w.error());
    pv = std::move(*w);
  }
  if (api::text_of(object_of(pv.body, "status"), "phase") != "Bound") {
    Json st = object_of(pv.body, "status");
    st["phase"] = "Bound";
    api::set_body_field(pv.body, "status", st);
    if (auto w = client::update_status(api, pv); !w) return fail(w.error());
  }
  api::PersistentVolumeClaim claim = claim_in;
  Json spec = object_of(claim.body, "spec");
  if (api::text_of(spec, "volumeName") != pv.metadata.name || claim.metadata.annotations["pv.kubernetes.io/bind-completed"] != "yes") {
    if (api::text_of(spec, "volumeName").empty()) claim.metadata.annotations["pv.kubernetes.io/bound-by-controller"] = "yes";
    spec["volumeName"] = pv.metadata.name;
    api::set_body_field(claim.body, "spec", spec);
    claim.metadata.annotations["pv.kubernetes.io/bind-completed"] = "yes";
    auto w = client::update(api, claim);
    if (!w) return fail(w.error());
    claim = std::move(*w);
  }
  Json status = object_of(claim.body, "status");
  Json want = status;
  want["phase"] = "Bound";
  want["accessModes"] = pv_spec.value("accessModes", Json::array());
  want["capacity"] = pv_spec.value("capacity", Json::object());
  if (want == status) return {};
  api::set_body_field(claim.body, "status", want);
  if (auto w = client::update_status(api, claim); !w) return fail(w.error());
  spdlog::info("event=claim_bound claim={}/{} volume={}", claim.metadata.namespace_, claim.metadata.name, pv.metadata.name);
  return {};
}

Result<void> PersistentVolumeController::sync_volume(const std::string& name, client::ApiClient& api) {
  const auto cached = volumes_.indexer().get(name);
  if (!cached) return {};
  api::PersistentVolume pv = *cached;
  const Json spec = object_of(pv.body, "spec");
  Json status = object_of(pv.body, "status");
  std::string phase = api::text_of(status, "phase");
  if (pv.metadata.deletion_timestamp) {
    if (!has_finalizer(pv.metadata, api::kPvProtectionFinalizer) || phase == "Bound") return {};
    drop_finalizer(pv.metadata, api::kPvProtectionFinalizer);
    auto written = client::update(api, pv);
    if (!written && written.error().code != ErrorCode::NotFound) return fail(written.error());
    return {};
  }
  auto set_phase = [&](const std::string& want, const std::string& message) -> Result<void> {
    if (phase == want && api::text_of(status, "message") == message) return {};
    Json st = status;
    st["phase"] = want;
    if (message.empty())
      st.erase("message");
    else
      st["message"] = message;
    api::set_body_field(pv.body, "status", st);
    auto w = client::update_status(api, pv);
    if (!w) return fail(w.error());
    pv = std::move(*w);
    status = std::move(st);
    phase = want;
    return {};
  };
  const Json ref = spec.value("claimRef", Json());
  if (!ref.is_object()) return set_phase("Available", "");
  const auto claim = claims_.indexer().get(api::text_of(ref, "namespace") + "/" + api::text_of(ref, "name"));
  const std::string ref_uid = api::text_of(ref, "uid");
  if (claim && (ref_uid.empty() || claim->metadata.uid == ref_uid)) {
    const std::string claim_volume = api::text_of(object_of(claim->body, "spec"), "volumeName");
    if (claim_volume == pv.metadata.name) return set_phase("Bound", "");
    return phase == "Bound" ? Result<void>{} : set_phase("Available", "");  // the claim's sync binds it
  }
  if (ref_uid.empty()) return set_phase("Available", "");  // pre-bound to a claim that does not exist yet
  // The claim is gone: the volume is Released, then reclaimed.
  if (phase == "Failed") return {};
  if (auto ok = set_phase("Released", ""); !ok) return ok;
  const std::string policy = api::text_of(spec, "persistentVolumeReclaimPolicy");
  if (policy != "Delete") return {};
  auto by = pv.metadata.annotations.find(kProvisionedBy);
  if (by != pv.metadata.annotations.end() && local_path_provisioner(by->second)) return {};  // its node deletes it
  return set_phase("Failed",
                   fmt::format("error getting deleter volume plugin for volume \"{}\": no deletable volume plugin matched", name));
}

}  // namespace switchyard::controllers
