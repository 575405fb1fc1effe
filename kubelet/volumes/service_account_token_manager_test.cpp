// The kubelet's token manager with a fake TokenRequest API and a fake clock: one request per
// (pod, audience, lifetime) while the token is young, a new one past 80% of its lifetime or 24 h,
// the old token kept through a failed renewal until it expires, and nothing kept for a pod
// that is gone.
#include "kubelet/volumes/service_account_token_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace switchyard::kubelet {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

class TokenManagerTest : public ::testing::Test {
 protected:
  TokenManagerTest()
      : manager_(
            [this](const PodTokenRequest& r) -> Result<IssuedToken> {
              requests_.push_back(r);
              if (api_down_) return fail(ErrorCode::Unavailable, "connection refused");
              // The API server caps lifetimes at `cap_` (its --service-account-max-token-expiration).
              const std::int64_t granted = std::min(r.expiration_seconds, cap_);
              return IssuedToken{"token-" + std::to_string(requests_.size()), now_ + std::chrono::seconds(granted), granted};
            },
            [this] { return now_; }, 0s) {}

  PodTokenRequest request(const std::string& uid = "uid-1", std::int64_t seconds = 3607) {
    return {.ns = "ns", .service_account = "default", .audience = "", .expiration_seconds = seconds, .pod_name = "p", .pod_uid = uid};
  }
  std::string token(const PodTokenRequest& r) {
    auto t = manager_.token(r);
    EXPECT_TRUE(t.has_value()) << (t ? "" : t.error().message);
    return t.value_or("");
  }

  Clock::time_point now_ = Clock::from_time_t(1'800'000'000);
  std::int64_t cap_ = 1LL << 32;
  bool api_down_ = false;
  std::vector<PodTokenRequest> requests_;
  ServiceAccountTokenManager manager_;
};

TEST_F(TokenManagerTest, ReusesAYoungTokenAndRenewsPastEightyPercentOfItsLifetime) {
  EXPECT_EQ(token(request()), "token-1");
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0].pod_uid, "uid-1");
  EXPECT_EQ(requests_[0].expiration_seconds, 3607);
  now_ += 2880s;  // 79.8% of 3607 s
  EXPECT_EQ(token(request()), "token-1");
  EXPECT_EQ(requests_.size(), 1u);
  now_ += 10s;  // past 80%
  EXPECT_EQ(token(request()), "token-2");
  EXPECT_EQ(requests_.size(), 2u);
  EXPECT_EQ(token(request()), "token-2");
}

TEST_F(TokenManagerTest, EachPodAudienceAndLifetimeHasItsOwnToken) {
  EXPECT_EQ(token(request("uid-1")), "token-1");
  EXPECT_EQ(token(request("uid-2")), "token-2");
  auto vault = request("uid-1");
  vault.audience = "vault";
  EXPECT_EQ(token(vault), "token-3");
  EXPECT_EQ(requests_.back().audience, "vault");
  EXPECT_EQ(token(request("uid-1", 7200)), "token-4");
  EXPECT_EQ(token(request("uid-1")), "token-1");
  EXPECT_EQ(manager_.cached(), 4u);
}

TEST_F(TokenManagerTest, RenewsADayOldTokenWhateverItsLifetime) {
  const std::int64_t week = 7 * 24 * 3600;
  EXPECT_EQ(token(request("uid-1", week)), "token-1");
  now_ += 23h;
  EXPECT_EQ(token(request("uid-1", week)), "token-1");
  now_ += 1h + 1s;
  EXPECT_EQ(token(request("uid-1", week)), "token-2");
}

TEST_F(TokenManagerTest, TheGrantedLifetimeDecidesWhenToRenew) {
  cap_ = 1000;  // asked 3607 s, granted 1000 s: renewed after 800 s
  EXPECT_EQ(token(request()), "token-1");
  now_ += 790s;
  EXPECT_EQ(token(request()), "token-1");
  now_ += 20s;
  EXPECT_EQ(token(request()), "token-2");
}

TEST_F(TokenManagerTest, AFailedRenewalKeepsTheOldTokenUntilItExpires) {
  EXPECT_EQ(token(request()), "token-1");
  api_down_ = true;
  now_ += 3000s;
  EXPECT_EQ(token(request()), "token-1") << "still valid for 607 s";
  now_ += 607s;
  auto expired = manager_.token(request());
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code, ErrorCode::Unavailable);
  EXPECT_NE(expired.error().message.find("failed to fetch token for serviceaccount ns/default"), std::string::npos)
      << expired.error().message;
  api_down_ = false;
  EXPECT_EQ(token(request()), "token-4");
}

TEST_F(TokenManagerTest, AGonePodsTokensAreForgotten) {
  EXPECT_EQ(token(request("uid-1")), "token-1");
  EXPECT_EQ(token(request("uid-2")), "token-2");
  manager_.forget_pod("uid-1");
  EXPECT_EQ(manager_.cached(), 1u);
  EXPECT_EQ(token(request("uid-2")), "token-2");
  EXPECT_EQ(token(request("uid-1")), "token-3") << "asked again, never served from a dead pod's cache";
}

}  // namespace
}  // namespace switchyard::kubelet
