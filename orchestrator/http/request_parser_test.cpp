// parse_request: the bytes of one request give what a connection would hand the handler, or the
// status it would answer (the fuzz target of the API server's request path relies on both).
#include "orchestrator/http/request_parser.h"

#include <gtest/gtest.h>

namespace switchyard::http {
namespace {

TEST(ParseRequest, AWholeRequestWithAChunkedBody) {
  auto p = parse_request(
      "POST /api/v1/namespaces/default/configmaps?fieldManager=x HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n",
      1 << 20, 1 << 20);
  ASSERT_TRUE(p.request) << p.error;
  EXPECT_EQ(p.request->method, "POST");
  EXPECT_EQ(p.request->target, "/api/v1/namespaces/default/configmaps?fieldManager=x");
  EXPECT_EQ(p.request->header("content-type"), "application/json");
  EXPECT_TRUE(p.request->chunked);
  EXPECT_EQ(p.request->body, "{\"a\":1}");
}

TEST(ParseRequest, LimitsAndMalformedInputAreTheServersAnswers) {
  EXPECT_EQ(parse_request("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world", 1 << 20, 10).error_status, 413);
  EXPECT_EQ(parse_request("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n0\r\n\r\n", 1 << 20, 10).error_status,
            413);
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nX: " + std::string(200, 'a') + "\r\n\r\n", 100, 10).error_status, 431);
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nBad Header\r\n\r\n", 1 << 20, 10).error_status, 400);
  // Incomplete: the server would wait (and time out), no answer and no request.
  auto partial = parse_request("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", 1 << 20, 10);
  EXPECT_FALSE(partial.request);
  EXPECT_EQ(partial.error_status, 0);
  EXPECT_FALSE(parse_request("GET / HTTP/1.1\r\nHost: h\r\n", 1 << 20, 10).request);
  auto get = parse_request("GET /version HTTP/1.0\r\n\r\n", 1 << 20, 10);
  ASSERT_TRUE(get.request);
  EXPECT_EQ(get.request->version, 10);
}

}  // namespace
}  // namespace switchyard::http
