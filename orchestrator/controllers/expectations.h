// kube-controller-manager's ControllerExpectations (with UID tracking for deletions): what a
// controller is still waiting to see in its cache after its own creates and deletes. A key whose
// expectations are not met is not acted on again, so a lagging pod cache never makes a
// ReplicaSet create or delete twice. Expectations expire after a TTL (5 min upstream), so a
// lost watch event cannot wedge a key forever.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "orchestrator/client/clock.h"

namespace switchyard::controllers {

class Expectations {
 public:
  explicit Expectations(const client::Clock& clock = client::Clock::real(), std::chrono::seconds ttl = std::chrono::minutes(5))
      : clock_(clock), ttl_(ttl) {}

  // True when the controller may act on `key`: nothing is expected, everything expected was
  // seen, or the expectations are older than the TTL.
  bool satisfied(const std::string& key) const;
  // Sets (replaces) what `key` waits for: `adds` creations.
  void expect_creations(const std::string& key, int adds);
  // `pod_keys` ("ns/name") will be deleted; each is counted once however often it is seen.
  void expect_deletions(const std::string& key, const std::set<std::string>& pod_keys);
  // Both at once (a DaemonSet's surge creates beside the deletes of one sync).
  void expect(const std::string& key, int adds, const std::set<std::string>& pod_keys);
  // The cache showed one creation (or a create failed or was skipped: it will never be seen).
  void creation_observed(const std::string& key);
  // The cache showed a deletion of `pod_key` (or its delete failed).
  void deletion_observed(const std::string& key, const std::string& pod_key);
  // The owner is gone: forget it.
  void forget(const std::string& key);
  // Outstanding creations and deletions (tests, logs).
  std::pair<int, int> pending(const std::string& key) const;

 private:
  struct Record {
    int adds = 0;
    std::set<std::string> deletes;
    client::Clock::TimePoint set_at;
  };
  const client::Clock& clock_;
  std::chrono::seconds ttl_;
  mutable std::mutex mu_;
  std::map<std::string, Record> records_;
};

}  // namespace switchyard::controllers
