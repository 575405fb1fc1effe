#include "dataplane/ebpf/maglev.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace switchyard::dataplane::ebpf {
namespace {

std::vector<MaglevBackend> backends(int n) {
  std::vector<MaglevBackend> out;
  for (int i = 0; i < n; ++i) out.push_back({"10.244.0." + std::to_string(10 + i) + ":8080/6", static_cast<std::uint32_t>(100 + i)});
  return out;
}

constexpr std::uint32_t kSize = 1021;

TEST(Maglev, EveryBackendOwnsAboutTheSameShare) {
  for (int n : {1, 2, 3, 7, 10, 50}) {
    auto table = build_maglev_table(backends(n), kSize);
    ASSERT_EQ(table.size(), kSize);
    std::map<std::uint32_t, int> owned;
    for (auto id : table) ++owned[id];
    EXPECT_EQ(owned.size(), static_cast<std::size_t>(n)) << n << " backends";
    for (auto [id, count] : owned) {
      EXPECT_LE(count, static_cast<int>(kSize / n) + 2) << "backend " << id << " of " << n;
      EXPECT_GE(count, static_cast<int>(kSize / n) - 2) << "backend " << id << " of " << n;
    }
  }
}

TEST(Maglev, RemovingOneOfNBackendsMovesAboutOneNthOfTheEntries) {
  for (int n : {3, 5, 10, 20}) {
    auto all = backends(n);
    auto before = build_maglev_table(all, kSize);
    const auto removed = all[static_cast<std::size_t>(n / 2)].id;
    std::erase_if(all, [&](const MaglevBackend& b) { return b.id == removed; });
    auto after = build_maglev_table(all, kSize);
    int moved = 0;  // entries that did not belong to the removed backend but changed anyway
    for (std::uint32_t i = 0; i < kSize; ++i)
      if (before[i] != removed && before[i] != after[i]) ++moved;
    // The paper's tables move a little more than the minimum; allow up to 1/N extra.
    EXPECT_LE(moved, static_cast<int>(kSize) / n) << n << " backends: " << moved << " surviving entries moved";
    EXPECT_EQ(std::ranges::count(after, removed), 0);
  }
}

TEST(Maglev, TheTableDependsOnTheSetNotTheOrder) {
  auto a = backends(5);
  auto b = a;
  std::ranges::reverse(b);
  EXPECT_EQ(build_maglev_table(a, kSize), build_maglev_table(b, kSize));
  EXPECT_TRUE(build_maglev_table({}, kSize).empty());
}

}  // namespace
}  // namespace switchyard::dataplane::ebpf
