// Bootstrap tokens through real kubectl (1.27 and 1.33) and curl against a real `switchyard
// apiserver --enable-bootstrap-token-auth`: a kube-system Secret of type
// bootstrap.kubernetes.io/token makes `<id>.<secret>` the user system:bootstrap:<id> (kubectl auth
// whoami), in system:bootstrappers and its extra groups, which RBAC binds like any group. An
// expired token, a wrong secret, a Secret without usage-bootstrap-authentication, and any
// bootstrap token on a server without the flag are 401. With --enable-token-cleaner, expired
// bootstrap-token Secrets are deleted (kube-controller-manager's tokencleaner).
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netns-tests/support/apiserver_process.h"

namespace switchyard::apiserver {
namespace {

using switchyard::testing::ApiserverProcess;
using switchyard::testing::run;
using switchyard::testing::wait_until;
using ::testing::HasSubstr;

// RFC 3339 in UTC, `seconds` from now.
std::string rfc3339_from_now(long long seconds) {
  const std::time_t t = std::time(nullptr) + seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

class BootstrapTokenKubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    server_ = std::make_unique<ApiserverProcess>(SWITCHYARD_BINARY, "bootstrap-" + GetParam(),
                                                 std::vector<std::string>{"--enable-bootstrap-token-auth"});
    ASSERT_TRUE(server_->wait_ready(kubectl_)) << server_->log();
  }
  testing::CommandResult admin(const std::string& args) { return server_->run_kubectl(kubectl_, args); }
  std::string server_url() { return admin("config view -o jsonpath='{.clusters[0].cluster.server}'").output; }
  // kubectl with `token` and nothing else.
  testing::CommandResult as_token(const std::string& token, const std::string& args) {
    return run(kubectl_ + " --kubeconfig /dev/null --server " + server_url() + " --certificate-authority " +
               (server_->dir() / "data" / "pki" / "ca.crt").string() + " --token " + token + " " + args);
  }
  // A bootstrap-token Secret, created by the admin as kubeadm would; `extra` is more stringData.
  void create_secret(const std::string& id, const std::string& extra) {
    const std::string file =
        server_->file("bootstrap-" + id + ".yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: bootstrap-token-" + id +
                                                       "\n  namespace: kube-system\ntype: bootstrap.kubernetes.io/token\nstringData:\n"
                                                       "  token-id: " +
                                                       id + "\n  token-secret: 0123456789abcdef\n" + extra);
    auto made = admin("create -f " + file);
    ASSERT_EQ(made.exit_code, 0) << made.output;
    EXPECT_EQ(made.output, "secret/bootstrap-token-" + id + " created\n");
  }
  static std::string token(const std::string& id) { return id + ".0123456789abcdef"; }

  std::string kubectl_;
  std::unique_ptr<ApiserverProcess> server_;
};

TEST_P(BootstrapTokenKubectl, AValidTokenIsSystemBootstrapIdInItsGroups) {
  const std::string id = "a" + std::to_string(10000 + getpid() % 90000);  // 6 characters, [a-z0-9]
  create_secret(id, "  usage-bootstrap-authentication: \"true\"\n  expiration: \"" + rfc3339_from_now(3600) +
                        "\"\n  auth-extra-groups: system:bootstrappers:worker\n");
  auto whoami = as_token(token(id), "auth whoami");
  ASSERT_EQ(whoami.exit_code, 0) << whoami.output;
  EXPECT_THAT(whoami.output, HasSubstr("system:bootstrap:" + id));
  EXPECT_THAT(whoami.output, HasSubstr("[system:bootstrappers system:bootstrappers:worker system:authenticated]"));
  // No rights until a binding names one of its groups.
  auto denied = as_token(token(id), "get nodes");
  EXPECT_THAT(denied.output, HasSubstr("nodes is forbidden: User \"system:bootstrap:" + id +
                                       "\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"));
  ASSERT_EQ(admin("create clusterrole node-reader --verb=list --resource=nodes").exit_code, 0);
  ASSERT_EQ(admin("create clusterrolebinding workers-read-nodes --clusterrole=node-reader --group=system:bootstrappers:worker").exit_code,
            0);
  auto listed = as_token(token(id), "get nodes -o name");
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_EQ(as_token(token(id), "auth can-i list nodes -A").output, "yes\n");
  // Deleting the Secret revokes the token at once.
  ASSERT_EQ(admin("delete secret -n kube-system bootstrap-token-" + id).exit_code, 0);
  EXPECT_THAT(as_token(token(id), "auth whoami").output, HasSubstr("error: You must be logged in to the server (Unauthorized)"));
}

TEST_P(BootstrapTokenKubectl, ExpiredWrongSecretAndUnusableTokensAre401) {
  create_secret("expird", "  usage-bootstrap-authentication: \"true\"\n  expiration: \"2020-01-01T00:00:00Z\"\n");
  create_secret("nousag", "  usage-bootstrap-signing: \"true\"\n");
  create_secret("goodid", "  usage-bootstrap-authentication: \"true\"\n");
  constexpr const char* kUnauthorized = "error: You must be logged in to the server (Unauthorized)";
  EXPECT_THAT(as_token(token("expird"), "auth whoami").output, HasSubstr(kUnauthorized));
  EXPECT_THAT(as_token(token("nousag"), "get ns").output, HasSubstr(kUnauthorized));
  EXPECT_THAT(as_token("goodid.0123456789abcdee", "get ns").output, HasSubstr(kUnauthorized));
  EXPECT_THAT(as_token("nosuch.0123456789abcdef", "get ns").output, HasSubstr(kUnauthorized));
  EXPECT_THAT(as_token(token("goodid"), "auth whoami").output, HasSubstr("system:bootstrap:goodid"));
  // The same through curl: a Status with 401, whatever the path.
  const std::string ca = (server_->dir() / "data" / "pki" / "ca.crt").string();
  auto curl = [&](const std::string& bearer) {
    return run("curl -sS --cacert " + ca + " -H 'Authorization: Bearer " + bearer + "' -w '\\n%{http_code}' " + server_url() +
               "/api/v1/namespaces");
  };
  auto expired = curl(token("expird"));
  EXPECT_THAT(expired.output, HasSubstr("\"reason\":\"Unauthorized\""));
  EXPECT_THAT(expired.output, ::testing::EndsWith("\n401"));
  EXPECT_THAT(curl("goodid.0123456789abcdee").output, ::testing::EndsWith("\n401"));
  EXPECT_THAT(curl(token("goodid")).output, ::testing::EndsWith("\n403"));  // authenticated, no rights to list namespaces
}

TEST_P(BootstrapTokenKubectl, WithoutTheFlagBootstrapTokensAreNotAccepted) {
  create_secret("noflag", "  usage-bootstrap-authentication: \"true\"\n");
  EXPECT_THAT(as_token(token("noflag"), "auth whoami").output, HasSubstr("system:bootstrap:noflag"));
  // A second server without --enable-bootstrap-token-auth (kube-apiserver's default) on its own store.
  ApiserverProcess plain(SWITCHYARD_BINARY, "bootstrap-off-" + GetParam());
  ASSERT_TRUE(plain.wait_ready(kubectl_)) << plain.log();
  const std::string file = server_->file("noflag.yaml",
                                         "apiVersion: v1\nkind: Secret\nmetadata:\n  name: bootstrap-token-noflag\n"
                                         "  namespace: kube-system\ntype: bootstrap.kubernetes.io/token\nstringData:\n"
                                         "  token-id: noflag\n  token-secret: 0123456789abcdef\n"
                                         "  usage-bootstrap-authentication: \"true\"\n");
  ASSERT_EQ(plain.run_kubectl(kubectl_, "create -f " + file).exit_code, 0);
  const std::string url = plain.run_kubectl(kubectl_, "config view -o jsonpath='{.clusters[0].cluster.server}'").output;
  auto refused = run(kubectl_ + " --kubeconfig /dev/null --server " + url + " --certificate-authority " +
                     (plain.dir() / "data" / "pki" / "ca.crt").string() + " --token " + token("noflag") + " auth whoami");
  EXPECT_THAT(refused.output, HasSubstr("error: You must be logged in to the server (Unauthorized)"));
}

TEST_P(BootstrapTokenKubectl, TheTokenCleanerDeletesExpiredBootstrapTokenSecrets) {
  ApiserverProcess cleaning(SWITCHYARD_BINARY, "bootstrap-clean-" + GetParam(),
                            {"--enable-bootstrap-token-auth", "--enable-token-cleaner"});
  ASSERT_TRUE(cleaning.wait_ready(kubectl_)) << cleaning.log();
  const auto k = [&](const std::string& args) { return cleaning.run_kubectl(kubectl_, args); };
  const auto secret = [&](const std::string& id, const std::string& type, const std::string& extra) {
    const std::string file =
        cleaning.file(id + ".yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: bootstrap-token-" + id +
                                        "\n  namespace: kube-system\ntype: " + type + "\nstringData:\n  token-id: " + id +
                                        "\n  token-secret: 0123456789abcdef\n  usage-bootstrap-authentication: \"true\"\n" + extra);
    auto made = k("create -f " + file);
    EXPECT_EQ(made.exit_code, 0) << made.output;
  };
  const auto exists = [&](const std::string& id) {
    return k("get secret -n kube-system bootstrap-token-" + id + " -o name").output == "secret/bootstrap-token-" + id + "\n";
  };
  secret("old001", "bootstrap.kubernetes.io/token", "  expiration: \"2020-01-01T00:00:00Z\"\n");
  secret("soon01", "bootstrap.kubernetes.io/token", "  expiration: \"" + rfc3339_from_now(15) + "\"\n");
  secret("never1", "bootstrap.kubernetes.io/token", "");
  secret("opaque", "Opaque", "  expiration: \"2020-01-01T00:00:00Z\"\n");  // not a bootstrap token: left alone
  EXPECT_TRUE(wait_until(10, [&] { return !exists("old001"); })) << cleaning.log();
  // The one expiring soon works until it expires, then is deleted too.
  const std::string url = k("config view -o jsonpath='{.clusters[0].cluster.server}'").output;
  const std::string soon = kubectl_ + " --kubeconfig /dev/null --server " + url + " --certificate-authority " +
                           (cleaning.dir() / "data" / "pki" / "ca.crt").string() + " --token soon01.0123456789abcdef auth whoami";
  EXPECT_THAT(run(soon).output, HasSubstr("system:bootstrap:soon01"));
  EXPECT_TRUE(exists("soon01"));
  EXPECT_TRUE(wait_until(30, [&] { return !exists("soon01"); })) << cleaning.log();
  EXPECT_THAT(run(soon).output, HasSubstr("error: You must be logged in to the server (Unauthorized)"));
  EXPECT_TRUE(exists("never1"));
  EXPECT_TRUE(exists("opaque"));
}

INSTANTIATE_TEST_SUITE_P(Versions, BootstrapTokenKubectl, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "kubectl_" + std::string(info.param).replace(1, 1, "_"); });

}  // namespace
}  // namespace switchyard::apiserver
