// Bootstrap tokens: the token and group patterns, RFC 3339 expirations, and the authenticator over
// a real registry (SQLite) holding the kube-system Secrets, with an injected clock.
#include "orchestrator/apiserver/bootstrap_tokens.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/api/protobuf_values.h"
#include "orchestrator/api/rfc3339.h"
#include "orchestrator/apiserver/resources.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::apiserver {
namespace {

using ::testing::ElementsAre;

TEST(BootstrapTokenFormat, OnlySixDotSixteenLowercaseAlphanumerics) {
  auto t = parse_bootstrap_token("abcdef.0123456789abcdef");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->id, "abcdef");
  EXPECT_EQ(t->secret, "0123456789abcdef");
  for (const char* bad : {"", "abcdef0123456789abcdef0", "ABCDEF.0123456789abcdef", "abcde.0123456789abcdefg", "abcdef.0123456789abcde",
                          "abcdef.0123456789abcdef ", "abcdef:0123456789abcdef", "abcdef.0123456789abcdeF", "a-cdef.0123456789abcdef"})
    EXPECT_FALSE(parse_bootstrap_token(bad)) << bad;
}

TEST(BootstrapTokenFormat, ExtraGroupsMustBeUnderSystemBootstrappers) {
  EXPECT_TRUE(valid_bootstrap_group("system:bootstrappers:kubeadm:default-node-token"));
  EXPECT_TRUE(valid_bootstrap_group("system:bootstrappers:a"));
  EXPECT_FALSE(valid_bootstrap_group("system:bootstrappers"));
  EXPECT_FALSE(valid_bootstrap_group("system:bootstrappers:"));
  EXPECT_FALSE(valid_bootstrap_group("system:masters"));
  EXPECT_FALSE(valid_bootstrap_group("system:bootstrappers:Upper"));
  EXPECT_FALSE(valid_bootstrap_group("system:bootstrappers:ends-with-"));
  EXPECT_FALSE(valid_bootstrap_group("system:bootstrappers:" + std::string(257, 'a')));
  EXPECT_TRUE(valid_bootstrap_group("system:bootstrappers:" + std::string(256, 'a')));
}

TEST(BootstrapTokenFormat, Rfc3339AsGoParsesIt) {
  EXPECT_EQ(api::parse_rfc3339_seconds("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(api::parse_rfc3339_seconds("2017-03-10T03:22:11-08:00"), api::parse_rfc3339_seconds("2017-03-10T11:22:11Z"));
  EXPECT_EQ(api::parse_rfc3339_seconds("2017-03-10T11:22:11.999Z"), api::parse_rfc3339_seconds("2017-03-10T11:22:11Z"));
  EXPECT_EQ(api::parse_rfc3339_seconds("2024-02-29T00:00:00+01:00"), 1709161200);
  for (const char* bad : {"", "2017-03-10", "2017-03-10T11:22:11", "2017-03-10 11:22:11Z", "2017-13-10T11:22:11Z", "2023-02-29T00:00:00Z",
                          "2017-03-10T11:22:11Zjunk", "2017-03-10T11:22:11+0800", "tomorrow"})
    EXPECT_FALSE(api::parse_rfc3339_seconds(bad)) << bad;
}

constexpr long long kNow = 1700000000;  // 2023-11-14T22:13:20Z

class BootstrapTokens : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::open((dir_.path() / "store.db").string());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    registry_ = std::make_unique<ObjectRegistry>(*store_, api::ClusterNetworkConfig{});
    std::vector<std::string> w;
    ASSERT_TRUE(registry_->create(*find_resource("", "v1", "namespaces"), "",
                                  {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "kube-system"}}}},
                                  FieldValidation::Strict, w));
    authn_ = std::make_unique<BootstrapTokenAuthenticator>(*registry_, [this] { return now_; });
  }
  // A bootstrap-token Secret with the given stringData (overriding the valid defaults).
  void put(const std::string& id, Json string_data, const std::string& type = "bootstrap.kubernetes.io/token") {
    Json data = {{"token-id", id}, {"token-secret", "0123456789abcdef"}, {"usage-bootstrap-authentication", "true"}};
    for (auto& [k, v] : string_data.items()) {
      if (v.is_null())
        data.erase(k);
      else
        data[k] = v;
    }
    Json body = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "bootstrap-token-" + id}, {"namespace", "kube-system"}}},
                 {"type", type},
                 {"stringData", data}};
    std::vector<std::string> w;
    auto made = registry_->create(*find_resource("", "v1", "secrets"), "kube-system", body, FieldValidation::Strict, w);
    ASSERT_TRUE(made) << made.error().status.dump();
  }
  std::optional<UserInfo> login(const std::string& token) { return authn_->authenticate(token); }

  store::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ObjectRegistry> registry_;
  std::unique_ptr<BootstrapTokenAuthenticator> authn_;
  long long now_ = kNow;
};

TEST_F(BootstrapTokens, AValidTokenIsSystemBootstrapIdInSystemBootstrappers) {
  put("abcdef", {{"expiration", "2023-11-14T23:13:20Z"}});
  auto u = login("abcdef.0123456789abcdef");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->name, "system:bootstrap:abcdef");
  EXPECT_THAT(u->groups, ElementsAre("system:bootstrappers", "system:authenticated"));
}

TEST_F(BootstrapTokens, ExtraGroupsAreAddedSortedAndDeduplicated) {
  put("ghijkl",
      {{"auth-extra-groups", "system:bootstrappers:worker,system:bootstrappers:kubeadm:default-node-token,system:bootstrappers:worker"}});
  auto u = login("ghijkl.0123456789abcdef");
  ASSERT_TRUE(u);
  EXPECT_THAT(u->groups, ElementsAre("system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token",
                                     "system:bootstrappers:worker", "system:authenticated"));
}

TEST_F(BootstrapTokens, AGroupOutsideSystemBootstrappersRefusesTheToken) {
  // Otherwise a Secret writer could mint system:masters.
  put("mnopqr", {{"auth-extra-groups", "system:bootstrappers:ok,system:masters"}});
  EXPECT_FALSE(login("mnopqr.0123456789abcdef"));
}

TEST_F(BootstrapTokens, WrongSecretUnknownIdAndOtherShapesAreNotAuthenticated) {
  put("abcdef", {});
  EXPECT_TRUE(login("abcdef.0123456789abcdef"));
  EXPECT_FALSE(login("abcdef.0123456789abcdee"));
  EXPECT_FALSE(login("zzzzzz.0123456789abcdef"));
  EXPECT_FALSE(login("abcdef.0123456789abcdef0"));
}

TEST_F(BootstrapTokens, ExpiredAndUnparseableExpirationsAreRefused) {
  put("exp001", {{"expiration", "2023-11-14T22:13:20Z"}});  // exactly now: expired, as upstream (remaining <= 0)
  put("exp002", {{"expiration", "2023-11-14T22:13:21Z"}});
  put("exp003", {{"expiration", "next tuesday"}});
  put("exp004", {{"expiration", "2023-11-14T23:13:21+01:00"}});  // one second from now
  EXPECT_FALSE(login("exp001.0123456789abcdef"));
  EXPECT_TRUE(login("exp002.0123456789abcdef"));
  EXPECT_FALSE(login("exp003.0123456789abcdef"));
  EXPECT_TRUE(login("exp004.0123456789abcdef"));
  now_ += 1;
  EXPECT_FALSE(login("exp002.0123456789abcdef"));
  EXPECT_FALSE(login("exp004.0123456789abcdef"));
}

TEST_F(BootstrapTokens, UsageTypeAndIdMustAllMatch) {
  put("usage1", {{"usage-bootstrap-authentication", nullptr}, {"usage-bootstrap-signing", "true"}});
  put("usage2", {{"usage-bootstrap-authentication", "True"}});
  put("typ001", {}, "Opaque");
  put("idmis1", {{"token-id", "idmis2"}});
  for (const char* token : {"usage1.0123456789abcdef", "usage2.0123456789abcdef", "typ001.0123456789abcdef", "idmis1.0123456789abcdef"})
    EXPECT_FALSE(login(token)) << token;
}

TEST_F(BootstrapTokens, ASecretBeingDeletedNoLongerAuthenticates) {
  Json secret = {{"metadata", {{"deletionTimestamp", "2023-11-14T22:00:00Z"}}},
                 {"type", "bootstrap.kubernetes.io/token"},
                 {"data",
                  {{"token-id", api::protobuf::values::base64_encode("abcdef")},
                   {"token-secret", api::protobuf::values::base64_encode("0123456789abcdef")},
                   {"usage-bootstrap-authentication", api::protobuf::values::base64_encode("true")}}}};
  std::string why;
  EXPECT_FALSE(bootstrap_token_user(secret, {"abcdef", "0123456789abcdef"}, kNow, why));
  EXPECT_EQ(why, "is deleted and awaiting removal");
  secret["metadata"].erase("deletionTimestamp");
  EXPECT_TRUE(bootstrap_token_user(secret, {"abcdef", "0123456789abcdef"}, kNow, why));
}

}  // namespace
}  // namespace switchyard::apiserver
