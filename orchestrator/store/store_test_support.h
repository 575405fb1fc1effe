// Helpers for the store tests: a temporary directory and a watch callback that records events.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "orchestrator/store/store.h"

namespace switchyard::store::testing {

// mkdtemp on construction, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Records what a watch delivers; wait_for blocks until enough arrived (or an error did).
class EventRecorder {
 public:
  WatchCallback callback();
  // true once at least `n` events, or an error, have arrived within `timeout`.
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool wait_for_error(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<Event> events();
  std::vector<StoreError> errors();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
  std::vector<StoreError> errors_;
};

}  // namespace switchyard::store::testing
