#include "dataplane/ebpf/testing/socket_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

namespace switchyard::dataplane::ebpf::testing {
namespace {

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
};

Address parse(const std::string& host, int port) {
  Address a;
  if (host.find(':') != std::string::npos) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET6, host.c_str(), &s6->sin6_addr);
    a.length = sizeof *s6;
    a.family = AF_INET6;
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &s4->sin_addr);
    a.length = sizeof *s4;
  }
  return a;
}

std::string to_string(const sockaddr_storage& s) {
  char text[INET6_ADDRSTRLEN] = {};
  if (s.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&s);
    inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(s6->sin6_port));
  }
  const auto* s4 = reinterpret_cast<const sockaddr_in*>(&s);
  inet_ntop(AF_INET, &s4->sin_addr, text, sizeof text);
  return std::string(text) + ":" + std::to_string(ntohs(s4->sin_port));
}

double since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

ProbeResult tcp_connect(const dataplane::testing::NetworkNamespace& from, const std::string& host, int port) {
  ProbeResult r;
  auto entered = from.enter([&] {
    const auto start = std::chrono::steady_clock::now();
    Address a = parse(host, port);
    const int fd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval timeout{.tv_sec = 3, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a.storage), a.length) != 0) {
      r.error = errno;
    } else {
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0)
        r.error = errno;
      else
        r.peer = to_string(peer);
    }
    r.seconds = since(start);
    close(fd);
  });
  if (!entered) r.error = EINVAL;
  return r;
}

ProbeResult udp_exchange(const dataplane::testing::NetworkNamespace& from, const std::string& host, int port) {
  ProbeResult r;
  auto entered = from.enter([&] {
    const auto start = std::chrono::steady_clock::now();
    Address a = parse(host, port);
    const int fd = socket(a.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    // The echo server may still be starting: ask again a few times.
    for (int attempt = 0; attempt < 40; ++attempt) {
      if (sendto(fd, "ping", 4, 0, reinterpret_cast<sockaddr*>(&a.storage), a.length) != 4) {
        r.error = errno;
        break;
      }
      pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
      if (poll(&p, 1, 250) != 1) {
        r.error = ETIMEDOUT;
        continue;
      }
      char buf[256];
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      const ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &len);
      if (n < 0) {
        r.error = errno;
        break;
      }
      r.error = 0;
      r.answer.assign(buf, static_cast<std::size_t>(n));
      r.peer = to_string(peer);
      break;
    }
    r.seconds = since(start);
    close(fd);
  });
  if (!entered) r.error = EINVAL;
  return r;
}

std::expected<ConnectedUdpClient, std::string> ConnectedUdpClient::open(const dataplane::testing::NetworkNamespace& ns,
                                                                        const std::string& host, int port) {
  int fd = -1, err = 0;
  // The socket belongs to the namespace it is created in; later calls may come from any thread.
  auto entered = ns.enter([&] {
    fd = socket(parse(host, port).family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) err = errno;
  });
  if (!entered) return std::unexpected(entered.error());
  if (fd < 0) return std::unexpected("UDP socket: " + std::string(std::strerror(err)));
  ConnectedUdpClient client(fd, host, port);
  if (!client.reconnect()) return std::unexpected("connect to " + host + ": " + std::string(std::strerror(errno)));
  client.reconnects_ = 0;
  return client;
}

ConnectedUdpClient::ConnectedUdpClient(ConnectedUdpClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), host_(std::move(other.host_)), port_(other.port_), reconnects_(other.reconnects_) {}

ConnectedUdpClient::~ConnectedUdpClient() {
  if (fd_ >= 0) close(fd_);
}

bool ConnectedUdpClient::reconnect() {
  ++reconnects_;
  Address a = parse(host_, port_);
  return connect(fd_, reinterpret_cast<sockaddr*>(&a.storage), a.length) == 0;
}

ProbeResult ConnectedUdpClient::exchange(double timeout_seconds) {
  ProbeResult r;
  const auto start = std::chrono::steady_clock::now();
  while (since(start) < timeout_seconds) {
    if (send(fd_, "ping", 4, 0) != 4) {
      r.error = errno;
      reconnect();
      continue;
    }
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 250) != 1) {
      r.error = ETIMEDOUT;
      continue;
    }
    char buf[256];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0) {
      r.error = errno;
      reconnect();
      continue;
    }
    r.error = 0;
    r.answer.assign(buf, static_cast<std::size_t>(n));
    break;
  }
  r.seconds = since(start);
  return r;
}

std::string wait_for_udp_echo(const dataplane::testing::NetworkNamespace& from,
                              const std::vector<std::pair<std::string, std::string>>& pods, int port) {
  for (const auto& [name, address] : pods) {
    bool up = false;
    for (int attempt = 0; attempt < 3 && !up; ++attempt) up = udp_exchange(from, address, port).answer == name;
    if (!up) return "UDP echo server of " + name + " at " + address + " does not answer";
  }
  return "";
}

}  // namespace switchyard::dataplane::ebpf::testing
