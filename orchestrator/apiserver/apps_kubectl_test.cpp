// Deployments and ReplicaSets through real kubectl (1.27 and 1.33) against a real
// `switchyard apiserver` process, whose control plane runs the ReplicaSet and Deployment
// controllers. There is no kubelet: pods stay Pending and unbound, and the test marks them Ready
// through pods/status (kubectl patch --subresource=status) where a rollout waits for readiness.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netns-tests/support/process.h"

namespace switchyard::apiserver {
namespace {

using switchyard::testing::ChildProcess;
using switchyard::testing::run;
using switchyard::testing::wait_until;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

class DeploymentsWithKubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    dir_ = std::filesystem::temp_directory_path() / ("sy-apps-" + GetParam() + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);
    const std::string port = std::to_string(switchyard::testing::free_loopback_port());
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{SWITCHYARD_BINARY, "apiserver", "--data-dir", (dir_ / "data").string(), "--listen", "127.0.0.1:" + port},
        (dir_ / "apiserver.log").string());
    ASSERT_TRUE(wait_until(15, [&] { return k("get ns default -o name").output == "namespace/default\n"; }))
        << run("cat " + (dir_ / "apiserver.log").string()).output;
    ns_ = "apps-" + std::to_string(getpid());
    ASSERT_EQ(k("create namespace " + ns_).exit_code, 0);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  testing::CommandResult k(const std::string& args) {
    return run(kubectl_ + " --kubeconfig " + (dir_ / "data" / "kubeconfig").string() + " " + args);
  }
  testing::CommandResult kn(const std::string& args) { return k(args + " -n " + ns_); }
  std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
      if (!l.empty()) out.push_back(l);
    return out;
  }
  std::vector<std::string> pods() { return lines(kn("get pods -o name").output); }
  // What a kubelet would report: every pod Running and Ready.
  void mark_ready() {
    for (const auto& pod : pods())
      kn("patch " + pod +
         " --subresource=status --type=merge -p "
         "'{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}'");
  }
  std::string jsonpath(const std::string& object, const std::string& path) {
    return kn("get " + object + " -o jsonpath='" + path + "'").output;
  }
  // Marks pods ready until the Deployment's rollout is complete.
  bool roll_out(int seconds = 30) {
    return wait_until(seconds, [&] {
      mark_ready();
      return kn("rollout status deployment/web --timeout=1s").exit_code == 0;
    });
  }
  std::string file(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  std::string kubectl_, ns_;
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> server_;
};

TEST_P(DeploymentsWithKubectl, CreateHealRollOutUndoPauseScale) {
  auto created = kn("create deployment web --image=nginx:1.25 --replicas=3");
  ASSERT_EQ(created.output, "deployment.apps/web created\n");
  ASSERT_TRUE(wait_until(15, [&] { return pods().size() == 3 && lines(kn("get rs -o name").output).size() == 1; })) << kn("get all").output;
  EXPECT_THAT(kn("get deployments").output, ContainsRegex("^NAME +READY +UP-TO-DATE +AVAILABLE +AGE\nweb +0/3 +3 +0 +"));
  EXPECT_THAT(kn("get rs").output, ContainsRegex("^NAME +DESIRED +CURRENT +READY +AGE\nweb-[a-z0-9]+ +3 +3 +0 +"));

  // Self-healing: a deleted pod is replaced.
  const std::string victim = pods()[0];
  ASSERT_EQ(kn("delete " + victim + " --grace-period=0 --force").exit_code, 0);
  ASSERT_TRUE(wait_until(15, [&] {
    auto now = pods();
    return now.size() == 3 && std::find(now.begin(), now.end(), victim) == now.end();
  })) << kn("get pods").output;

  ASSERT_TRUE(roll_out()) << kn("get deploy web -o yaml").output;
  EXPECT_THAT(kn("rollout status deployment/web").output, HasSubstr("deployment \"web\" successfully rolled out"));
  EXPECT_THAT(kn("get deployments").output, ContainsRegex("\nweb +3/3 +3 +3 +"));

  // set image: a second ReplicaSet, and the rollout proceeds as its pods become ready.
  EXPECT_EQ(kn("set image deployment/web nginx=nginx:1.26").output, "deployment.apps/web image updated\n");
  ASSERT_TRUE(wait_until(15, [&] { return lines(kn("get rs -o name").output).size() == 2; }));
  ASSERT_TRUE(roll_out()) << kn("get rs").output;
  EXPECT_EQ(jsonpath("deployment/web", "{.metadata.annotations.deployment\\.kubernetes\\.io/revision}"), "2");
  auto history = kn("rollout history deployment/web").output;
  EXPECT_THAT(history, ContainsRegex("REVISION +CHANGE-CAUSE\n1 +<none>\n2 +<none>")) << history;

  // undo: back to the first template (kubectl patches the Deployment from revision 1's ReplicaSet).
  EXPECT_EQ(kn("rollout undo deployment/web").output, "deployment.apps/web rolled back\n");
  ASSERT_TRUE(roll_out());
  EXPECT_EQ(jsonpath("deployment/web", "{.spec.template.spec.containers[0].image}"), "nginx:1.25");
  EXPECT_EQ(lines(kn("get rs -o name").output).size(), 2u) << "the first ReplicaSet is reused";
  EXPECT_THAT(kn("rollout undo deployment/web --to-revision=42").output, HasSubstr("unable to find specified revision 42 in history"));

  // pause: template changes wait; resume rolls them out.
  EXPECT_EQ(kn("rollout pause deployment/web").output, "deployment.apps/web paused\n");
  ASSERT_EQ(kn("set image deployment/web nginx=nginx:1.27").exit_code, 0);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(lines(kn("get rs -o name").output).size(), 2u) << "no new ReplicaSet while paused";
  EXPECT_THAT(jsonpath("deployment/web", "{.status.conditions[?(@.type==\"Progressing\")].reason}"), "DeploymentPaused");
  EXPECT_EQ(kn("rollout resume deployment/web").output, "deployment.apps/web resumed\n");
  ASSERT_TRUE(wait_until(15, [&] { return lines(kn("get rs -o name").output).size() == 3; }));
  ASSERT_TRUE(roll_out());

  // scale to 0, then 5 (the scale subresource).
  EXPECT_EQ(kn("scale deployment/web --replicas=0").output, "deployment.apps/web scaled\n");
  ASSERT_TRUE(wait_until(15, [&] { return pods().empty(); })) << kn("get pods").output;
  EXPECT_EQ(kn("scale deployment/web --replicas=5").output, "deployment.apps/web scaled\n");
  ASSERT_TRUE(wait_until(15, [&] { return pods().size() == 5; })) << kn("get pods").output;
  const auto scale = k("get --raw /apis/apps/v1/namespaces/" + ns_ + "/deployments/web/scale").output;
  EXPECT_THAT(scale, HasSubstr("\"kind\":\"Scale\"")) << scale;
  EXPECT_THAT(scale, HasSubstr("\"apiVersion\":\"autoscaling/v1\"")) << scale;
  EXPECT_THAT(scale, HasSubstr("\"spec\":{\"replicas\":5}")) << scale;
  EXPECT_THAT(scale, HasSubstr("\"selector\":\"app=web\"")) << scale;

  // Deleting the Deployment takes its ReplicaSets and their pods.
  ASSERT_EQ(kn("delete deployment web").exit_code, 0);
  ASSERT_TRUE(wait_until(15, [&] { return pods().empty() && lines(kn("get rs -o name").output).empty(); })) << kn("get all").output;
}

TEST_P(DeploymentsWithKubectl, BadInputGetsTheRealServersStatus) {
  const std::string mismatch = file("mismatch.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: other}}
    spec: {containers: [{name: c, image: nginx}]}
)");
  EXPECT_THAT(kn("create -f " + mismatch).output,
              HasSubstr("The Deployment \"bad\" is invalid: spec.template.metadata.labels: Invalid value: "
                        "map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"));
  const std::string negative = file("negative.yaml", R"(apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: neg}
spec:
  replicas: -1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
)");
  EXPECT_THAT(kn("create -f " + negative).output,
              HasSubstr("The ReplicaSet \"neg\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"));
  const std::string no_progress = file("zero.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: zero}
spec:
  strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 0}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
)");
  EXPECT_THAT(kn("create -f " + no_progress).output,
              HasSubstr("spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may "
                        "not be 0 when `maxSurge` is 0"));
  ASSERT_EQ(kn("create deployment web --image=nginx:1.25").exit_code, 0);
  EXPECT_THAT(kn("patch deployment web --type=merge -p "
                 "'{\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"x\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}}}}}'")
                  .output,
              HasSubstr("The Deployment \"web\" is invalid: spec.selector: Invalid value: "
                        "v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"x\"}, "
                        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"));
  EXPECT_THAT(kn("scale deployment/web --replicas=-1").output, HasSubstr("--replicas"));  // kubectl refuses it itself
}

INSTANTIATE_TEST_SUITE_P(OldestAndNewestKubectl, DeploymentsWithKubectl, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "v" + info.param.substr(0, 1) + "_" + info.param.substr(2); });

}  // namespace
}  // namespace switchyard::apiserver
