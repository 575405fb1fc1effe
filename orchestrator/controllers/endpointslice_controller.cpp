#include "orchestrator/controllers/endpointslice_controller.h"

#include <map>

#include <spdlog/spdlog.h>

#include "endpoints/controller/endpoint_mirroring.h"
#include "orchestrator/api/json_codec.h"

namespace switchyard::controllers {

namespace {

using apiserver::Json;

template <class T>
std::vector<T> list_all(apiserver::ObjectRegistry& registry, const char* group, const char* plural) {
  std::vector<T> out;
  const auto* r = apiserver::find_resource(group, "v1", plural);
  auto list = registry.list(*r, "", {});
  if (!list) return out;
  for (const auto& item : (*list)["items"]) {
    auto d = api::decode_object(item);
    if (d) out.push_back(std::get<T>(std::move(d->object)));
  }
  return out;
}

const apiserver::ResourceInfo& slices_resource() { return *apiserver::find_resource("discovery.k8s.io", "v1", "endpointslices"); }

}  // namespace

EndpointSliceController::EndpointSliceController(apiserver::ObjectRegistry& registry, slice_controller::ReconcilerOptions options)
    : registry_(registry), options_(options) {}

EndpointSliceController::~EndpointSliceController() { stop(); }

void EndpointSliceController::wake() {
  std::lock_guard lock(mu_);
  dirty_ = true;
  cv_.notify_one();
}

void EndpointSliceController::start() {
  for (const char* plural : {"services", "pods", "nodes", "endpoints"}) {
    auto w = registry_.watch(*apiserver::find_resource("", "v1", plural), "", {}, [this](const apiserver::WatchEvent&) { wake(); });
    if (w) watches_.push_back(std::move(*w));
  }
  auto w = registry_.watch(slices_resource(), "", {}, [this](const apiserver::WatchEvent&) { wake(); });
  if (w) watches_.push_back(std::move(*w));
  worker_ = std::thread([this] {
    while (!stopping_) {
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::seconds(30), [this] { return dirty_ || stopping_.load(); });  // and a periodic resync
        if (stopping_) return;
        dirty_ = false;
      }
      reconcile_all();
      // Coalesce bursts: the writes of this pass wake us once more, and that pass is a no-op.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
}

void EndpointSliceController::stop() {
  if (stopping_.exchange(true)) return;
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  watches_.clear();
}

void EndpointSliceController::apply(const slice_controller::SliceChanges& changes, const std::string& ns) {
  std::vector<std::string> warnings;
  for (const auto& s : changes.to_create) {
    auto r = registry_.create(slices_resource(), ns, api::encode_object(s), apiserver::FieldValidation::Strict, warnings);
    r ? ++stats_.created : ++stats_.failed_writes;
    if (!r) spdlog::warn("event=slice_create_failed namespace={} message=\"{}\"", ns, r.error().status.value("message", ""));
  }
  for (const auto& s : changes.to_update) {
    auto r = registry_.update(slices_resource(), ns, s.metadata.name, api::encode_object(s), false, apiserver::FieldValidation::Strict, warnings);
    r ? ++stats_.updated : ++stats_.failed_writes;
    if (!r) spdlog::warn("event=slice_update_failed slice={}/{} message=\"{}\"", ns, s.metadata.name, r.error().status.value("message", ""));
  }
  for (const auto& s : changes.to_delete) {
    auto r = registry_.remove(slices_resource(), ns, s.metadata.name);
    r ? ++stats_.deleted : ++stats_.failed_writes;
  }
  for (const auto& w : changes.warnings) spdlog::info("event=slice_controller_warning namespace={} message=\"{}\"", ns, w);
}

void EndpointSliceController::reconcile_all() {
  ++stats_.passes;
  const auto services = list_all<api::Service>(registry_, "", "services");
  const auto pods = list_all<api::Pod>(registry_, "", "pods");
  const auto nodes = list_all<api::Node>(registry_, "", "nodes");
  const auto endpoints = list_all<api::Endpoints>(registry_, "", "endpoints");
  const auto slices = list_all<api::EndpointSlice>(registry_, "discovery.k8s.io", "endpointslices");
  const slice_controller::NodeLookup node_lookup(nodes);

  std::map<std::string, std::vector<api::Pod>> pods_by_ns;
  for (const auto& p : pods) pods_by_ns[p.metadata.namespace_].push_back(p);
  std::map<std::pair<std::string, std::string>, std::vector<api::EndpointSlice>> slices_by_service;
  for (const auto& s : slices) {
    auto it = s.metadata.labels.find("kubernetes.io/service-name");
    if (it != s.metadata.labels.end()) slices_by_service[{s.metadata.namespace_, it->second}].push_back(s);
  }
  std::map<std::pair<std::string, std::string>, const api::Endpoints*> endpoints_by_name;
  for (const auto& e : endpoints) endpoints_by_name[{e.metadata.namespace_, e.metadata.name}] = &e;

  for (const auto& svc : services) {
    const std::pair key{svc.metadata.namespace_, svc.metadata.name};
    const auto& existing = slices_by_service[key];
    try {
      if (!svc.spec.selector.empty()) {
        apply(slice_controller::reconcile_service_slices(svc, pods_by_ns[svc.metadata.namespace_], node_lookup, existing, options_),
              svc.metadata.namespace_);
      } else {
        auto ep = endpoints_by_name.find(key);
        const api::Endpoints* user_endpoints = ep == endpoints_by_name.end() ? nullptr : ep->second;
        apply(slice_controller::mirror_endpoints(user_endpoints, &svc, existing, {}), svc.metadata.namespace_);
      }
    } catch (const std::exception& e) {
      spdlog::error("event=slice_reconcile_failed service={}/{} error=\"{}\"", key.first, key.second, e.what());
    }
  }
}

}  // namespace switchyard::controllers
