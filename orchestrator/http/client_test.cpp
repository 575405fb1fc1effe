// The client against the server: keep-alive reuse, bodies, streams line by line, abort from
// another thread, timeouts, a stale keep-alive connection, and HTTPS with a verified CA.
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/http/client.h"
#include "orchestrator/http/http_test_support.h"
#include "orchestrator/http/server.h"

namespace switchyard::http {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::start;

std::unique_ptr<HttpClient> client_of(const HttpServer& server, HttpClientOptions o = {}) {
  o.server = (o.server.empty() ? "http://127.0.0.1:" : o.server) + std::to_string(server.port());
  auto c = HttpClient::create(std::move(o));
  EXPECT_TRUE(c) << c.error().describe();
  return c ? std::move(*c) : nullptr;
}

Response echo(Request& r) {
  Response out{200, "text/plain", r.method + " " + r.target + " " + r.body};
  out.headers.emplace_back("X-Authorization", std::string(r.header("authorization")));
  out.headers.emplace_back("X-Content-Type", std::string(r.header("content-type")));
  return out;
}

TEST(HttpClient, RequestsReuseOneKeepAliveConnection) {
  auto server = start({}, echo);
  auto client = client_of(*server, {.bearer_token = "t0ken"});
  auto a = client->get("/a");
  ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->body, "GET /a ");
  EXPECT_EQ(a->header("x-authorization"), "Bearer t0ken");
  auto b = client->send("PATCH", "/b", "{}", "application/merge-patch+json");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->body, "PATCH /b {}");
  EXPECT_EQ(b->header("X-Content-Type"), "application/merge-patch+json");
  auto c = client->request({.method = "BREW", .target = "/pot"});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->body, "BREW /pot ");
  EXPECT_EQ(server->connections(), 1u);
}

TEST(HttpClient, AStaleKeepAliveConnectionIsReplaced) {
  auto server = start({.idle_timeout = 100ms}, echo);
  auto client = client_of(*server);
  ASSERT_TRUE(client->get("/1"));
  std::this_thread::sleep_for(300ms);  // the server closed it meanwhile
  auto again = client->request({.method = "POST", .target = "/2", .body = "x", .content_type = "text/plain"});
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(again->body, "POST /2 x");
}

TEST(HttpClient, FailuresAreErrorsThatSayWhat) {
  auto server = start({.handler_threads = 2}, [](Request& r) {
    if (r.target == "/slow") std::this_thread::sleep_for(500ms);
    return Response{200, "text/plain", std::string(r.target == "/big" ? 5000 : 1, 'b')};
  });
  auto client = client_of(*server, {.request_timeout = 100ms, .max_response_bytes = 1000});
  auto slow = client->get("/slow");
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error().code, ErrorCode::Timeout);
  EXPECT_THAT(slow.error().message, HasSubstr("GET http://127.0.0.1:"));
  auto big = client->get("/big");
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, ErrorCode::TooLarge);
  const auto port = server->port();
  server->stop();
  auto refused = HttpClient::create({.server = "http://127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(refused);
  auto r = (*refused)->get("/");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Unavailable);
  EXPECT_THAT(r.error().message, HasSubstr("connect"));
  EXPECT_FALSE(HttpClient::create({.server = "ftp://x"}));
}

// A process out of file descriptors (an API server with thousands of etcd watches) gets an error
// for a request that needs a new connection, not an exception that ends it; once descriptors are
// free again the same client works.
TEST(HttpClient, NoFileDescriptorLeftIsAnErrorNotTheProcesssEnd) {
  auto server = start({.handler_threads = 2}, echo);
  auto client = client_of(*server);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = 512;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  Result<ClientResponse> r = fail(Error{ErrorCode::Internal, "not sent"});
  {
    struct Taken {  // every descriptor below the limit, given back however the request ends
      std::vector<int> fds;
      rlimit saved;
      ~Taken() {
        for (int fd : fds) ::close(fd);
        ::setrlimit(RLIMIT_NOFILE, &saved);
      }
    } taken{{}, saved};
    for (int fd; (fd = ::dup(0)) >= 0;) taken.fds.push_back(fd);
    r = client->get("/x");
  }
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Unavailable);
  EXPECT_THAT(r.error().message, HasSubstr("Too many open files"));
  auto again = client->get("/y");
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(again->body, "GET /y ");
}

TEST(HttpClient, StreamsLinesAsTheyComeAndAbortsFromAnotherThread) {
  auto server = start({}, [&](Request& request) {
    Response r{200, "application/json"};
    const bool endless = request.target == "/watch";
    r.stream = [endless](std::shared_ptr<ResponseStream> s) {
      s->write("{\"n\":1}\n{\"n\"");  // a line split across chunks
      s->write(":2}\n");
      if (!endless) s->write("{\"n\":3}");  // the last line has no newline
      if (!endless) s->finish();
      // An endless stream lives on in its callbacks until the client goes.
      else
        s->every(1s, [s] {});
    };
    return r;
  });
  auto client = client_of(*server);
  std::vector<std::string> lines;
  std::atomic<bool> got_two{false};
  std::thread aborter([&] {
    while (!got_two) std::this_thread::sleep_for(5ms);
    client->abort();
  });
  int head_status = 0;
  LineSplitter splitter;
  auto status = client->stream(
      {.target = "/watch"},
      [&](int s, const Headers& h) {
        head_status = s;
        EXPECT_EQ(find_header(h, "transfer-encoding"), "chunked");
        return true;
      },
      [&](std::string_view data) {
        splitter.feed(data, [&](const std::string& line) {
          lines.push_back(line);
          return true;
        });
        if (lines.size() == 2) got_two = true;
        return true;
      });
  aborter.join();
  EXPECT_EQ(head_status, 200);
  ASSERT_FALSE(status);
  EXPECT_THAT(status.error().message, HasSubstr("aborted"));
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"n\":1}", "{\"n\":2}"}));
  // A stream that ends: every line, the last one without its newline, and the status.
  std::vector<std::string> all;
  auto ended = client->stream_lines({.target = "/short"}, [&](const std::string& line) {
    all.push_back(line);
    return true;
  });
  ASSERT_TRUE(ended) << ended.error().describe();
  EXPECT_EQ(*ended, 200);
  EXPECT_EQ(all, (std::vector<std::string>{"{\"n\":1}", "{\"n\":2}", "{\"n\":3}"}));
}

TEST(HttpClient, HttpsVerifiesTheServerAgainstTheCa) {
  const auto dir = std::filesystem::temp_directory_path() / ("sy-http-client-tls-" + std::to_string(::getpid()));
  const auto cert = testing::make_certificate(dir);
  const auto other = testing::make_certificate(dir / "other");
  ASSERT_FALSE(cert.cert_pem.empty());
  auto server = start({.tls_cert_file = cert.cert, .tls_key_file = cert.key}, echo);
  auto client = client_of(*server, {.server = "https://127.0.0.1:", .ca_pem = cert.cert_pem, .bearer_token = "abc"});
  auto r = client->get("/secure");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->body, "GET /secure ");
  EXPECT_EQ(r->header("x-authorization"), "Bearer abc");
  ASSERT_TRUE(client->get("/again"));
  EXPECT_EQ(server->connections(), 1u);
  auto wrong = client_of(*server, {.server = "https://127.0.0.1:", .ca_pem = other.cert_pem});
  auto refused = wrong->get("/secure");
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("certificate verify failed"));
  EXPECT_FALSE(HttpClient::create({.server = "https://127.0.0.1:1", .ca_pem = "not a certificate"}));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace switchyard::http
