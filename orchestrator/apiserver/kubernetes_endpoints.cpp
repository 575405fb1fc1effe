#include "orchestrator/apiserver/kubernetes_endpoints.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace switchyard::apiserver {

namespace {

constexpr const char* kName = "kubernetes";
constexpr const char* kNamespace = "default";

// Creates `desired`, or replaces the spec-like fields (`fields`) of the object there when they differ.
Result<> ensure(ObjectRegistry& registry, const ResourceInfo& r, const Json& desired, std::initializer_list<const char*> fields) {
  std::vector<std::string> warnings;
  auto current = registry.get(r, kNamespace, kName);
  if (!current) {
    if (current.error().code != 404)
      return fail(ErrorCode::Internal,
                  fmt::format("reading {} {}/{}: {}", r.plural, kNamespace, kName, current.error().status.value("message", "refused")));
    auto created = registry.create(r, kNamespace, desired, FieldValidation::Strict, warnings);
    if (created || created.error().code == 409) return {};
    return fail(ErrorCode::Internal,
                fmt::format("creating {} {}/{}: {}", r.plural, kNamespace, kName, created.error().status.value("message", "refused")));
  }
  Json updated = *current;
  bool same = true;
  for (const char* f : fields) {
    if (updated.value(f, Json()) != desired.at(f)) same = false;
    updated[f] = desired.at(f);
  }
  for (const auto& [k, v] : desired["metadata"]["labels"].items()) {
    if (Json(updated["metadata"]["labels"].value(k, "")) != v) same = false;
    updated["metadata"]["labels"][k] = v;
  }
  if (same) return {};
  auto written = registry.update(r, kNamespace, kName, updated, false, FieldValidation::Strict, warnings);
  if (written) return {};
  return fail(ErrorCode::Internal,
              fmt::format("updating {} {}/{}: {}", r.plural, kNamespace, kName, written.error().status.value("message", "refused")));
}

}  // namespace

// The Service's first port forwards to `port` (kube-apiserver keeps it so as its port changes).
Result<> ensure_service_target_port(ObjectRegistry& registry, int port) {
  const auto& r = *find_resource("", "v1", "services");
  auto service = registry.get(r, kNamespace, kName);
  if (!service) return {};  // not made yet (or deleted): its creator sets the port
  Json updated = *service;
  auto& ports = updated["spec"]["ports"];
  if (!ports.is_array() || ports.empty() || ports[0].value("targetPort", Json()) == Json(port)) return {};
  ports[0]["targetPort"] = port;
  std::vector<std::string> warnings;
  if (auto written = registry.update(r, kNamespace, kName, updated, false, FieldValidation::Strict, warnings); !written)
    return fail(ErrorCode::Internal,
                fmt::format("updating services {}/{}: {}", kNamespace, kName, written.error().status.value("message", "refused")));
  return {};
}

Result<> reconcile_kubernetes_endpoints(ObjectRegistry& registry, const std::string& advertise_ip, int port) {
  if (auto ok = ensure_service_target_port(registry, port); !ok) return ok;
  const bool v6 = advertise_ip.find(':') != std::string::npos;
  const Json endpoints = {
      {"apiVersion", "v1"},
      {"kind", "Endpoints"},
      // skip-mirror: this Service's slice is written below, as kube-apiserver does.
      {"metadata", {{"name", kName}, {"labels", {{"endpointslice.kubernetes.io/skip-mirror", "true"}}}}},
      {"subsets", {{{"addresses", {{{"ip", advertise_ip}}}}, {"ports", {{{"name", "https"}, {"port", port}, {"protocol", "TCP"}}}}}}}};
  if (auto ok = ensure(registry, *find_resource("", "v1", "endpoints"), endpoints, {"subsets"}); !ok) return ok;
  const Json slice = {{"apiVersion", "discovery.k8s.io/v1"},
                      {"kind", "EndpointSlice"},
                      {"metadata", {{"name", kName}, {"labels", {{"kubernetes.io/service-name", kName}}}}},
                      {"addressType", v6 ? "IPv6" : "IPv4"},
                      {"endpoints", {{{"addresses", {advertise_ip}}, {"conditions", {{"ready", true}}}}}},
                      {"ports", {{{"name", "https"}, {"port", port}, {"protocol", "TCP"}}}}};
  return ensure(registry, *find_resource("discovery.k8s.io", "v1", "endpointslices"), slice, {"addressType", "endpoints", "ports"});
}

KubernetesEndpointReconciler::KubernetesEndpointReconciler(ObjectRegistry& registry, std::string advertise_ip, int port,
                                                           std::chrono::milliseconds interval) {
  thread_ = std::thread([this, &registry, ip = std::move(advertise_ip), port, interval] {
    std::unique_lock lock(mu_);
    while (!wake_.wait_for(lock, interval, [this] { return stopping_; }))
      if (auto ok = reconcile_kubernetes_endpoints(registry, ip, port); !ok)
        spdlog::warn("event=kubernetes_endpoints_failed error=\"{}\"", ok.error().message);
  });
}

KubernetesEndpointReconciler::~KubernetesEndpointReconciler() { stop(); }

void KubernetesEndpointReconciler::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace switchyard::apiserver
