// InternedString: one number per distinct string, read back from any chunk of its table.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "endpoints/node/interned_string.h"

namespace switchyard::endpoints {
namespace {

TEST(InternedString, EqualStringsShareOneNumberAndReadBackAcrossChunks) {
  EXPECT_EQ(sizeof(InternedString), 4u);
  EXPECT_TRUE(InternedString().empty());
  EXPECT_EQ(InternedString(""), InternedString());
  // More than one chunk's worth (1,024) of distinct strings, named so no other test makes them.
  const std::string prefix = "interned-test-" + std::to_string(::getpid()) + "-";
  std::vector<InternedString> made;
  for (int i = 0; i < 3000; ++i) made.emplace_back(prefix + std::to_string(i));
  for (int i = 0; i < 3000; ++i) {
    ASSERT_EQ(made[i].str(), prefix + std::to_string(i));
    ASSERT_EQ(made[i], InternedString(prefix + std::to_string(i)));
  }
  EXPECT_NE(made[0], made[1]);
  EXPECT_LT(made[0], made[1]);  // ordered as the strings
  EXPECT_EQ(made[7], (prefix + "7").c_str());
}

}  // namespace
}  // namespace switchyard::endpoints
