#include "kubelet/volumes/service_account_token_manager.h"

#include <optional>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace switchyard::kubelet {

namespace {

constexpr std::chrono::hours kMaxTokenAge{24};

std::string key_of(const PodTokenRequest& r) {
  return fmt::format("{}/{}/{}/{}/{}/{}", r.ns, r.service_account, r.audience, r.expiration_seconds, r.pod_name, r.pod_uid);
}

}  // namespace

ServiceAccountTokenManager::ServiceAccountTokenManager(Fetch fetch, Clock now, std::chrono::seconds max_jitter)
    : fetch_(std::move(fetch)), now_(std::move(now)), max_jitter_(max_jitter) {
  if (!now_) now_ = [] { return std::chrono::system_clock::now(); };
}

bool ServiceAccountTokenManager::requires_refresh(const IssuedToken& t, std::chrono::system_clock::time_point now) const {
  std::chrono::seconds jitter{0};
  if (max_jitter_.count() > 0) {
    thread_local std::mt19937 rng{std::random_device{}()};
    jitter = std::chrono::seconds(std::uniform_int_distribution<std::int64_t>(0, max_jitter_.count())(rng));
  }
  const auto lifetime = std::chrono::seconds(t.expiration_seconds);
  const auto issued_at = t.expires - lifetime;
  if (now > issued_at + kMaxTokenAge - jitter) return true;
  // Within the last 20% of the lifetime.
  return now > t.expires - lifetime * 20 / 100 - jitter;
}

Result<std::string> ServiceAccountTokenManager::token(const PodTokenRequest& request) {
  const auto now = now_();
  const std::string key = key_of(request);
  std::optional<IssuedToken> cached;
  {
    std::lock_guard lock(mu_);
    std::erase_if(cache_, [&](const auto& kv) { return kv.second.issued.expires <= now; });
    if (auto it = cache_.find(key); it != cache_.end()) {
      if (!requires_refresh(it->second.issued, now)) return it->second.issued.token;
      cached = it->second.issued;
    }
  }
  auto fresh = fetch_(request);
  if (!fresh) {
    // The old token still works until it expires: serve it and try again on the next sync.
    if (cached) {
      spdlog::warn(
          "event=service_account_token_renewal_failed pod={}/{} serviceaccount={} error=\"{}\" effect=\"the cached token is kept\"",
          request.ns, request.pod_name, request.service_account, fresh.error().message);
      return cached->token;
    }
    return fail(
        with_context(fresh.error(), fmt::format("failed to fetch token for serviceaccount {}/{}", request.ns, request.service_account)));
  }
  if (fresh->expiration_seconds <= 0) fresh->expiration_seconds = request.expiration_seconds;
  spdlog::info("event=service_account_token_issued pod={}/{} serviceaccount={} expires_in_s={}", request.ns, request.pod_name,
               request.service_account, std::chrono::duration_cast<std::chrono::seconds>(fresh->expires - now).count());
  std::lock_guard lock(mu_);
  cache_[key] = Entry{request.pod_uid, *fresh};
  return fresh->token;
}

void ServiceAccountTokenManager::forget_pod(const std::string& pod_uid) {
  std::lock_guard lock(mu_);
  std::erase_if(cache_, [&](const auto& kv) { return kv.second.pod_uid == pod_uid; });
}

std::size_t ServiceAccountTokenManager::cached() const {
  std::lock_guard lock(mu_);
  return cache_.size();
}

}  // namespace switchyard::kubelet
