#include "orchestrator/api/cron_schedule.h"

#include <absl/time/civil_time.h>
#include <absl/time/time.h>
#include <gtest/gtest.h>

namespace switchyard::api {
namespace {

using TimePoint = CronSchedule::TimePoint;

// A wall time in `zone` ("" = UTC) as an instant; `pre`: the earlier instant of a repeated time.
TimePoint at(const std::string& zone, int y, int mo, int d, int h, int mi, bool pre = true) {
  absl::TimeZone tz = absl::UTCTimeZone();
  if (!zone.empty()) EXPECT_TRUE(absl::LoadTimeZone(zone, &tz));
  const auto info = tz.At(absl::CivilSecond(y, mo, d, h, mi, 0));
  return absl::ToChronoTime(pre ? info.pre : info.post);
}

std::string text(std::optional<TimePoint> t, const std::string& zone = "") {
  if (!t) return "none";
  absl::TimeZone tz = absl::UTCTimeZone();
  if (!zone.empty()) EXPECT_TRUE(absl::LoadTimeZone(zone, &tz));
  return absl::FormatTime("%Y-%m-%d %H:%M %Ez", absl::FromChrono(*t), tz);
}

CronSchedule parsed(const std::string& spec) {
  auto s = CronSchedule::parse(spec);
  EXPECT_TRUE(s) << spec << ": " << s.error().message;
  return s ? *s : CronSchedule{};
}

TEST(CronSchedule, FiveFieldsRangesStepsListsAndNames) {
  EXPECT_EQ(text(parsed("*/15 * * * *").next(at("", 2026, 12, 7, 10, 7))), "2026-12-07 10:15 +00:00");
  EXPECT_EQ(text(parsed("0 9-17/4 * * mon-fri").next(at("", 2026, 12, 5, 10, 0))), "2026-12-07 09:00 +00:00");  // Sat -> Mon
  EXPECT_EQ(text(parsed("30 2 1,15 * *").next(at("", 2026, 12, 2, 0, 0))), "2026-12-15 02:30 +00:00");
  EXPECT_EQ(text(parsed("0 0 1 jan *").next(at("", 2026, 12, 7, 0, 0))), "2027-01-01 00:00 +00:00");
  // Day-of-month and day-of-week both restricted: either matches (Dec 13 2026 is a Sunday).
  EXPECT_EQ(text(parsed("0 0 31 * sun").next(at("", 2026, 12, 7, 0, 0))), "2026-12-13 00:00 +00:00");
  // Strictly after: a schedule time equal to `after` is not returned again.
  EXPECT_EQ(text(parsed("5 * * * *").next(at("", 2026, 12, 7, 10, 5))), "2026-12-07 11:05 +00:00");
}

TEST(CronSchedule, MacrosAndEvery) {
  EXPECT_EQ(text(parsed("@hourly").next(at("", 2026, 12, 7, 10, 7))), "2026-12-07 11:00 +00:00");
  EXPECT_EQ(text(parsed("@daily").next(at("", 2026, 12, 7, 10, 7))), "2026-12-08 00:00 +00:00");
  EXPECT_EQ(text(parsed("@weekly").next(at("", 2026, 12, 7, 10, 7))), "2026-12-13 00:00 +00:00");
  EXPECT_EQ(text(parsed("@monthly").next(at("", 2026, 12, 7, 10, 7))), "2027-01-01 00:00 +00:00");
  EXPECT_EQ(text(parsed("@yearly").next(at("", 2026, 12, 7, 10, 7))), "2027-01-01 00:00 +00:00");
  EXPECT_EQ(text(parsed("@every 90m").next(at("", 2026, 12, 7, 10, 0))), "2026-12-07 11:30 +00:00");
}

TEST(CronSchedule, NeverMatchingDateHasNoNextTime) { EXPECT_EQ(text(parsed("0 0 30 2 *").next(at("", 2026, 1, 1, 0, 0))), "none"); }

TEST(CronSchedule, RobfigErrorMessages) {
  auto msg = [](const std::string& spec) {
    auto s = CronSchedule::parse(spec);
    return s ? std::string("ok") : s.error().message;
  };
  EXPECT_EQ(msg("bad"), "expected exactly 5 fields, found 1: [bad]");
  EXPECT_EQ(msg("* * * *"), "expected exactly 5 fields, found 4: [* * * *]");
  EXPECT_EQ(msg("60 * * * *"), "end of range (60) above maximum (59): 60");
  EXPECT_EQ(msg("* * 0 * *"), "beginning of range (0) below minimum (1): 0");
  EXPECT_EQ(msg("5-1 * * * *"), "beginning of range (5) beyond end of range (1): 5-1");
  EXPECT_EQ(msg("*/0 * * * *"), "step of range should be a positive number: */0");
  EXPECT_EQ(msg("x * * * *"), "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax");
  EXPECT_EQ(msg("@fortnightly"), "unrecognized descriptor: @fortnightly");
  EXPECT_EQ(msg(""), "empty spec string");
}

// America/New_York: 2026-03-08 02:00 EST jumps to 03:00 EDT; 2026-11-01 02:00 EDT falls back to 01:00 EST.
TEST(CronSchedule, SpringForwardSkipsTheMissingWallTime) {
  const std::string ny = "America/New_York";
  // 02:30 does not exist on Mar 8: the next 02:30 is the day after.
  EXPECT_EQ(text(parsed("30 2 * * *").next(at(ny, 2026, 3, 8, 0, 0), ny), ny), "2026-03-09 02:30 -04:00");
  // Hourly: 01:00 EST, then 03:00 EDT, one hour of real time later.
  const auto one = parsed("0 * * * *").next(at(ny, 2026, 3, 8, 0, 30), ny);
  EXPECT_EQ(text(one, ny), "2026-03-08 01:00 -05:00");
  EXPECT_EQ(text(parsed("0 * * * *").next(*one, ny), ny), "2026-03-08 03:00 -04:00");
}

TEST(CronSchedule, FallBackFiresAtBothInstantsOfTheRepeatedHour) {
  const std::string ny = "America/New_York";
  const auto first = parsed("30 1 * * *").next(at(ny, 2026, 11, 1, 0, 0), ny);
  EXPECT_EQ(text(first, ny), "2026-11-01 01:30 -04:00");
  const auto second = parsed("30 1 * * *").next(*first, ny);
  EXPECT_EQ(text(second, ny), "2026-11-01 01:30 -05:00");
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::minutes>(*second - *first).count(), 60);
  EXPECT_EQ(text(parsed("30 1 * * *").next(*second, ny), ny), "2026-11-02 01:30 -05:00");
}

TEST(CronSchedule, NamedZoneShiftsTheInstant) {
  // 09:00 in Tokyo (UTC+9, no DST) is 00:00 UTC.
  EXPECT_EQ(text(parsed("0 9 * * *").next(at("", 2026, 12, 7, 1, 0), "Asia/Tokyo")), "2026-12-08 00:00 +00:00");
}

TEST(CronSchedule, TimeZoneCheck) {
  EXPECT_TRUE(check_time_zone("Europe/Berlin"));
  auto bad = check_time_zone("Mars/Olympus_Mons");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "unknown time zone Mars/Olympus_Mons");
}

}  // namespace
}  // namespace switchyard::api
