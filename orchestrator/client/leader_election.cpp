#include "orchestrator/client/leader_election.h"

#include <unistd.h>

#include <optional>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/rfc3339.h"
#include "orchestrator/api/types.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/list_watch.h"
#include "orchestrator/client/resources.h"
#include "orchestrator/client/rest.h"

namespace switchyard::client {

namespace {

using Clock = std::chrono::steady_clock;

// What a candidate compares to see whether the leader is still renewing.
struct Record {
  std::string holder;
  int duration_seconds = 0;
  std::string acquire_time, renew_time;
  int transitions = 0;
  bool operator==(const Record&) const = default;
};

Record record_of(const api::Lease& l) {
  return {l.holder_identity.value_or(""), l.lease_duration_seconds.value_or(0), l.acquire_time.value_or(""), l.renew_time.value_or(""),
          l.lease_transitions.value_or(0)};
}

int whole_seconds(std::chrono::milliseconds d) { return static_cast<int>(std::max<long long>(1, (d.count() + 999) / 1000)); }

}  // namespace

std::string default_leader_identity() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::random_device random;
  std::uniform_int_distribution<int> nibble(0, 15);
  std::string uuid;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) uuid += '-';
    uuid += "0123456789abcdef"[i == 12 ? 4 : nibble(random)];  // version 4
  }
  return fmt::format("{}_{}", host, uuid);
}

struct LeaderElector::Impl {
  LeaderElectionConfig config;
  ApiClient api;
  Record observed;
  Clock::time_point observed_at{};

  Impl(ClusterConnection c, LeaderElectionConfig cfg) : config(std::move(cfg)), api(std::move(c)) {}

  std::string path() const { return object_path<api::Lease>(config.lease_namespace, config.lease_name); }

  void observe(const Record& r) {
    if (r == observed && observed_at != Clock::time_point{}) return;
    observed = r;
    observed_at = Clock::now();
  }

  // The Lease as stored (nullopt: there is none); an error when it cannot be read.
  Result<std::optional<api::Lease>> read() {
    auto current = api.get(path());
    if (!current) {
      spdlog::debug("event=leader_election_error lease={} error=\"{}\"", path(), current.error().describe());
      return fail(current.error());
    }
    if (current->status == 404) return std::optional<api::Lease>();
    if (current->status != 200) {
      spdlog::debug("event=leader_election_error lease={} status={}", path(), current->status);
      return fail(http_error(current->status, current->body, "get " + path()));
    }
    auto json = nlohmann::json::parse(current->body, nullptr, false);
    if (json.is_discarded()) return fail(ErrorCode::Internal, "get " + path() + ": the answer is not JSON");
    auto decoded = api::decode_object_as(json, api::Lease::kApiVersion, api::Lease::kKind);
    if (!decoded) return fail(ErrorCode::Internal, "lease: " + decoded.error().message);
    return std::optional<api::Lease>(std::get<api::Lease>(std::move(decoded->object)));
  }

  // client-go's tryAcquireOrRenew: true when this candidate holds the lease afterwards.
  bool try_acquire_or_renew() {
    const std::string now = api::micro_time_now();
    auto current = read();
    if (!current) return false;
    if (!*current) {
      api::Lease lease;
      lease.metadata.namespace_ = config.lease_namespace;
      lease.metadata.name = config.lease_name;
      lease.holder_identity = config.identity;
      lease.lease_duration_seconds = whole_seconds(config.lease_duration);
      lease.acquire_time = lease.renew_time = now;
      lease.lease_transitions = 0;
      auto created = create(api, lease);
      if (!created) return false;  // another candidate created it first
      observe(record_of(*created));
      return true;
    }
    api::Lease lease = std::move(**current);
    const Record old = record_of(lease);
    observe(old);
    if (!old.holder.empty() && old.holder != config.identity &&
        Clock::now() < observed_at + std::chrono::seconds(std::max(1, old.duration_seconds)))
      return false;  // held by another candidate that renewed within its lease duration
    if (old.holder != config.identity) {
      lease.acquire_time = now;
      lease.lease_transitions = old.transitions + 1;
    }
    lease.holder_identity = config.identity;
    lease.lease_duration_seconds = whole_seconds(config.lease_duration);
    lease.renew_time = now;
    auto updated = update(api, lease);  // optimistic: a Conflict means another candidate wrote first
    if (!updated) return false;
    observe(record_of(*updated));
    return true;
  }

  // Gives the lease up: no holder, so a candidate takes it at its next try.
  void release() {
    auto current = read();
    if (!current || !*current) return;
    api::Lease lease = std::move(**current);
    if (lease.holder_identity.value_or("") != config.identity) return;
    lease.holder_identity = std::nullopt;
    lease.lease_duration_seconds = 1;
    lease.renew_time = lease.acquire_time = api::micro_time_now();
    if (auto ok = update(api, lease); !ok) spdlog::warn("event=leader_release_failed lease={} error=\"{}\"", path(), ok.error().describe());
  }
};

LeaderElector::LeaderElector(ClusterConnection connection, LeaderElectionConfig config, std::function<void()> lead,
                             std::function<void()> stop_leading)
    : impl_(std::make_unique<Impl>(std::move(connection), std::move(config))),
      lead_(std::move(lead)),
      stop_leading_(std::move(stop_leading)) {
  if (impl_->config.identity.empty()) impl_->config.identity = default_leader_identity();
}

LeaderElector::~LeaderElector() { stop(); }

void LeaderElector::start() {
  thread_ = std::thread([this] { run(); });
}

void LeaderElector::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LeaderElector::run() {
  const auto& c = impl_->config;
  const std::string lease = fmt::format("{}/{}", c.lease_namespace, c.lease_name);
  std::mt19937 random(std::random_device{}());
  // Waits `d`; false when stopped meanwhile.
  auto wait = [&](std::chrono::milliseconds d) {
    std::unique_lock lock(mutex_);
    return !wake_.wait_for(lock, d, [this] { return stopping_; });
  };
  // client-go's JitterUntil with a factor of 1.2 while acquiring, so candidates do not collide.
  auto jittered = [&] {
    std::uniform_int_distribution<long long> extra(0, c.retry_period.count() / 5);
    return c.retry_period + std::chrono::milliseconds(extra(random));
  };
  spdlog::info("event=leader_election_started lease={} identity={}", lease, c.identity);
  while (true) {
    bool acquired = false;
    while (!(acquired = impl_->try_acquire_or_renew()))
      if (!wait(jittered())) break;
    if (!acquired) return;
    leading_ = true;
    spdlog::info("event=leader_elected lease={} identity={}", lease, c.identity);
    lead_();
    auto renewed = Clock::now();
    bool stopped = false;
    while (true) {
      if (!wait(c.retry_period)) {
        stopped = true;
        break;
      }
      if (impl_->try_acquire_or_renew()) {
        renewed = Clock::now();
      } else if (Clock::now() - renewed > c.renew_deadline) {
        spdlog::warn("event=leader_lost lease={} identity={} reason=\"not renewed within the renew deadline\"", lease, c.identity);
        break;
      }
    }
    stop_leading_();
    leading_ = false;
    if (stopped) {
      impl_->release();
      spdlog::info("event=leader_released lease={} identity={}", lease, c.identity);
      return;
    }
  }
}

}  // namespace switchyard::client
