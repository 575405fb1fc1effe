// How long an item waits before it is retried (client-go's workqueue rate limiters):
//  - ItemExponentialFailureRateLimiter: per item, base * 2^failures, capped (5 ms doubling to
//    1000 s by default);
//  - TokenBucketRateLimiter: one bucket for everything (10 per second, bursts of 100), so that a
//    storm of failures cannot hammer the API server;
//  - MaxOfRateLimiter: the longest wait any of them asks for; default_controller_rate_limiter()
//    is the two above, as client-go's DefaultControllerRateLimiter.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "orchestrator/client/clock.h"

namespace switchyard::client {

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // How long `item` should wait now; counts a failure (or takes a token).
  virtual Clock::Duration when(const std::string& item) = 0;
  // The item succeeded: its failures are forgotten.
  virtual void forget(const std::string& item) = 0;
  virtual int num_requeues(const std::string& item) const = 0;
};

class ItemExponentialFailureRateLimiter final : public RateLimiter {
 public:
  ItemExponentialFailureRateLimiter(Clock::Duration base = std::chrono::milliseconds(5), Clock::Duration max = std::chrono::seconds(1000))
      : base_(base), max_(max) {}
  Clock::Duration when(const std::string& item) override;
  void forget(const std::string& item) override;
  int num_requeues(const std::string& item) const override;

 private:
  Clock::Duration base_, max_;
  mutable std::mutex mu_;
  std::map<std::string, int> failures_;
};

class TokenBucketRateLimiter final : public RateLimiter {
 public:
  TokenBucketRateLimiter(double qps, int burst, const Clock& clock = Clock::real());
  Clock::Duration when(const std::string& item) override;
  void forget(const std::string&) override {}
  int num_requeues(const std::string&) const override { return 0; }

 private:
  double qps_, burst_;
  const Clock& clock_;
  std::mutex mu_;
  double tokens_;
  Clock::TimePoint last_;
};

class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters) : limiters_(std::move(limiters)) {}
  Clock::Duration when(const std::string& item) override;
  void forget(const std::string& item) override;
  int num_requeues(const std::string& item) const override;

 private:
  std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// Per item 5 ms doubling to 1000 s, and overall 10 per second with bursts of 100.
std::unique_ptr<RateLimiter> default_controller_rate_limiter(const Clock& clock = Clock::real());

}  // namespace switchyard::client
