// pod_sync: the actions that bring a pod's runtime state to its spec.
#include "kubelet/pods/pod_sync.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kubelet/pods/pod_test_support.h"

namespace switchyard::kubelet {
namespace {

using namespace testing;

const char* kPod = R"({"metadata": {"name": "p", "namespace": "default", "uid": "u"},
  "spec": {"initContainers": [{"name": "init1", "image": "i"}, {"name": "init2", "image": "i"}],
           "containers": [{"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"}]}})";

std::vector<std::string> names(const SyncPlan& plan) {
  std::vector<std::string> out;
  for (const auto& s : plan.start) out.push_back(s.name);
  return out;
}

TEST(PodSync, ANewPodGetsASandboxAndItsFirstInitContainer) {
  auto pod = pod_from(kPod);
  auto plan = plan_pod_sync(pod, {}, {});
  EXPECT_TRUE(plan.create_sandbox);
  EXPECT_FALSE(plan.kill_pod);
  EXPECT_EQ(plan.sandbox_attempt, 0u);
  EXPECT_THAT(names(plan), ::testing::ElementsAre("init1"));
  pod.spec.init_containers.clear();
  plan = plan_pod_sync(pod, {}, {});
  EXPECT_THAT(names(plan), ::testing::ElementsAre("a", "b"));
}

TEST(PodSync, InitContainersRunInOrderThenTheAppContainers) {
  auto pod = pod_from(kPod);
  ObservedPod observed;
  observed.sandbox = ready_sandbox();
  observed.containers["init1"] = {running("i1")};
  EXPECT_TRUE(plan_pod_sync(pod, observed, {}).empty()) << "wait for the running init container";
  observed.containers["init1"] = {exited("i1", 0)};
  EXPECT_THAT(names(plan_pod_sync(pod, observed, {})), ::testing::ElementsAre("init2"));
  observed.containers["init2"] = {exited("i2", 0)};
  EXPECT_THAT(names(plan_pod_sync(pod, observed, {})), ::testing::ElementsAre("a", "b"));
  // A failed init container runs again (restartPolicy Always) with the next restart count.
  observed.containers["init2"] = {exited("i2", 1, 4)};
  auto plan = plan_pod_sync(pod, observed, {});
  ASSERT_EQ(plan.start.size(), 1u);
  EXPECT_EQ(plan.start[0].name, "init2");
  EXPECT_TRUE(plan.start[0].restart);
  EXPECT_EQ(plan.start[0].restart_count, 5);
}

TEST(PodSync, RestartPolicies) {
  auto pod = pod_from(kPod);
  pod.spec.init_containers.clear();
  ObservedPod observed;
  observed.sandbox = ready_sandbox();
  observed.containers["a"] = {exited("a1", 0)};
  observed.containers["b"] = {exited("b1", 1)};
  pod.spec.restart_policy = "Always";
  EXPECT_THAT(names(plan_pod_sync(pod, observed, {})), ::testing::ElementsAre("a", "b"));
  pod.spec.restart_policy = "OnFailure";
  EXPECT_THAT(names(plan_pod_sync(pod, observed, {})), ::testing::ElementsAre("b"));
  pod.spec.restart_policy = "Never";
  auto plan = plan_pod_sync(pod, observed, {});
  EXPECT_TRUE(plan.start.empty());
  EXPECT_TRUE(plan.kill_pod) << "a finished pod's sandbox is stopped";
}

TEST(PodSync, ADeadSandboxIsReplacedAndOldOnesRemoved) {
  auto pod = pod_from(kPod);
  pod.spec.init_containers.clear();
  ObservedPod observed;
  observed.sandbox = ready_sandbox();
  observed.sandbox->state = cri::SandboxState::NotReady;
  observed.sandbox->metadata.attempt = 1;
  observed.containers["a"] = {running("a1", 2)};
  auto plan = plan_pod_sync(pod, observed, {});
  EXPECT_TRUE(plan.kill_pod);
  EXPECT_TRUE(plan.create_sandbox);
  EXPECT_EQ(plan.sandbox_attempt, 2u);
  ASSERT_EQ(plan.start.size(), 2u);
  EXPECT_EQ(plan.start[0].restart_count, 3);

  observed.sandbox->state = cri::SandboxState::Ready;
  observed.old_sandboxes = {"old"};
  observed.containers["b"] = {running("b1")};
  plan = plan_pod_sync(pod, observed, {});
  EXPECT_THAT(plan.remove_sandboxes, ::testing::ElementsAre("old"));
  EXPECT_TRUE(plan.start.empty());
}

TEST(PodSync, ALivenessFailureOrASpecChangeKillsAndRestarts) {
  auto pod = pod_from(kPod);
  pod.spec.init_containers.clear();
  ObservedPod observed;
  observed.sandbox = ready_sandbox();
  observed.containers["a"] = {running("a1")};
  observed.containers["b"] = {running("b1")};
  observed.containers["b"][0].hash = "stale";
  ContainerNotes notes;
  notes["a"].kill_requested_id = "a1";
  notes["a"].kill_reason = "Container a failed liveness probe, will be restarted";
  auto plan = plan_pod_sync(pod, observed, notes);
  ASSERT_EQ(plan.kill.size(), 2u);
  EXPECT_EQ(plan.kill[0].id, "a1");
  EXPECT_EQ(plan.kill[0].reason, "Container a failed liveness probe, will be restarted");
  EXPECT_EQ(plan.kill[1].id, "b1");
  EXPECT_THAT(names(plan), ::testing::ElementsAre("a", "b"));
}

TEST(PodSync, OnlyTheNewestTwoExitedContainersPerNameAreKept) {
  auto pod = pod_from(kPod);
  pod.spec.init_containers.clear();
  ObservedPod observed;
  observed.sandbox = ready_sandbox();
  observed.containers["a"] = {running("a3", 2), exited("a2", 1, 1), exited("a1", 1, 0)};
  observed.containers["b"] = {running("b1")};
  auto plan = plan_pod_sync(pod, observed, {});
  EXPECT_THAT(plan.remove_containers, ::testing::ElementsAre("a1"));
}

}  // namespace
}  // namespace switchyard::kubelet
