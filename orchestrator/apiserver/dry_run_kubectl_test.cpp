// Server-side dry runs through the real kubectl, against a real `switchyard apiserver`: every
// write with --dry-run=server (and `kubectl diff`, which patches with dryRun=All) is admitted,
// defaulted and validated as for real, answers the object it would make, and changes nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netns-tests/support/apiserver_process.h"

namespace switchyard::apiserver {
namespace {

using switchyard::testing::ApiserverProcess;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

class DryRunKubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    server_ = std::make_unique<ApiserverProcess>(SWITCHYARD_BINARY, "dry-run-" + GetParam());
    ASSERT_TRUE(server_->wait_ready(kubectl_)) << server_->log();
  }
  testing::CommandResult k(const std::string& args) { return server_->run_kubectl(kubectl_, args); }
  std::string file(const std::string& name, const std::string& text) { return server_->file(name, text); }

  std::string kubectl_;
  std::unique_ptr<ApiserverProcess> server_;
};

constexpr const char* kService = R"(apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
)";

TEST_P(DryRunKubectl, CreateAndApplyAnswerTheObjectAndStoreNothing) {
  auto created = k("create deployment web --image=busybox --replicas=2 --dry-run=server -o yaml");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  // Defaulted by the server, as it would be stored.
  EXPECT_THAT(created.output, HasSubstr("progressDeadlineSeconds: 600")) << created.output;
  EXPECT_THAT(created.output, HasSubstr("uid: "));
  EXPECT_EQ(k("get deployments -o name").output, "");

  // A Service gets its cluster IP in the answer, and the address is not kept.
  auto applied = k("apply --dry-run=server -o jsonpath={.spec.clusterIP} -f " + file("svc.yaml", kService));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_THAT(applied.output, ContainsRegex("^10\\.(9[6-9]|10[0-9]|11[01])\\.[0-9]+\\.[0-9]+$"));
  EXPECT_EQ(k("get services -o name").output, "service/kubernetes\n");
  EXPECT_THAT(k("apply --dry-run=server -f " + file("svc.yaml", kService)).output, HasSubstr("service/web created (server dry run)"));

  // Validation still runs: an invalid object is refused as a real create would be.
  auto invalid = k("create deployment bad --image=busybox --replicas=-1 --dry-run=server");
  EXPECT_NE(invalid.exit_code, 0);
  EXPECT_THAT(invalid.output, HasSubstr("spec.replicas: Invalid value: -1: must be greater than or equal to 0"));
}

TEST_P(DryRunKubectl, UpdatesScalesDiffsAndDeletesChangeNothing) {
  ASSERT_EQ(k("create deployment web --image=busybox:1").exit_code, 0);
  ASSERT_EQ(k("create configmap settings --from-literal=mode=fast").exit_code, 0);
  const std::string rv = k("get deployment web -o jsonpath={.metadata.resourceVersion}").output;

  auto image = k("set image deployment/web busybox=busybox:2 --dry-run=server -o jsonpath={.spec.template.spec.containers[0].image}");
  EXPECT_EQ(image.output, "busybox:2");
  EXPECT_EQ(k("get deployment web -o jsonpath={.spec.template.spec.containers[0].image}").output, "busybox:1");

  EXPECT_THAT(k("scale deployment web --replicas=5 --dry-run=server").output, HasSubstr("scaled (server dry run)"));
  EXPECT_EQ(k("get deployment web -o jsonpath={.spec.replicas}").output, "1");

  // kubectl diff patches with dryRun=All and shows what would change.
  auto diff = k("diff -f " + file("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: slow}\n"));
  EXPECT_EQ(diff.exit_code, 1) << diff.output;  // 1: differences found
  EXPECT_THAT(diff.output, HasSubstr("-  mode: fast"));
  EXPECT_THAT(diff.output, HasSubstr("+  mode: slow"));
  EXPECT_EQ(k("get configmap settings -o jsonpath={.data.mode}").output, "fast");

  EXPECT_THAT(k("delete configmap settings --dry-run=server").output, HasSubstr("deleted (server dry run)"));
  EXPECT_EQ(k("get configmap settings -o name").output, "configmap/settings\n");
  EXPECT_EQ(k("delete deployments --all --dry-run=server").exit_code, 0);
  EXPECT_EQ(k("get deployment web -o jsonpath={.metadata.resourceVersion}").output, rv) << "nothing was written";

  // kube-apiserver knows only "All".
  auto bad = k("create --raw '/api/v1/namespaces/default/configmaps?dryRun=Some' -f " +
               file("raw.json", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"raw"}})"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.output, HasSubstr("dryRun: Unsupported value: []string{\"Some\"}: supported values: \"All\"")) << bad.output;
  EXPECT_EQ(k("get configmap raw -o name").exit_code, 1);
}

INSTANTIATE_TEST_SUITE_P(Kubectl, DryRunKubectl, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "v" + std::string(info.param).replace(1, 1, "_"); });

}  // namespace
}  // namespace switchyard::apiserver
