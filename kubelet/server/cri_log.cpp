#include "kubelet/server/cri_log.h"

#include <charconv>

namespace switchyard::kubelet::server {

namespace {

std::optional<int> digits(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size()) return std::nullopt;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339_ns(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
  auto year = digits(t, 0, 4), month = digits(t, 5, 2), day = digits(t, 8, 2);
  auto hour = digits(t, 11, 2), minute = digits(t, 14, 2), second = digits(t, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') ||
      t[13] != ':' || t[16] != ':')
    return std::nullopt;
  std::size_t at = 19;
  std::int64_t frac = 0;
  if (at < t.size() && t[at] == '.') {
    ++at;
    int n = 0;
    while (at < t.size() && t[at] >= '0' && t[at] <= '9') {
      if (n < 9) frac = frac * 10 + (t[at] - '0'), ++n;
      ++at;
    }
    if (n == 0) return std::nullopt;
    for (; n < 9; ++n) frac *= 10;
  }
  std::int64_t offset_s = 0;
  if (at < t.size() && (t[at] == 'Z' || t[at] == 'z')) {
    ++at;
  } else if (at < t.size() && (t[at] == '+' || t[at] == '-')) {
    auto oh = digits(t, at + 1, 2), om = digits(t, at + 4, 2);
    if (!oh || !om || t[at + 3] != ':') return std::nullopt;
    offset_s = (*oh * 3600 + *om * 60) * (t[at] == '+' ? 1 : -1);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != t.size()) return std::nullopt;
  const std::int64_t seconds = days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day)) * 86400 + *hour * 3600 +
                               *minute * 60 + *second - offset_s;
  return seconds * 1'000'000'000 + frac;
}

std::optional<CriLogEntry> parse_cri_log_line(std::string_view line) {
  CriLogEntry e;
  auto space = line.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  e.time = line.substr(0, space);
  line.remove_prefix(space + 1);
  space = line.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  e.stream = line.substr(0, space);
  if (e.stream != "stdout" && e.stream != "stderr") return std::nullopt;
  line.remove_prefix(space + 1);
  // Tags: "P" or "F", possibly followed by ":"-separated others; the text may be empty.
  space = line.find(' ');
  const std::string_view tags = line.substr(0, space);
  const std::string_view first = tags.substr(0, tags.find(':'));
  if (first != "P" && first != "F") return std::nullopt;
  e.partial = first == "P";
  e.text = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  return e;
}

std::size_t tail_offset(std::string_view content, std::int64_t lines) {
  if (lines < 0) return 0;  // -1: all of it
  if (lines == 0) return content.size();
  std::size_t end = content.size();
  // A final newline ends the last line; it does not start another.
  if (end > 0 && content[end - 1] == '\n') --end;
  std::int64_t found = 0;
  while (end > 0) {
    const auto nl = content.rfind('\n', end - 1);
    if (nl == std::string_view::npos) return 0;
    if (++found == lines) return nl + 1;
    end = nl;
  }
  return 0;
}

bool CriLogFormatter::feed(std::string_view data, std::string& out) {
  if (limit_reached_) return false;
  while (!data.empty() && !limit_reached_) {
    const auto nl = data.find('\n');
    if (nl == std::string_view::npos) {
      carry_.append(data);
      break;
    }
    if (carry_.empty()) {
      emit_line(data.substr(0, nl), out);
    } else {
      carry_.append(data.substr(0, nl));
      emit_line(carry_, out);
      carry_.clear();
    }
    data.remove_prefix(nl + 1);
  }
  return !limit_reached_;
}

void CriLogFormatter::emit_line(std::string_view line, std::string& out) {
  auto entry = parse_cri_log_line(line);
  if (!entry) return;  // as the kubelet: a line not in the format is skipped
  if (options_.since_ns) {
    auto at = parse_rfc3339_ns(entry->time);
    if (at && *at < *options_.since_ns) return;
  }
  std::string piece;
  if (options_.timestamps) piece.append(entry->time).push_back(' ');
  piece.append(entry->text);
  if (!entry->partial) piece.push_back('\n');
  if (options_.limit_bytes) {
    const std::int64_t room = *options_.limit_bytes - written_;
    if (static_cast<std::int64_t>(piece.size()) >= room) {
      out.append(piece, 0, static_cast<std::size_t>(std::max<std::int64_t>(room, 0)));
      written_ = *options_.limit_bytes;
      limit_reached_ = true;
      return;
    }
  }
  written_ += static_cast<std::int64_t>(piece.size());
  out += piece;
}

}  // namespace switchyard::kubelet::server
