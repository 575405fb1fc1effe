// ServiceAccount admission (plugin/pkg/admission/serviceaccount), on pod create:
//  - spec.serviceAccountName defaults to "default" (or the deprecated spec.serviceAccount, which
//    then mirrors it, as the v1 conversion does);
//  - the ServiceAccount must exist: 403 "error looking up service account NS/NAME: ..." (the
//    default one is retried for a while, as its controller may be about to create it);
//  - unless automountServiceAccountToken is false (the pod's, else the ServiceAccount's), the
//    projected volume kube-api-access-XXXXX (a bound token, the cluster CA, the namespace) is
//    added and mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount in every init
//    container and container that has nothing mounted there;
//  - the ServiceAccount's imagePullSecrets when the pod names none;
//  - mirror pods are left alone but may not use service accounts.
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "orchestrator/apiserver/admission.h"

namespace switchyard::apiserver {

namespace {

constexpr const char* kMirrorPodAnnotation = "kubernetes.io/config.mirror";
constexpr const char* kVolumePrefix = "kube-api-access-";
// serviceaccount.WarnOnlyBoundTokenExpirationSeconds: one hour and 7 s, so that the API server
// can tell an automounted token from one asked for.
constexpr std::int64_t kAutomountTokenExpirationSeconds = 3607;
constexpr int kDefaultServiceAccountAttempts = 10;

Json passthrough_json(const api::Passthrough& p, const std::string& key) {
  auto it = p.find(key);
  return it == p.end() ? Json() : Json::parse(it->second, nullptr, false);
}

ApiError forbidden(const ResourceInfo& r, const std::string& name, const std::string& why) {
  return status_error(403, "Forbidden", fmt::format("{} \"{}\" is forbidden: {}", r.group_resource(), name, why),
                      Json{{"name", name}, {"group", r.group}, {"kind", r.plural}});
}

// getServiceAccount: the default ServiceAccount is looked up 10 times, 100-200 ms apart.
ApiResult<Json> service_account(ObjectRegistry& registry, const std::string& ns, const std::string& name) {
  const ResourceInfo& sa = *find_resource("", "v1", "serviceaccounts");
  const int attempts = name == kDefaultServiceAccount ? kDefaultServiceAccountAttempts : 1;
  const auto interval = std::chrono::milliseconds(100 + random_name_suffix(1)[0] % 100);
  for (int i = 0;; ++i) {
    auto found = registry.get(sa, ns, name);
    if (found || found.error().code != 404 || i + 1 >= attempts) return found;
    std::this_thread::sleep_for(interval);
  }
}

Json token_volume(const std::string& name) {
  return {
      {"name", name},
      {"projected",
       {{"sources",
         Json::array({{{"serviceAccountToken", {{"expirationSeconds", kAutomountTokenExpirationSeconds}, {"path", "token"}}}},
                      {{"configMap", {{"name", "kube-root-ca.crt"}, {"items", Json::array({{{"key", "ca.crt"}, {"path", "ca.crt"}}})}}}},
                      {{"downwardAPI",
                        {{"items", Json::array({{{"path", "namespace"},
                                                 {"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "metadata.namespace"}}}}})}}}}})},
        {"defaultMode", 0644}}}};
}

bool should_automount(const api::Pod& pod, const Json& sa) {
  if (const Json pod_says = passthrough_json(pod.spec.passthrough, "automountServiceAccountToken"); pod_says.is_boolean())
    return pod_says.get<bool>();
  if (const Json sa_says = sa.value("automountServiceAccountToken", Json()); sa_says.is_boolean()) return sa_says.get<bool>();
  return true;
}

// mountServiceAccountToken: an existing kube-api-access-* volume is reused by name.
void mount_token(api::Pod& pod) {
  Json volumes = passthrough_json(pod.spec.passthrough, "volumes");
  if (!volumes.is_array()) volumes = Json::array();
  std::string volume_name;
  for (const auto& v : volumes)
    if (v.is_object() && v.value("name", "").starts_with(kVolumePrefix)) {
      volume_name = v.value("name", "");
      break;
    }
  const bool has_volume = !volume_name.empty();
  if (!has_volume) volume_name = kVolumePrefix + random_name_suffix(5);
  bool needs_volume = false;
  auto add_mount = [&](api::Container& c) {
    Json mounts = passthrough_json(c.passthrough, "volumeMounts");
    if (!mounts.is_array()) mounts = Json::array();
    for (const auto& m : mounts)
      if (m.is_object() && m.value("mountPath", "") == kServiceAccountTokenMountPath) return;
    mounts.push_back({{"name", volume_name}, {"readOnly", true}, {"mountPath", kServiceAccountTokenMountPath}});
    c.passthrough["volumeMounts"] = mounts.dump();
    needs_volume = true;
  };
  for (auto& c : pod.spec.init_containers) add_mount(c);
  for (auto& c : pod.spec.containers) add_mount(c);
  if (has_volume || !needs_volume) return;
  volumes.push_back(token_volume(volume_name));
  pod.spec.passthrough["volumes"] = volumes.dump();
}

std::mutex admitting_mu;
std::set<const ObjectRegistry*> admitting;  // the registries with the plugin on

}  // namespace

void enable_service_account_admission(const ObjectRegistry& registry, bool on) {
  std::lock_guard lock(admitting_mu);
  if (on)
    admitting.insert(&registry);
  else
    admitting.erase(&registry);
}

bool service_account_admission(const ObjectRegistry& registry) {
  std::lock_guard lock(admitting_mu);
  return admitting.contains(&registry);
}

ApiResult<void> admit_pod_service_account(ObjectRegistry& registry, const ResourceInfo& r, api::Pod& pod) {
  auto& spec = pod.spec;
  if (pod.metadata.annotations.contains(kMirrorPodAnnotation)) {
    if (!spec.service_account_name.empty())
      return std::unexpected(forbidden(r, pod.metadata.name, "a mirror pod may not reference service accounts"));
    return {};
  }
  if (spec.service_account_name.empty()) {
    const Json deprecated = passthrough_json(spec.passthrough, "serviceAccount");
    spec.service_account_name =
        deprecated.is_string() && !deprecated.get<std::string>().empty() ? deprecated.get<std::string>() : kDefaultServiceAccount;
  }
  spec.passthrough["serviceAccount"] = Json(spec.service_account_name).dump();
  const std::string& ns = pod.metadata.namespace_;
  auto sa = service_account(registry, ns, spec.service_account_name);
  if (!sa) {
    const std::string cause = sa.error().code == 404 ? fmt::format("serviceaccount \"{}\" not found", spec.service_account_name)
                                                     : sa.error().status.value("message", "");
    return std::unexpected(
        forbidden(r, pod.metadata.name, fmt::format("error looking up service account {}/{}: {}", ns, spec.service_account_name, cause)));
  }
  if (should_automount(pod, *sa)) mount_token(pod);
  const Json pull_secrets = passthrough_json(spec.passthrough, "imagePullSecrets");
  const Json sa_pull_secrets = sa->value("imagePullSecrets", Json());
  if ((!pull_secrets.is_array() || pull_secrets.empty()) && sa_pull_secrets.is_array() && !sa_pull_secrets.empty()) {
    Json names = Json::array();
    for (const auto& s : sa_pull_secrets)
      if (s.is_object()) names.push_back({{"name", s.value("name", "")}});
    spec.passthrough["imagePullSecrets"] = names.dump();
  }
  return {};
}

}  // namespace switchyard::apiserver
