// StatefulSets through real kubectl (1.27 and 1.33) against a real `switchyard apiserver`
// process, whose control plane runs the StatefulSet controller. There is no kubelet: the test
// makes pods Running and Ready through pods/status, as a kubelet would.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

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

constexpr const char* kWeb = R"(apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: nginx
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1
)";

class StatefulSetsWithKubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    dir_ = std::filesystem::temp_directory_path() / ("sy-sts-" + GetParam() + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);
    const std::string port = std::to_string(switchyard::testing::free_loopback_port());
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{SWITCHYARD_BINARY, "apiserver", "--data-dir", (dir_ / "data").string(), "--listen", "127.0.0.1:" + port},
        (dir_ / "apiserver.log").string());
    ASSERT_TRUE(wait_until(15, [&] { return k("get ns default -o name").output == "namespace/default\n"; }))
        << run("cat " + (dir_ / "apiserver.log").string()).output;
    ns_ = "sts-" + std::to_string(getpid());
    ASSERT_EQ(k("create namespace " + ns_).exit_code, 0);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  testing::CommandResult k(const std::string& args) {
    return run(kubectl_ + " --kubeconfig " + (dir_ / "data" / "kubeconfig").string() + " " + args);
  }
  testing::CommandResult kn(const std::string& args) { return k("-n " + ns_ + " " + args); }
  std::string pods() { return kn("get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name} {end}'").output; }
  std::string jsonpath(const std::string& object, const std::string& path) {
    return kn("get " + object + " -o jsonpath='" + path + "'").output;
  }
  // What a kubelet would report: the pod runs and is ready.
  void make_ready(const std::string& pod) {
    ASSERT_TRUE(wait_until(15, [&] { return kn("get pod " + pod + " -o name").exit_code == 0; })) << pods();
    auto r = kn("patch pod " + pod +
                " --subresource=status --type=merge -p "
                "'{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  // Makes each pod ready as it appears, in order, until `n` are; checks none runs ahead.
  void bring_up_in_order(int n, int from = 0) {
    for (int i = from; i < n; ++i) {
      const std::string pod = "web-" + std::to_string(i);
      ASSERT_TRUE(wait_until(15, [&] { return kn("get pod " + pod + " -o name").exit_code == 0; })) << pods();
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      if (i + 1 < n) EXPECT_NE(kn("get pod web-" + std::to_string(i + 1) + " -o name").exit_code, 0) << "ran ahead: " << pods();
      make_ready(pod);
    }
  }
  std::string revision_of(const std::string& pod) { return jsonpath("pod/" + pod, "{.metadata.labels.controller-revision-hash}"); }
  std::string file(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  std::string kubectl_, ns_;
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> server_;
};

TEST_P(StatefulSetsWithKubectl, OrderedReadyCreatesOneAtATimeWithStableIdentities) {
  ASSERT_EQ(kn("apply -f " + file("web.yaml", kWeb)).output, "statefulset.apps/web created\n");
  ASSERT_TRUE(wait_until(15, [&] { return pods() == "web-0 "; })) << pods();
  // web-0 is not ready: nothing else is made, however long we wait.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(pods(), "web-0 ");
  EXPECT_THAT(kn("get sts").output, ContainsRegex("^NAME +READY +AGE\nweb +0/3 +[0-9]+s\n"));
  EXPECT_EQ(jsonpath("pod/web-0", "{.spec.hostname} {.spec.subdomain}"), "web-0 nginx");
  EXPECT_EQ(jsonpath("pod/web-0",
                     "{.metadata.labels.statefulset\\.kubernetes\\.io/pod-name} {.metadata.labels.apps\\.kubernetes\\.io/pod-index}"),
            "web-0 0");
  EXPECT_EQ(jsonpath("pod/web-0", "{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}"), "StatefulSet/web");
  bring_up_in_order(3);
  ASSERT_TRUE(wait_until(15, [&] { return jsonpath("sts/web", "{.status.readyReplicas}") == "3"; })) << kn("get sts web -o yaml").output;
  EXPECT_THAT(kn("get sts -o wide").output, ContainsRegex("^NAME +READY +AGE +CONTAINERS +IMAGES\nweb +3/3 +[0-9]+s +nginx +nginx:1\n"));
  const std::string rev = jsonpath("sts/web", "{.status.updateRevision}");
  EXPECT_THAT(rev, ContainsRegex("^web-[a-z0-9]+$"));
  EXPECT_EQ(jsonpath("sts/web", "{.status.currentRevision}"), rev);
  EXPECT_EQ(revision_of("web-2"), rev);
  EXPECT_EQ(jsonpath("sts/web", "{.status.currentReplicas} {.status.updatedReplicas} {.status.availableReplicas}"), "3 3 3");
  auto status = kn("rollout status sts/web --timeout=10s");
  EXPECT_EQ(status.output, "partitioned roll out complete: 3 new pods have been updated...\n");
  EXPECT_THAT(k("api-resources --api-group=apps").output, ContainsRegex("\nstatefulsets +sts +apps/v1 +true +StatefulSet\n"));
  EXPECT_EQ(kn("get all -o name").exit_code, 0);
  EXPECT_THAT(kn("get all -o name").output, HasSubstr("statefulset.apps/web\n"));
}

TEST_P(StatefulSetsWithKubectl, ScalingDownRemovesTheHighestOrdinalFirst) {
  ASSERT_EQ(kn("apply -f " + file("web.yaml", kWeb)).exit_code, 0);
  bring_up_in_order(3);
  ASSERT_TRUE(wait_until(15, [&] { return jsonpath("sts/web", "{.status.readyReplicas}") == "3"; }));
  EXPECT_EQ(kn("scale sts web --replicas=2").output, "statefulset.apps/web scaled\n");
  ASSERT_TRUE(wait_until(15, [&] { return pods() == "web-0 web-1 "; })) << pods();
  ASSERT_TRUE(wait_until(15, [&] { return jsonpath("sts/web", "{.status.replicas}") == "2"; }));
  // Down to zero: web-1 goes before web-0 (the controller's events say so, in order).
  EXPECT_EQ(kn("scale sts web --replicas=0").exit_code, 0);
  ASSERT_TRUE(wait_until(15, [&] { return pods().empty(); })) << pods();
  const auto events = kn("get events -o jsonpath='{range .items[*]}{.message};{end}'").output;
  const auto w2 = events.find("delete Pod web-2 "), w1 = events.find("delete Pod web-1 "), w0 = events.find("delete Pod web-0 ");
  ASSERT_NE(w2, std::string::npos) << events;
  ASSERT_NE(w1, std::string::npos) << events;
  ASSERT_NE(w0, std::string::npos) << events;
  EXPECT_LT(w2, w1);
  EXPECT_LT(w1, w0);
  // And back up, in order again.
  EXPECT_EQ(kn("scale sts web --replicas=2").exit_code, 0);
  bring_up_in_order(2);
}

TEST_P(StatefulSetsWithKubectl, PartitionedRolloutThenHistoryAndUndo) {
  ASSERT_EQ(kn("apply -f " + file("web.yaml", kWeb)).exit_code, 0);
  bring_up_in_order(3);
  ASSERT_TRUE(wait_until(15, [&] { return jsonpath("sts/web", "{.status.readyReplicas}") == "3"; }));
  const std::string old_rev = revision_of("web-0");
  // Only ordinals >= 2 take the new template.
  ASSERT_EQ(kn("patch sts web --type=merge -p '{\"spec\":{\"updateStrategy\":{\"rollingUpdate\":{\"partition\":2}}}}'").exit_code, 0);
  ASSERT_EQ(kn("set image sts/web nginx=nginx:2").exit_code, 0);
  ASSERT_TRUE(wait_until(20, [&] { return jsonpath("pod/web-2", "{.spec.containers[0].image}") == "nginx:2"; })) << pods();
  make_ready("web-2");
  ASSERT_TRUE(wait_until(15, [&] { return jsonpath("sts/web", "{.status.updatedReplicas}") == "1"; })) << kn("get sts web -o yaml").output;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(jsonpath("pod/web-1", "{.spec.containers[0].image}"), "nginx:1");
  EXPECT_EQ(revision_of("web-0"), old_rev);
  const std::string new_rev = revision_of("web-2");
  EXPECT_NE(new_rev, old_rev);
  EXPECT_EQ(jsonpath("sts/web", "{.status.currentRevision} {.status.updateRevision}"), old_rev + " " + new_rev);
  EXPECT_EQ(kn("rollout status sts/web --timeout=10s").output, "partitioned roll out complete: 1 new pods have been updated...\n");
  // Partition 0: web-1 then web-0, each once the one above is ready.
  ASSERT_EQ(kn("patch sts web --type=merge -p '{\"spec\":{\"updateStrategy\":{\"rollingUpdate\":{\"partition\":0}}}}'").exit_code, 0);
  for (const std::string pod : {"web-1", "web-0"}) {
    ASSERT_TRUE(wait_until(20, [&] { return revision_of(pod) == new_rev; })) << pods();
    make_ready(pod);
  }
  ASSERT_TRUE(wait_until(15, [&] { return jsonpath("sts/web", "{.status.currentRevision}") == new_rev; }))
      << kn("get sts web -o yaml").output;
  EXPECT_EQ(kn("rollout status sts/web --timeout=10s").output, "partitioned roll out complete: 3 new pods have been updated...\n");
  EXPECT_THAT(kn("rollout history sts/web").output, ContainsRegex("REVISION +CHANGE-CAUSE\n1 +<none>\n2 +<none>\n"));
  {
    const auto names = kn("get controllerrevisions -o name").output;  // listed by name
    EXPECT_THAT(names, HasSubstr("controllerrevision.apps/" + old_rev + "\n"));
    EXPECT_THAT(names, HasSubstr("controllerrevision.apps/" + new_rev + "\n"));
    EXPECT_EQ(std::count(names.begin(), names.end(), '\n'), 2) << names;
  }
  // Undo: back to nginx:1, highest ordinal first.
  EXPECT_EQ(kn("rollout undo sts/web").output, "statefulset.apps/web rolled back\n");
  EXPECT_EQ(jsonpath("sts/web", "{.spec.template.spec.containers[0].image}"), "nginx:1");
  for (const std::string pod : {"web-2", "web-1", "web-0"}) {
    ASSERT_TRUE(wait_until(20, [&] { return revision_of(pod) == old_rev; })) << pods();
    make_ready(pod);
  }
  ASSERT_TRUE(wait_until(15, [&] { return jsonpath("sts/web", "{.status.currentRevision}") == old_rev; }));
  EXPECT_THAT(kn("rollout history sts/web").output, ContainsRegex("REVISION +CHANGE-CAUSE\n2 +<none>\n3 +<none>\n"));
}

TEST_P(StatefulSetsWithKubectl, BadInputGetsTheRealServersStatus) {
  std::string mismatched = kWeb;
  mismatched.replace(mismatched.rfind("app: web"), 8, "app: other");
  auto r = kn("apply -f " + file("bad.yaml", mismatched));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("The StatefulSet \"web\" is invalid: spec.template.metadata.labels: Invalid value: "
                                  "map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"));
  ASSERT_EQ(kn("apply -f " + file("web.yaml", kWeb)).exit_code, 0);
  auto sel = kn("patch sts web --type=merge -p '{\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"web\",\"x\":\"y\"}}}}'");
  EXPECT_NE(sel.exit_code, 0);
  // As kube-apiserver, the new spec is validated too: its selector no longer matches the labels.
  EXPECT_THAT(sel.output, HasSubstr("The StatefulSet \"web\" is invalid: \n* spec.template.metadata.labels: Invalid value: "
                                    "map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`\n"));
  EXPECT_THAT(sel.output, HasSubstr("* spec: Forbidden: updates to statefulset spec for fields other than "
                                    "'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                                    "'minReadySeconds' are forbidden"));
  auto svc = kn("patch sts web --type=merge -p '{\"spec\":{\"serviceName\":\"other\"}}'");
  EXPECT_THAT(svc.output, HasSubstr("spec: Forbidden: updates to statefulset spec"));
  auto policy = kn("patch sts web --type=merge -p '{\"spec\":{\"podManagementPolicy\":\"Sometimes\"}}'");
  EXPECT_THAT(policy.output, HasSubstr("spec.podManagementPolicy: Invalid value: \"Sometimes\": must be 'OrderedReady' or 'Parallel'"));
  auto retention = kn("patch sts web --type=merge -p '{\"spec\":{\"persistentVolumeClaimRetentionPolicy\":{\"whenScaled\":\"Never\"}}}'");
  EXPECT_NE(retention.exit_code, 0);
  EXPECT_THAT(retention.output, HasSubstr("The StatefulSet \"web\" is invalid: spec.persistentVolumeClaimRetentionPolicy.whenScaled: "
                                          "Unsupported value: \"Never\": supported values: \"Retain\", \"Delete\""));
  EXPECT_EQ(
      kn("patch sts web --type=merge -p '{\"spec\":{\"persistentVolumeClaimRetentionPolicy\":{\"whenDeleted\":\"Delete\"}}}'").exit_code,
      0);
  // volumeClaimTemplates cannot change once the set exists.
  auto claims =
      kn("patch sts web --type=merge -p '{\"spec\":{\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"data\"},\"spec\":{"
         "\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}]}}'");
  EXPECT_NE(claims.exit_code, 0);
  EXPECT_THAT(claims.output, HasSubstr("The StatefulSet \"web\" is invalid: spec: Forbidden: updates to statefulset spec for fields other "
                                       "than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' "
                                       "and 'minReadySeconds' are forbidden"));
  auto neg = kn("scale sts web --replicas=-1");
  EXPECT_NE(neg.exit_code, 0);
  // A raw POST gets the same 422 Status.
  auto raw = k(
      "create --raw /apis/apps/v1/namespaces/" + ns_ + "/statefulsets -f " +
      file(
          "raw.json",
          R"({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"raw"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"c"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}})"));
  EXPECT_THAT(raw.output, HasSubstr("The StatefulSet \"raw\" is invalid: spec.template.metadata.labels: Invalid value: "
                                    "map[string]string{\"a\":\"c\"}: `selector` does not match template `labels`"));
}

INSTANTIATE_TEST_SUITE_P(OldestAndNewestKubectl, StatefulSetsWithKubectl, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "kubectl_" + info.param.substr(0, 1) + "_" + info.param.substr(2); });

}  // namespace
}  // namespace switchyard::apiserver
