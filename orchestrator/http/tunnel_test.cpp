// Response::tunnel: a connection handed to an upstream (a protocol upgrade and its bytes both
// ways, a plain answer, an unreachable upstream), TLS towards the upstream with a client
// certificate, and the verified client certificate's name on the serving side.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "orchestrator/http/http_test_support.h"
#include "orchestrator/http/server.h"

namespace switchyard::http {
namespace {

using namespace testing;
using namespace std::chrono_literals;

bool wait_for(const std::function<bool()>& done) {
  for (auto until = std::chrono::steady_clock::now() + 3s; std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(10ms))
    if (done()) return true;
  return done();
}

// A raw upstream on 127.0.0.1: answers one connection's request head with a 101 and then sends
// back every byte upper-cased, until the client closes. Remembers the head it got.
class UpgradeUpstream {
 public:
  UpgradeUpstream() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(listener_, 4), 0);
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      head_ = read_until(fd, "\r\n\r\n");
      send_all(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: shout\r\nConnection: Upgrade\r\n\r\n");
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) {
        std::transform(buf, buf + n, buf, [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        send_all(fd, std::string(buf, static_cast<std::size_t>(n)));
      }
      ::close(fd);
    });
  }
  ~UpgradeUpstream() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  const std::string& head() const { return head_; }

 private:
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::string head_;
};

TEST(Tunnel, AnUpgradeAndItsBytesPassBothWays) {
  UpgradeUpstream upstream;
  auto front = start({}, [&](Request& r) {
    Response out;
    out.tunnel = std::make_shared<Tunnel>();
    out.tunnel->address = "127.0.0.1";
    out.tunnel->port = upstream.port();
    out.tunnel->request = request_head(r.method, "/rewritten?token=1", {{"Upgrade", "shout"}, {"Connection", "Upgrade"}});
    return out;
  });
  ASSERT_TRUE(front);
  const int fd = connect_loopback(front->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "POST /exec HTTP/1.1\r\nHost: x\r\nUpgrade: shout\r\nConnection: Upgrade\r\n\r\n"));
  const std::string head = read_until(fd, "\r\n\r\n");
  EXPECT_EQ(status_of(head), 101) << head;
  ASSERT_TRUE(send_all(fd, "hello"));
  EXPECT_EQ(read_until(fd, "HELLO"), "HELLO");
  ASSERT_TRUE(send_all(fd, " again"));
  EXPECT_EQ(read_until(fd, "AGAIN"), " AGAIN");
  ::close(fd);
  EXPECT_TRUE(wait_for([&] { return front->connections() == 0; })) << "the tunnel outlived its client";
  EXPECT_TRUE(upstream.head().starts_with("POST /rewritten?token=1 HTTP/1.1\r\n")) << upstream.head();
}

TEST(Tunnel, AnUnreachableUpstreamGetsTheHandlersAnswer) {
  const std::uint16_t closed_port = [] {
    auto probe = start({}, [](Request&) { return Response{}; });
    const std::uint16_t p = probe->port();
    probe->stop();
    return p;
  }();
  auto front = start({}, [&](Request&) {
    Response out;
    out.tunnel = std::make_shared<Tunnel>();
    out.tunnel->address = "127.0.0.1";
    out.tunnel->port = closed_port;
    out.tunnel->request = request_head("GET", "/", {});
    out.tunnel->unreachable = [](const std::string& error) { return Response{503, "text/plain", "down: " + error}; };
    return out;
  });
  ASSERT_TRUE(front);
  const std::string reply = exchange(front->port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_of(reply), 503) << reply;
  EXPECT_NE(reply.find("down: error dialing backend 127.0.0.1:"), std::string::npos) << reply;
}

TEST(Tunnel, TlsUpstreamSeesTheClientCertificate) {
  const auto dir = std::filesystem::temp_directory_path() / ("sy-tunnel-test-" + std::to_string(::getpid()));
  const TestCertificate cert = make_certificate(dir);
  ASSERT_FALSE(cert.cert_pem.empty());
  // The upstream asks for a client certificate from its CA (here the same self-signed one) and
  // says whose it got.
  HttpServerOptions tls;
  tls.tls_cert_file = cert.cert.string();
  tls.tls_key_file = cert.key.string();
  tls.tls_client_ca_file = cert.cert.string();
  auto upstream = start(tls, [](Request& r) { return Response{200, "text/plain", "cn=" + r.client_certificate_cn}; });
  ASSERT_TRUE(upstream);
  auto tunnel_with = [&](bool present_certificate) {
    return [&, present_certificate](Request&) {
      Response out;
      out.tunnel = std::make_shared<Tunnel>();
      out.tunnel->address = "127.0.0.1";
      out.tunnel->port = upstream->port();
      out.tunnel->tls = true;
      out.tunnel->ca_file = cert.cert.string();  // and the upstream's certificate is checked
      if (present_certificate) {
        out.tunnel->cert_file = cert.cert.string();
        out.tunnel->key_file = cert.key.string();
      }
      out.tunnel->request = request_head("GET", "/who", {{"Host", "127.0.0.1"}, {"Connection", "close"}});
      return out;
    };
  };
  auto with = start({}, tunnel_with(true));
  auto without = start({}, tunnel_with(false));
  ASSERT_TRUE(with && without);
  const std::string named = exchange(with->port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_of(named), 200) << named;
  EXPECT_NE(named.find("cn=127.0.0.1"), std::string::npos) << named;
  const std::string anonymous = exchange(without->port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_of(anonymous), 200) << anonymous;
  EXPECT_TRUE(anonymous.ends_with("cn=")) << anonymous;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace switchyard::http
