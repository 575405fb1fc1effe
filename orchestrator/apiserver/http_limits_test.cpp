// The API server against clients that hold connections and send nothing, or send too much: a
// thousand silent connections cost no thread and little memory, a normal client is still
// answered at once, and the silent ones are closed when the handshake/header timeout is up;
// an unauthenticated or oversized body is answered before a byte of it is read.
#include <poll.h>
#include <sys/resource.h>

#include <dirent.h>

#include <fstream>
#include <iostream>

#include <fmt/format.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/http/http_test_support.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::apiserver {
namespace {

using namespace std::chrono_literals;
using namespace switchyard::http::testing;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

int thread_count() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/task");
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

long rss_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  return -1;
}

class ApiServerLimits : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 8192);
    ::setrlimit(RLIMIT_NOFILE, &limit);
    auto s = store::SqliteStore::open((dir_.path() / "store.db").string());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    registry_ = std::make_unique<ObjectRegistry>(*store_, api::ClusterNetworkConfig{});
    handler_ = std::make_unique<ApiHandler>(*registry_, "s3cret");
    HttpServerOptions o{"127.0.0.1:0", "", ""};
    if (tls()) {
      cert_ = make_certificate(dir_.path() / "tls");
      ASSERT_FALSE(cert_.cert_pem.empty()) << "openssl could not make a certificate";
      o.tls_cert_file = cert_.cert.string();
      o.tls_key_file = cert_.key.string();
    }
    o.transport.tls_handshake_timeout = kTimeout;
    o.transport.header_timeout = kTimeout;
    auto server = HttpServer::start(*handler_, o);
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
  }
  bool tls() const { return GetParam(); }

  // GET /api/v1/namespaces as kubectl would send it (curl for TLS).
  int list_namespaces() {
    if (tls()) {
      const std::string cmd = "curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert " + cert_.cert.string() +
                              " -H 'Authorization: Bearer s3cret' https://127.0.0.1:" + std::to_string(server_->port()) +
                              "/api/v1/namespaces";
      FILE* p = ::popen(cmd.c_str(), "r");
      char buf[16] = {};
      std::fread(buf, 1, sizeof buf - 1, p);
      ::pclose(p);
      return std::atoi(buf);
    }
    return status_of(
        http::testing::exchange(static_cast<std::uint16_t>(server_->port()),
                                "GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nConnection: close\r\n\r\n"));
  }

  static constexpr auto kTimeout = 1500ms;
  store::testing::TempDir dir_;
  TestCertificate cert_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<ObjectRegistry> registry_;
  std::unique_ptr<ApiHandler> handler_;
  std::unique_ptr<HttpServer> server_;
};

TEST_P(ApiServerLimits, AThousandSilentConnectionsCostNoThreadsAndAreClosedOnTime) {
  ASSERT_EQ(list_namespaces(), 200);  // warm: the handler threads have run once
  const int threads_before = thread_count();
  const long rss_before = rss_kib();
  constexpr int kSilent = 1000;
  std::vector<int> fds;
  const auto opened_at = Clock::now();
  for (int i = 0; i < kSilent; ++i) {
    const int fd = connect_loopback(static_cast<std::uint16_t>(server_->port()));
    ASSERT_GE(fd, 0) << "connection " << i;
    fds.push_back(fd);
  }
  const auto all_open = Clock::now();
  for (int i = 0; i < 200 && server_->connections() < kSilent; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(server_->connections(), static_cast<std::size_t>(kSilent));
  const int threads_with = thread_count();
  const long rss_with = rss_kib();

  // A normal client is answered while they sit there.
  const auto asked = Clock::now();
  EXPECT_EQ(list_namespaces(), 200);
  const auto answer_ms = std::chrono::duration<double, std::milli>(Clock::now() - asked).count();

  // The server closes them when the timeout is up: every read ends (EOF or reset).
  std::vector<pollfd> polls;
  for (int fd : fds) polls.push_back({fd, POLLIN | POLLRDHUP, 0});
  int closed = 0;
  Clock::time_point first_close{}, last_close{};
  while (closed < kSilent && Clock::now() - all_open < kTimeout + 5s) {
    if (::poll(polls.data(), polls.size(), 100) <= 0) continue;
    for (auto& p : polls) {
      if (p.fd < 0 || p.revents == 0) continue;
      char byte;
      const ssize_t n = ::recv(p.fd, &byte, 1, MSG_DONTWAIT);
      if (n > 0) continue;  // nothing is expected, but it is not a close
      if (closed++ == 0) first_close = Clock::now();
      last_close = Clock::now();
      p.fd = -1;
    }
  }
  for (int fd : fds) ::close(fd);
  const auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  std::cout << fmt::format(
      "{}: {} silent connections: threads {} -> {}, RSS {:.1f} -> {:.1f} MiB; a normal request answered in {:.1f} ms; "
      "closed by the server {:.0f}..{:.0f} ms after they were opened (timeout {} ms, opening took {:.0f} ms)\n",
      tls() ? "TLS" : "plain", kSilent, threads_before, threads_with, rss_before / 1024.0, rss_with / 1024.0, answer_ms,
      ms(first_close - opened_at), ms(last_close - opened_at), kTimeout.count(), ms(all_open - opened_at));
  EXPECT_EQ(closed, kSilent);
  EXPECT_EQ(threads_with, threads_before) << "a thread per connection";
  EXPECT_LT(threads_with, 20);
  EXPECT_LT(rss_with - rss_before, 32 * 1024) << "KiB for " << kSilent << " idle connections";
  EXPECT_LT(answer_ms, 1000.0);
  EXPECT_GE(first_close - all_open, kTimeout - 300ms) << "closed before the timeout";
  EXPECT_LE(last_close - opened_at, kTimeout + 2s);
  for (int i = 0; i < 200 && server_->connections() > 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(server_->connections(), 0u);
  EXPECT_EQ(list_namespaces(), 200);
}

INSTANTIATE_TEST_SUITE_P(PlainAndTls, ApiServerLimits, ::testing::Bool(), [](const auto& info) { return info.param ? "Tls" : "Plain"; });

class ApiServerBodies : public ApiServerLimits {};

TEST_P(ApiServerBodies, UnauthenticatedAndOversizedBodiesAreAnsweredBeforeTheyAreRead) {
  if (tls()) GTEST_SKIP() << "raw bytes: plain HTTP only";
  const auto port = static_cast<std::uint16_t>(server_->port());
  // 3 MB announced, none sent: without a token the answer is 401 at once.
  int fd = connect_loopback(port);
  send_all(fd, "POST /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\n\r\n");
  std::string reply = read_until(fd, "\"reason\":\"Unauthorized\"");
  ::close(fd);
  EXPECT_EQ(status_of(reply), 401) << reply;
  EXPECT_THAT(reply, HasSubstr(R"("kind":"Status")"));
  // With a token, over 3 MiB: 413 with the Status kube-apiserver sends, the body unread.
  fd = connect_loopback(port);
  send_all(fd,
           "POST /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nContent-Type: "
           "application/json\r\nContent-Length: 4000000\r\n\r\n");
  reply = read_until(fd, "RequestEntityTooLarge");
  ::close(fd);
  EXPECT_EQ(status_of(reply), 413) << reply;
  EXPECT_THAT(reply, HasSubstr(R"("message":"Request entity too large: limit is 3145728")"));
  // Health needs no token, and headers past 1 MiB are refused.
  EXPECT_EQ(status_of(http::testing::exchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")), 200);
  EXPECT_EQ(status_of(http::testing::exchange(
                port, "GET /version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nX: " + std::string(1100000, 'h') + "\r\n\r\n")),
            431);
}

INSTANTIATE_TEST_SUITE_P(Plain, ApiServerBodies, ::testing::Values(false));

}  // namespace
}  // namespace switchyard::apiserver
