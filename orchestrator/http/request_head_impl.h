// Inside the HTTP server: a request head from Beast's parser, shared by the connections and by
// parse_request so that both see the same request. Not part of the module's interface.
#pragma once

#include <boost/beast/http.hpp>

#include "orchestrator/http/message.h"

namespace switchyard::http {

inline RequestHead head_of(const boost::beast::http::request_parser<boost::beast::http::string_body>& parser) {
  const auto& message = parser.get();
  RequestHead head;
  head.method = std::string(message.method_string());
  head.target = std::string(message.target());
  head.version = static_cast<int>(message.version());
  for (const auto& field : message) head.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  if (auto length = parser.content_length()) head.content_length = *length;
  head.chunked = parser.chunked();
  return head;
}

}  // namespace switchyard::http
