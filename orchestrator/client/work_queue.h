// client-go's rate-limited work queue of string keys ("namespace/name"):
//  - a key added while it waits is not added twice (dirty set);
//  - a key is never handed to two workers at once: added while a worker has it (processing
//    set), it is queued again only when that worker calls done();
//  - add_after() holds a key back until its time (an earlier time wins for a key held twice);
//  - add_rate_limited() holds it back as long as the rate limiter says (per-item exponential
//    backoff and a global token bucket by default); forget() clears its failures;
//  - shut_down(): get() hands out what is queued, then returns nothing; adds are ignored.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>

#include "orchestrator/client/clock.h"
#include "orchestrator/client/rate_limiter.h"

namespace switchyard::client {

class WorkQueue {
 public:
  explicit WorkQueue(std::unique_ptr<RateLimiter> limiter = default_controller_rate_limiter(), const Clock& clock = Clock::real());
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void add(const std::string& key);
  void add_after(const std::string& key, Clock::Duration delay);
  void add_rate_limited(const std::string& key);
  void forget(const std::string& key);
  int num_requeues(const std::string& key) const;

  // Blocks until a key is ready (returns it, now being processed) or the queue is shut down and
  // drained (returns nothing). With a FakeClock, a held-back key becomes ready at the first
  // get()/try_get() after the clock passed its time (get() looks every 10 ms).
  std::optional<std::string> get();
  // Without blocking: a ready key or nothing.
  std::optional<std::string> try_get();
  // The worker finished `key` (whatever the outcome).
  void done(const std::string& key);

  void shut_down();
  bool shutting_down() const;
  // Keys ready to be handed out (not those held back or being processed).
  std::size_t len() const;
  // Keys held back by add_after/add_rate_limited.
  std::size_t waiting() const;

 private:
  void add_locked(const std::string& key);
  // Moves keys whose time has come into the queue; the time of the next one otherwise.
  std::optional<Clock::TimePoint> release_due_locked();
  std::optional<std::string> pop_locked();

  std::unique_ptr<RateLimiter> limiter_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_, processing_;
  std::multimap<Clock::TimePoint, std::string> waiting_;  // ready time -> key
  std::map<std::string, Clock::TimePoint> waiting_at_;    // key -> its ready time
  bool shutting_down_ = false;
};

}  // namespace switchyard::client
