// A request's query string, read as kube-apiserver reads it: percent-escapes decoded (a bad
// one is the client's error, 400), booleans as its parameter codec converts them, integers
// checked rather than read as 0.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "orchestrator/base/error.h"

namespace switchyard::apiserver {

using QueryParams = std::map<std::string, std::string>;

// "a=1&b=x%2Fy&c" → {a: 1, b: x/y, c: ""}; '+' is a space. Invalid on a malformed escape.
Result<QueryParams> parse_query_string(std::string_view query);

// As apimachinery's Convert_Slice_string_To_bool: absent, "0" and "false" (any case) are false,
// every other value, the empty one included ("?watch"), is true.
bool query_flag(const QueryParams& query, const std::string& name);

// Absent: nullopt. Present: a base-10 integer, or Invalid naming the parameter.
Result<std::optional<std::int64_t>> query_integer(const QueryParams& query, const std::string& name);

}  // namespace switchyard::apiserver
