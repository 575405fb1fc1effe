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

using Address = LoadBalancerIpPool::Address;
using Family = LoadBalancerIpPool::Family;

// The first ingress IP of the Service's status that lies in the pool (of `family`, or any).
std::optional<Address> pool_ingress(const api::Service& s, const LoadBalancerIpPool& pool, std::optional<Family> family = std::nullopt) {
  for (const auto& ingress : s.status_load_balancer_ingress)
    if (auto n = LoadBalancerIpPool::to_number(ingress.ip);
        n && pool.contains(*n) && (!family || LoadBalancerIpPool::family_of(*n) == *family))
      return n;
  return std::nullopt;
}

// The Service's families, primary first (spec.ipFamilies; IPv4 when the API server left it empty).
std::vector<Family> families_of(const api::Service& s) {
  std::vector<Family> out;
  for (const auto& f : s.spec.ip_families) out.push_back(f == "IPv6" ? Family::IPv6 : Family::IPv4);
  if (out.empty()) out.push_back(Family::IPv4);
  return out;
}

std::string texts(const std::vector<Address>& ips) {
  std::string out;
  for (auto ip : ips) out += (out.empty() ? "" : ",") + LoadBalancerIpPool::to_text(ip);
  return out;
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
    const auto key = client::object_key(s->metadata);
    for (const auto family : families_of(*s)) {
      auto ip = pool_ingress(*s, pool_, family);
      if (!ip || owner_.contains(*ip)) continue;
      owner_[*ip] = key;
      by_service_[key][family] = *ip;
    }
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
      for (const auto& [family, ip] : it->second) {
        spdlog::info("event=lb_ipam_released service={} ip={}", key, LoadBalancerIpPool::to_text(ip));
        owner_.erase(ip);
      }
      by_service_.erase(it);
      released = true;
    }
  }
  // An address came back: the Services still waiting (for one family or all) get another try;
  // those with all they need find nothing to do.
  if (released)
    for (const auto& s : services_.indexer().list())
      if (wants_pool_address(*s)) queue_.add(client::object_key(s->metadata));
}

Result<void> LoadBalancerIpamController::sync_service(const std::string& key, client::ApiClient& api) {
  const auto service = services_.indexer().get(key);
  if (!service || !wants_pool_address(*service)) {
    release(key);
    // No longer a LoadBalancer: take our address out of its status (another class's is not ours).
    if (service && !service->spec.load_balancer_class && pool_ingress(*service, pool_)) return write_ingress(*service, {}, api);
    return {};
  }
  // One address per family of the Service that the pool has (a dual-stack Service gets two);
  // spec.loadBalancerIP, a single address, asks for that one alone.
  std::vector<Address> chosen;
  std::string problem, reason;
  {
    std::lock_guard lock(mu_);
    auto free_or_ours = [&](Address ip) {
      auto it = owner_.find(ip);
      return it == owner_.end() || it->second == key;
    };
    const auto held = by_service_.contains(key) ? by_service_[key] : std::map<Family, Address>{};
    std::map<Family, Address> now_held;
    auto take = [&](Family family, Address ip) {
      chosen.push_back(ip);
      now_held[family] = ip;
    };
    if (!service->spec.load_balancer_ip.empty()) {
      auto requested = LoadBalancerIpPool::to_number(service->spec.load_balancer_ip);
      if (!requested || !pool_.contains(*requested)) {
        reason = "LoadBalancerIPNotInPool";
        problem = fmt::format("spec.loadBalancerIP {} is not in the load balancer pool {}", service->spec.load_balancer_ip, pool_.spec());
      } else if (!free_or_ours(*requested)) {
        reason = "LoadBalancerIPInUse";
        problem = fmt::format("spec.loadBalancerIP {} is held by Service {}", service->spec.load_balancer_ip, owner_[*requested]);
      } else {
        take(LoadBalancerIpPool::family_of(*requested), *requested);
      }
    } else {
      std::set<Address> used;
      bool used_read = false;
      for (const auto family : families_of(*service)) {
        if (!pool_.has_family(family)) continue;
        if (auto it = held.find(family); it != held.end()) {
          take(family, it->second);
          continue;
        }
        if (auto in_status = pool_ingress(*service, pool_, family); in_status && free_or_ours(*in_status)) {
          take(family, *in_status);
          continue;
        }
        if (!used_read) {
          for (const auto& [ip, owner] : owner_) used.insert(ip);
          // Pool addresses another Service shows without being ours (another loadBalancerClass's
          // implementation, a status written by hand) are not handed out twice either.
          for (const auto& other : services_.indexer().list())
            if (client::object_key(other->metadata) != key)
              for (const auto& ingress : other->status_load_balancer_ingress)
                if (auto ip = LoadBalancerIpPool::to_number(ingress.ip); ip && pool_.contains(*ip)) used.insert(*ip);
          used_read = true;
        }
        if (auto ip = pool_.first_free(used, family)) {
          take(family, *ip);
          used.insert(*ip);
        } else {
          reason = "AllocationFailed";
          problem = fmt::format("no {} address left in the load balancer pool {} ({} addresses, all allocated)",
                                LoadBalancerIpPool::family_name(family), pool_.spec(), pool_.size());
        }
      }
      if (chosen.empty() && problem.empty()) {
        reason = "AllocationFailed";
        problem = fmt::format("the load balancer pool {} has no address of the Service's families", pool_.spec());
      }
    }
    for (const auto& [family, ip] : held)
      if (!now_held.contains(family) || now_held[family] != ip) owner_.erase(ip);
    by_service_.erase(key);
    for (const auto& [family, ip] : now_held) owner_[ip] = key;
    if (!now_held.empty()) by_service_[key] = now_held;
    if (problem.empty()) warned_.erase(key);
  }
  if (!problem.empty()) warn_once(*service, reason, problem, api);
  std::vector<std::string> in_status;
  for (const auto& ingress : service->status_load_balancer_ingress) in_status.push_back(ingress.ip);
  std::vector<std::string> wanted;
  for (auto ip : chosen) wanted.push_back(LoadBalancerIpPool::to_text(ip));
  if (chosen.empty()) {
    // An address of ours it no longer may keep (its loadBalancerIP changed) goes.
    if (pool_ingress(*service, pool_)) return write_ingress(*service, {}, api);
    return {};
  }
  if (in_status == wanted) return {};
  spdlog::info("event=lb_ipam_allocated service={} ip={}", key, texts(chosen));
  return write_ingress(*service, chosen, api);
}

Result<void> LoadBalancerIpamController::write_ingress(const api::Service& service, const std::vector<Address>& ips,
                                                       client::ApiClient& api) {
  api::Service updated = service;
  updated.status_load_balancer_ingress.clear();
  for (auto ip : ips) updated.status_load_balancer_ingress.push_back({.ip = LoadBalancerIpPool::to_text(ip)});
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
