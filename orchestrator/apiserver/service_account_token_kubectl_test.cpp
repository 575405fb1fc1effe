// ServiceAccount tokens through real kubectl (1.27 and 1.33) against a real `switchyard
// apiserver`: `kubectl create token` (the TokenRequest API) issues a JWT with upstream's claims;
// the API server takes it as system:serviceaccount:NS:NAME (kubectl auth whoami, and RBAC's 403
// naming that user); a token bound to a Pod stops working when the Pod is gone, any token when
// its ServiceAccount is, and one for another audience never works.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "netns-tests/support/process.h"

namespace switchyard::apiserver {
namespace {

using switchyard::testing::ChildProcess;
using switchyard::testing::run;
using switchyard::testing::wait_until;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class TokensWithKubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    dir_ = std::filesystem::temp_directory_path() / ("sy-satoken-" + GetParam() + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);
    port_ = std::to_string(switchyard::testing::free_loopback_port());
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{SWITCHYARD_BINARY, "apiserver", "--data-dir", (dir_ / "data").string(), "--listen", "127.0.0.1:" + port_},
        (dir_ / "apiserver.log").string());
    ASSERT_TRUE(wait_until(15, [&] { return k("get ns default -o name").output == "namespace/default\n"; }))
        << run("cat " + (dir_ / "apiserver.log").string()).output;
    ns_ = "sat-" + std::to_string(getpid());
    ASSERT_EQ(k("create namespace " + ns_).exit_code, 0);
    ASSERT_EQ(kn("create serviceaccount robot").output, "serviceaccount/robot created\n");
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  testing::CommandResult k(const std::string& args) {
    return run(kubectl_ + " --kubeconfig " + (dir_ / "data" / "kubeconfig").string() + " " + args);
  }
  testing::CommandResult kn(const std::string& args) { return k(args + " -n " + ns_); }
  // kubectl as the holder of `token` and nothing else.
  testing::CommandResult as_token(const std::string& token, const std::string& args) {
    return run(kubectl_ + " --kubeconfig /dev/null --server https://127.0.0.1:" + port_ + " --certificate-authority " +
               (dir_ / "data" / "pki" / "ca.crt").string() + " --token " + token + " " + args);
  }
  std::string create_token(const std::string& args) {
    auto r = kn("create token " + args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    while (!r.output.empty() && r.output.back() == '\n') r.output.pop_back();
    return r.output;
  }
  // The token's claims, decoded by python (an independent base64url and JSON reader).
  nlohmann::json claims(const std::string& token) {
    const auto r =
        run("python3 -c 'import sys,base64,json; p=sys.argv[1].split(\".\")[1]; "
            "print(base64.urlsafe_b64decode(p+\"=\"*(-len(p)%4)).decode())' " +
            token);
    return nlohmann::json::parse(r.output, nullptr, false);
  }

  std::string kubectl_, ns_, port_;
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> server_;
};

TEST_P(TokensWithKubectl, CreateTokenIssuesAJwtWithUpstreamsClaims) {
  const auto token = create_token("robot --duration 20m");
  const auto c = claims(token);
  ASSERT_TRUE(c.is_object()) << token;
  EXPECT_EQ(c["iss"], "https://kubernetes.default.svc.cluster.local");
  EXPECT_EQ(c["sub"], "system:serviceaccount:" + ns_ + ":robot");
  EXPECT_EQ(c["aud"], nlohmann::json::array({"https://kubernetes.default.svc.cluster.local"}));
  EXPECT_EQ(c["exp"].get<long long>() - c["iat"].get<long long>(), 1200);
  EXPECT_EQ(c["nbf"], c["iat"]);
  EXPECT_EQ(c["kubernetes.io"]["namespace"], ns_);
  EXPECT_EQ(c["kubernetes.io"]["serviceaccount"]["name"], "robot");
  EXPECT_EQ(c["kubernetes.io"]["serviceaccount"]["uid"], kn("get sa robot -o jsonpath={.metadata.uid}").output);
  EXPECT_FALSE(c["kubernetes.io"].contains("pod"));
  // Shorter than ten minutes, and a ServiceAccount that does not exist: the real answers.
  EXPECT_THAT(kn("create token robot --duration 5m").output,
              HasSubstr("spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes"));
  EXPECT_THAT(kn("create token ghost").output, HasSubstr("serviceaccounts \"ghost\" not found"));
}

TEST_P(TokensWithKubectl, TheTokenIsTheServiceAccountToTheApiServer) {
  const auto token = create_token("robot");
  const auto whoami = as_token(token, "auth whoami");
  EXPECT_EQ(whoami.exit_code, 0) << whoami.output;
  EXPECT_THAT(whoami.output, HasSubstr("system:serviceaccount:" + ns_ + ":robot"));
  EXPECT_THAT(whoami.output, HasSubstr("[system:serviceaccounts system:serviceaccounts:" + ns_ + " system:authenticated]"));
  // RBAC sees the same user: forbidden until a binding grants it, then allowed.
  EXPECT_THAT(as_token(token, "get configmaps -n " + ns_).output,
              HasSubstr("User \"system:serviceaccount:" + ns_ +
                        ":robot\" cannot list resource \"configmaps\" in API group \"\" in the "
                        "namespace \"" +
                        ns_ + "\""));
  ASSERT_EQ(kn("create rolebinding robot-view --clusterrole view --serviceaccount " + ns_ + ":robot").exit_code, 0);
  EXPECT_TRUE(wait_until(5, [&] { return as_token(token, "get configmaps -n " + ns_).exit_code == 0; }));
  // A token for another audience is not for this API server.
  const auto elsewhere = create_token("robot --audience vault");
  EXPECT_EQ(claims(elsewhere)["aud"], nlohmann::json::array({"vault"}));
  EXPECT_THAT(as_token(elsewhere, "auth whoami").output, HasSubstr("Unauthorized"));
  // A deleted ServiceAccount's tokens stop working, and so does a forged one.
  EXPECT_THAT(as_token(token.substr(0, token.size() - 4) + "AAAA", "auth whoami").output, HasSubstr("Unauthorized"));
  ASSERT_EQ(kn("delete serviceaccount robot").exit_code, 0);
  EXPECT_THAT(as_token(token, "auth whoami").output, HasSubstr("Unauthorized"));
}

TEST_P(TokensWithKubectl, APodBoundTokenDiesWithThePod) {
  ASSERT_EQ(kn("run holder --image=busybox:stable --restart=Never --overrides "
               "'{\"spec\":{\"serviceAccountName\":\"robot\",\"nodeName\":\"nowhere\"}}'")
                .exit_code,
            0);
  const auto uid = kn("get pod holder -o jsonpath={.metadata.uid}").output;
  ASSERT_FALSE(uid.empty());
  const auto token = create_token("robot --bound-object-kind Pod --bound-object-name holder --bound-object-uid " + uid);
  const auto c = claims(token);
  EXPECT_EQ(c["kubernetes.io"]["pod"]["name"], "holder");
  EXPECT_EQ(c["kubernetes.io"]["pod"]["uid"], uid);
  EXPECT_THAT(as_token(token, "auth whoami").output, HasSubstr("system:serviceaccount:" + ns_ + ":robot"));
  // A uid that is not the pod's: 409 with upstream's message.
  EXPECT_THAT(kn("create token robot --bound-object-kind Pod --bound-object-name holder --bound-object-uid 00000000-0000-0000-0000-"
                 "000000000000")
                  .output,
              HasSubstr("the UID in the bound object reference (00000000-0000-0000-0000-000000000000) does not match the UID in record"));
  ASSERT_EQ(kn("delete pod holder --grace-period=0 --force").exit_code, 0);
  EXPECT_TRUE(wait_until(10, [&] { return kn("get pod holder").exit_code != 0; }));
  EXPECT_THAT(as_token(token, "auth whoami").output, HasSubstr("Unauthorized"));
  // A new pod of the same name is another pod: the old token stays dead.
  ASSERT_EQ(kn("run holder --image=busybox:stable --restart=Never --overrides '{\"spec\":{\"nodeName\":\"nowhere\"}}'").exit_code, 0);
  EXPECT_THAT(as_token(token, "auth whoami").output, HasSubstr("Unauthorized"));
}

TEST_P(TokensWithKubectl, EveryNamespaceHasTheClusterCaForItsPods) {
  std::ifstream in(dir_ / "data" / "pki" / "ca.crt");
  const std::string ca((std::istreambuf_iterator<char>(in)), {});
  ASSERT_THAT(ca, StartsWith("-----BEGIN CERTIFICATE-----"));
  auto published = [&] { return kn("get configmap kube-root-ca.crt -o jsonpath='{.data.ca\\.crt}'").output; };
  EXPECT_TRUE(wait_until(10, [&] { return published() == ca; })) << published();
  // Deleted or changed, it comes back as it was.
  ASSERT_EQ(kn("delete configmap kube-root-ca.crt").exit_code, 0);
  EXPECT_TRUE(wait_until(10, [&] { return published() == ca; })) << published();
  ASSERT_EQ(kn("patch configmap kube-root-ca.crt --type=merge -p '{\"data\":{\"ca.crt\":\"forged\"}}'").exit_code, 0);
  EXPECT_TRUE(wait_until(10, [&] { return published() == ca; })) << published();
}

INSTANTIATE_TEST_SUITE_P(Kubectl, TokensWithKubectl, ::testing::Values("1.27", "1.33"));

}  // namespace
}  // namespace switchyard::apiserver
