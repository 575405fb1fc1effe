#include "orchestrator/http/request_parser.h"

#include <cstdint>
#include <limits>

#include <fmt/format.h>
#include <boost/asio/buffer.hpp>

#include "orchestrator/http/request_head_impl.h"

namespace switchyard::http {

namespace bhttp = boost::beast::http;

ParsedRequest parse_request(std::string_view bytes, std::size_t max_header_bytes, std::size_t max_body_bytes) {
  ParsedRequest out;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.eager(false);  // stop after the head: its Content-Length is checked before any body is parsed
  parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(max_header_bytes, UINT32_MAX)));
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // checked once the head is in, as the server does
  boost::system::error_code ec;
  bool head_checked = false;
  while (!parser.is_done()) {
    std::size_t used = 0;
    if (bytes.empty()) {
      parser.put_eof(ec);  // the client closed: the server drops the connection without an answer
      if (!ec && parser.is_done()) break;
      return out;
    }
    used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    bytes.remove_prefix(used);
    if (ec == bhttp::error::need_more) {
      if (used == 0) return out;  // needs bytes that never come: the server's timeout ends it
      ec = {};
    }
    if (ec == bhttp::error::header_limit) return {std::nullopt, 431, "request header fields too large"};
    if (ec == bhttp::error::body_limit) return {std::nullopt, 413, "request body over the limit"};
    if (ec) return {std::nullopt, 400, fmt::format("malformed HTTP request: {}", ec.message())};
    if (parser.is_header_done() && !head_checked) {
      head_checked = true;
      if (auto length = parser.content_length(); length && *length > max_body_bytes)
        return {std::nullopt, 413, "request body over the limit"};
      parser.body_limit(max_body_bytes);
      parser.eager(true);
    }
  }
  Request request;
  static_cast<RequestHead&>(request) = head_of(parser);
  request.body = std::move(parser.get().body());
  out.request = std::move(request);
  return out;
}

}  // namespace switchyard::http
