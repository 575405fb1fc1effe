// The scheduling queue: order, backoff, and unschedulable pods moved by cluster events.
#include "orchestrator/scheduler/scheduling_queue.h"

#include <gtest/gtest.h>

#include "orchestrator/scheduler/scheduler_cache.h"
#include "orchestrator/scheduler/scheduler_test_support.h"

namespace switchyard::scheduler {
namespace {

using namespace std::chrono_literals;
using testing::pod;

TEST(SchedulingQueue, BackoffDoublesFromOneSecondToTen) {
  SchedulingQueue q;
  std::vector<std::chrono::milliseconds> got;
  for (int a = 1; a <= 6; ++a) got.push_back(q.backoff_for(a));
  EXPECT_EQ(got, (std::vector<std::chrono::milliseconds>{1000ms, 2000ms, 4000ms, 8000ms, 10000ms, 10000ms}));
}

TEST(SchedulingQueue, HigherPriorityFirstThenArrival) {
  SchedulingQueue q;
  q.add_or_update(pod("", "a"));
  q.add_or_update(pod(R"({"priority":100})", "b"));
  q.add_or_update(pod("", "c"));
  std::vector<std::string> order;
  for (int i = 0; i < 3; ++i) {
    auto p = q.pop();
    order.push_back(p->info->name());
    q.done(p->info->key);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"b", "a", "c"}));
}

TEST(SchedulingQueue, UnschedulablePodsWaitForAnEventThenBackOff) {
  SchedulingQueue q(QueueOptions{200ms, 1000ms, 60000ms});
  q.add_or_update(pod("", "a"));
  auto p = q.pop();
  q.requeue_unschedulable(*p);
  EXPECT_EQ(q.unschedulable_size(), 1u);
  q.flush(SchedulingQueue::Clock::now() + 5s);  // no timer moves it before the 60 s timeout
  EXPECT_EQ(q.unschedulable_size(), 1u);
  q.move_all_to_active_or_backoff();  // a node was added: still within its 200 ms backoff
  EXPECT_EQ(q.backoff_size(), 1u);
  EXPECT_EQ(q.active_size(), 0u);
  q.flush(SchedulingQueue::Clock::now() + 300ms);
  EXPECT_EQ(q.active_size(), 1u);
}

TEST(SchedulingQueue, AnEventDuringTheCycleSendsThePodToBackoffNotToWait) {
  SchedulingQueue q;
  q.add_or_update(pod("", "a"));
  auto p = q.pop();
  q.move_all_to_active_or_backoff();  // e.g. a node added while the cycle ran
  q.requeue_unschedulable(*p);
  EXPECT_EQ(q.unschedulable_size(), 0u);
  EXPECT_EQ(q.backoff_size(), 1u);
}

TEST(SchedulingQueue, AnUpdatedPodIsRetriedAtOnceAndADeletedOneDropped) {
  SchedulingQueue q;
  q.add_or_update(pod("", "a"));
  q.add_or_update(pod("", "b"));
  auto a = q.pop();
  auto b = q.pop();
  q.requeue_unschedulable(*a);
  q.requeue_unschedulable(*b);
  q.add_or_update(pod(R"({"tolerations":[{"operator":"Exists"}]})", "a"));
  q.remove("default/b");
  EXPECT_EQ(q.active_size(), 1u);
  EXPECT_EQ(q.unschedulable_size(), 0u);
  EXPECT_EQ(q.pop()->info->tolerations.size(), 1u);
}

TEST(SchedulerCache, AssumedPodsCountUntilForgottenOrConfirmed) {
  SchedulerCache cache;
  auto n = testing::node("n1");
  cache.add_or_update_node(n.node);
  auto p = testing::pod_requesting("1", "1Gi", "web");
  cache.assume_pod(p, "n1");
  auto requested = [&] { return cache.with_nodes([](const auto& nodes) { return nodes.at(0)->requested.milli_cpu; }); };
  EXPECT_EQ(requested(), 1000);
  cache.forget_pod(p->key);
  EXPECT_EQ(requested(), 0);
  cache.assume_pod(p, "n1");
  cache.add_or_update_pod(testing::pod_requesting("1", "1Gi", "web", "n1"));  // the binding seen on the watch
  EXPECT_FALSE(cache.is_assumed(p->key));
  cache.forget_pod(p->key);  // confirmed: a late failure report changes nothing
  EXPECT_EQ(requested(), 1000);
  cache.remove_pod(p->key);
  EXPECT_EQ(requested(), 0);
}

}  // namespace
}  // namespace switchyard::scheduler
