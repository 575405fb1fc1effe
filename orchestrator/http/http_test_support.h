// Raw sockets and a throwaway certificate for the HTTP module's tests: the tests control every
// byte a client sends and see every byte the server answers.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "orchestrator/http/server.h"

namespace switchyard::http::testing {

// A server on 127.0.0.1, a port picked for it (null after a failed expectation).
inline std::unique_ptr<HttpServer> start(HttpServerOptions options, Handler handler) {
  if (options.listen.empty()) options.listen = "127.0.0.1:0";
  auto server = HttpServer::start(std::move(options), std::move(handler));
  EXPECT_TRUE(server) << server.error().describe();
  return server ? std::move(*server) : nullptr;
}

// A connected loopback socket (-1 on failure) with a receive timeout.
inline int connect_loopback(std::uint16_t port, int timeout_ms = 3000) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool send_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads until the peer closes (or the receive timeout); `closed` says whether it closed.
inline std::string read_all(int fd, bool* closed = nullptr) {
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  if (closed) *closed = n == 0 || (n < 0 && errno == ECONNRESET);
  return out;
}

// Reads until `marker` is in what was read (or the timeout, or a close).
inline std::string read_until(int fd, const std::string& marker) {
  std::string out;
  char buf[8192];
  while (out.find(marker) == std::string::npos) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// One request on a fresh connection, the whole answer.
inline std::string exchange(std::uint16_t port, const std::string& request, int timeout_ms = 3000) {
  const int fd = connect_loopback(port, timeout_ms);
  if (fd < 0) return "";
  send_all(fd, request);
  ::shutdown(fd, SHUT_WR);
  std::string out = read_all(fd);
  ::close(fd);
  return out;
}

inline int status_of(const std::string& reply) { return reply.size() > 12 ? std::atoi(reply.c_str() + 9) : 0; }

// A self-signed certificate for 127.0.0.1 (openssl's command line), in `dir`.
struct TestCertificate {
  std::filesystem::path cert, key;
  std::string cert_pem;
};
inline TestCertificate make_certificate(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  TestCertificate c{dir / "cert.pem", dir / "key.pem", {}};
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      c.key.string() + " -out " + c.cert.string() + " 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) return c;
  std::ifstream in(c.cert);
  std::stringstream s;
  s << in.rdbuf();
  c.cert_pem = s.str();
  return c;
}

}  // namespace switchyard::http::testing
