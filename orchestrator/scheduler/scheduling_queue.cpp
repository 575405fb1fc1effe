#include "orchestrator/scheduler/scheduling_queue.h"

#include <algorithm>
#include <vector>

namespace switchyard::scheduler {

std::chrono::milliseconds SchedulingQueue::backoff_for(int attempts) const {
  auto d = options_.initial_backoff;
  for (int i = 1; i < attempts && d < options_.max_backoff; ++i) d *= 2;
  return std::min(d, options_.max_backoff);
}

void SchedulingQueue::to_active(Entry& e, const std::string& key) {
  backoff_keys_.erase(key);
  unschedulable_keys_.erase(key);
  e.where = Entry::Where::Active;
  e.seq = ++next_seq_;
  active_.insert({-static_cast<std::int64_t>(e.pod.info->priority), e.seq, key});
  cv_.notify_one();
}

void SchedulingQueue::to_backoff(Entry& e, const std::string& key) {
  unschedulable_keys_.erase(key);
  backoff_keys_.insert(key);
  e.where = Entry::Where::Backoff;
  e.backoff_until = Clock::now() + backoff_for(e.pod.attempts);
}

void SchedulingQueue::add_or_update(PodInfoPtr pod) {
  std::lock_guard lock(mu_);
  const std::string key = pod->key;
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    Entry& e = entries_[key];
    e.pod = {std::move(pod), 0, Clock::now()};
    to_active(e, key);
    return;
  }
  Entry& e = it->second;
  switch (e.where) {
    case Entry::Where::Active:
      active_.erase({-static_cast<std::int64_t>(e.pod.info->priority), e.seq, key});
      e.pod.info = std::move(pod);
      to_active(e, key);
      break;
    case Entry::Where::InFlight:
      removed_in_flight_.erase(key);
      updated_in_flight_[key] = std::move(pod);
      break;
    case Entry::Where::Backoff:
    case Entry::Where::Unschedulable:
      // The pod itself changed (its tolerations, affinity, requests…): try it again now.
      e.pod.info = std::move(pod);
      to_active(e, key);
      break;
  }
}

void SchedulingQueue::remove(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  if (it->second.where == Entry::Where::InFlight) {
    removed_in_flight_.insert(key);
    updated_in_flight_.erase(key);
    return;
  }
  if (it->second.where == Entry::Where::Active)
    active_.erase({-static_cast<std::int64_t>(it->second.pod.info->priority), it->second.seq, key});
  backoff_keys_.erase(key);
  unschedulable_keys_.erase(key);
  entries_.erase(it);
}

std::optional<QueuedPod> SchedulingQueue::pop() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return closed_ || !active_.empty(); });
  if (closed_) return std::nullopt;
  auto first = active_.begin();
  const std::string key = std::get<2>(*first);
  active_.erase(first);
  Entry& e = entries_.at(key);
  e.where = Entry::Where::InFlight;
  ++e.pod.attempts;
  cycle_started_at_[key] = move_requests_;
  return e.pod;
}

void SchedulingQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  cycle_started_at_.erase(key);
  updated_in_flight_.erase(key);
  removed_in_flight_.erase(key);
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.where == Entry::Where::InFlight) entries_.erase(it);
}

void SchedulingQueue::requeue_unschedulable(QueuedPod pod) {
  std::lock_guard lock(mu_);
  const std::string key = pod.info->key;
  auto it = entries_.find(key);
  const std::uint64_t started = cycle_started_at_[key];
  cycle_started_at_.erase(key);
  if (removed_in_flight_.erase(key) || it == entries_.end()) {
    if (it != entries_.end()) entries_.erase(it);
    return;
  }
  Entry& e = it->second;
  e.pod.attempts = pod.attempts;
  if (auto u = updated_in_flight_.find(key); u != updated_in_flight_.end()) {
    e.pod.info = std::move(u->second);
    updated_in_flight_.erase(u);
    to_active(e, key);  // changed during its cycle: try the new version at once
    return;
  }
  if (move_requests_ != started) {
    to_backoff(e, key);  // something happened during the cycle that may have helped
    return;
  }
  e.where = Entry::Where::Unschedulable;
  e.unschedulable_since = Clock::now();
  unschedulable_keys_.insert(key);
}

void SchedulingQueue::requeue_backoff(QueuedPod pod) {
  std::lock_guard lock(mu_);
  const std::string key = pod.info->key;
  cycle_started_at_.erase(key);
  auto it = entries_.find(key);
  if (removed_in_flight_.erase(key) || it == entries_.end()) {
    if (it != entries_.end()) entries_.erase(it);
    return;
  }
  Entry& e = it->second;
  e.pod.attempts = pod.attempts;
  if (auto u = updated_in_flight_.find(key); u != updated_in_flight_.end()) {
    e.pod.info = std::move(u->second);
    updated_in_flight_.erase(u);
  }
  to_backoff(e, key);
}

void SchedulingQueue::move_all_to_active_or_backoff() {
  std::lock_guard lock(mu_);
  ++move_requests_;
  const auto now = Clock::now();
  const std::set<std::string> keys = std::move(unschedulable_keys_);
  unschedulable_keys_.clear();
  for (const auto& key : keys) {
    Entry& e = entries_.at(key);
    // Still inside its backoff: wait it out in backoffQ; else straight to activeQ.
    const auto until = e.unschedulable_since + backoff_for(e.pod.attempts);
    if (until > now) {
      e.where = Entry::Where::Backoff;
      e.backoff_until = until;
      backoff_keys_.insert(key);
    } else {
      to_active(e, key);
    }
  }
}

void SchedulingQueue::flush(Clock::time_point now) {
  std::lock_guard lock(mu_);
  std::vector<std::string> ready;
  for (const auto& key : backoff_keys_)
    if (entries_.at(key).backoff_until <= now) ready.push_back(key);
  for (const auto& key : unschedulable_keys_)
    if (now - entries_.at(key).unschedulable_since >= options_.unschedulable_timeout) ready.push_back(key);
  for (const auto& key : ready) to_active(entries_.at(key), key);
}

void SchedulingQueue::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

std::size_t SchedulingQueue::active_size() const {
  std::lock_guard lock(mu_);
  return active_.size();
}

std::size_t SchedulingQueue::backoff_size() const {
  std::lock_guard lock(mu_);
  return backoff_keys_.size();
}

std::size_t SchedulingQueue::unschedulable_size() const {
  std::lock_guard lock(mu_);
  return unschedulable_keys_.size();
}

}  // namespace switchyard::scheduler
