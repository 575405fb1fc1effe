// Internal to the protobuf codec: the text forms JSON uses for values protobuf carries as
// numbers or bytes (RFC 3339 times, Go durations, base64), and the checks that keep what a
// protobuf body holds representable as JSON (UTF-8 strings, bounded nesting).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard::api::protobuf::values {

// "2006-01-02T15:04:05Z" (micro: "2006-01-02T15:04:05.000000Z"), in UTC; nullopt outside years 0–9999.
std::optional<std::string> format_time(std::int64_t seconds, std::int32_t nanos, bool micro);
// RFC 3339 with any offset and optional fraction, to Unix seconds and nanoseconds.
bool parse_time(std::string_view text, std::int64_t& seconds, std::int32_t& nanos);

// Go's time.Duration text ("1h0m0s", "1.5s", "300ms") and back.
std::string format_duration(std::int64_t nanoseconds);
bool parse_duration(std::string_view text, std::int64_t& nanoseconds);

std::string base64_encode(std::string_view bytes);
bool base64_decode(std::string_view text, std::string& out);

bool valid_utf8(std::string_view s);
// The deepest nesting of arrays and objects in JSON text (strings skipped), to refuse parsing
// what would recurse too far.
std::size_t json_text_depth(std::string_view text);

}  // namespace switchyard::api::protobuf::values
