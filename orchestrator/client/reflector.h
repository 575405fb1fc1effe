// List+watch of one collection as client-go's Reflector does it: list, then watch from the
// list's resourceVersion with bookmarks; on 410 Expired relist; on errors back off with jitter
// (0.5 s doubling to 30 s by default) and resume from the last resourceVersion seen. A list that
// fails is never handed on: the sink keeps the last state it had.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/client/list_watch.h"

namespace switchyard::client {

// Where a reflector delivers; called on the reflector's thread only.
class ReflectorSink {
 public:
  virtual ~ReflectorSink() = default;
  // The complete collection after a successful list: objects not in it are gone.
  virtual void replace(std::vector<nlohmann::json>&& items) = 0;
  // ADDED / MODIFIED / DELETED (never BOOKMARK).
  virtual void apply(WatchEvent&& event) = 0;
};

struct ReflectorOptions {
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
};

class Reflector {
 public:
  Reflector(std::unique_ptr<ListerWatcher> lister_watcher, ReflectorSink& sink, ReflectorOptions options = {});
  ~Reflector();
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;
  // start() after stop() resumes the watch from the last resourceVersion seen, as a reflector
  // does after a pause (a 410 then means a relist).
  void start();
  void stop();
  // Successful lists (the first one and every relist), and lists that failed.
  std::uint64_t lists() const { return lists_; }
  std::uint64_t failed_lists() const { return failed_lists_; }
  const std::string& describe() const { return lister_watcher_->describe(); }

 private:
  void run();
  void sleep_for(std::chrono::milliseconds d);

  std::unique_ptr<ListerWatcher> lister_watcher_;
  ReflectorSink& sink_;
  ReflectorOptions options_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> lists_{0}, failed_lists_{0};
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  // Owned by the reflector's thread (and kept across stop/start).
  std::string resource_version_;
  bool need_list_ = true;
  std::thread thread_;
};

}  // namespace switchyard::client
