#include "dataplane/ebpf/id_allocator.h"

#include <gtest/gtest.h>

namespace switchyard::dataplane::ebpf {
namespace {

TEST(IdAllocator, HandsOutDenseIdsFromOne) {
  IdAllocator ids;
  EXPECT_EQ(ids.allocate(), 1u);
  EXPECT_EQ(ids.allocate(), 2u);
  EXPECT_EQ(ids.allocate(), 3u);
  EXPECT_EQ(ids.end(), 4u) << "an array of 4 entries holds ids 1..3";
}

TEST(IdAllocator, AReleasedIdIsReusedOnlyAfterRecycleLowestFirst) {
  IdAllocator ids;
  for (int i = 0; i < 5; ++i) ids.allocate();
  ids.release(4);
  ids.release(2);
  EXPECT_EQ(ids.allocate(), 6u) << "released in this sync: still named by the maps";
  ids.recycle();
  EXPECT_EQ(ids.allocate(), 2u);
  EXPECT_EQ(ids.allocate(), 4u);
  EXPECT_EQ(ids.allocate(), 7u);
  EXPECT_EQ(ids.end(), 8u);
  EXPECT_EQ(ids.take_reused(), (std::vector<std::uint32_t>{2, 4}));
  EXPECT_TRUE(ids.take_reused().empty());
}

TEST(IdAllocator, ClaimedIdsFromTheMapsAreKeptAndTheGapsBelowThemReused) {
  IdAllocator ids;  // a restart: the maps hold backends 3 and 6
  ids.claim(6);
  ids.claim(3);
  EXPECT_EQ(ids.end(), 7u);
  EXPECT_EQ(ids.allocate(), 1u);
  EXPECT_EQ(ids.allocate(), 2u);
  EXPECT_EQ(ids.allocate(), 4u);
  EXPECT_EQ(ids.allocate(), 5u);
  EXPECT_EQ(ids.allocate(), 7u);
}

TEST(IdAllocator, AnIdClaimedWhileFreeIsNotHandedOutTwice) {
  IdAllocator ids;
  ids.allocate();
  ids.allocate();
  ids.release(1);
  ids.recycle();
  ids.claim(1);  // read back from the maps meanwhile
  EXPECT_EQ(ids.allocate(), 3u);
  ids.release(0);  // never handed out: ignored
  ids.release(99);
  ids.recycle();
  EXPECT_EQ(ids.allocate(), 4u);
}

}  // namespace
}  // namespace switchyard::dataplane::ebpf
