// Cron schedules: parsing with robfig/cron v3's messages, next times through absl's time zones.
#include "orchestrator/api/cron_schedule.h"

#include <absl/time/civil_time.h>
#include <absl/time/time.h>

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <vector>

namespace switchyard::api {

namespace {

struct Bounds {
  int min, max;
  const char* const* names = nullptr;  // lowercase, indexed from min
  int name_count = 0;
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kDowNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::vector<std::string> fields_of(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// Go's strconv.Atoi on a cron number, or a month/day name.
Result<int> number_or_name(const std::string& expr, const Bounds& b) {
  if (b.names) {
    std::string lower;
    for (char c : expr) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (int i = 0; i < b.name_count; ++i)
      if (lower == b.names[i]) return b.min + i;
  }
  if (expr.empty())
    return fail(ErrorCode::Invalid, fmt::format("failed to parse int from {}: strconv.Atoi: parsing \"{}\": invalid syntax", expr, expr));
  std::size_t i = expr[0] == '-' || expr[0] == '+' ? 1 : 0;
  long long v = 0;
  if (i == expr.size())
    return fail(ErrorCode::Invalid, fmt::format("failed to parse int from {}: strconv.Atoi: parsing \"{}\": invalid syntax", expr, expr));
  for (; i < expr.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(expr[i])))
      return fail(ErrorCode::Invalid, fmt::format("failed to parse int from {}: strconv.Atoi: parsing \"{}\": invalid syntax", expr, expr));
    v = std::min<long long>(v * 10 + (expr[i] - '0'), 1'000'000'000);
  }
  if (expr[0] == '-') return fail(ErrorCode::Invalid, fmt::format("negative number ({}) not allowed: {}", -v, expr));
  return static_cast<int>(v);
}

// One comma-separated piece: *, ?, N, N-M, with an optional /step.
Result<std::uint64_t> range_bits(const std::string& expr, const Bounds& b, bool& star) {
  const auto range_and_step = split(expr, '/');
  const auto low_and_high = split(range_and_step[0], '-');
  int start = 0, end = 0, step = 1;
  bool single = false;
  if (low_and_high[0] == "*" || low_and_high[0] == "?") {
    start = b.min;
    end = b.max;
    star = true;
  } else {
    auto lo = number_or_name(low_and_high[0], b);
    if (!lo) return fail(lo.error());
    start = *lo;
    if (low_and_high.size() == 1) {
      end = start;
      single = true;
    } else if (low_and_high.size() == 2) {
      auto hi = number_or_name(low_and_high[1], b);
      if (!hi) return fail(hi.error());
      end = *hi;
    } else {
      return fail(ErrorCode::Invalid, fmt::format("too many hyphens: {}", expr));
    }
  }
  if (range_and_step.size() == 2) {
    auto s = number_or_name(range_and_step[1], Bounds{0, 0});
    if (!s) return fail(s.error());
    step = *s;
    if (single) end = b.max;  // "N/step" means N-max/step
    if (step > 1) star = false;
  } else if (range_and_step.size() > 2) {
    return fail(ErrorCode::Invalid, fmt::format("too many slashes: {}", expr));
  }
  if (start < b.min) return fail(ErrorCode::Invalid, fmt::format("beginning of range ({}) below minimum ({}): {}", start, b.min, expr));
  if (end > b.max) return fail(ErrorCode::Invalid, fmt::format("end of range ({}) above maximum ({}): {}", end, b.max, expr));
  if (start > end) return fail(ErrorCode::Invalid, fmt::format("beginning of range ({}) beyond end of range ({}): {}", start, end, expr));
  if (step == 0) return fail(ErrorCode::Invalid, fmt::format("step of range should be a positive number: {}", expr));
  std::uint64_t bits = 0;
  for (int v = start; v <= end; v += step) bits |= std::uint64_t{1} << v;
  return bits;
}

Result<std::uint64_t> field_bits(const std::string& field, const Bounds& b, bool* star_out = nullptr) {
  std::uint64_t bits = 0;
  bool any_star = false;
  for (const auto& piece : split(field, ',')) {
    bool star = false;
    auto r = range_bits(piece, b, star);
    if (!r) return r;
    bits |= *r;
    any_star = any_star || star;
  }
  if (star_out) *star_out = any_star;
  return bits;
}

bool has(std::uint64_t bits, int v) { return (bits >> v) & 1U; }

// Go's time.ParseDuration for the @every forms cron jobs use ("1h30m", "90s", "5m").
std::optional<std::chrono::seconds> parse_go_duration(const std::string& s) {
  if (s.empty()) return std::nullopt;
  double total = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t j = i;
    while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
    if (j == i) return std::nullopt;
    const double v = std::stod(s.substr(i, j - i));
    std::size_t k = j;
    while (k < s.size() && std::isalpha(static_cast<unsigned char>(s[k]))) ++k;
    const std::string unit = s.substr(j, k - j);
    if (unit == "h")
      total += v * 3600;
    else if (unit == "m")
      total += v * 60;
    else if (unit == "s")
      total += v;
    else if (unit == "ms")
      total += v / 1000;
    else
      return std::nullopt;
    i = k;
  }
  return std::chrono::seconds(static_cast<long long>(total));
}

absl::TimeZone zone_or_utc(const std::string& name) {
  absl::TimeZone tz;
  if (name.empty() || !absl::LoadTimeZone(name, &tz)) return absl::UTCTimeZone();
  return tz;
}

}  // namespace

Result<CronSchedule> CronSchedule::parse(const std::string& spec_in) {
  std::string spec = spec_in;
  while (!spec.empty() && std::isspace(static_cast<unsigned char>(spec.front()))) spec.erase(spec.begin());
  if (spec.empty()) return fail(ErrorCode::Invalid, "empty spec string");
  CronSchedule s;
  if (spec[0] == '@') {
    static const std::array<std::pair<const char*, const char*>, 7> kMacros{{{"@yearly", "0 0 1 1 *"},
                                                                             {"@annually", "0 0 1 1 *"},
                                                                             {"@monthly", "0 0 1 * *"},
                                                                             {"@weekly", "0 0 * * 0"},
                                                                             {"@daily", "0 0 * * *"},
                                                                             {"@midnight", "0 0 * * *"},
                                                                             {"@hourly", "0 * * * *"}}};
    for (const auto& [name, expansion] : kMacros)
      if (spec == name) return parse(expansion);
    if (spec.starts_with("@every ")) {
      auto d = parse_go_duration(spec.substr(7));
      if (!d)
        return fail(ErrorCode::Invalid, fmt::format("failed to parse duration {}: time: invalid duration \"{}\"", spec, spec.substr(7)));
      s.every_ = std::max(*d, std::chrono::seconds(1));
      return s;
    }
    return fail(ErrorCode::Invalid, fmt::format("unrecognized descriptor: {}", spec));
  }
  const auto f = fields_of(spec);
  if (f.size() != 5) {
    std::string listed;
    for (std::size_t i = 0; i < f.size(); ++i) listed += (i ? " " : "") + f[i];
    return fail(ErrorCode::Invalid, fmt::format("expected exactly 5 fields, found {}: [{}]", f.size(), listed));
  }
  auto minute = field_bits(f[0], {0, 59});
  if (!minute) return fail(minute.error());
  auto hour = field_bits(f[1], {0, 23});
  if (!hour) return fail(hour.error());
  auto dom = field_bits(f[2], {1, 31}, &s.dom_star_);
  if (!dom) return fail(dom.error());
  auto month = field_bits(f[3], {1, 12, kMonthNames, 12});
  if (!month) return fail(month.error());
  auto dow = field_bits(f[4], {0, 6, kDowNames, 7}, &s.dow_star_);
  if (!dow) return fail(dow.error());
  s.minute_ = *minute;
  s.hour_ = *hour;
  s.dom_ = *dom;
  s.month_ = *month;
  s.dow_ = *dow;
  return s;
}

std::optional<CronSchedule::TimePoint> CronSchedule::next(TimePoint after, const std::string& time_zone) const {
  using std::chrono::duration_cast;
  if (every_) {
    // robfig: the next whole second after `after` plus the interval.
    const auto whole = std::chrono::time_point_cast<std::chrono::seconds>(after);
    return whole + *every_;
  }
  const absl::TimeZone tz = zone_or_utc(time_zone);
  const absl::Time abs_after = absl::FromChrono(after);
  // Start an hour early in wall time: an instant in a repeated hour may belong to an earlier
  // wall time than `after`'s.
  absl::CivilMinute c = absl::ToCivilMinute(abs_after, tz) - 60;
  const absl::CivilMinute limit = c + 60 * 24 * 366 * 5;
  std::optional<absl::Time> best;
  auto day_matches = [&](const absl::CivilDay& d) {
    const bool dom_ok = has(dom_, d.day());
    const bool dow_ok = has(dow_, static_cast<int>(absl::GetWeekday(d)) == 6 ? 0 : static_cast<int>(absl::GetWeekday(d)) + 1);
    return dom_star_ || dow_star_ ? dom_ok && dow_ok : dom_ok || dow_ok;
  };
  while (c < limit) {
    if (best && c > absl::ToCivilMinute(*best, tz) + 180) break;
    if (!has(month_, c.month())) {
      c = absl::CivilMinute(absl::CivilMonth(c) + 1);
      continue;
    }
    if (!day_matches(absl::CivilDay(c))) {
      c = absl::CivilMinute(absl::CivilDay(c) + 1);
      continue;
    }
    if (!has(hour_, c.hour())) {
      c = absl::CivilMinute(absl::CivilHour(c) + 1);
      continue;
    }
    if (!has(minute_, c.minute())) {
      c += 1;
      continue;
    }
    const auto info = tz.At(absl::CivilSecond(c));
    if (info.kind != absl::TimeZone::TimeInfo::SKIPPED) {
      for (absl::Time t : {info.pre, info.post})
        if (t > abs_after && (!best || t < *best)) best = t;
    }
    c += 1;
  }
  if (!best) return std::nullopt;
  return absl::ToChronoTime(*best);
}

Result<void> check_time_zone(const std::string& name) {
  absl::TimeZone tz;
  if (name.empty() || !absl::LoadTimeZone(name, &tz)) return fail(ErrorCode::Invalid, "unknown time zone " + name);
  return {};
}

}  // namespace switchyard::api
