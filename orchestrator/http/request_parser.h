// One HTTP/1.1 request parsed from bytes exactly as the server's connections parse it (Beast's
// parser, the header limit, the Content-Length check before the body, the body limit), without a
// socket: what the fuzz target of the API server's request path feeds.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "orchestrator/http/message.h"

namespace switchyard::http {

struct ParsedRequest {
  std::optional<Request> request;  // set when a whole request was read
  int error_status = 0;            // else what the server answers (400, 413, 431), 0: it waits for more bytes
  std::string error;
};

ParsedRequest parse_request(std::string_view bytes, std::size_t max_header_bytes, std::size_t max_body_bytes);

}  // namespace switchyard::http
