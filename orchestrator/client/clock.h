// The time a work queue and its rate limiters read, injectable so that tests step it.
#pragma once

#include <chrono>
#include <mutex>

namespace switchyard::client {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // The steady clock, shared.
  static Clock& real();
};

// A clock that moves only when told to.
class FakeClock final : public Clock {
 public:
  TimePoint now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void step(Duration d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  TimePoint now_{std::chrono::hours(1)};
};

}  // namespace switchyard::client
