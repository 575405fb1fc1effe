// ChunkedSortedMap against std::map under random inserts and erases, and copies that must not see
// each other's changes.
#include "endpoints/node/chunked_sorted_map.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

namespace switchyard::endpoints {
namespace {

using Map = ChunkedSortedMap<std::string, int>;

std::map<std::string, int> as_std(const Map& m) {
  std::map<std::string, int> out;
  std::string last;
  for (const auto& [k, v] : m) {
    EXPECT_TRUE(out.empty() || last < k) << "keys out of order at " << k;
    last = k;
    out[k] = v;
  }
  EXPECT_EQ(out.size(), m.size());
  return out;
}

TEST(ChunkedSortedMap, BehavesAsStdMapUnderRandomChanges) {
  std::mt19937 rng(25);
  Map m;
  std::map<std::string, int> want;
  for (int step = 0; step < 20000; ++step) {
    const std::string k = "key-" + std::to_string(rng() % 3000);
    if (rng() % 3 == 0) {
      EXPECT_EQ(m.erase(k), want.erase(k) == 1) << k;
    } else {
      m.insert_or_assign(k, step);
      want[k] = step;
    }
  }
  EXPECT_EQ(as_std(m), want);
  for (const auto& [k, v] : want) {
    ASSERT_NE(m.find(k), m.end()) << k;
    EXPECT_EQ(m.at(k), v);
  }
  EXPECT_EQ(m.find("nope"), m.end());
  EXPECT_THROW((void)m.at("nope"), std::out_of_range);
  EXPECT_EQ(m.lower_bound("key-1")->first, want.lower_bound("key-1")->first);
  EXPECT_EQ(m.lower_bound("zzz"), m.end());
}

TEST(ChunkedSortedMap, ACopySharesChunksUntilOneSideChanges) {
  std::vector<Map::value_type> sorted;
  for (int i = 0; i < 1000; ++i) sorted.emplace_back("k" + std::to_string(10000 + i), i);
  const Map original = Map::from_sorted(sorted);
  Map copy = original;
  EXPECT_EQ(copy.chunks(), original.chunks()) << "a copy holds the same chunks";
  copy.insert_or_assign("k10500", -1);
  copy.erase("k10001");
  copy.insert_or_assign("k10500x", 7);
  EXPECT_EQ(original.at("k10500"), 500) << "the original does not see the copy's changes";
  EXPECT_TRUE(original.contains("k10001"));
  EXPECT_FALSE(original.contains("k10500x"));
  EXPECT_EQ(original.size(), 1000u);
  EXPECT_EQ(copy.size(), 1000u);
  EXPECT_EQ(copy.at("k10500"), -1);
  std::size_t shared = 0;
  for (std::size_t i = 0; i < copy.chunks().size(); ++i) shared += copy.chunks()[i] == original.chunks()[i];
  EXPECT_EQ(shared, original.chunks().size() - 2) << "only the two chunks changed were copied";
}

}  // namespace
}  // namespace switchyard::endpoints
