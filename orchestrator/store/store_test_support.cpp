#include "orchestrator/store/store_test_support.h"

#include <stdlib.h>

#include <stdexcept>

namespace switchyard::store::testing {

TempDir::TempDir() {
  std::string templ = (std::filesystem::temp_directory_path() / "switchyard-store-XXXXXX").string();
  if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp " + templ + " failed");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

WatchCallback EventRecorder::callback() {
  return [this](const StoreResult<Event>& e) {
    {
      std::lock_guard lock(mu_);
      if (e)
        events_.push_back(*e);
      else
        errors_.push_back(e.error());
    }
    cv_.notify_all();
  };
}

bool EventRecorder::wait_for(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return events_.size() >= n || !errors_.empty(); });
}

bool EventRecorder::wait_for_error(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return !errors_.empty(); });
}

std::vector<Event> EventRecorder::events() {
  std::lock_guard lock(mu_);
  return events_;
}

std::vector<StoreError> EventRecorder::errors() {
  std::lock_guard lock(mu_);
  return errors_;
}

}  // namespace switchyard::store::testing
