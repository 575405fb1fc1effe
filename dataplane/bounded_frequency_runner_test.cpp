// The runner's timing rules, driven by a fake clock (no thread, no sleeping), and once with the
// real clock and its thread.
#include "dataplane/bounded_frequency_runner.h"

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace switchyard::dataplane {
namespace {

using namespace std::chrono_literals;

class FakeClock final : public RunnerClock {
 public:
  time_point now() const override { return now_; }
  void advance(std::chrono::steady_clock::duration d) { now_ += d; }

 private:
  time_point now_ = time_point(1000h);
};

class RunnerWithFakeClock : public ::testing::Test {
 protected:
  FakeClock clock_;
  int runs_ = 0;
  BoundedFrequencyRunner runner_{"test", [this] { ++runs_; }, {.min_interval = 1s, .max_interval = 10s, .burst = 1}, clock_};
};

TEST_F(RunnerWithFakeClock, NothingRunsWithoutARequestUntilTheMaxInterval) {
  EXPECT_FALSE(runner_.run_if_due());
  clock_.advance(9s);
  EXPECT_FALSE(runner_.run_if_due());
  clock_.advance(1s);
  EXPECT_TRUE(runner_.run_if_due());
  EXPECT_EQ(runs_, 1);
  // The next periodic run counts from that run.
  clock_.advance(9s);
  EXPECT_FALSE(runner_.run_if_due());
  clock_.advance(1s);
  EXPECT_TRUE(runner_.run_if_due());
}

TEST_F(RunnerWithFakeClock, ARequestRunsAtOnceThenRequestsCoalesceUntilMinInterval) {
  runner_.run();
  EXPECT_TRUE(runner_.run_if_due());
  EXPECT_EQ(runs_, 1);
  for (int i = 0; i < 5; ++i) runner_.run();  // five requests within the interval
  EXPECT_EQ(runner_.next_run(), clock_.now() + 1s);
  clock_.advance(500ms);
  EXPECT_FALSE(runner_.run_if_due());
  clock_.advance(500ms);
  EXPECT_TRUE(runner_.run_if_due());
  EXPECT_FALSE(runner_.run_if_due());  // the five became one run
  EXPECT_EQ(runs_, 2);
  clock_.advance(5s);
  EXPECT_FALSE(runner_.run_if_due());
}

TEST_F(RunnerWithFakeClock, RetryAfterRunsAtItsTimeWithoutARequest) {
  runner_.run();
  ASSERT_TRUE(runner_.run_if_due());
  runner_.retry_after(3s);
  EXPECT_EQ(runner_.next_run(), clock_.now() + 3s);
  clock_.advance(2999ms);
  EXPECT_FALSE(runner_.run_if_due());
  clock_.advance(1ms);
  EXPECT_TRUE(runner_.run_if_due());
  // A run clears the retry.
  clock_.advance(5s);
  EXPECT_FALSE(runner_.run_if_due());
}

TEST_F(RunnerWithFakeClock, RetrySoonerThanMinIntervalWaitsForTheRateLimit) {
  runner_.run();
  ASSERT_TRUE(runner_.run_if_due());
  runner_.retry_after(100ms);
  EXPECT_EQ(runner_.next_run(), clock_.now() + 1s);
}

TEST(BoundedFrequencyRunner, BurstAllowsBackToBackRunsThenOnePerMinInterval) {
  FakeClock clock;
  int runs = 0;
  BoundedFrequencyRunner runner(
      "burst", [&] { ++runs; }, {.min_interval = 2s, .max_interval = 60s, .burst = 2}, clock);
  runner.run();
  EXPECT_TRUE(runner.run_if_due());
  runner.run();
  EXPECT_TRUE(runner.run_if_due());  // second token
  runner.run();
  EXPECT_FALSE(runner.run_if_due());
  EXPECT_EQ(runner.next_run(), clock.now() + 2s);
  clock.advance(2s);
  EXPECT_TRUE(runner.run_if_due());
  EXPECT_EQ(runs, 3);
}

TEST(BoundedFrequencyRunner, ARequestDuringARunAsksForAnotherRun) {
  FakeClock clock;
  int runs = 0;
  BoundedFrequencyRunner* self = nullptr;
  BoundedFrequencyRunner runner(
      "reentrant",
      [&] {
        if (++runs == 1) self->run();
      },
      {.min_interval = 1s, .max_interval = 60s, .burst = 1}, clock);
  self = &runner;
  runner.run();
  ASSERT_TRUE(runner.run_if_due());
  clock.advance(1s);
  EXPECT_TRUE(runner.run_if_due());
  EXPECT_EQ(runs, 2);
}

TEST(BoundedFrequencyRunner, ThreadRunsRequestsCoalescedWithTheRealClock) {
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> runs;
  auto count = [&] {
    std::lock_guard lock(mu);
    return runs.size();
  };
  BoundedFrequencyRunner runner("thread",
                                [&] {
                                  std::lock_guard lock(mu);
                                  runs.push_back(std::chrono::steady_clock::now());
                                },
                                {.min_interval = 200ms, .max_interval = 60s, .burst = 1});
  runner.start();
  runner.run();
  for (int i = 0; i < 400 && count() == 0; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(count(), 1u);
  for (int i = 0; i < 20; ++i) runner.run();
  for (int i = 0; i < 400 && count() < 2; ++i) std::this_thread::sleep_for(5ms);
  std::this_thread::sleep_for(300ms);  // room for a wrong third run
  runner.stop();
  std::lock_guard lock(mu);
  ASSERT_EQ(runs.size(), 2u);  // twenty requests, one run
  EXPECT_GE(runs[1] - runs[0], 200ms);
}

}  // namespace
}  // namespace switchyard::dataplane
