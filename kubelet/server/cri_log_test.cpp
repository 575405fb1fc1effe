#include "kubelet/server/cri_log.h"

#include <gtest/gtest.h>

namespace switchyard::kubelet::server {
namespace {

constexpr std::string_view kLog =
    "2026-12-07T03:52:06.100000000Z stdout F first\n"
    "2026-12-07T03:52:07.2Z stderr F second\n"
    "2026-12-07T03:52:08.300000000Z stdout P par\n"
    "2026-12-07T03:52:08.400000000Z stdout F tial\n"
    "2026-12-07T03:52:09.500000000+01:00 stdout F fourth\n";

std::string format(std::string_view content, LogOptions options) {
  CriLogFormatter f(options);
  std::string out;
  f.feed(content, out);
  return out;
}

TEST(CriLog, ParsesTheFourFields) {
  auto e = parse_cri_log_line("2026-12-07T03:52:06.1Z stderr P:x some text here");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->time, "2026-12-07T03:52:06.1Z");
  EXPECT_EQ(e->stream, "stderr");
  EXPECT_TRUE(e->partial);
  EXPECT_EQ(e->text, "some text here");
  auto empty = parse_cri_log_line("2026-12-07T03:52:06.1Z stdout F");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->text, "");
  EXPECT_FALSE(parse_cri_log_line("not a log line"));
  EXPECT_FALSE(parse_cri_log_line("2026-12-07T03:52:06.1Z stdout X text"));
}

TEST(CriLog, StripsThePrefixAndJoinsPartialEntries) { EXPECT_EQ(format(kLog, {}), "first\nsecond\npartial\nfourth\n"); }

TEST(CriLog, TimestampsPrefixEachEntry) {
  EXPECT_EQ(format("2026-12-07T03:52:06.1Z stdout F a\n", {.timestamps = true}), "2026-12-07T03:52:06.1Z a\n");
}

TEST(CriLog, SinceLeavesOutOlderEntries) {
  auto since = parse_rfc3339_ns("2026-12-07T03:52:07Z");
  ASSERT_TRUE(since);
  // The last entry is 02:52:09.5 UTC (+01:00), older than the cut.
  EXPECT_EQ(format(kLog, {.since_ns = since}), "second\npartial\n");
}

TEST(CriLog, LimitBytesCutsTheOutput) {
  CriLogFormatter f({.limit_bytes = 8});
  std::string out;
  EXPECT_FALSE(f.feed(kLog, out));
  EXPECT_EQ(out, "first\nse");
  EXPECT_TRUE(f.limit_reached());
}

TEST(CriLog, FeedsInAnyPieces) {
  CriLogFormatter f({});
  std::string out;
  for (char c : kLog) f.feed(std::string_view(&c, 1), out);
  EXPECT_EQ(out, "first\nsecond\npartial\nfourth\n");
  // An unfinished line waits for its end.
  std::string more;
  f.feed("2026-12-07T03:52:10Z stdout F fif", more);
  EXPECT_EQ(more, "");
  f.feed("th\n", more);
  EXPECT_EQ(more, "fifth\n");
}

TEST(CriLog, TailOffsetFindsTheLastLines) {
  const std::string_view text = "a\nb\nc\n";
  EXPECT_EQ(text.substr(tail_offset(text, 1)), "c\n");
  EXPECT_EQ(text.substr(tail_offset(text, 2)), "b\nc\n");
  EXPECT_EQ(text.substr(tail_offset(text, 3)), "a\nb\nc\n");
  EXPECT_EQ(text.substr(tail_offset(text, 10)), "a\nb\nc\n");
  EXPECT_EQ(text.substr(tail_offset(text, 0)), "");
  EXPECT_EQ(text.substr(tail_offset(text, -1)), "a\nb\nc\n");
  EXPECT_EQ(std::string_view("a\nb").substr(tail_offset("a\nb", 1)), "b");
}

TEST(CriLog, ParsesRfc3339) {
  EXPECT_EQ(parse_rfc3339_ns("1970-01-01T00:00:01Z"), 1'000'000'000);
  EXPECT_EQ(parse_rfc3339_ns("1970-01-01T01:00:01.5+01:00"), 1'500'000'000);
  EXPECT_EQ(parse_rfc3339_ns("2000-03-01T00:00:00Z"), 951868800LL * 1'000'000'000);
  EXPECT_FALSE(parse_rfc3339_ns("2000-03-01 00:00:00"));
}

}  // namespace
}  // namespace switchyard::kubelet::server
