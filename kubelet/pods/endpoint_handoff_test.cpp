// The kubelet's endpoint hand-off: when a gracefully deleted pod may be stopped, from what the
// EndpointSlices say about it and the time passed.
#include "kubelet/pods/endpoint_handoff.h"

#include <gtest/gtest.h>

namespace switchyard::kubelet {
namespace {

using namespace std::chrono_literals;
using Clock = EndpointHandoff::Clock;

api::EndpointSlice slice_with(const std::string& uid, std::optional<bool> ready) {
  api::EndpointSlice s;
  api::SliceEndpoint other;
  other.addresses = {"10.1.0.9"};
  other.target_ref = api::ObjectReference{.kind = "Pod", .name = "other", .uid = "other-uid"};
  other.conditions.ready = true;
  api::SliceEndpoint ep;
  ep.addresses = {"10.1.0.7"};
  ep.target_ref = api::ObjectReference{.kind = "Pod", .name = "web", .uid = uid};
  ep.conditions.ready = ready;
  s.endpoints = {other, ep};
  return s;
}

TEST(EndpointPresenceTest, ReadsThePodsEndpointsByTargetUid) {
  const auto ready = slice_with("u1", true), unset = slice_with("u1", std::nullopt), not_ready = slice_with("u1", false);
  EXPECT_EQ(endpoint_presence({}, "u1"), EndpointPresence::NotAnEndpoint);
  EXPECT_EQ(endpoint_presence({&ready}, "u2"), EndpointPresence::NotAnEndpoint) << "another pod's endpoints do not count";
  EXPECT_EQ(endpoint_presence({&ready}, "u1"), EndpointPresence::StillReady);
  EXPECT_EQ(endpoint_presence({&unset}, "u1"), EndpointPresence::StillReady) << "an unset ready condition means ready";
  EXPECT_EQ(endpoint_presence({&not_ready}, "u1"), EndpointPresence::Withdrawn);
  EXPECT_EQ(endpoint_presence({&not_ready, &ready}, "u1"), EndpointPresence::StillReady) << "one Service still sends to it";
}

TEST(EndpointHandoffTest, WaitsForTheWithdrawalThenTheDelay) {
  EndpointHandoff h(1000ms);
  const auto t0 = Clock::now();
  auto w = h.wait("u1", EndpointPresence::StillReady, 30s, t0);
  ASSERT_TRUE(w.has_value());
  EXPECT_LE(*w, 20ms) << "a pod still listed ready is looked at again soon";
  w = h.wait("u1", EndpointPresence::Withdrawn, 30s, t0 + 50ms);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(*w, 1000ms) << "the delay counts from the withdrawal";
  w = h.wait("u1", EndpointPresence::Withdrawn, 30s, t0 + 650ms);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(*w, 400ms);
  EXPECT_FALSE(h.wait("u1", EndpointPresence::Withdrawn, 30s, t0 + 1050ms).has_value());
  // Removed from the slices meanwhile (its Service deleted) still waits out the delay.
  h.forget("u1");
  h.wait("u2", EndpointPresence::Withdrawn, 30s, t0);
  w = h.wait("u2", EndpointPresence::NotAnEndpoint, 30s, t0 + 100ms);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(*w, 900ms);
}

TEST(EndpointHandoffTest, StopsAtOnceWhenThereIsNothingToHandOff) {
  EndpointHandoff h(1000ms);
  const auto t0 = Clock::now();
  EXPECT_FALSE(h.wait("u1", EndpointPresence::NotAnEndpoint, 30s, t0).has_value()) << "no Service sends it traffic";
  EXPECT_FALSE(h.wait("u2", EndpointPresence::Withdrawn, 0s, t0).has_value()) << "a forced delete (grace 0) does not wait";
  EndpointHandoff off(0ms);
  EXPECT_FALSE(off.enabled());
  EXPECT_FALSE(off.wait("u3", EndpointPresence::StillReady, 30s, t0).has_value()) << "a zero delay disables the hand-off";
}

TEST(EndpointHandoffTest, NeverTakesMoreThanHalfTheGracePeriod) {
  EndpointHandoff h(5000ms);
  const auto t0 = Clock::now();
  ASSERT_TRUE(h.wait("u1", EndpointPresence::StillReady, 4s, t0).has_value());
  auto w = h.wait("u1", EndpointPresence::Withdrawn, 4s, t0 + 1500ms);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(*w, 500ms) << "capped at 2 s from the start, half of the 4 s grace";
  EXPECT_FALSE(h.wait("u1", EndpointPresence::StillReady, 4s, t0 + 2s).has_value()) << "a slice that never updates does not hold it";
}

}  // namespace
}  // namespace switchyard::kubelet
