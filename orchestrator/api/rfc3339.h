// Time stamps as Go's time.Parse(time.RFC3339, s) reads them: 2006-01-02T15:04:05Z07:00, with an
// optional fraction of a second, the zone Z or ±hh:mm, nothing else around it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace switchyard::api {

// Seconds since the epoch (the fraction dropped); nullopt when `s` is not RFC 3339.
std::optional<long long> parse_rfc3339_seconds(std::string_view s);

// Now as metav1.MicroTime writes it: RFC 3339 in UTC with microseconds ("2026-12-07T01:02:03.000004Z").
std::string micro_time_now();

}  // namespace switchyard::api
