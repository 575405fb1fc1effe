// The CSR approver's and signer's decisions (no server): which requests are kubelet client
// requests, which permission is asked of the SubjectAccessReview, what is approved, what is
// signed (and verifies against the CA with the openssl command line) and what fails.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "orchestrator/api/protobuf_values.h"
#include "orchestrator/controllers/csr_controllers.h"

namespace switchyard::controllers {
namespace {

using Json = nlohmann::json;
using ::testing::HasSubstr;

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  return out;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string b64(const std::string& s) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    unsigned v =
        (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8) | static_cast<unsigned char>(s[i + 2]);
    for (int sh : {18, 12, 6, 0}) out += kAlphabet[(v >> sh) & 63];
  }
  if (i + 1 == s.size()) {
    unsigned v = static_cast<unsigned char>(s[i]) << 16;
    out += std::string{kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == s.size()) {
    unsigned v = (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8);
    out += std::string{kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

Json csr(const std::string& cn, const std::vector<std::string>& orgs, const std::string& username,
         Json usages = {"digital signature", "client auth"}) {
  auto made = make_key_and_request(cn, orgs);
  EXPECT_TRUE(made);
  return {{"metadata", {{"name", "c"}}},
          {"spec",
           {{"request", b64(made->request_pem)},
            {"signerName", kKubeletClientSignerName},
            {"usages", usages},
            {"username", username},
            {"groups", {"system:bootstrappers"}}}}};
}

TEST(CsrApprover, ABootstrapTokensNodeClientRequestIsApprovedAfterTheReview) {
  std::vector<std::string> asked;
  const Json c = csr("system:node:n1", {"system:nodes"}, "system:bootstrap:abcdef");
  auto approval = approval_for(c, [&](const Json& r, const std::string& sub) -> Result<bool> {
    asked.push_back(sub);
    EXPECT_EQ(r["spec"]["username"], "system:bootstrap:abcdef");
    return sub == "nodeclient";
  });
  ASSERT_TRUE(approval);
  ASSERT_TRUE(*approval);
  EXPECT_EQ((**approval)["type"], "Approved");
  EXPECT_EQ((**approval)["reason"], "AutoApproved");
  EXPECT_EQ((**approval)["message"], "Auto approving kubelet client certificate after SubjectAccessReview.");
  // The requester is not the node itself: only nodeclient is asked.
  EXPECT_THAT(asked, ::testing::ElementsAre("nodeclient"));
}

TEST(CsrApprover, ANodeRenewingItsOwnIsAskedSelfnodeclientFirst) {
  std::vector<std::string> asked;
  const Json c = csr("system:node:n1", {"system:nodes"}, "system:node:n1");
  auto approval = approval_for(c, [&](const Json&, const std::string& sub) -> Result<bool> {
    asked.push_back(sub);
    return sub == "selfnodeclient";
  });
  ASSERT_TRUE(approval && *approval);
  EXPECT_EQ((**approval)["message"], "Auto approving self kubelet client certificate after SubjectAccessReview.");
  EXPECT_THAT(asked, ::testing::ElementsAre("selfnodeclient"));
}

TEST(CsrApprover, NothingIsApprovedWithoutPermissionOrForOtherShapes) {
  auto never = [](const Json&, const std::string&) -> Result<bool> { return false; };
  auto always = [](const Json&, const std::string&) -> Result<bool> { return true; };
  auto none = approval_for(csr("system:node:n1", {"system:nodes"}, "system:bootstrap:abcdef"), never);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  // Not a kubelet client request: wrong O, wrong CN, extra usages, another signer, already approved.
  for (Json c : {csr("system:node:n1", {"system:masters"}, "u"), csr("admin", {"system:nodes"}, "u"),
                 csr("system:node:n1", {"system:nodes"}, "u", {"digital signature", "client auth", "server auth"}),
                 csr("system:node:n1", {"system:nodes"}, "u", {"client auth"})}) {
    auto a = approval_for(c, always);
    ASSERT_TRUE(a);
    EXPECT_FALSE(*a) << c["spec"].dump();
  }
  Json other = csr("system:node:n1", {"system:nodes"}, "u");
  other["spec"]["signerName"] = "example.com/x";
  EXPECT_FALSE(*approval_for(other, always));
  Json approved = csr("system:node:n1", {"system:nodes"}, "u");
  approved["status"]["conditions"] = {{{"type", "Approved"}, {"status", "True"}}};
  EXPECT_FALSE(*approval_for(approved, always));
}

class CsrSigner : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("csr-signer-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=ca -keyout " + (dir_ / "ca.key").string() +
        " -out " + (dir_ / "ca.crt").string() + " 2>/dev/null");
    ca_ = {slurp(dir_ / "ca.crt"), slurp(dir_ / "ca.key")};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  SigningCa ca_;
};

TEST_F(CsrSigner, AnApprovedKubeletRequestIsIssuedForTheShorterDuration) {
  Json c = csr("system:node:n1", {"system:nodes"}, "u");
  EXPECT_FALSE(*signing_for(c, ca_));  // not approved yet
  c["status"]["conditions"] = {{{"type", "Approved"}, {"status", "True"}}};
  c["spec"]["expirationSeconds"] = 3600;
  auto signed_ = signing_for(c, ca_);
  ASSERT_TRUE(signed_) << signed_.error().message;
  ASSERT_TRUE(*signed_);
  std::string pem;
  ASSERT_TRUE(api::protobuf::values::base64_decode((**signed_)["certificate"].get<std::string>(), pem));
  std::ofstream(dir_ / "leaf.crt") << pem;
  EXPECT_THAT(run("openssl verify -CAfile " + (dir_ / "ca.crt").string() + " " + (dir_ / "leaf.crt").string()), HasSubstr("OK"));
  EXPECT_THAT(run("openssl x509 -noout -subject -in " + (dir_ / "leaf.crt").string()), HasSubstr("O = system:nodes, CN = system:node:n1"));
  // Valid about an hour (backdated 5 minutes), not the CA's default year.
  EXPECT_THAT(run("openssl x509 -noout -checkend 3000 -in " + (dir_ / "leaf.crt").string()), HasSubstr("will not expire"));
  EXPECT_THAT(run("openssl x509 -noout -checkend 3700 -in " + (dir_ / "leaf.crt").string()), HasSubstr("will expire"));
  // Issued once.
  c["status"]["certificate"] = (**signed_)["certificate"];
  EXPECT_FALSE(*signing_for(c, ca_));
}

TEST_F(CsrSigner, AnApprovedRequestThatBreaksTheSignersRulesFails) {
  Json c = csr("system:node:n1", {"system:masters"}, "u");
  c["status"]["conditions"] = {{{"type", "Approved"}, {"status", "True"}}};
  auto out = signing_for(c, ca_);
  ASSERT_TRUE(out && *out);
  ASSERT_FALSE((*out)->contains("certificate"));
  const Json failed = (**out)["conditions"].back();
  EXPECT_EQ(failed["type"], "Failed");
  EXPECT_EQ(failed["reason"], "SignerValidationFailure");
  EXPECT_THAT(failed["message"].get<std::string>(), HasSubstr("subject organization is not system:nodes"));
  // Denied ones are never signed.
  Json denied = csr("system:node:n1", {"system:nodes"}, "u");
  denied["status"]["conditions"] = {{{"type", "Denied"}, {"status", "True"}}};
  EXPECT_FALSE(*signing_for(denied, ca_));
}

}  // namespace
}  // namespace switchyard::controllers
