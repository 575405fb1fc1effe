#include "orchestrator/controllers/disruption_controller.h"

#include <ctime>
#include <set>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "orchestrator/api/validation.h"
#include "orchestrator/client/rest.h"
#include "orchestrator/controllers/disruption_math.h"

namespace switchyard::controllers {

namespace {

using Json = nlohmann::json;
using SystemTime = std::chrono::system_clock::time_point;

std::string rfc3339(SystemTime t) { return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(t))); }

std::optional<SystemTime> parse_rfc3339(const std::string& s) {
  std::tm tm{};
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

Json body_field(const api::PodDisruptionBudget& pdb, const char* key) {
  auto it = pdb.body.find(key);
  return it == pdb.body.end() ? Json() : Json::parse(it->second, nullptr, false);
}

bool pod_ready(const api::Pod& p) {
  for (const auto& c : p.status.conditions)
    if (c.type == "Ready") return c.status == "True";
  return false;
}

const api::OwnerReference* controller_of(const api::ObjectMeta& m) {
  for (const auto& r : m.owner_references)
    if (r.controller.value_or(false)) return &r;
  return nullptr;
}

// The DisruptionAllowed condition, its transition time kept while its status holds.
Json allowed_condition(const Json& old_status, bool allowed, const std::string& reason, const std::string& message,
                       std::int64_t generation) {
  Json c = {{"type", "DisruptionAllowed"},
            {"status", allowed ? "True" : "False"},
            {"reason", reason},
            {"message", message},
            {"observedGeneration", generation},
            {"lastTransitionTime", rfc3339(std::chrono::system_clock::now())}};
  for (const auto& old : old_status.value("conditions", Json::array()))
    if (old.value("type", "") == "DisruptionAllowed" && old.value("status", "") == c["status"])
      c["lastTransitionTime"] = old.value("lastTransitionTime", c["lastTransitionTime"].get<std::string>());
  return c;
}

}  // namespace

struct DisruptionController::Handlers {
  DisruptionController& c;
  std::uint64_t pdbs = 0, pods = 0;
  ~Handlers() {
    c.pdbs_.remove_event_handler(pdbs);
    c.pods_.remove_event_handler(pods);
  }
};

DisruptionController::DisruptionController(client::SharedInformerFactory& informers, client::ClusterConnection connection)
    : informers_(informers),
      connection_(std::move(connection)),
      pdbs_(informers.informer<api::PodDisruptionBudget>()),
      pods_(informers.informer<api::Pod>()),
      replicasets_(informers.informer<api::ReplicaSet>()),
      deployments_(informers.informer<api::Deployment>()) {
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  auto pdb = [this](const client::ObjectPtr<api::PodDisruptionBudget>& p) { queue_.add(client::object_key(p->metadata)); };
  handlers_->pdbs =
      pdbs_.add_event_handler({pdb, [pdb](const auto&, const auto& p) { pdb(p); }, [pdb](const auto& p, bool) { pdb(p); }, {}});
  auto pod = [this](const client::ObjectPtr<api::Pod>& p) { enqueue_namespace(p->metadata.namespace_); };
  handlers_->pods =
      pods_.add_event_handler({pod, [pod](const auto&, const auto& p) { pod(p); }, [pod](const auto& p, bool) { pod(p); }, {}});
}

DisruptionController::~DisruptionController() { stop(); }

void DisruptionController::enqueue_namespace(const std::string& ns) {
  for (const auto& p : pdbs_.indexer().in_namespace(ns)) queue_.add(client::object_key(p->metadata));
}

void DisruptionController::start() {
  if (worker_.joinable()) return;
  informers_.start();
  worker_ = std::thread([this] { worker(); });
}

void DisruptionController::stop() {
  stopping_ = true;
  queue_.shut_down();
  if (worker_.joinable()) worker_.join();
}

void DisruptionController::worker() {
  while (!stopping_ && !informers_.wait_for_cache_sync(std::chrono::seconds(1), &stopping_)) {
  }
  if (stopping_) return;
  client::ApiClient api(connection_);
  while (auto key = queue_.get()) {
    if (auto synced = sync(*key, api); synced) {
      queue_.forget(*key);
    } else {
      queue_.add_rate_limited(*key);
      spdlog::info("event=disruption_sync_requeued pdb={} error=\"{}\"", *key, synced.error().describe());
    }
    queue_.done(*key);
  }
}

std::optional<std::int32_t> DisruptionController::expected_from_controllers(const std::vector<client::ObjectPtr<api::Pod>>& pods) const {
  std::set<std::string> counted;
  std::int32_t total = 0;
  for (const auto& pod : pods) {
    const api::OwnerReference* ref = controller_of(pod->metadata);
    if (!ref || ref->kind != "ReplicaSet") return std::nullopt;
    auto rs = replicasets_.indexer().get(pod->metadata.namespace_ + "/" + ref->name);
    if (!rs || rs->metadata.uid != ref->uid) return std::nullopt;
    // A Deployment's ReplicaSets count as the Deployment (getPodDeployment).
    if (const api::OwnerReference* owner = controller_of(rs->metadata); owner && owner->kind == "Deployment") {
      auto d = deployments_.indexer().get(pod->metadata.namespace_ + "/" + owner->name);
      if (!d || d->metadata.uid != owner->uid) return std::nullopt;
      if (counted.insert(d->metadata.uid).second) total += d->replicas.value_or(1);
      continue;
    }
    if (counted.insert(rs->metadata.uid).second) total += rs->replicas.value_or(1);
  }
  return total;
}

Result<void> DisruptionController::sync(const std::string& key, client::ApiClient& api) {
  const auto pdb = pdbs_.indexer().get(key);
  if (!pdb) return {};
  const Json spec = body_field(*pdb, "spec");
  const Json old_status = body_field(*pdb, "status").is_object() ? body_field(*pdb, "status") : Json::object();
  auto selector =
      api::label_selector_from_json(spec.is_object() ? spec.value("selector", Json()) : Json(), api::FieldPath("spec.selector"));
  std::vector<client::ObjectPtr<api::Pod>> pods;
  if (selector)
    for (const auto& p : pods_.indexer().in_namespace(pdb->metadata.namespace_))
      if (selector->matches(p->metadata.labels)) pods.push_back(p);
  std::vector<BudgetPod> budget_pods;
  for (const auto& p : pods) budget_pods.push_back({p->metadata.name, pod_ready(*p), p->metadata.deletion_timestamp.has_value()});

  Json status = Json::object();
  status["observedGeneration"] = pdb->metadata.generation;
  auto target =
      budget_target(spec.is_object() ? spec : Json::object(), static_cast<std::int32_t>(pods.size()), expected_from_controllers(pods));
  std::optional<SystemTime> next_expiry;
  if (!target) {
    // failSafe: no disruption allowed while the budget cannot be computed.
    status.update({{"disruptionsAllowed", 0},
                   {"currentHealthy", old_status.value("currentHealthy", 0)},
                   {"desiredHealthy", old_status.value("desiredHealthy", 0)},
                   {"expectedPods", old_status.value("expectedPods", 0)}});
    status["conditions"] = {allowed_condition(old_status, false, "SyncFailed", target.error().message, pdb->metadata.generation)};
  } else {
    std::map<std::string, SystemTime> recorded;
    const Json recorded_json = old_status.value("disruptedPods", Json::object());  // items() must not outlive it
    for (const auto& [name, when] : recorded_json.items())
      if (auto t = when.is_string() ? parse_rfc3339(when.get<std::string>()) : std::nullopt) recorded[name] = *t;
    const auto disrupted = live_disrupted_pods(recorded, budget_pods, std::chrono::system_clock::now());
    const BudgetStatus s = budget_status(*target, budget_pods, disrupted);
    status.update({{"disruptionsAllowed", s.disruptions_allowed},
                   {"currentHealthy", s.current_healthy},
                   {"desiredHealthy", s.desired_healthy},
                   {"expectedPods", s.expected_pods}});
    if (!disrupted.empty()) {
      status["disruptedPods"] = Json::object();
      for (const auto& [name, when] : disrupted) {
        status["disruptedPods"][name] = rfc3339(when);
        next_expiry = std::min(next_expiry.value_or(when), when);
      }
    }
    const bool allowed = s.disruptions_allowed > 0;
    status["conditions"] = {
        allowed_condition(old_status, allowed, allowed ? "SufficientPods" : "InsufficientPods", "", pdb->metadata.generation)};
  }
  // An eviction whose delete never came: look again when its record expires.
  if (next_expiry)
    queue_.add_after(key, std::chrono::duration_cast<client::Clock::Duration>(*next_expiry + kDisruptionDeletionTimeout -
                                                                              std::chrono::system_clock::now() + std::chrono::seconds(1)));
  if (status == old_status) return {};
  Json object = api::encode_object(api::Object{*pdb});
  object["status"] = status;
  auto written = client::update_object(
      api, client::object_path<api::PodDisruptionBudget>(pdb->metadata.namespace_, pdb->metadata.name) + "/status", object);
  if (!written) {
    if (written.error().code == ErrorCode::NotFound) return {};
    return fail(written.error());
  }
  return {};
}

}  // namespace switchyard::controllers
