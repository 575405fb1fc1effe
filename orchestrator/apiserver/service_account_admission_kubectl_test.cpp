// ServiceAccount admission through real kubectl (1.27 and 1.33) against a real `switchyard
// apiserver` (no kubelet: pods are only stored): a pod gets the default ServiceAccount and the
// projected kube-api-access-XXXXX volume exactly as kube-apiserver adds it, mounted in every
// container and init container (but not over a mount of one's own); automountServiceAccountToken
// false on the pod or its ServiceAccount mounts nothing, true on the pod wins; the deprecated
// serviceAccount field names the account; a missing ServiceAccount is upstream's 403; the
// ServiceAccount's imagePullSecrets are copied; updates do not add anything.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "netns-tests/support/process.h"

namespace switchyard::apiserver {
namespace {

using nlohmann::json;
using switchyard::testing::ChildProcess;
using switchyard::testing::run;
using switchyard::testing::wait_until;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

constexpr const char* kTokenDir = "/var/run/secrets/kubernetes.io/serviceaccount";

class ServiceAccountAdmission : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    dir_ = std::filesystem::temp_directory_path() / ("sy-saadm-" + GetParam() + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);
    const std::string port = std::to_string(switchyard::testing::free_loopback_port());
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{SWITCHYARD_BINARY, "apiserver", "--data-dir", (dir_ / "data").string(), "--listen", "127.0.0.1:" + port},
        (dir_ / "apiserver.log").string());
    ASSERT_TRUE(wait_until(15, [&] { return k("get ns default -o name").output == "namespace/default\n"; }))
        << run("cat " + (dir_ / "apiserver.log").string()).output;
    ns_ = "saadm-" + std::to_string(getpid());
    ASSERT_EQ(k("create namespace " + ns_).exit_code, 0);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  testing::CommandResult k(const std::string& args) {
    return run(kubectl_ + " --kubeconfig " + (dir_ / "data" / "kubeconfig").string() + " " + args + " 2>&1");
  }
  testing::CommandResult kn(const std::string& args) { return k(args + " -n " + ns_); }
  std::string apply(const std::string& name, const std::string& yaml) {
    std::ofstream(dir_ / name) << yaml;
    return kn("apply -f " + (dir_ / name).string()).output;
  }
  json pod(const std::string& name) { return json::parse(kn("get pod " + name + " -o json").output, nullptr, false); }
  static std::string pod_yaml(const std::string& name, const std::string& extra_spec = "") {
    return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + "}\nspec:\n  nodeName: nowhere\n" + extra_spec +
           "  containers:\n  - {name: main, image: busybox}\n";
  }

  std::string kubectl_, ns_;
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> server_;
};

TEST_P(ServiceAccountAdmission, APodRunsAsDefaultWithTheApiAccessVolume) {
  // The namespace's `default` may not exist yet: admission waits for its controller.
  ASSERT_THAT(apply("plain.yaml", pod_yaml("plain", R"(  initContainers:
  - {name: init, image: busybox}
  - name: own
    image: busybox
    volumeMounts: [{name: mine, mountPath: /var/run/secrets/kubernetes.io/serviceaccount}]
  volumes: [{name: mine, emptyDir: {}}]
)")),
              HasSubstr("pod/plain created"));
  const json p = pod("plain");
  ASSERT_TRUE(p.is_object());
  EXPECT_EQ(p["spec"]["serviceAccountName"], "default");
  EXPECT_EQ(p["spec"]["serviceAccount"], "default");
  const json& volumes = p["spec"]["volumes"];
  ASSERT_EQ(volumes.size(), 2u) << volumes.dump();
  const std::string name = volumes[1]["name"];
  EXPECT_THAT(name, MatchesRegex("kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}"));
  EXPECT_EQ(volumes[1]["projected"], json::parse(R"({"defaultMode": 420, "sources": [
      {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
      {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
      {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]})"));
  const json mount = {{"name", name}, {"readOnly", true}, {"mountPath", kTokenDir}};
  EXPECT_EQ(p["spec"]["containers"][0]["volumeMounts"], json::array({mount}));
  EXPECT_EQ(p["spec"]["initContainers"][0]["volumeMounts"], json::array({mount}));
  EXPECT_EQ(p["spec"]["initContainers"][1]["volumeMounts"].size(), 1u) << "its own mount at that path stays the only one";
  EXPECT_EQ(p["spec"]["initContainers"][1]["volumeMounts"][0]["name"], "mine");
  // An update adds nothing (and the volumes may not change).
  ASSERT_THAT(kn("label pod plain touched=yes").output, HasSubstr("labeled"));
  EXPECT_EQ(pod("plain")["spec"]["volumes"].size(), 2u);
  // kubectl describe shows the volume as kube-apiserver's does.
  const auto described = kn("describe pod plain").output;
  EXPECT_THAT(described, HasSubstr(name + ":"));
  EXPECT_THAT(described, HasSubstr("Service Account:  default"));
}

TEST_P(ServiceAccountAdmission, AutomountFalseAndMissingServiceAccounts) {
  ASSERT_EQ(kn("create serviceaccount quiet").exit_code, 0);
  ASSERT_EQ(kn("patch serviceaccount quiet -p '{\"automountServiceAccountToken\":false,\"imagePullSecrets\":[{\"name\":\"regcred\"}]}'")
                .exit_code,
            0);
  ASSERT_THAT(apply("pods.yaml", pod_yaml("optout", "  automountServiceAccountToken: false\n") + "---\n" +
                                     pod_yaml("quiet", "  serviceAccountName: quiet\n") + "---\n" +
                                     pod_yaml("optin", "  serviceAccountName: quiet\n  automountServiceAccountToken: true\n") + "---\n" +
                                     pod_yaml("old-field", "  serviceAccount: quiet\n")),
              HasSubstr("pod/old-field created"));
  EXPECT_FALSE(pod("optout")["spec"].contains("volumes"));
  EXPECT_FALSE(pod("optout")["spec"]["containers"][0].contains("volumeMounts"));
  EXPECT_FALSE(pod("quiet")["spec"].contains("volumes")) << "the ServiceAccount says no";
  EXPECT_EQ(pod("quiet")["spec"]["imagePullSecrets"], json::parse(R"([{"name": "regcred"}])"));
  EXPECT_EQ(pod("optin")["spec"]["volumes"].size(), 1u) << "the pod's true wins over its ServiceAccount's false";
  EXPECT_EQ(pod("old-field")["spec"]["serviceAccountName"], "quiet");
  EXPECT_EQ(pod("old-field")["spec"]["serviceAccount"], "quiet");
  const auto ghost = apply("ghost.yaml", pod_yaml("ghost", "  serviceAccountName: ghost\n"));
  EXPECT_THAT(ghost, HasSubstr("Error from server (Forbidden)"));
  EXPECT_THAT(ghost, HasSubstr("pods \"ghost\" is forbidden: error looking up service account " + ns_ +
                               "/ghost: serviceaccount \"ghost\" not found"));
  EXPECT_NE(kn("get pod ghost").exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(Kubectl, ServiceAccountAdmission, ::testing::Values("1.27", "1.33"));

}  // namespace
}  // namespace switchyard::apiserver
