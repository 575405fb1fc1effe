#include "dataplane/bounded_frequency_runner.h"

#include <algorithm>

namespace switchyard::dataplane {

namespace {
class SteadyClock final : public RunnerClock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
};

BoundedFrequencyOptions normalized(BoundedFrequencyOptions o) {
  o.burst = std::max(1, o.burst);
  o.max_interval = std::max(o.max_interval, o.min_interval);
  return o;
}
}  // namespace

const RunnerClock& RunnerClock::steady() {
  static const SteadyClock clock;
  return clock;
}

BoundedFrequencyRunner::BoundedFrequencyRunner(std::string name, std::function<void()> fn, BoundedFrequencyOptions options,
                                               const RunnerClock& clock)
    : name_(std::move(name)), fn_(std::move(fn)), options_(normalized(options)), clock_(clock) {
  last_run_ = tokens_updated_ = clock_.now();
  tokens_ = options_.burst;
}

BoundedFrequencyRunner::~BoundedFrequencyRunner() { stop(); }

double BoundedFrequencyRunner::tokens_at(time_point now) const {
  if (options_.min_interval.count() <= 0) return options_.burst;
  const double refill = std::chrono::duration<double>(now - tokens_updated_) / std::chrono::duration<double>(options_.min_interval);
  return std::min<double>(options_.burst, tokens_ + std::max(0.0, refill));
}

void BoundedFrequencyRunner::take_token(time_point now) {
  tokens_ = std::max(0.0, tokens_at(now) - 1);
  tokens_updated_ = now;
}

void BoundedFrequencyRunner::run() {
  {
    std::lock_guard lock(mu_);
    requested_ = true;
  }
  wake_.notify_all();
}

void BoundedFrequencyRunner::retry_after(std::chrono::steady_clock::duration delay) {
  {
    std::lock_guard lock(mu_);
    const auto at = clock_.now() + delay;
    if (!retry_at_ || at < *retry_at_) retry_at_ = at;
  }
  wake_.notify_all();
}

RunnerClock::time_point BoundedFrequencyRunner::next_run_locked(time_point now) const {
  // The earliest time the bucket holds a whole token again.
  const double tokens = tokens_at(now);
  const time_point allowed =
      tokens >= 1 ? now : now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(options_.min_interval * (1 - tokens));
  time_point next = last_run_ + options_.max_interval;
  if (requested_) next = std::min(next, allowed);
  if (retry_at_) next = std::min(next, std::max(*retry_at_, allowed));
  return next;
}

RunnerClock::time_point BoundedFrequencyRunner::next_run() const {
  std::lock_guard lock(mu_);
  return next_run_locked(clock_.now());
}

bool BoundedFrequencyRunner::run_if_due() {
  {
    std::lock_guard lock(mu_);
    const auto now = clock_.now();
    if (next_run_locked(now) > now) return false;
    requested_ = false;  // requests made while fn runs ask for another run
    retry_at_.reset();
    last_run_ = now;
    take_token(now);
  }
  fn_();
  return true;
}

void BoundedFrequencyRunner::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void BoundedFrequencyRunner::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BoundedFrequencyRunner::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto now = clock_.now();
    const auto next = next_run_locked(now);
    if (next > now) {
      // Wait in real time for the clock's remaining interval, or until a request changes it.
      wake_.wait_for(lock, next - now);
      continue;
    }
    lock.unlock();
    run_if_due();
    lock.lock();
  }
}

}  // namespace switchyard::dataplane
