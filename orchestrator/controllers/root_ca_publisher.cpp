#include "orchestrator/controllers/root_ca_publisher.h"

#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"

namespace switchyard::controllers {

namespace {
constexpr const char* kDescription =
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP "
    "or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";
}  // namespace

struct RootCaPublisher::Handlers {
  RootCaPublisher& c;
  std::uint64_t namespaces = 0, config_maps = 0;
  ~Handlers() {
    c.namespaces_.remove_event_handler(namespaces);
    c.config_maps_.remove_event_handler(config_maps);
  }
};

RootCaPublisher::RootCaPublisher(client::SharedInformerFactory& informers, client::ClusterConnection connection, std::string ca_pem)
    : informers_(informers),
      connection_(std::move(connection)),
      ca_pem_(std::move(ca_pem)),
      namespaces_(informers.informer<api::Namespace>()),
      config_maps_(informers.informer<api::ConfigMap>()) {
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  auto on_namespace = [this](const client::ObjectPtr<api::Namespace>& n) { queue_.add(n->metadata.name); };
  handlers_->namespaces =
      namespaces_.add_event_handler({on_namespace, [on_namespace](const auto&, const auto& n) { on_namespace(n); }, {}, {}});
  auto on_config_map = [this](const client::ObjectPtr<api::ConfigMap>& cm) {
    if (cm->metadata.name == kRootCaConfigMapName) queue_.add(cm->metadata.namespace_);
  };
  handlers_->config_maps = config_maps_.add_event_handler({{},
                                                           [on_config_map](const auto&, const auto& cm) { on_config_map(cm); },
                                                           [on_config_map](const auto& cm, bool) { on_config_map(cm); },
                                                           {}});
}

RootCaPublisher::~RootCaPublisher() { stop(); }

void RootCaPublisher::start() {
  informers_.start();
  worker_ = std::thread([this] { worker(); });
}

void RootCaPublisher::stop() {
  stopping_ = true;
  queue_.shut_down();
  if (worker_.joinable()) worker_.join();
}

void RootCaPublisher::worker() {
  while (!stopping_ && !informers_.wait_for_cache_sync(std::chrono::seconds(1), &stopping_)) {
  }
  if (stopping_) return;
  client::ApiClient api(connection_);
  while (auto key = queue_.get()) {
    if (auto synced = sync_namespace(*key, api); synced) {
      queue_.forget(*key);
    } else {
      queue_.add_rate_limited(*key);
      spdlog::info("event=root_ca_sync_requeued namespace={} error=\"{}\"", *key, synced.error().describe());
    }
    queue_.done(*key);
  }
}

Result<void> RootCaPublisher::sync_namespace(const std::string& ns, client::ApiClient& api) {
  const auto n = namespaces_.indexer().get(ns);
  if (!n || n->metadata.deletion_timestamp || n->status_phase == "Terminating") return {};
  const auto existing = config_maps_.indexer().get(ns + "/" + kRootCaConfigMapName);
  if (existing && existing->data.size() == 1 && existing->data.contains("ca.crt") && existing->data.at("ca.crt") == ca_pem_) return {};
  api::ConfigMap cm;
  if (existing) cm = *existing;
  cm.metadata.name = kRootCaConfigMapName;
  cm.metadata.namespace_ = ns;
  cm.metadata.annotations["kubernetes.io/description"] = kDescription;
  cm.data = {{"ca.crt", ca_pem_}};
  cm.binary_data.clear();
  auto written = existing ? client::update(api, cm) : client::create(api, cm);
  if (!written && written.error().code != ErrorCode::AlreadyExists) return fail(written.error());
  if (written) spdlog::info("event=root_ca_published namespace={} {}", ns, existing ? "updated" : "created");
  return {};
}

}  // namespace switchyard::controllers
