// The server's limits as a hostile or careless client meets them: timeouts, the connection cap,
// header and body limits answered before the body is read, the head check, and streams that
// end when the client goes or the server stops.
#include <fcntl.h>
#include <sys/resource.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/http/http_test_support.h"
#include "orchestrator/http/server.h"

namespace switchyard::http {
namespace {

using namespace std::chrono_literals;
using namespace switchyard::http::testing;
using ::testing::HasSubstr;

Response echo(Request& r) { return Response{200, "text/plain", r.method + " " + r.target + " " + r.body}; }

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit = 3s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(HttpServer, AnswersAndKeepsConnectionsAlive) {
  auto server = start({}, echo);
  const int fd = connect_loopback(server->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "POST /a?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
  EXPECT_THAT(read_until(fd, "hello"), HasSubstr("POST /a?x=1 hello"));
  ASSERT_TRUE(send_all(fd, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_THAT(read_until(fd, "GET /b"), HasSubstr("HTTP/1.1 200 OK"));
  ASSERT_TRUE(send_all(fd, "HEAD /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string head = read_all(fd);
  EXPECT_THAT(head, HasSubstr("Content-Length: 8\r\n"));  // "HEAD /c "
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;        // no body
  ::close(fd);
  EXPECT_EQ(status_of(exchange(server->port(), "NOT HTTP AT ALL\r\n\r\n")), 400);
}

TEST(HttpServer, BodyOverTheLimitIs413BeforeTheBodyIsRead) {
  std::atomic<int> calls{0};
  auto server = start({.max_body_bytes = 1000}, [&](Request& r) {
    ++calls;
    return echo(r);
  });
  // The head announces 10 MB and no byte of it is sent: the answer comes anyway.
  const int fd = connect_loopback(server->port());
  ASSERT_TRUE(send_all(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"));
  const std::string reply = read_until(fd, "\r\n\r\n");
  EXPECT_EQ(status_of(reply), 413) << reply;
  ::close(fd);
  // A chunked body is cut at the limit.
  std::string chunked = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) chunked += "190\r\n" + std::string(400, 'x') + "\r\n";
  chunked += "0\r\n\r\n";
  EXPECT_EQ(status_of(exchange(server->port(), chunked)), 413);
  // At the limit it is served.
  EXPECT_EQ(status_of(exchange(server->port(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'y'))),
            200);
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServer, ABigBodySentAnywayStillGetsThe413) {
  // The client writes all of it before it reads: the server drops it and the answer survives.
  auto server = start({.max_body_bytes = 1000}, echo);
  const std::string reply =
      exchange(server->port(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n" + std::string(4000000, 'z'));
  EXPECT_EQ(status_of(reply), 413) << reply.substr(0, 200);
}

TEST(HttpServer, HeadersOverTheLimitAre431) {
  auto server = start({.max_header_bytes = 4096}, echo);
  EXPECT_EQ(status_of(exchange(server->port(), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n")), 431);
  EXPECT_EQ(status_of(exchange(server->port(), "GET / HTTP/1.1\r\nHost: x\r\nX-Small: a\r\n\r\n")), 200);
}

TEST(HttpServer, TheHeadCheckAnswersBeforeTheBody) {
  std::atomic<int> calls{0};
  HttpServerOptions o;
  o.check_head = [](const RequestHead& head) -> std::optional<Response> {
    if (head.header("authorization") == "Bearer good") return std::nullopt;
    return Response{401, "application/json", R"({"reason":"Unauthorized"})"};
  };
  o.error_response = [](int status, const std::string& message) {
    return Response{status, "application/json", "{\"message\":\"" + message + "\"}"};
  };
  auto server = start(o, [&](Request& r) {
    ++calls;
    return echo(r);
  });
  const int fd = connect_loopback(server->port());
  ASSERT_TRUE(send_all(fd, "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3000000\r\n\r\n"));
  const std::string reply = read_until(fd, "Unauthorized");
  EXPECT_EQ(status_of(reply), 401);
  EXPECT_THAT(reply, HasSubstr("Connection: close"));
  ::close(fd);
  EXPECT_EQ(status_of(exchange(server->port(), "PUT / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\nContent-Length: 2\r\n\r\nok")),
            200);
  EXPECT_THAT(exchange(server->port(), "garbage\r\n\r\n"), HasSubstr("{\"message\":\"malformed HTTP request"));
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServer, ConnectionsOverTheCapAreClosedAtOnce) {
  auto server = start({.max_connections = 2}, echo);
  const int a = connect_loopback(server->port()), b = connect_loopback(server->port());
  ASSERT_TRUE(wait_for([&] { return server->connections() == 2; }));
  const int c = connect_loopback(server->port(), 2000);
  const auto t0 = std::chrono::steady_clock::now();
  bool closed = false;
  read_all(c, &closed);
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  ::close(c);
  ::close(a);
  ASSERT_TRUE(wait_for([&] { return server->connections() == 1; }));
  EXPECT_EQ(status_of(exchange(server->port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")), 200);
  ::close(b);
}

TEST(HttpServer, SilentAndIdleConnectionsAreClosedOnTime) {
  auto server = start({.header_timeout = 300ms, .idle_timeout = 300ms}, echo);
  // Never a byte.
  const int silent = connect_loopback(server->port());
  // Half a head.
  const int slow = connect_loopback(server->port());
  send_all(slow, "GET / HTTP/1.1\r\nHo");
  // One request, then nothing (keep-alive).
  const int idle = connect_loopback(server->port());
  send_all(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(read_until(idle, "GET /"), HasSubstr("200 OK"));
  const auto t0 = std::chrono::steady_clock::now();
  for (int fd : {silent, slow, idle}) {
    bool closed = false;
    read_all(fd, &closed);
    EXPECT_TRUE(closed);
    ::close(fd);
  }
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(wait_for([&] { return server->connections() == 0; }));
}

// A stream the test writes to from its own thread.
struct StreamProbe {
  std::mutex mu;
  std::condition_variable cv;
  std::shared_ptr<ResponseStream> stream;
  std::atomic<int> ended{0};
  Handler handler() {
    return [this](Request&) {
      Response r{200, "application/json"};
      r.stream = [this](std::shared_ptr<ResponseStream> s) {
        s->on_end([this] { ++ended; });
        std::lock_guard lock(mu);
        stream = std::move(s);
        cv.notify_all();
      };
      return r;
    };
  }
  std::shared_ptr<ResponseStream> wait() {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 3s, [&] { return stream != nullptr; });
    return stream;
  }
};

TEST(HttpServer, StreamsChunksWrittenFromAnotherThread) {
  StreamProbe probe;
  auto server = start({.handler_threads = 1}, probe.handler());
  const int fd = connect_loopback(server->port());
  send_all(fd, "GET /watch HTTP/1.1\r\nHost: x\r\n\r\n");
  auto stream = probe.wait();
  ASSERT_TRUE(stream);
  std::thread writer([&] {
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(stream->write("{\"event\":" + std::to_string(i) + "}\n"));
  });
  writer.join();
  EXPECT_THAT(read_until(fd, "{\"event\":2}"), HasSubstr("Transfer-Encoding: chunked"));
  stream->finish();
  EXPECT_FALSE(stream->write("late"));
  bool closed = false;
  EXPECT_EQ(read_all(fd, &closed), "0\r\n\r\n");
  EXPECT_TRUE(closed);
  ::close(fd);
  EXPECT_TRUE(wait_for([&] { return probe.ended == 1; }));
}

TEST(HttpServer, AStreamEndsWhenTheClientGoes) {
  StreamProbe probe;
  auto server = start({}, probe.handler());
  const int fd = connect_loopback(server->port());
  send_all(fd, "GET /watch HTTP/1.1\r\nHost: x\r\n\r\n");
  auto stream = probe.wait();
  ASSERT_TRUE(stream);
  std::atomic<int> ticks{0};
  stream->every(10ms, [&] { ++ticks; });
  EXPECT_TRUE(wait_for([&] { return ticks > 2; }));
  ::close(fd);
  EXPECT_TRUE(wait_for([&] { return probe.ended == 1; }));
  EXPECT_FALSE(stream->open());
  EXPECT_FALSE(stream->write("x"));
  const int after = ticks;
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(ticks.load(), after);
}

TEST(HttpServer, AStreamEndsWhenTheServerStops) {
  StreamProbe probe;
  auto server = start({}, probe.handler());
  const int fd = connect_loopback(server->port());
  send_all(fd, "GET /watch HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(probe.wait());
  server->stop();
  EXPECT_EQ(probe.ended.load(), 1);  // before stop() returned
  bool closed = false;
  read_all(fd, &closed);
  EXPECT_TRUE(closed);
  ::close(fd);
}

TEST(HttpServer, AClientThatDoesNotReadIsCutOffNotBuffered) {
  StreamProbe probe;
  auto server = start({.max_stream_buffer_bytes = 1 << 20}, probe.handler());
  const int fd = connect_loopback(server->port());
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  send_all(fd, "GET /watch HTTP/1.1\r\nHost: x\r\n\r\n");
  auto stream = probe.wait();
  ASSERT_TRUE(stream);
  const std::string block(64 * 1024, 'e');
  int written = 0;
  while (stream->write(block) && written < 10'000) ++written;
  EXPECT_LT(written, 10'000);  // 640 MB would have been queued otherwise
  EXPECT_TRUE(wait_for([&] { return probe.ended == 1; }));
  ::close(fd);
}

TEST(HttpServer, ListenersOpenAndCloseWhileRunning) {
  auto server = HttpServer::start({.name = "multi"}, [](Request& r) { return Response{200, "text/plain", std::to_string(r.local_port)}; });
  ASSERT_TRUE(server);
  EXPECT_EQ((*server)->port(), 0);
  auto a = (*server)->listen("127.0.0.1:0");
  auto b = (*server)->listen("127.0.0.1:0");
  ASSERT_TRUE(a && b);
  EXPECT_THAT(exchange(*b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), HasSubstr("\r\n\r\n" + std::to_string(*b)));
  (*server)->close_listener(*a);
  EXPECT_LT(connect_loopback(*a), 0);  // refused
  EXPECT_EQ(status_of(exchange(*b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")), 200);
  auto taken = (*server)->listen("127.0.0.1:" + std::to_string(*b));
  ASSERT_FALSE(taken);
  EXPECT_THAT(taken.error().message, HasSubstr("listen 127.0.0.1:" + std::to_string(*b)));
  EXPECT_THAT(parse_listen_address("localhost:80").error().message, HasSubstr("not an IP address"));
}

TEST(HttpServer, AcceptErrorsBackOffInsteadOfSpinning) {
  auto server = start({}, echo);
  rlimit old{};
  ::getrlimit(RLIMIT_NOFILE, &old);
  // Leave no descriptor for the server's accept: each client below takes the last ones.
  std::vector<int> held;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY)) >= 0 && held.size() < 100'000;) held.push_back(fd);
  rlimit tight{static_cast<rlim_t>(held.back() + 1), old.rlim_max};
  ::setrlimit(RLIMIT_NOFILE, &tight);
  ::close(held.back());
  held.pop_back();
  const int client = connect_loopback(server->port(), 500);  // takes the last descriptor; the server gets EMFILE
  ASSERT_GE(client, 0);
  rusage before{}, after{};
  ::getrusage(RUSAGE_SELF, &before);
  std::this_thread::sleep_for(500ms);
  ::getrusage(RUSAGE_SELF, &after);
  auto cpu_ms = [](const rusage& u) {
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000.0 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000.0;
  };
  EXPECT_LT(cpu_ms(after) - cpu_ms(before), 150.0) << "the accept loop spins";
  for (int fd : held) ::close(fd);
  ::setrlimit(RLIMIT_NOFILE, &old);
  // Descriptors again: the connection waiting in the backlog is served.
  send_all(client, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  timeval tv{3, 0};
  ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_EQ(status_of(read_all(client)), 200);
  ::close(client);
}

TEST(HttpServer, ServesTlsAndTimesOutSilentHandshakes) {
  const auto dir = std::filesystem::temp_directory_path() / ("sy-http-tls-" + std::to_string(::getpid()));
  const auto cert = make_certificate(dir);
  ASSERT_FALSE(cert.cert_pem.empty()) << "openssl could not make a certificate";
  auto server = start({.tls_cert_file = cert.cert, .tls_key_file = cert.key, .tls_handshake_timeout = 300ms}, echo);
  const std::string curl =
      "curl -sS --max-time 5 --cacert " + cert.cert.string() + " https://127.0.0.1:" + std::to_string(server->port()) + "/tls";
  FILE* p = ::popen(curl.c_str(), "r");
  char buf[256] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, p);
  ::pclose(p);
  EXPECT_EQ(std::string(buf, n), "GET /tls ");
  const int silent = connect_loopback(server->port());
  bool closed = false;
  const auto t0 = std::chrono::steady_clock::now();
  read_all(silent, &closed);
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  ::close(silent);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace switchyard::http
