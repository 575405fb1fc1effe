// Priority and preemption through `switchyard apiserver` and the real kubectl (1.27 and 1.33),
// with Node objects and no kubelet: the built-in PriorityClasses, one globalDefault, the
// Priority admission (priorityClassName resolved, an unknown one refused with the real 403),
// DefaultTolerationSeconds, and a high-priority pod preempting a lower-priority one: nominated
// while its victim terminates, bound once it is gone; preemptionPolicy Never preempts nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "netns-tests/support/apiserver_process.h"

namespace switchyard::scheduler {
namespace {

using switchyard::testing::ApiserverProcess;
using switchyard::testing::wait_until;
using ::testing::HasSubstr;

class PreemptionKubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    server_ = std::make_unique<ApiserverProcess>(SWITCHYARD_BINARY, "preemption-" + GetParam());
    ASSERT_TRUE(server_->wait_ready(kubectl_)) << server_->log();
  }
  testing::CommandResult k(const std::string& args) { return server_->run_kubectl(kubectl_, args); }
  testing::CommandResult create(const std::string& name, const std::string& yaml) {
    return k("create -f " + server_->file(name + ".yaml", yaml));
  }
  void pod(const std::string& name, const std::string& cpu, const std::string& spec_lines = "") {
    auto r =
        create("pod-" + name, "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + "}\nspec:\n" + spec_lines +
                                  "  containers:\n  - name: c\n    image: busybox\n    resources: {requests: {cpu: \"" + cpu + "\"}}\n");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  std::string get(const std::string& what, const std::string& path) { return k("get " + what + " -o jsonpath='" + path + "'").output; }

  std::string kubectl_;
  std::unique_ptr<ApiserverProcess> server_;
};

TEST_P(PreemptionKubectl, PriorityClassesAndAdmission) {
  auto classes = k("get priorityclasses");
  ASSERT_EQ(classes.exit_code, 0) << classes.output;
  EXPECT_THAT(classes.output, ::testing::ContainsRegex("system-cluster-critical +2000000000 +false"));
  EXPECT_THAT(classes.output, ::testing::ContainsRegex("system-node-critical +2000001000 +false"));

  ASSERT_EQ(create("low", "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: low}\nvalue: 10\nglobalDefault: true\n")
                .exit_code,
            0);
  auto second =
      create("other", "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: other}\nvalue: 20\nglobalDefault: true\n");
  EXPECT_NE(second.exit_code, 0);
  EXPECT_THAT(second.output, HasSubstr("priorityclasses.scheduling.k8s.io \"other\" is forbidden: PriorityClass low is already marked as "
                                       "default. Only one default can exist"));
  auto reserved = create("sys", "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: system-mine}\nvalue: 5\n");
  EXPECT_NE(reserved.exit_code, 0);
  EXPECT_THAT(reserved.output, HasSubstr("metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use "
                                         "only. error: system-mine is not a known system priority class"));
  auto too_high = create("huge", "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: huge}\nvalue: 1000000001\n");
  EXPECT_THAT(too_high.output, HasSubstr("value: Forbidden: maximum allowed value of a user defined priority is 1000000000"));

  // An unknown class: kube-apiserver's 403.
  auto unknown = create(
      "bad",
      "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  priorityClassName: nope\n  containers: [{name: c, image: busybox}]\n");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.output, HasSubstr("Error from server (Forbidden)"));
  EXPECT_THAT(unknown.output, HasSubstr("pods \"bad\" is forbidden: no PriorityClass with name nope was found"));

  // No class: the globalDefault one; and DefaultTolerationSeconds' two tolerations.
  pod("plain", "100m");
  EXPECT_EQ(get("pod plain", "{.spec.priorityClassName}/{.spec.priority}/{.spec.preemptionPolicy}"), "low/10/PreemptLowerPriority");
  EXPECT_EQ(get("pod plain", "{range .spec.tolerations[*]}{.key}={.tolerationSeconds};{end}"),
            "node.kubernetes.io/not-ready=300;node.kubernetes.io/unreachable=300;");
  pod("critical", "100m", "  priorityClassName: system-node-critical\n");
  EXPECT_EQ(get("pod critical", "{.spec.priority}"), "2000001000");
  auto mismatch =
      create("mismatch",
             "apiVersion: v1\nkind: Pod\nmetadata: {name: mismatch}\nspec:\n  priority: 7\n  containers: [{name: c, image: busybox}]\n");
  EXPECT_THAT(mismatch.output, HasSubstr("the integer value of priority (7) must not be provided in pod spec; priority admission "
                                         "controller computed 10 from the given PriorityClass name"));
}

TEST_P(PreemptionKubectl, AHigherPriorityPodPreemptsAndIsBoundWhenItsVictimIsGone) {
  ASSERT_EQ(create("node",
                   "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  labels: {kubernetes.io/hostname: n1}\nstatus:\n"
                   "  allocatable: {cpu: \"2\", memory: 4Gi, pods: \"110\"}\n")
                .exit_code,
            0);
  for (const auto& [name, value, extra] : {std::tuple{"low", 10, ""}, {"high", 1000, ""}, {"polite", 2000, "preemptionPolicy: Never\n"}})
    ASSERT_EQ(create(std::string("pc-") + name, std::string("apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: ") +
                                                    name + "}\nvalue: " + std::to_string(value) + "\n" + extra)
                  .exit_code,
              0);
  pod("low-old", "1", "  priorityClassName: low\n");
  ASSERT_TRUE(wait_until(10, [&] { return get("pod low-old", "{.spec.nodeName}") == "n1"; }));
  pod("low-young", "1", "  priorityClassName: low\n");
  ASSERT_TRUE(wait_until(10, [&] { return get("pod low-young", "{.spec.nodeName}") == "n1"; }));

  // Never: it waits, and says why it did not preempt.
  pod("polite", "1", "  priorityClassName: polite\n");
  EXPECT_TRUE(wait_until(10, [&] {
    return k("describe pod polite").output.find("preemption: not eligible due to preemptionPolicy=Never.") != std::string::npos;
  })) << k("describe pod polite").output;
  ASSERT_EQ(k("delete pod polite --grace-period=0 --force").exit_code, 0);

  pod("high", "1", "  priorityClassName: high\n");
  // One victim (the full node needs one CPU): its graceful deletion starts, with the reason.
  ASSERT_TRUE(wait_until(10, [&] { return get("pod high", "{.status.nominatedNodeName}") == "n1"; })) << k("describe pod high").output;
  std::string victim, spared;
  ASSERT_TRUE(wait_until(10, [&] {
    for (const char* p : {"low-old", "low-young"})
      if (!get(std::string("pod ") + p, "{.metadata.deletionTimestamp}").empty()) victim = p;
    return !victim.empty();
  }));
  spared = victim == "low-old" ? "low-young" : "low-old";
  EXPECT_EQ(get("pod " + spared, "{.metadata.deletionTimestamp}"), "") << "one victim is enough";
  EXPECT_THAT(get("pod " + victim, "{.status.conditions[?(@.type==\"DisruptionTarget\")].reason}"), HasSubstr("PreemptionByScheduler"));
  const std::string uid = get("pod high", "{.metadata.uid}");
  EXPECT_TRUE(wait_until(10, [&] {
    return k("describe pod " + victim).output.find("Preempted by pod " + uid + " on node n1") != std::string::npos;
  })) << k("describe pod " + victim).output;
  // Still nominated while the victim terminates (no kubelet here: nothing confirms it).
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(get("pod high", "{.spec.nodeName}"), "");
  EXPECT_EQ(get("pod " + spared, "{.metadata.deletionTimestamp}"), "") << "no second victim while the first terminates";
  // The kubelet's confirmation: the victim goes, and the preemptor is bound where it was nominated.
  ASSERT_EQ(k("delete pod " + victim + " --grace-period=0 --force").exit_code, 0);
  EXPECT_TRUE(wait_until(10, [&] { return get("pod high", "{.spec.nodeName}") == "n1"; })) << k("describe pod high").output;
}

INSTANTIATE_TEST_SUITE_P(Kubectl, PreemptionKubectl, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "v" + std::string(info.param).replace(1, 1, "_"); });

}  // namespace
}  // namespace switchyard::scheduler
