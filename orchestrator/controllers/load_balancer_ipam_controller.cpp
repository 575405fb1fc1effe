#include "orchestrator/controllers/load_balancer_ipam_controller.h"

#include <chrono>
#include <ctime>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"

namespace switchyard::controllers {

namespace {

using client::ObjectPtr;

bool wants_pool_address(const api::Service& s) { return s.spec.type == "LoadBalancer" && !s.spec.load_balancer_class; }

// The first ingress IP of the Service's status that lies in the pool.
std::optional<std::uint32_t> pool_ingress(const api::Service& s, const LoadBalancerIpPool& pool) {
  for (const auto& ingress : s.status_load_balancer_ingress)
    if (auto n = LoadBalancerIpPool::to_number(ingress.ip); n && pool.contains(*n)) return n;
  return std::nullopt;
}

std::string now_rfc3339() { return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::time(nullptr))); }

}  // namespace

struct LoadBalancerIpamController::Handlers {
  LoadBalancerIpamController& c;
  std::uint64_t services = 0;
  ~Handlers() { c.services_.remove_event_handler(services); }
};

LoadBalancerIpamController::LoadBalancerIpamController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                                                       LoadBalancerIpPool pool)
    : informers_(informers), connection_(std::move(connection)), pool_(std::move(pool)), services_(informers.informer<api::Service>()) {
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  auto enqueue = [this](const ObjectPtr<api::Service>& s) { queue_.add(client::object_key(s->metadata)); };
  handlers_->services = services_.add_event_handler(
      {enqueue, [enqueue](const auto&, const auto& s) { enqueue(s); }, [enqueue](const auto& s, bool) { enqueue(s); }, {}});
}

LoadBalancerIpamController::~LoadBalancerIpamController() { stop(); }

void LoadBalancerIpamController::start() {
  informers_.start();
  worker_ = std::thread([this] { worker(); });
}

void LoadBalancerIpamController::stop() {
  stopping_ = true;
  queue_.shut_down();
  if (worker_.joinable()) worker_.join();
}

// Reads back what earlier runs gave: the pool addresses in the status of the Services that
// still want one; the first Service (oldest) keeps an address two of them claim.
void LoadBalancerIpamController::seed_from_cache() {
  auto services = services_.indexer().list();
  std::sort(services.begin(), services.end(), [](const auto& a, const auto& b) {
    return std::tie(a->metadata.creation_timestamp, a->metadata.namespace_, a->metadata.name) <
           std::tie(b->metadata.creation_timestamp, b->metadata.namespace_, b->metadata.name);
  });
  std::lock_guard lock(mu_);
  for (const auto& s : services) {
    if (!wants_pool_address(*s)) continue;
    auto ip = pool_ingress(*s, pool_);
    if (!ip || owner_.contains(*ip)) continue;
    const auto key = client::object_key(s->metadata);
    owner_[*ip] = key;
    by_service_[key] = *ip;
  }
  spdlog::info("event=lb_ipam_started pool=\"{}\" size={} allocated={}", pool_.spec(), pool_.size(), owner_.size());
}

void LoadBalancerIpamController::worker() {
  while (!stopping_ && !informers_.wait_for_cache_sync(std::chrono::seconds(1), &stopping_)) {
  }
  if (stopping_) return;
  seed_from_cache();
  client::ApiClient api(connection_);
  while (auto key = queue_.get()) {
    if (auto synced = sync_service(*key, api); synced) {
      queue_.forget(*key);
    } else {
      queue_.add_rate_limited(*key);
      spdlog::info("event=lb_ipam_sync_requeued service={} error=\"{}\"", *key, synced.error().describe());
    }
    queue_.done(*key);
  }
}

void LoadBalancerIpamController::release(const std::string& key) {
  bool released = false;
  {
    std::lock_guard lock(mu_);
    warned_.erase(key);
    if (auto it = by_service_.find(key); it != by_service_.end()) {
      spdlog::info("event=lb_ipam_released service={} ip={}", key, LoadBalancerIpPool::to_text(it->second));
      owner_.erase(it->second);
      by_service_.erase(it);
      released = true;
    }
  }
  // An address came back: the Services still waiting get another try.
  if (released)
    for (const auto& s : services_.indexer().list())
      if (wants_pool_address(*s) && !pool_ingress(*s, pool_)) queue_.add(client::object_key(s->metadata));
}

Result<void> LoadBalancerIpamController::sync_service(const std::string& key, client::ApiClient& api) {
  const auto service = services_.indexer().get(key);
  if (!service || !wants_pool_address(*service)) {
    release(key);
    // No longer a LoadBalancer: take our address out of its status (another class's is not ours).
    if (service && !service->spec.load_balancer_class && pool_ingress(*service, pool_)) return write_ingress(*service, std::nullopt, api);
    return {};
  }
  const auto in_status = pool_ingress(*service, pool_);
  std::optional<std::uint32_t> chosen;
  std::string problem, reason;
  {
    std::lock_guard lock(mu_);
    auto free_or_ours = [&](std::uint32_t ip) {
      auto it = owner_.find(ip);
      return it == owner_.end() || it->second == key;
    };
    const auto held = by_service_.contains(key) ? std::optional(by_service_[key]) : std::nullopt;
    if (!service->spec.load_balancer_ip.empty()) {
      auto requested = LoadBalancerIpPool::to_number(service->spec.load_balancer_ip);
      if (!requested || !pool_.contains(*requested)) {
        reason = "LoadBalancerIPNotInPool";
        problem = fmt::format("spec.loadBalancerIP {} is not in the load balancer pool {}", service->spec.load_balancer_ip, pool_.spec());
      } else if (!free_or_ours(*requested)) {
        reason = "LoadBalancerIPInUse";
        problem = fmt::format("spec.loadBalancerIP {} is held by Service {}", service->spec.load_balancer_ip, owner_[*requested]);
      } else {
        chosen = requested;
      }
    } else if (held) {
      chosen = held;
    } else if (in_status && free_or_ours(*in_status)) {
      chosen = in_status;
    } else {
      std::set<std::uint32_t> used;
      for (const auto& [ip, owner] : owner_) used.insert(ip);
      // Pool addresses another Service shows without being ours (another loadBalancerClass's
      // implementation, a status written by hand) are not handed out twice either.
      for (const auto& other : services_.indexer().list())
        if (auto ip = pool_ingress(*other, pool_); ip && client::object_key(other->metadata) != key) used.insert(*ip);
      chosen = pool_.first_free(used);
      if (!chosen) {
        reason = "AllocationFailed";
        problem = fmt::format("no address left in the load balancer pool {} ({} addresses, all allocated)", pool_.spec(), pool_.size());
      }
    }
    if (held && held != chosen) {
      owner_.erase(*held);
      by_service_.erase(key);
    }
    if (chosen) {
      owner_[*chosen] = key;
      by_service_[key] = *chosen;
      warned_.erase(key);
    }
  }
  if (!chosen) {
    warn_once(*service, reason, problem, api);
    // An address of ours it no longer may keep (its loadBalancerIP changed) goes.
    if (in_status) return write_ingress(*service, std::nullopt, api);
    return {};
  }
  if (in_status == chosen && service->status_load_balancer_ingress.size() == 1) return {};
  spdlog::info("event=lb_ipam_allocated service={} ip={}", key, LoadBalancerIpPool::to_text(*chosen));
  return write_ingress(*service, chosen, api);
}

Result<void> LoadBalancerIpamController::write_ingress(const api::Service& service, const std::optional<std::uint32_t>& ip,
                                                       client::ApiClient& api) {
  api::Service updated = service;
  updated.status_load_balancer_ingress.clear();
  if (ip) updated.status_load_balancer_ingress.push_back({.ip = LoadBalancerIpPool::to_text(*ip)});
  const auto path = client::object_path<api::Service>(service.metadata.namespace_, service.metadata.name) + "/status";
  auto written = client::update_object(api, path, api::encode_object(api::Object{updated}));
  if (!written) return fail(written.error());
  return {};
}

void LoadBalancerIpamController::warn_once(const api::Service& service, const std::string& reason, const std::string& message,
                                           client::ApiClient& api) {
  const auto key = client::object_key(service.metadata);
  {
    std::lock_guard lock(mu_);
    if (auto it = warned_.find(key); it != warned_.end() && it->second == reason) return;
    warned_[key] = reason;
  }
  spdlog::warn("event=lb_ipam_pending service={} reason={} message=\"{}\"", key, reason, message);
  const std::string now = now_rfc3339();
  const nlohmann::json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      // Named as client-go's recorder names Events: the object's name and a hex timestamp.
      {"metadata",
       {{"name", fmt::format("{}.{:x}", service.metadata.name, std::chrono::system_clock::now().time_since_epoch().count())},
        {"namespace", service.metadata.namespace_}}},
      {"involvedObject",
       {{"apiVersion", "v1"},
        {"kind", "Service"},
        {"namespace", service.metadata.namespace_},
        {"name", service.metadata.name},
        {"uid", service.metadata.uid},
        {"resourceVersion", service.metadata.resource_version}}},
      {"reason", reason},
      {"message", message},
      {"type", "Warning"},
      {"count", 1},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"source", {{"component", "lb-ipam-controller"}}}};
  const auto path = client::collection_path<api::Event>(service.metadata.namespace_);
  if (auto created = client::create_object(api, path, event); !created)
    spdlog::warn("event=lb_ipam_event_failed service={} error=\"{}\"", key, created.error().describe());
}

}  // namespace switchyard::controllers
