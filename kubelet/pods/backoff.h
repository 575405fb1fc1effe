// Per-key exponential backoff as kubelet's flowcontrol.Backoff: a restart (next()) doubles the
// key's delay from `initial` up to `max`; an event (a container's exit) is in backoff while less
// than the delay has passed since it; an entry not updated for 2 × max starts over at `initial`
// (a container that ran 10 minutes crashes fresh). Thread-safe.
#pragma once

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace switchyard::kubelet {

class Backoff {
 public:
  using Clock = std::chrono::system_clock;
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max) : initial_(initial), max_(max) {}

  // How long an event at `event` still waits at `now` (zero: go ahead).
  std::chrono::milliseconds remaining(const std::string& key, Clock::time_point event, Clock::time_point now) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || expired(event, it->second.last_update)) return std::chrono::milliseconds(0);
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - event);
    return std::max(std::chrono::milliseconds(0), it->second.delay - waited);
  }
  // How long the key still waits after its last next() (zero: go ahead, or no entry).
  std::chrono::milliseconds remaining_since_update(const std::string& key, Clock::time_point now) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::chrono::milliseconds(0);
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - it->second.last_update);
    return std::max(std::chrono::milliseconds(0), it->second.delay - waited);
  }
  // The key's current delay (initial when it has none).
  std::chrono::milliseconds delay(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    return it == entries_.end() ? initial_ : it->second.delay;
  }
  void next(const std::string& key, Clock::time_point now) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || expired(now, it->second.last_update)) {
      entries_[key] = {initial_, now};
      return;
    }
    it->second.delay = std::min(it->second.delay * 2, max_);
    it->second.last_update = now;
  }
  void forget_prefix(const std::string& prefix) {
    std::lock_guard lock(mu_);
    std::erase_if(entries_, [&](const auto& e) { return e.first.starts_with(prefix); });
  }

 private:
  struct Entry {
    std::chrono::milliseconds delay;
    Clock::time_point last_update;
  };
  bool expired(Clock::time_point at, Clock::time_point last_update) const { return at - last_update > 2 * max_; }

  std::chrono::milliseconds initial_, max_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace switchyard::kubelet
