#include "orchestrator/controllers/expectations.h"

namespace switchyard::controllers {

bool Expectations::satisfied(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = records_.find(key);
  if (it == records_.end()) return true;
  const Record& r = it->second;
  if (r.adds <= 0 && r.deletes.empty()) return true;
  return clock_.now() - r.set_at > ttl_;
}

void Expectations::expect_creations(const std::string& key, int adds) {
  std::lock_guard lock(mu_);
  records_[key] = Record{adds, {}, clock_.now()};
}

void Expectations::expect_deletions(const std::string& key, const std::set<std::string>& pod_keys) {
  std::lock_guard lock(mu_);
  records_[key] = Record{0, pod_keys, clock_.now()};
}

void Expectations::expect(const std::string& key, int adds, const std::set<std::string>& pod_keys) {
  std::lock_guard lock(mu_);
  records_[key] = Record{adds, pod_keys, clock_.now()};
}

void Expectations::creation_observed(const std::string& key) {
  std::lock_guard lock(mu_);
  if (auto it = records_.find(key); it != records_.end() && it->second.adds > 0) --it->second.adds;
}

void Expectations::deletion_observed(const std::string& key, const std::string& pod_key) {
  std::lock_guard lock(mu_);
  if (auto it = records_.find(key); it != records_.end()) it->second.deletes.erase(pod_key);
}

void Expectations::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  records_.erase(key);
}

std::pair<int, int> Expectations::pending(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = records_.find(key);
  if (it == records_.end()) return {0, 0};
  return {it->second.adds, static_cast<int>(it->second.deletes.size())};
}

}  // namespace switchyard::controllers
