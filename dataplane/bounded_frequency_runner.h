// Runs a function (the dataplane sync) on request, as kube-proxy's BoundedFrequencyRunner does:
// requests coalesce; runs are no closer than `min_interval` (a token bucket allows `burst` runs
// in a row, then one per min_interval); a run happens at least every `max_interval` even without
// requests; retry_after() asks for a run no later than a given delay (after a failure). The clock
// is injectable: tests drive the runner with a fake clock through due()/run_if_due() and no thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace switchyard::dataplane {

class RunnerClock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~RunnerClock() = default;
  virtual time_point now() const = 0;
  static const RunnerClock& steady();  // the real clock
};

struct BoundedFrequencyOptions {
  std::chrono::steady_clock::duration min_interval = std::chrono::seconds(1);
  std::chrono::steady_clock::duration max_interval = std::chrono::seconds(30);
  int burst = 2;  // runs allowed back to back before min_interval applies (kube-proxy: 2)
};

class BoundedFrequencyRunner {
 public:
  using time_point = RunnerClock::time_point;

  BoundedFrequencyRunner(std::string name, std::function<void()> fn, BoundedFrequencyOptions options,
                         const RunnerClock& clock = RunnerClock::steady());
  ~BoundedFrequencyRunner();
  BoundedFrequencyRunner(const BoundedFrequencyRunner&) = delete;
  BoundedFrequencyRunner& operator=(const BoundedFrequencyRunner&) = delete;

  // Asks for a run as soon as the rate limit allows; any number of requests before it coalesce.
  void run();
  // Asks for a run no later than `delay` from now (still subject to the rate limit).
  void retry_after(std::chrono::steady_clock::duration delay);

  // When the next run is due, given the requests so far (the max-interval run at the latest).
  time_point next_run() const;
  // Runs the function in the calling thread if a run is due at clock.now(); true if it ran.
  bool run_if_due();

  // A background thread that runs the function when due. stop() waits for a run in progress.
  void start();
  void stop();

 private:
  time_point next_run_locked(time_point now) const;
  double tokens_at(time_point now) const;
  void take_token(time_point now);
  void loop();

  const std::string name_;
  const std::function<void()> fn_;
  const BoundedFrequencyOptions options_;
  const RunnerClock& clock_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool requested_ = false;
  std::optional<time_point> retry_at_;
  time_point last_run_;  // start of the last run (or construction): the max-interval base
  double tokens_;        // token bucket, refilled at one per min_interval up to burst
  time_point tokens_updated_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace switchyard::dataplane
