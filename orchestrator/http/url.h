// URL pieces the proxies need: a query string with repeated keys (exec's command=…&command=…),
// percent-encoding, and "http://127.0.0.1:41234/exec/token" split into its parts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchyard::http {

using QueryList = std::vector<std::pair<std::string, std::string>>;

// "a=1&b=x%2Fy&a=2&c" → {a 1, b x/y, a 2, c ""}; '+' is a space; a bad escape is kept as is.
QueryList parse_query(std::string_view query);
// The first value of `name`, or nothing.
std::optional<std::string> query_value(const QueryList& query, std::string_view name);
// Every value of `name`, in order.
std::vector<std::string> query_values(const QueryList& query, std::string_view name);
// "a b/c" → "a%20b%2Fc": everything but unreserved characters escaped.
std::string url_encode(std::string_view text);
// The query string of `query` ("a=1&b=2"), encoded.
std::string query_string(const QueryList& query);

struct Url {
  std::string scheme;  // "http" / "https"
  std::string host;    // without brackets
  std::uint16_t port = 0;
  std::string target;  // path and query, "/" at least
};
std::optional<Url> parse_url(std::string_view url);

}  // namespace switchyard::http
