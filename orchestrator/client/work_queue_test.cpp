// The work queue and its rate limiters on an injected clock: de-duplication, one worker per key,
// delays, per-item exponential backoff, the global token bucket, shutdown.
#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "orchestrator/client/work_queue.h"

namespace switchyard::client {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<RateLimiter> exponential(Clock::Duration base = 5ms, Clock::Duration max = 1000s) {
  return std::make_unique<ItemExponentialFailureRateLimiter>(base, max);
}

TEST(WorkQueue, AKeyAddedTwiceIsQueuedOnce) {
  FakeClock clock;
  WorkQueue q(exponential(), clock);
  q.add("shop/web");
  q.add("shop/web");
  q.add("shop/cart");
  EXPECT_EQ(q.len(), 2u);
  EXPECT_EQ(q.try_get(), "shop/web");
  EXPECT_EQ(q.try_get(), "shop/cart");
  EXPECT_EQ(q.try_get(), std::nullopt);
}

TEST(WorkQueue, AKeyBeingProcessedIsNotHandedOutAgainUntilDone) {
  FakeClock clock;
  WorkQueue q(exponential(), clock);
  q.add("a");
  ASSERT_EQ(q.try_get(), "a");
  q.add("a");  // changed again while a worker has it
  q.add("a");
  EXPECT_EQ(q.len(), 0u);
  EXPECT_EQ(q.try_get(), std::nullopt);
  q.done("a");
  EXPECT_EQ(q.len(), 1u);  // once, however often it was added meanwhile
  EXPECT_EQ(q.try_get(), "a");
  q.done("a");
  EXPECT_EQ(q.try_get(), std::nullopt);  // done without a new add: gone
}

TEST(WorkQueue, AddAfterHoldsAKeyBackUntilItsTimeAndTheEarlierTimeWins) {
  FakeClock clock;
  WorkQueue q(exponential(), clock);
  q.add_after("a", 100ms);
  q.add_after("b", 50ms);
  q.add_after("b", 500ms);  // later: ignored
  q.add_after("a", 20ms);   // sooner: wins
  EXPECT_EQ(q.waiting(), 2u);
  EXPECT_EQ(q.try_get(), std::nullopt);
  clock.step(19ms);
  EXPECT_EQ(q.try_get(), std::nullopt);
  clock.step(1ms);
  EXPECT_EQ(q.try_get(), "a");
  clock.step(30ms);
  EXPECT_EQ(q.try_get(), "b");
  EXPECT_EQ(q.waiting(), 0u);
  q.add_after("c", 0ms);  // no delay: at once
  EXPECT_EQ(q.try_get(), "c");
}

TEST(WorkQueue, AHeldBackKeyThatIsAlsoAddedIsQueuedOnce) {
  FakeClock clock;
  WorkQueue q(exponential(), clock);
  q.add_after("a", 10ms);
  q.add("a");
  EXPECT_EQ(q.try_get(), "a");
  q.done("a");
  clock.step(10ms);
  EXPECT_EQ(q.try_get(), "a");  // the delayed add still comes (a later change may need it)
  q.done("a");
  EXPECT_EQ(q.try_get(), std::nullopt);
}

TEST(RateLimiter, PerItemBackoffDoublesFromFiveMillisecondsToItsCapAndForgetResetsIt) {
  ItemExponentialFailureRateLimiter limiter;  // client-go's defaults: 5 ms, 1000 s
  EXPECT_EQ(limiter.when("a"), Clock::Duration(5ms));
  EXPECT_EQ(limiter.when("a"), Clock::Duration(10ms));
  EXPECT_EQ(limiter.when("a"), Clock::Duration(20ms));
  EXPECT_EQ(limiter.when("b"), Clock::Duration(5ms));  // per item
  EXPECT_EQ(limiter.num_requeues("a"), 3);
  for (int i = 0; i < 60; ++i) (void)limiter.when("a");
  EXPECT_EQ(limiter.when("a"), Clock::Duration(1000s));
  limiter.forget("a");
  EXPECT_EQ(limiter.num_requeues("a"), 0);
  EXPECT_EQ(limiter.when("a"), Clock::Duration(5ms));
}

TEST(RateLimiter, TheTokenBucketLetsABurstThroughThenTenPerSecond) {
  FakeClock clock;
  TokenBucketRateLimiter bucket(10, 100, clock);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(bucket.when("k" + std::to_string(i)), Clock::Duration::zero()) << i;
  EXPECT_EQ(bucket.when("x"), Clock::Duration(100ms));
  EXPECT_EQ(bucket.when("y"), Clock::Duration(200ms));
  clock.step(1s);  // ten tokens come back, two of them owed
  for (int i = 0; i < 8; ++i) EXPECT_EQ(bucket.when("z"), Clock::Duration::zero()) << i;
  EXPECT_EQ(bucket.when("z"), Clock::Duration(100ms));
}

TEST(RateLimiter, TheDefaultIsTheLongerOfBackoffAndBucket) {
  FakeClock clock;
  auto limiter = default_controller_rate_limiter(clock);
  for (int i = 0; i < 100; ++i) (void)limiter->when("burst-" + std::to_string(i));  // the bucket is empty now
  EXPECT_EQ(limiter->when("a"), Clock::Duration(100ms));                            // bucket (100 ms) > backoff (5 ms)
  clock.step(10s);
  EXPECT_EQ(limiter->when("a"), Clock::Duration(10ms));  // bucket full again: backoff
  limiter->forget("a");
  EXPECT_EQ(limiter->num_requeues("a"), 0);
}

TEST(WorkQueue, RateLimitedAddsBackOffPerKey) {
  FakeClock clock;
  WorkQueue q(exponential(), clock);
  q.add_rate_limited("a");  // 5 ms
  q.add_rate_limited("a");  // 10 ms later than now: the 5 ms one stands
  EXPECT_EQ(q.try_get(), std::nullopt);
  clock.step(5ms);
  ASSERT_EQ(q.try_get(), "a");
  q.done("a");
  EXPECT_EQ(q.num_requeues("a"), 2);
  q.add_rate_limited("a");  // third failure: 20 ms
  clock.step(19ms);
  EXPECT_EQ(q.try_get(), std::nullopt);
  clock.step(1ms);
  ASSERT_EQ(q.try_get(), "a");
  q.forget("a");
  q.done("a");
  q.add_rate_limited("a");
  clock.step(5ms);
  EXPECT_EQ(q.try_get(), "a");
}

TEST(WorkQueue, ShutDownDrainsWhatIsQueuedThenWakesEveryWorker) {
  WorkQueue q(exponential());
  q.add("a");
  q.add_after("later", 1h);
  std::atomic<int> ended{0};
  std::vector<std::thread> workers;
  q.shut_down();
  q.add("ignored");
  EXPECT_EQ(q.get(), "a");
  for (int i = 0; i < 3; ++i)
    workers.emplace_back([&] {
      if (!q.get()) ++ended;
    });
  for (auto& w : workers) w.join();
  EXPECT_EQ(ended.load(), 3);
  EXPECT_TRUE(q.shutting_down());
}

TEST(WorkQueue, ABlockedGetWakesForAnAddAndForShutDown) {
  WorkQueue q(exponential());
  std::optional<std::string> got;
  std::thread worker([&] { got = q.get(); });
  std::this_thread::sleep_for(20ms);
  q.add("x");
  worker.join();
  EXPECT_EQ(got, "x");
  std::thread waiter([&] { got = q.get(); });
  std::this_thread::sleep_for(20ms);
  q.shut_down();
  waiter.join();
  EXPECT_EQ(got, std::nullopt);
}

TEST(WorkQueue, AGetBlockedOnARealClockWakesWhenADelayedKeyIsDue) {
  WorkQueue q(exponential());
  q.add_after("soon", 30ms);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(q.get(), "soon");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);
}

TEST(WorkQueue, ManyWorkersNeverHoldTheSameKeyAtOnce) {
  WorkQueue q(exponential());
  std::mutex mu;
  std::map<std::string, int> holding;
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 5; ++w)
    workers.emplace_back([&] {
      while (auto key = q.get()) {
        {
          std::lock_guard lock(mu);
          if (++holding[*key] > 1) overlap = true;
        }
        std::this_thread::sleep_for(100us);
        {
          std::lock_guard lock(mu);
          --holding[*key];
        }
        ++processed;
        q.done(*key);
      }
    });
  for (int i = 0; i < 5000; ++i) q.add("key-" + std::to_string(i % 7));
  while (q.len() > 0) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);
  q.shut_down();
  for (auto& w : workers) w.join();
  EXPECT_FALSE(overlap.load());
  EXPECT_GE(processed.load(), 7);
  EXPECT_LT(processed.load(), 5000);  // de-duplicated
}

}  // namespace
}  // namespace switchyard::client
