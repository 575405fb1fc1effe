// CronJob schedules as kube-controller-manager reads them (robfig/cron v3's ParseStandard): five
// fields (minute hour day-of-month month day-of-week) with ranges, steps, lists, names (jan, mon)
// and `?`; the @yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly macros and
// @every <duration>. Day-of-month and day-of-week are ORed unless one of them is `*`. Times are
// wall-clock times in an IANA time zone: a time skipped by a DST change never fires, a time
// repeated by one fires at each instant it names.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "orchestrator/base/error.h"

namespace switchyard::api {

class CronSchedule {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  // The schedule, or robfig's error text ("expected exactly 5 fields, found 1: [bad]").
  static Result<CronSchedule> parse(const std::string& spec);

  // The first time strictly after `after` that the schedule names, read in `time_zone` (an IANA
  // name; "" is UTC); nullopt when there is none within five years (as robfig: "Feb 30").
  std::optional<TimePoint> next(TimePoint after, const std::string& time_zone = "") const;

 private:
  std::uint64_t minute_ = 0, hour_ = 0, dom_ = 0, month_ = 0, dow_ = 0;
  bool dom_star_ = false, dow_star_ = false;
  std::optional<std::chrono::seconds> every_;  // @every
};

// Whether `name` is a time zone this host knows ("unknown time zone X" otherwise, as Go says).
Result<void> check_time_zone(const std::string& name);

}  // namespace switchyard::api
