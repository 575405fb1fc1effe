#include "orchestrator/controllers/service_account_controller.h"

#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"

namespace switchyard::controllers {

namespace {
constexpr const char* kDefaultName = "default";
}  // namespace

struct ServiceAccountController::Handlers {
  ServiceAccountController& c;
  std::uint64_t namespaces = 0, accounts = 0;
  ~Handlers() {
    c.namespaces_.remove_event_handler(namespaces);
    c.accounts_.remove_event_handler(accounts);
  }
};

ServiceAccountController::ServiceAccountController(client::SharedInformerFactory& informers, client::ClusterConnection connection)
    : informers_(informers),
      connection_(std::move(connection)),
      namespaces_(informers.informer<api::Namespace>()),
      accounts_(informers.informer<api::ServiceAccount>()) {
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  auto on_namespace = [this](const client::ObjectPtr<api::Namespace>& n) { queue_.add(n->metadata.name); };
  handlers_->namespaces =
      namespaces_.add_event_handler({on_namespace, [on_namespace](const auto&, const auto& n) { on_namespace(n); }, {}, {}});
  // Only a deleted `default` matters: it is made again.
  auto on_account_gone = [this](const client::ObjectPtr<api::ServiceAccount>& sa, bool) {
    if (sa->metadata.name == kDefaultName) queue_.add(sa->metadata.namespace_);
  };
  handlers_->accounts = accounts_.add_event_handler({{}, {}, on_account_gone, {}});
}

ServiceAccountController::~ServiceAccountController() { stop(); }

void ServiceAccountController::start() {
  informers_.start();
  worker_ = std::thread([this] { worker(); });
}

void ServiceAccountController::stop() {
  stopping_ = true;
  queue_.shut_down();
  if (worker_.joinable()) worker_.join();
}

void ServiceAccountController::worker() {
  while (!stopping_ && !informers_.wait_for_cache_sync(std::chrono::seconds(1), &stopping_)) {
  }
  if (stopping_) return;
  client::ApiClient api(connection_);
  while (auto key = queue_.get()) {
    if (auto synced = sync_namespace(*key, api); synced) {
      queue_.forget(*key);
    } else {
      queue_.add_rate_limited(*key);
      spdlog::info("event=serviceaccount_sync_requeued namespace={} error=\"{}\"", *key, synced.error().describe());
    }
    queue_.done(*key);
  }
}

Result<void> ServiceAccountController::sync_namespace(const std::string& ns, client::ApiClient& api) {
  const auto n = namespaces_.indexer().get(ns);
  if (!n || n->metadata.deletion_timestamp || n->status_phase == "Terminating") return {};
  if (accounts_.indexer().get(ns + "/" + kDefaultName)) return {};
  api::ServiceAccount sa;
  sa.metadata.name = kDefaultName;
  sa.metadata.namespace_ = ns;
  auto made = client::create(api, sa);
  if (!made && made.error().code != ErrorCode::AlreadyExists) return fail(made.error());
  if (made) spdlog::info("event=serviceaccount_created namespace={} name={}", ns, kDefaultName);
  return {};
}

}  // namespace switchyard::controllers
