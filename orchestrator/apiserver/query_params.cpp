#include "orchestrator/apiserver/query_params.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace switchyard::apiserver {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] != '%') {
      out += s[i];
    } else {
      const int hi = i + 1 < s.size() ? hex_value(s[i + 1]) : -1, lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      // Go's url.ParseQuery names the escape it could not read.
      if (hi < 0 || lo < 0) return fail(ErrorCode::Invalid, fmt::format("invalid URL escape \"{}\"", s.substr(i, 3)));
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
  }
  return out;
}

}  // namespace

Result<QueryParams> parse_query_string(std::string_view q) {
  QueryParams out;
  while (!q.empty()) {
    const auto amp = q.find('&');
    const auto pair = q.substr(0, amp);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      auto key = unescape(pair.substr(0, eq));
      if (!key) return fail(key.error());
      auto value = unescape(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
      if (!value) return fail(value.error());
      out.try_emplace(std::move(*key), std::move(*value));  // the first of repeated keys, as Go's Get
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

bool query_flag(const QueryParams& query, const std::string& name) {
  const auto it = query.find(name);
  if (it == query.end()) return false;
  std::string lower = it->second;
  std::ranges::transform(lower, lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower != "0" && lower != "false";
}

Result<std::optional<std::int64_t>> query_integer(const QueryParams& query, const std::string& name) {
  const auto it = query.find(name);
  if (it == query.end()) return std::optional<std::int64_t>();
  const std::string& text = it->second;
  std::int64_t value = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size())
    return fail(ErrorCode::Invalid, fmt::format("{}: invalid integer \"{}\"", name, text));
  return std::optional<std::int64_t>(value);
}

}  // namespace switchyard::apiserver
