#include "orchestrator/base/error.h"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

Result<int> half(int x) {
  if (x % 2) return fail(ErrorCode::Invalid, "half of " + std::to_string(x) + ": odd");
  return x / 2;
}

Result<> check(bool ok) {
  if (!ok) return fail(ErrorCode::Unavailable, "peer away");
  return {};
}

TEST(ErrorTest, ResultCarriesValueOrCodedError) {
  auto ok = half(4);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 2);
  auto bad = half(3);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::Invalid);
  EXPECT_EQ(bad.error().describe(), "Invalid: half of 3: odd");
  EXPECT_TRUE(check(true));
  EXPECT_EQ(check(false).error().code, ErrorCode::Unavailable);
}

TEST(ErrorTest, ContextKeepsTheCode) {
  Error e = with_context(Error{ErrorCode::NotFound, "no such file"}, "loading kubeconfig /x");
  EXPECT_EQ(e.code, ErrorCode::NotFound);
  EXPECT_EQ(e.message, "loading kubeconfig /x: no such file");
}

TEST(ErrorTest, ConvertsFromPlainExpected) {
  std::expected<int, Error> plain = 7;
  Result<int> r = plain;
  EXPECT_EQ(*r, 7);
}

}  // namespace
}  // namespace switchyard
