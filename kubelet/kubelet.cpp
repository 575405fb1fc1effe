#include "kubelet/kubelet.h"

#include <ctime>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "kubelet/pods/pod_config.h"
#include "kubelet/pods/pod_events.h"
#include "kubelet/pods/pod_status.h"
#include "kubelet/pods/pod_sync.h"
#include "kubelet/prober.h"
#include "kubelet/volumes/token_request.h"
#include "orchestrator/api/json_codec.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/list_watch.h"
#include "orchestrator/client/resources.h"

namespace switchyard::kubelet {

using nlohmann::json;

namespace {

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// spec.containers{name} or spec.initContainers{name}, as the kubelet's Events name a container.
std::string container_field_path(const api::Pod& pod, const std::string& name) {
  for (const auto& c : pod.spec.init_containers)
    if (c.name == name) return "spec.initContainers{" + name + "}";
  return "spec.containers{" + name + "}";
}

json status_json(const api::Pod& pod, const api::PodStatus& status) {
  api::Pod copy = pod;
  copy.status = status;
  return api::encode_object(api::Object{copy}).value("status", json::object());
}

}  // namespace

Result<std::unique_ptr<Kubelet>> Kubelet::start(KubeletOptions options, client::ClusterConnection connection,
                                                client::SharedInformerFactory* informers) {
  if (options.node.node_name.empty()) return fail(ErrorCode::Invalid, "kubelet: a node name is required");
  auto cri = cri::CriClient::connect(options.runtime_endpoint);
  if (!cri) return fail(with_context(cri.error(), "kubelet"));
  std::unique_ptr<Kubelet> k(new Kubelet(std::move(options), std::move(connection), std::move(*cri), informers));
  k->handler_ = k->pods_.add_event_handler({[k = k.get()](const auto& pod) { k->on_pod(pod, false); },
                                            [k = k.get()](const auto& old, const auto& pod) {
                                              // Our own status writes come back as updates: they change nothing to do.
                                              if (old && pod && old->spec == pod->spec &&
                                                  old->metadata.deletion_timestamp == pod->metadata.deletion_timestamp &&
                                                  old->metadata.uid == pod->metadata.uid) {
                                                k->remember(pod);
                                                return;
                                              }
                                              k->on_pod(pod, false);
                                            },
                                            [k = k.get()](const auto& pod, bool) { k->on_pod(pod, true); }, nullptr});
  if (k->own_informers_) k->own_informers_->start();
  k->pods_.start();
  auto& config_maps = k->informers_.informer<api::ConfigMap>();
  k->config_map_handler_ = config_maps.add_event_handler({nullptr,
                                                          [k = k.get()](const auto&, const auto& cm) {
                                                            if (cm) k->on_config_change(cm->metadata.namespace_, cm->metadata.name, false);
                                                          },
                                                          nullptr, nullptr});
  config_maps.start();
  k->informers_.informer<api::Service>().start();
  if (k->handoff_.enabled()) {
    k->endpoint_slices_ = &k->informers_.informer<api::EndpointSlice>();
    k->endpoint_slices_->start();
  }
  k->informers_.informer<api::PersistentVolumeClaim>().start();
  k->informers_.informer<api::PersistentVolume>().start();
  if (!k->options_.local_path_dir.empty()) {
    k->local_path_ = std::make_unique<LocalPathProvisioner>(k->informers_, k->connection_,
                                                            LocalPathOptions{k->options_.node.node_name, k->options_.local_path_dir});
    k->local_path_->start();
  }
  for (int i = 0; i < std::max(1, k->options_.workers); ++i) k->workers_.emplace_back([k = k.get(), i] { k->worker(i); });
  k->relister_ = std::thread([k = k.get()] { k->relist_loop(); });
  spdlog::info("event=kubelet_started node={} runtime={}", k->options_.node.node_name, k->options_.runtime_endpoint);
  return k;
}

Kubelet::Kubelet(KubeletOptions options, client::ClusterConnection connection, std::unique_ptr<cri::CriClient> cri,
                 client::SharedInformerFactory* informers)
    : options_(std::move(options)),
      connection_(std::move(connection)),
      cri_(std::move(cri)),
      own_informers_(informers ? nullptr : std::make_unique<client::SharedInformerFactory>(connection_)),
      informers_(informers ? *informers : *own_informers_),
      pods_(informers_.informer<api::Pod>("spec.nodeName=" + options_.node.node_name)),
      tokens_([this](const PodTokenRequest& r) {
        client::ApiClient api(connection_);
        return request_pod_token(api, r);
      }),
      config_lookup_(informers_, connection_, tokens_),
      volumes_(config_lookup_, options_.node),
      handoff_(options_.endpoint_handoff_delay),
      driver_(*cri_, options_.node, options_.images_hint),
      prober_(std::make_unique<Prober>(
          *cri_, [this](const std::string& uid) { queue_.add(uid); },
          [this](const std::string& uid, const std::string& container, const std::string& message) {
            report_unhealthy(uid, container, message);
          })) {}

Kubelet::~Kubelet() { stop(); }

void Kubelet::stop() {
  if (stopping_.exchange(true)) return;
  pods_.remove_event_handler(handler_);
  informers_.informer<api::ConfigMap>().remove_event_handler(config_map_handler_);
  prober_->stop();
  if (local_path_) local_path_->stop();
  queue_.shut_down();
  for (auto& t : workers_) t.join();
  {
    // Pods being stopped finish stopping (each within its grace period).
    std::lock_guard lock(stopping_mu_);
    for (auto& [uid, stopper] : stoppers_) stopper.thread.join();
    stoppers_.clear();
  }
  if (relister_.joinable()) relister_.join();
  if (own_informers_) own_informers_->stop();
  spdlog::info("event=kubelet_stopped node={} pods=kept_running", options_.node.node_name);
}

bool Kubelet::synced() const { return pods_.has_synced(); }

void Kubelet::on_pod(const client::ObjectPtr<api::Pod>& pod, bool deleted) {
  if (!pod || pod->metadata.uid.empty()) return;
  {
    std::lock_guard lock(mu_);
    auto& r = records_[pod->metadata.uid];
    r.pod = pod;
    r.gone = deleted;
  }
  queue_.add(pod->metadata.uid);
}

namespace {

// Whether a pod's volumes (configMap, secret, and projected sources) name the object.
bool projects(const api::Pod& pod, const std::string& name, bool secret) {
  const nlohmann::json volumes = passthrough_field(pod.spec.passthrough, "volumes");
  if (!volumes.is_array()) return false;
  const auto names = [&](const nlohmann::json& source, const char* kind, const char* key) {
    return source.is_object() && source.contains(kind) && source[kind].is_object() && source[kind].value(key, "") == name;
  };
  for (const auto& v : volumes) {
    if (secret ? names(v, "secret", "secretName") : names(v, "configMap", "name")) return true;
    if (!v.is_object() || !v.contains("projected") || !v["projected"].is_object()) continue;
    const nlohmann::json sources = v["projected"].value("sources", nlohmann::json::array());
    if (sources.is_array())
      for (const auto& source : sources)
        if (names(source, secret ? "secret" : "configMap", "name")) return true;
  }
  return false;
}

}  // namespace

void Kubelet::on_config_change(const std::string& ns, const std::string& name, bool secret) {
  std::vector<std::string> affected;
  {
    std::lock_guard lock(mu_);
    for (const auto& [uid, record] : records_)
      if (!record.gone && record.pod && record.pod->metadata.namespace_ == ns && projects(*record.pod, name, secret))
        affected.push_back(uid);
  }
  for (const auto& uid : affected) queue_.add(uid);
}

void Kubelet::remember(const client::ObjectPtr<api::Pod>& pod) {
  std::lock_guard lock(mu_);
  if (auto it = records_.find(pod->metadata.uid); it != records_.end()) it->second.pod = pod;
}

void Kubelet::worker(int index) {
  client::ApiClient api(connection_);
  while (auto uid = queue_.get()) {
    auto r = sync(*uid, api);
    if (!r) {
      spdlog::warn("event=pod_sync_failed worker={} uid={} error=\"{}\"", index, *uid, r.error().message);
      queue_.add_rate_limited(*uid);
    } else {
      queue_.forget(*uid);
    }
    queue_.done(*uid);
  }
}

Result<> Kubelet::sync(const std::string& uid, client::ApiClient& api) {
  client::ObjectPtr<api::Pod> pod;
  bool gone = false;
  {
    std::lock_guard lock(mu_);
    auto it = records_.find(uid);
    if (it == records_.end()) return {};
    pod = it->second.pod;
    gone = it->second.gone;
  }
  if (gone || !pod) {
    // Deleted from the API without our confirmation (or an orphan sandbox): it is gone, stop it.
    api::Pod last;
    if (pod) last = *pod;
    last.metadata.uid = uid;
    if (auto r = terminate(uid, last, false); !r) return r;
    std::lock_guard lock(mu_);
    if (auto it = records_.find(uid); it != records_.end() && it->second.gone) records_.erase(it);
    return {};
  }
  if (pod->metadata.deletion_timestamp) return terminate(uid, *pod, true);
  return sync_running(uid, *pod, api);
}

Result<> Kubelet::sync_running(const std::string& uid, const api::Pod& pod, client::ApiClient& api) {
  ContainerNotes notes;
  api::PodStatus base = pod.status;
  std::string last_written, written_at_version;
  {
    std::lock_guard lock(mu_);
    notes = records_[uid].notes;
    last_written = records_[uid].last_status;
    written_at_version = records_[uid].written_at_version;
    if (!records_[uid].last_status.empty()) {
      auto d = api::decode_object_as(json{{"metadata", {{"name", pod.metadata.name}}}, {"status", json::parse(records_[uid].last_status)}},
                                     "v1", "Pod");
      if (d) base = std::get<api::Pod>(d->object).status;
    }
  }
  api::Pod current = pod;
  current.status = base;
  auto observed = driver_.observe(uid);
  if (!observed) return fail(observed.error());
  prober_->update(current, *observed, notes);
  RuntimeFacts facts;
  const bool can_start = ready_to_start(api, current, *observed, notes, facts);
  SyncPlan plan = plan_pod_sync(current, *observed, notes);
  std::optional<std::chrono::milliseconds> requeue;
  if (!can_start) requeue = std::chrono::seconds(2);  // a ConfigMap or Secret may appear: look again soon
  if (!plan.empty() && can_start) {
    auto applied = driver_.apply(current, *observed, plan, notes, facts);
    if (!applied) return fail(applied.error());
    requeue = *applied;
    for (const auto& [name, note] : notes)
      if (note.waiting_reason == "CreateContainerConfigError")
        warn_once(api, current, container_field_path(current, name), "Failed", "Error: " + note.waiting_message);
    observed = driver_.observe(uid);
    if (!observed) return fail(observed.error());
    prober_->update(current, *observed, notes);
  }
  api::PodStatus status = compute_pod_status(current, *observed, notes, {.node_ip = options_.node.node_ip, .now = now_rfc3339()});
  json wanted = status_json(pod, status);
  // A sync right after our write sees the pod from before it (the informer has not caught up):
  // what we wrote is the API's status then, and writing it again is a wasted write and event.
  const bool written = !written_at_version.empty() && written_at_version == pod.metadata.resource_version && last_written == wanted.dump();
  bool wrote = false;
  if (!written && wanted != status_json(pod, pod.status)) {
    api::Pod body = pod;
    body.status = status;
    body.metadata.resource_version.clear();  // the kubelet owns the status: no precondition
    auto r = api.send("PUT", client::object_path<api::Pod>(pod.metadata.namespace_, pod.metadata.name) + "/status",
                      api::encode_object(api::Object{body}).dump(), "application/json");
    if (!r) return fail(with_context(r.error(), "status of pod " + pod.metadata.namespace_ + "/" + pod.metadata.name));
    if (r->status == 404) return {};  // deleted meanwhile: the informer says so next
    if (r->status < 200 || r->status >= 300)
      return fail(client::http_error(r->status, r->body, "status of pod " + pod.metadata.namespace_ + "/" + pod.metadata.name));
    wrote = true;
  }
  {
    std::lock_guard lock(mu_);
    auto& rec = records_[uid];
    rec.notes = std::move(notes);
    rec.last_status = wanted.dump();
    if (wrote) rec.written_at_version = pod.metadata.resource_version;
  }
  if (requeue) queue_.add_after(uid, *requeue);
  return {};
}

std::optional<std::chrono::milliseconds> Kubelet::endpoint_handoff_wait(const std::string& uid, const api::Pod& pod,
                                                                        std::chrono::seconds grace) {
  if (!endpoint_slices_) return std::nullopt;
  auto presence = EndpointPresence::StillReady;  // until the slices are known
  if (endpoint_slices_->has_synced()) {
    auto slices = endpoint_slices_->indexer().in_namespace(pod.metadata.namespace_);
    std::vector<const api::EndpointSlice*> views;
    views.reserve(slices.size());
    for (const auto& s : slices) views.push_back(s.get());
    presence = endpoint_presence(views, uid);
  }
  auto wait = handoff_.wait(uid, presence, grace, EndpointHandoff::Clock::now());
  if (!wait) handoff_.forget(uid);
  return wait;
}

Result<> Kubelet::terminate(const std::string& uid, const api::Pod& pod, bool confirm) {
  prober_->forget(uid);
  const auto grace = pod.metadata.name.empty() ? std::chrono::seconds(0) : termination_grace(pod);
  // A graceful delete keeps the pod serving until its Services' dataplanes have let it go.
  if (confirm && !pod.metadata.name.empty()) {
    if (auto wait = endpoint_handoff_wait(uid, pod, grace)) {
      queue_.add_after(uid, *wait);
      return {};
    }
  }
  // Stopping takes up to the grace period (a PID 1 that ignores SIGTERM takes all of it), so it
  // runs on a thread of its own, as upstream's per-pod workers do: a worker never waits for it,
  // and many pods stop at once.
  std::lock_guard lock(stopping_mu_);
  reap_stoppers_locked();
  if (stoppers_.contains(uid)) return {};  // already stopping: it queues the pod again when done
  auto& stopper = stoppers_[uid];
  stopper.thread = std::thread([this, uid, pod, grace, confirm, done = &stopper.done] {
    client::ApiClient api(connection_);
    auto r = stop_pod(uid, pod, grace, api, confirm);
    if (!r)
      spdlog::warn("event=pod_stop_failed pod={}/{} uid={} error=\"{}\"", pod.metadata.namespace_, pod.metadata.name, uid,
                   r.error().message);
    *done = true;
    if (!r) queue_.add_rate_limited(uid);
  });
  return {};
}

void Kubelet::reap_stoppers_locked() {
  for (auto it = stoppers_.begin(); it != stoppers_.end();) {
    if (!it->second.done) {
      ++it;
      continue;
    }
    it->second.thread.join();
    it = stoppers_.erase(it);
  }
}

Result<> Kubelet::stop_pod(const std::string& uid, const api::Pod& pod, std::chrono::seconds grace, client::ApiClient& api, bool confirm) {
  if (!pod.metadata.name.empty()) {
    if (auto observed = driver_.observe(uid); observed) prober_->run_pre_stop(pod, *observed, grace);
  }
  if (auto r = driver_.teardown(uid, grace); !r) return r;
  if (auto r = volumes_.teardown(uid); !r) return r;
  tokens_.forget_pod(uid);
  spdlog::info("event=pod_torn_down pod={}/{} uid={} grace_s={} confirm={}", pod.metadata.namespace_, pod.metadata.name, uid, grace.count(),
               confirm);
  if (!confirm) return {};
  // The API server keeps a gracefully deleted pod until the kubelet says its containers are gone.
  json options = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}, {"gracePeriodSeconds", 0}, {"preconditions", {{"uid", uid}}}};
  auto r =
      api.send("DELETE", client::object_path<api::Pod>(pod.metadata.namespace_, pod.metadata.name), options.dump(), "application/json");
  if (!r) return fail(with_context(r.error(), "confirming the deletion of pod " + pod.metadata.namespace_ + "/" + pod.metadata.name));
  if (r->status != 404 && r->status != 409 && (r->status < 200 || r->status >= 300))
    return fail(
        client::http_error(r->status, r->body, "confirming the deletion of pod " + pod.metadata.namespace_ + "/" + pod.metadata.name));
  return {};
}

void Kubelet::relist_loop() {
  std::map<std::string, std::pair<cri::ContainerState, std::string>> last;  // container id → state, pod uid
  auto last_resync = std::chrono::steady_clock::now();
  while (!stopping_) {
    std::this_thread::sleep_for(options_.relist_period);
    if (stopping_) break;
    std::set<std::string> changed;
    auto containers = cri_->list_containers();
    if (containers) {
      std::map<std::string, std::pair<cri::ContainerState, std::string>> now;
      for (const auto& c : *containers) {
        auto uid = c.labels.find(kPodUidLabel);
        if (uid == c.labels.end()) continue;
        now[c.id] = {c.state, uid->second};
        auto before = last.find(c.id);
        if (before == last.end() || before->second.first != c.state) changed.insert(uid->second);
      }
      for (const auto& [id, v] : last)
        if (!now.contains(id)) changed.insert(v.second);
      last = std::move(now);
    }
    // Sandboxes of pods the API does not know (deleted while we were down): tear them down.
    if (pods_.has_synced()) {
      if (auto uids = driver_.sandbox_uids(); uids) {
        std::lock_guard lock(mu_);
        for (const auto& uid : *uids)
          if (!records_.contains(uid)) {
            records_[uid].gone = true;
            changed.insert(uid);
          }
      }
    }
    // Volume directories of pods the API does not know (a pod that never got a sandbox, deleted
    // while we were down): torn down the same way.
    if (pods_.has_synced()) {
      std::lock_guard lock(mu_);
      for (const auto& uid : volumes_.pod_uids_on_disk())
        if (!records_.contains(uid)) {
          records_[uid].gone = true;
          changed.insert(uid);
        }
    }
    if (std::chrono::steady_clock::now() - last_resync >= options_.resync_period) {
      last_resync = std::chrono::steady_clock::now();
      std::lock_guard lock(mu_);
      for (const auto& [uid, _] : records_) changed.insert(uid);
    }
    if (!pods_.has_synced()) continue;  // the first list decides what is an orphan
    for (const auto& uid : changed) queue_.add(uid);
  }
}

Result<std::optional<api::ConfigMap>> Kubelet::InformerConfigLookup::config_map(const std::string& ns, const std::string& name) const {
  if (!cms_.has_synced()) return fail(ErrorCode::Unavailable, "the kubelet's ConfigMap cache has not synced yet");
  auto cm = cms_.indexer().get(ns + "/" + name);
  if (!cm) return std::optional<api::ConfigMap>();
  return std::optional<api::ConfigMap>(*cm);
}

Result<std::optional<api::Secret>> Kubelet::InformerConfigLookup::secret(const std::string& ns, const std::string& name) const {
  client::ApiClient api(connection_);
  const std::string path = fmt::format("/api/v1/namespaces/{}/secrets/{}", ns, name);
  auto r = api.get(path);
  if (!r) return fail(with_context(r.error(), "get secret " + ns + "/" + name));
  if (r->status == 404) return std::optional<api::Secret>();
  if (r->status != 200) return fail(client::http_error(r->status, r->body, "get secret " + ns + "/" + name));
  auto body = nlohmann::json::parse(r->body, nullptr, false);
  auto decoded = api::decode_object_as(body, api::Secret::kApiVersion, api::Secret::kKind);
  if (!decoded) return fail(ErrorCode::Internal, fmt::format("secret {}/{}: {}", ns, name, decoded.error().message));
  return std::optional<api::Secret>(std::get<api::Secret>(std::move(decoded->object)));
}

Result<std::string> Kubelet::InformerConfigLookup::service_account_token(const api::Pod& pod, const std::string& audience,
                                                                         std::int64_t expiration_seconds) const {
  return tokens_.token({.ns = pod.metadata.namespace_,
                        .service_account = pod.spec.service_account_name.empty() ? "default" : pod.spec.service_account_name,
                        .audience = audience,
                        .expiration_seconds = expiration_seconds,
                        .pod_name = pod.metadata.name,
                        .pod_uid = pod.metadata.uid});
}

Result<std::vector<api::Service>> Kubelet::InformerConfigLookup::services(const std::string& ns) const {
  // As the kubelet's "services have not yet been read at this point, cannot construct envvars".
  if (!services_.has_synced()) return fail(ErrorCode::Unavailable, "the kubelet's Service cache has not synced yet");
  std::vector<api::Service> out;
  for (const auto& s : services_.indexer().in_namespace(ns)) out.push_back(*s);
  return out;
}

void Kubelet::report_unhealthy(const std::string& uid, const std::string& container, const std::string& message) {
  client::ObjectPtr<api::Pod> pod;
  {
    std::lock_guard lock(mu_);
    auto it = records_.find(uid);
    if (it == records_.end() || it->second.gone || !it->second.pod) return;
    pod = it->second.pod;
  }
  client::ApiClient api(connection_);
  warn_once(api, *pod, container_field_path(*pod, container), "Unhealthy", message);
}

Result<std::optional<api::PersistentVolumeClaim>> Kubelet::InformerConfigLookup::claim(const std::string& ns,
                                                                                       const std::string& name) const {
  if (!claims_.has_synced()) return fail(ErrorCode::Unavailable, "the kubelet's PersistentVolumeClaim cache has not synced yet");
  auto c = claims_.indexer().get(ns + "/" + name);
  if (!c) return std::optional<api::PersistentVolumeClaim>();
  return std::optional<api::PersistentVolumeClaim>(*c);
}

Result<std::optional<api::PersistentVolume>> Kubelet::InformerConfigLookup::volume(const std::string& name) const {
  if (!volumes_.has_synced()) return fail(ErrorCode::Unavailable, "the kubelet's PersistentVolume cache has not synced yet");
  auto v = volumes_.indexer().get(name);
  if (!v) return std::optional<api::PersistentVolume>();
  return std::optional<api::PersistentVolume>(*v);
}

void Kubelet::warn_once(client::ApiClient& api, const api::Pod& pod, const std::string& field_path, const std::string& reason,
                        const std::string& message) {
  {
    std::lock_guard lock(mu_);
    if (!records_[pod.metadata.uid].events_sent.insert(reason + "/" + field_path + "/" + message).second) return;
  }
  spdlog::warn("event=pod_warning pod={}/{} reason={} message=\"{}\"", pod.metadata.namespace_, pod.metadata.name, reason, message);
  if (auto r = post_pod_event(api, pod, options_.node.node_name, field_path, "Warning", reason, message); !r)
    spdlog::warn("event=pod_event_failed pod={}/{} error=\"{}\"", pod.metadata.namespace_, pod.metadata.name, r.error().message);
}

bool Kubelet::ready_to_start(client::ApiClient& api, const api::Pod& pod, const ObservedPod& observed, ContainerNotes& notes,
                             RuntimeFacts& facts) {
  facts.config = &config_lookup_;
  auto volumes = volumes_.prepare(pod);
  if (!volumes) {
    // A running pod keeps the files it has; a new one waits in ContainerCreating.
    if (volumes.error().code != ErrorCode::Unavailable)
      warn_once(api, pod, "", "FailedMount", volumes.error().message);
    else
      spdlog::info("event=pod_volumes_waiting pod={}/{} why=\"{}\"", pod.metadata.namespace_, pod.metadata.name, volumes.error().message);
    return observed.sandbox.has_value();
  }
  facts.volumes = std::move(*volumes);
  if (observed.sandbox) return true;
  // Before the first sandbox: every container's config must be possible, so that a missing key
  // leaves nothing on the node (the containers wait in CreateContainerConfigError).
  bool ok = true;
  auto check = [&](const api::Container& c) {
    auto config = make_container_config(pod, c, 0, facts, options_.node);
    ContainerNote& note = notes[c.name];
    if (config) {
      if (note.waiting_reason == "CreateContainerConfigError") note = ContainerNote{};
      return;
    }
    if (config.error().code == ErrorCode::Unavailable) {
      ok = false;
      return;
    }
    note.waiting_reason = "CreateContainerConfigError";
    note.waiting_message = config.error().message;
    note.waiting_for_id.clear();
    warn_once(api, pod, container_field_path(pod, c.name), "Failed", "Error: " + config.error().message);
    ok = false;
  };
  for (const auto& c : pod.spec.init_containers) check(c);
  for (const auto& c : pod.spec.containers) check(c);
  return ok;
}

}  // namespace switchyard::kubelet
