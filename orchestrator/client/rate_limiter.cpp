#include "orchestrator/client/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace switchyard::client {

Clock& Clock::real() {
  struct Steady final : Clock {
    TimePoint now() const override { return std::chrono::steady_clock::now(); }
  };
  static Steady clock;
  return clock;
}

Clock::Duration ItemExponentialFailureRateLimiter::when(const std::string& item) {
  std::lock_guard lock(mu_);
  const int exponent = failures_[item]++;
  // 2^exponent overflows long before it matters: past 2^40 the cap applies anyway.
  if (exponent > 40) return max_;
  const auto backoff = base_ * (std::int64_t{1} << exponent);
  return std::min<Clock::Duration>(backoff, max_);
}

void ItemExponentialFailureRateLimiter::forget(const std::string& item) {
  std::lock_guard lock(mu_);
  failures_.erase(item);
}

int ItemExponentialFailureRateLimiter::num_requeues(const std::string& item) const {
  std::lock_guard lock(mu_);
  auto it = failures_.find(item);
  return it == failures_.end() ? 0 : it->second;
}

TokenBucketRateLimiter::TokenBucketRateLimiter(double qps, int burst, const Clock& clock)
    : qps_(qps), burst_(burst), clock_(clock), tokens_(burst), last_(clock.now()) {}

// As golang.org/x/time/rate's Reserve().Delay(): take a token now, possibly going into debt,
// and wait until the debt is paid back.
Clock::Duration TokenBucketRateLimiter::when(const std::string&) {
  std::lock_guard lock(mu_);
  const auto now = clock_.now();
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * qps_);
    last_ = now;
  }
  tokens_ -= 1;
  if (tokens_ >= 0) return Clock::Duration::zero();
  return std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(-tokens_ / qps_));
}

Clock::Duration MaxOfRateLimiter::when(const std::string& item) {
  Clock::Duration longest = Clock::Duration::zero();
  for (auto& l : limiters_) longest = std::max(longest, l->when(item));
  return longest;
}

void MaxOfRateLimiter::forget(const std::string& item) {
  for (auto& l : limiters_) l->forget(item);
}

int MaxOfRateLimiter::num_requeues(const std::string& item) const {
  int most = 0;
  for (const auto& l : limiters_) most = std::max(most, l->num_requeues(item));
  return most;
}

std::unique_ptr<RateLimiter> default_controller_rate_limiter(const Clock& clock) {
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(std::make_unique<ItemExponentialFailureRateLimiter>());
  limiters.push_back(std::make_unique<TokenBucketRateLimiter>(10.0, 100, clock));
  return std::make_unique<MaxOfRateLimiter>(std::move(limiters));
}

}  // namespace switchyard::client
