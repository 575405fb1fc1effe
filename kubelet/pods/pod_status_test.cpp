// pod_status: the status a kubelet writes, from observed states, as kubectl reads it.
#include "kubelet/pods/pod_status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kubelet/pods/pod_test_support.h"

namespace switchyard::kubelet {
namespace {

using namespace testing;
using nlohmann::json;

const char* kPod = R"({"metadata": {"name": "p", "namespace": "default", "uid": "u"},
  "spec": {"restartPolicy": "Always", "initContainers": [{"name": "init", "image": "i"}],
           "containers": [{"name": "app", "image": "busybox"}]},
  "status": {"conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})";

const StatusContext kCtx{.node_ip = "10.0.0.5", .now = "2026-12-07T01:00:00Z"};

json statuses(const api::PodStatus& s, const char* field = "containerStatuses") { return json::parse(s.passthrough.at(field)); }

std::string condition(const api::PodStatus& s, const std::string& type) {
  for (const auto& c : s.conditions)
    if (c.type == type) return c.status;
  return "";
}

TEST(PodStatus, NoSandboxYetIsPendingContainerCreating) {
  auto pod = pod_from(kPod);
  ObservedPod observed;
  auto s = compute_pod_status(pod, observed, {}, kCtx);
  EXPECT_EQ(s.phase, "Pending");
  EXPECT_EQ(s.host_ip, "10.0.0.5");
  EXPECT_EQ(s.start_time, kCtx.now);
  EXPECT_EQ(statuses(s, "initContainerStatuses")[0]["state"]["waiting"]["reason"], "PodInitializing");
  EXPECT_EQ(statuses(s)[0]["state"]["waiting"]["reason"], "PodInitializing");
  EXPECT_EQ(condition(s, "PodReadyToStartContainers"), "False");
  EXPECT_EQ(condition(s, "Initialized"), "False");
  EXPECT_EQ(condition(s, "PodScheduled"), "True") << "conditions the kubelet does not own stay";
  EXPECT_EQ(s.passthrough.at("qosClass"), "\"BestEffort\"");
}

TEST(PodStatus, RunningAndReadyAfterInit) {
  auto pod = pod_from(kPod);
  ObservedPod observed;
  observed.sandbox = ready_sandbox();
  observed.containers["init"] = {exited("i1", 0)};
  observed.containers["app"] = {running("a1")};
  ContainerNotes notes;
  notes["app"].ready = notes["app"].started = true;
  auto s = compute_pod_status(pod, observed, notes, kCtx);
  EXPECT_EQ(s.phase, "Running");
  EXPECT_EQ(s.pod_ip, "10.244.0.9");
  EXPECT_THAT(s.pod_ips, ::testing::ElementsAre("10.244.0.9"));
  json app = statuses(s)[0];
  EXPECT_EQ(app["ready"], true);
  EXPECT_EQ(app["started"], true);
  EXPECT_EQ(app["containerID"], "containerd://a1");
  EXPECT_EQ(app["imageID"], "sha256:abc");
  EXPECT_EQ(app["state"]["running"]["startedAt"], "1970-01-01T00:16:40Z");
  json init = statuses(s, "initContainerStatuses")[0];
  EXPECT_EQ(init["state"]["terminated"]["reason"], "Completed");
  EXPECT_EQ(init["ready"], true);
  for (const char* type : {"PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"})
    EXPECT_EQ(condition(s, type), "True") << type;

  // Transition times stay while a condition keeps its value.
  pod.status = s;
  auto later = compute_pod_status(pod, observed, notes, {.node_ip = "10.0.0.5", .now = "2026-12-07T02:00:00Z"});
  for (const auto& c : later.conditions)
    if (c.type == "Ready") EXPECT_EQ(c.last_transition_time, kCtx.now);
  notes["app"].ready = false;
  later = compute_pod_status(pod, observed, notes, {.node_ip = "10.0.0.5", .now = "2026-12-07T02:00:00Z"});
  for (const auto& c : later.conditions)
    if (c.type == "Ready") {
      EXPECT_EQ(c.status, "False");
      EXPECT_EQ(c.reason, "ContainersNotReady");
      EXPECT_EQ(c.message, "containers with unready status: [app]");
      EXPECT_EQ(c.last_transition_time, "2026-12-07T02:00:00Z");
    }
}

TEST(PodStatus, CrashLoopBackOffShowsWaitingWithTheLastTermination) {
  auto pod = pod_from(kPod);
  pod.spec.init_containers.clear();
  ObservedPod observed;
  observed.sandbox = ready_sandbox();
  observed.containers["app"] = {exited("a2", 1, 1, 1010), exited("a1", 1, 0, 1000)};
  ContainerNotes notes;
  notes["app"].waiting_reason = "CrashLoopBackOff";
  notes["app"].waiting_message = "back-off 10s restarting failed container=app pod=p_default(u)";
  notes["app"].waiting_for_id = "a2";
  auto s = compute_pod_status(pod, observed, notes, kCtx);
  EXPECT_EQ(s.phase, "Running");
  json app = statuses(s)[0];
  EXPECT_EQ(app["state"]["waiting"]["reason"], "CrashLoopBackOff");
  EXPECT_EQ(app["lastState"]["terminated"]["exitCode"], 1);
  EXPECT_EQ(app["lastState"]["terminated"]["reason"], "Error");
  EXPECT_EQ(app["restartCount"], 1);
  EXPECT_EQ(app["ready"], false);
}

TEST(PodStatus, RestartPolicyNeverEndsSucceededOrFailed) {
  auto pod = pod_from(kPod);
  pod.spec.init_containers.clear();
  pod.spec.restart_policy = "Never";
  ObservedPod observed;
  observed.sandbox = ready_sandbox();
  observed.containers["app"] = {exited("a1", 0)};
  auto s = compute_pod_status(pod, observed, {}, kCtx);
  EXPECT_EQ(s.phase, "Succeeded");
  EXPECT_EQ(statuses(s)[0]["state"]["terminated"]["reason"], "Completed");
  EXPECT_EQ(condition(s, "Ready"), "False");
  observed.containers["app"] = {exited("a1", 1)};
  s = compute_pod_status(pod, observed, {}, kCtx);
  EXPECT_EQ(s.phase, "Failed");
  // A terminal phase never changes, and keeps its address after the sandbox is gone.
  pod.status = s;
  observed.sandbox.reset();
  s = compute_pod_status(pod, observed, {}, kCtx);
  EXPECT_EQ(s.phase, "Failed");
  EXPECT_EQ(s.pod_ip, "10.244.0.9");
}

TEST(PodStatus, AFailedInitContainerUnderNeverFailsThePod) {
  auto pod = pod_from(kPod);
  pod.spec.restart_policy = "Never";
  ObservedPod observed;
  observed.sandbox = ready_sandbox();
  observed.containers["init"] = {exited("i1", 2)};
  auto s = compute_pod_status(pod, observed, {}, kCtx);
  EXPECT_EQ(s.phase, "Failed");
  EXPECT_EQ(statuses(s, "initContainerStatuses")[0]["state"]["terminated"]["exitCode"], 2);
}

TEST(PodStatus, ImagePullErrorsAreWaitingReasons) {
  auto pod = pod_from(kPod);
  pod.spec.init_containers.clear();
  ObservedPod observed;
  observed.sandbox = ready_sandbox();
  ContainerNotes notes;
  notes["app"].waiting_reason = "ErrImagePull";
  notes["app"].waiting_message = "Failed to pull image \"busybox\": … import the image with `switchyard images import`";
  auto s = compute_pod_status(pod, observed, notes, kCtx);
  EXPECT_EQ(s.phase, "Pending");
  EXPECT_EQ(statuses(s)[0]["state"]["waiting"]["reason"], "ErrImagePull");
  EXPECT_THAT(statuses(s)[0]["state"]["waiting"]["message"].get<std::string>(), ::testing::HasSubstr("switchyard images import"));
}

TEST(PodStatus, HostNetworkPodsHaveTheNodeAddress) {
  auto pod = pod_from(kPod);
  pod.spec.host_network = true;
  ObservedPod observed;
  observed.sandbox = ready_sandbox("");
  auto s = compute_pod_status(pod, observed, {}, kCtx);
  EXPECT_EQ(s.pod_ip, "10.0.0.5");
  EXPECT_EQ(condition(s, "PodReadyToStartContainers"), "True");
}

}  // namespace
}  // namespace switchyard::kubelet
