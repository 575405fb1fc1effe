// Test support: a ListerWatcher in front of another that fails what a test asks it to, as an
// API server that answers 500 to lists or drops watches with 410 would.
#pragma once

#include <atomic>
#include <memory>

#include "orchestrator/client/list_watch.h"

namespace switchyard::client::testing {

class FaultyListerWatcher final : public ListerWatcher {
 public:
  struct Faults {
    std::atomic<bool> fail_lists{false};      // list() answers Unavailable (a 500)
    std::atomic<bool> expire_watches{false};  // watches end with 410 (Compacted): the reflector relists
    std::atomic<int> lists_failed{0};
  };

  FaultyListerWatcher(std::unique_ptr<ListerWatcher> inner, std::shared_ptr<Faults> faults)
      : inner_(std::move(inner)), faults_(std::move(faults)) {}

  Result<ObjectList> list() override {
    if (faults_->fail_lists) {
      ++faults_->lists_failed;
      return fail(ErrorCode::Unavailable, "list " + describe() + ": HTTP 500 (injected)");
    }
    return inner_->list();
  }
  Result<void> watch(const std::string& resource_version, const std::function<bool(WatchEvent&&)>& on_event) override {
    if (faults_->expire_watches) return fail(ErrorCode::Compacted, "watch " + describe() + ": 410 Gone (injected)");
    auto r = inner_->watch(resource_version, [&](WatchEvent&& e) { return !faults_->expire_watches && on_event(std::move(e)); });
    if (faults_->expire_watches) return fail(ErrorCode::Compacted, "watch " + describe() + ": 410 Gone (injected)");
    return r;
  }
  void abort() override { inner_->abort(); }
  void resume() override { inner_->resume(); }
  const std::string& describe() const override { return inner_->describe(); }

 private:
  std::unique_ptr<ListerWatcher> inner_;
  std::shared_ptr<Faults> faults_;
};

}  // namespace switchyard::client::testing
