// One etcd watch: a streaming POST to /v3/watch (the project's HTTP client), read on its own thread.
//
// The gateway answers with a chunked stream of JSON objects, {"result": WatchResponse} each:
// first one with "created", then events. When the stream breaks the watch reconnects with
// start_revision = last delivered revision + 1, so nothing is lost or repeated; if etcd cannot
// be reached for the whole reconnect window it reports Unavailable, and if the history it needs
// was compacted meanwhile it reports Compacted (etcd's "compact_revision" cancel).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "orchestrator/store/etcd_gateway.h"
#include "orchestrator/store/store.h"

namespace switchyard::store::etcd {

class EtcdWatch final : public Watch {
 public:
  struct Timing {
    std::chrono::milliseconds request_timeout;
    std::chrono::milliseconds reconnect_window;
  };

  EtcdWatch(Endpoint endpoint, std::string prefix, Revision from, Timing timing, WatchCallback callback);
  ~EtcdWatch() override;

  // Blocks until etcd has confirmed the watch, or the first attempt failed.
  StoreResult<void> wait_started();
  // The last event delivered, or the revision of etcd's last progress notification (sent to
  // a watch that has caught up, every --experimental-watch-progress-notify-interval).
  Revision progress() const override { return progress_.load(); }

 private:
  enum class Outcome { Continue, Cancelled, Broken, Fatal };

  void run();
  Outcome stream_once(StoreError& error);
  Outcome handle_message(std::string_view text, StoreError& error);
  void set_started(StoreResult<void> result);
  bool started();

  const Endpoint endpoint_;
  const std::string prefix_;
  const Timing timing_;
  WatchCallback callback_;
  Revision delivered_;  // the last revision handed to the callback (or the start)
  std::atomic<Revision> progress_;

  std::unique_ptr<http::HttpClient> client_;
  std::atomic<bool> cancelled_{false};
  std::optional<std::chrono::steady_clock::time_point> failing_since_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<StoreResult<void>> started_;

  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace switchyard::store::etcd
