#include "orchestrator/client/work_queue.h"

#include <algorithm>

namespace switchyard::client {

WorkQueue::WorkQueue(std::unique_ptr<RateLimiter> limiter, const Clock& clock) : limiter_(std::move(limiter)), clock_(clock) {}

WorkQueue::~WorkQueue() { shut_down(); }

void WorkQueue::add_locked(const std::string& key) {
  if (shutting_down_ || dirty_.contains(key)) return;
  dirty_.insert(key);
  if (processing_.contains(key)) return;  // queued again by done()
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mu_);
  add_locked(key);
}

void WorkQueue::add_after(const std::string& key, Clock::Duration delay) {
  std::lock_guard lock(mu_);
  if (shutting_down_) return;
  if (delay <= Clock::Duration::zero()) {
    add_locked(key);
    return;
  }
  const auto at = clock_.now() + delay;
  if (auto it = waiting_at_.find(key); it != waiting_at_.end()) {
    if (it->second <= at) return;  // already due sooner
    auto [first, last] = waiting_.equal_range(it->second);
    for (auto w = first; w != last; ++w)
      if (w->second == key) {
        waiting_.erase(w);
        break;
      }
  }
  waiting_.emplace(at, key);
  waiting_at_[key] = at;
  cv_.notify_all();  // a sleeping get() may have to wake sooner
}

void WorkQueue::add_rate_limited(const std::string& key) { add_after(key, limiter_->when(key)); }

void WorkQueue::forget(const std::string& key) { limiter_->forget(key); }

int WorkQueue::num_requeues(const std::string& key) const { return limiter_->num_requeues(key); }

std::optional<Clock::TimePoint> WorkQueue::release_due_locked() {
  const auto now = clock_.now();
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    const std::string key = waiting_.begin()->second;
    waiting_.erase(waiting_.begin());
    waiting_at_.erase(key);
    add_locked(key);
  }
  if (waiting_.empty()) return std::nullopt;
  return waiting_.begin()->first;
}

std::optional<std::string> WorkQueue::pop_locked() {
  if (queue_.empty()) return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  return key;
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mu_);
  while (true) {
    const auto next = release_due_locked();
    if (!queue_.empty()) return pop_locked();
    if (shutting_down_) return std::nullopt;
    if (!next) {
      cv_.wait(lock);  // an add() wakes us
      continue;
    }
    // Sleep until the next held-back key is due; with an injected clock, look again every
    // 10 ms so that its steps are seen.
    auto wait = std::max<Clock::Duration>(*next - clock_.now(), Clock::Duration::zero());
    if (&clock_ != &Clock::real()) wait = std::min<Clock::Duration>(wait, std::chrono::milliseconds(10));
    cv_.wait_for(lock, wait);
  }
}

std::optional<std::string> WorkQueue::try_get() {
  std::lock_guard lock(mu_);
  release_due_locked();  // its next due time is for get()'s wait, not needed here
  return pop_locked();
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.contains(key)) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::shut_down() {
  std::lock_guard lock(mu_);
  shutting_down_ = true;
  waiting_.clear();
  waiting_at_.clear();
  cv_.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard lock(mu_);
  return shutting_down_;
}

std::size_t WorkQueue::len() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::size_t WorkQueue::waiting() const {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

}  // namespace switchyard::client
