// JWT signing and verification with RSA and EC service-account keys: what verifies, and the
// forgeries that must not (a changed claim, another key, alg none, HS256 with the public key).
#include "orchestrator/apiserver/jwt.h"

#include <gtest/gtest.h>

#include "orchestrator/store/store_test_support.h"

namespace switchyard::apiserver {
namespace {

using Json = nlohmann::json;

std::string b64url(const std::string& s) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (unsigned char c : s) {
    v = (v << 8) | c;
    bits += 8;
    while (bits >= 6) out += t[(v >> (bits -= 6)) & 63];
  }
  if (bits) out += t[(v << (6 - bits)) & 63];
  return out;
}

class JwtTest : public ::testing::Test {
 protected:
  std::filesystem::path key_file(const std::string& name, const std::string& openssl_args) {
    const auto p = dir_.path() / name;
    EXPECT_EQ(std::system(("openssl " + openssl_args + " -out " + p.string() + " 2>/dev/null").c_str()), 0);
    return p;
  }
  store::testing::TempDir dir_;
};

TEST_F(JwtTest, RsaAndEcKeysSignWhatTheirPublicHalvesVerify) {
  for (const auto& args : {std::string("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048"),
                           std::string("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256")}) {
    const auto priv = key_file("k.pem", args);
    const auto pub = dir_.path() / "k.pub";
    ASSERT_EQ(std::system(("openssl pkey -in " + priv.string() + " -pubout -out " + pub.string()).c_str()), 0);
    auto signer = JwtSigner::load(priv);
    ASSERT_TRUE(signer) << signer.error().message;
    const Json claims = {{"sub", "system:serviceaccount:default:app"}, {"exp", 2000000000}};
    auto token = signer->sign(claims);
    ASSERT_TRUE(token) << token.error().message;
    EXPECT_TRUE(looks_like_jwt(*token));
    JwtVerifier verifier;
    ASSERT_TRUE(verifier.add_keys(pub));
    auto verified = verifier.verify(*token);
    ASSERT_TRUE(verified) << verified.error().message;
    EXPECT_EQ(*verified, claims);
  }
}

TEST_F(JwtTest, ForgeriesAreRefused) {
  auto signer = JwtSigner::load(key_file("a.pem", "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048"));
  auto other = JwtSigner::load(key_file("b.pem", "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256"));
  ASSERT_TRUE(signer && other);
  JwtVerifier verifier;
  verifier.add_key(signer->key());
  const std::string token = *signer->sign({{"sub", "system:serviceaccount:default:app"}});
  ASSERT_TRUE(verifier.verify(token));
  // A claim changed after signing.
  const auto dot1 = token.find('.'), dot2 = token.rfind('.');
  const std::string admin = token.substr(0, dot1 + 1) + b64url(R"({"sub":"system:serviceaccount:kube-system:admin"})") + token.substr(dot2);
  EXPECT_FALSE(verifier.verify(admin));
  // Signed by a key the verifier does not have.
  EXPECT_FALSE(verifier.verify(*other->sign({{"sub", "x"}})));
  // alg none with no signature, and a token that is no JWT.
  EXPECT_FALSE(verifier.verify(b64url(R"({"alg":"none"})") + "." + b64url(R"({"sub":"x"})") + "."));
  EXPECT_FALSE(verifier.verify(b64url(R"({"alg":"HS256"})") + "." + b64url(R"({"sub":"x"})") + ".AAAA"));
  EXPECT_FALSE(verifier.verify("abc"));
  EXPECT_FALSE(looks_like_jwt("0123456789abcdef"));
}

TEST_F(JwtTest, TheGeneratedKeyIsKeptPrivateAndReused) {
  const auto path = dir_.path() / "sa.key";
  ASSERT_TRUE(ensure_service_account_key(path));
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto first = JwtSigner::load(path);
  ASSERT_TRUE(first);
  ASSERT_TRUE(ensure_service_account_key(path));
  auto second = JwtSigner::load(path);
  ASSERT_TRUE(second);
  JwtVerifier verifier;
  verifier.add_key(second->key());
  EXPECT_TRUE(verifier.verify(*first->sign({{"a", 1}})));  // the same key both times
}

}  // namespace
}  // namespace switchyard::apiserver
