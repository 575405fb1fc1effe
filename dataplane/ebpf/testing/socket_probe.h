// In-process socket checks run on a thread inside a test network namespace (the test process
// is in the test cgroup, so its sockets go through the hooks like any pod's).
#pragma once

#include <expected>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/testing/network_namespace.h"

namespace switchyard::dataplane::ebpf::testing {

struct ProbeResult {
  int error = 0;       // errno of the failing call, 0 on success
  std::string peer;    // "ip:port" the kernel reports (getpeername or recvfrom)
  std::string answer;  // what the server sent back
  double seconds = 0;
};

// TCP connect to host:port, then getpeername().
ProbeResult tcp_connect(const dataplane::testing::NetworkNamespace& from, const std::string& host, int port);
// One datagram with sendto() on an unconnected socket and the reply's recvfrom() address.
ProbeResult udp_exchange(const dataplane::testing::NetworkNamespace& from, const std::string& host, int port);

// A long-lived client's connected UDP socket, opened in a namespace (and in the test's cgroup, so
// that connect() goes through the hooks). exchange() sends a datagram and returns the answer; on
// an error (ECONNABORTED once the agent destroyed the socket, ECONNREFUSED, ...) it connects
// again and retries, as applications do.
class ConnectedUdpClient {
 public:
  static std::expected<ConnectedUdpClient, std::string> open(const dataplane::testing::NetworkNamespace& ns, const std::string& host,
                                                             int port);
  ConnectedUdpClient(ConnectedUdpClient&& other) noexcept;
  ConnectedUdpClient& operator=(ConnectedUdpClient&&) = delete;
  ~ConnectedUdpClient();
  ProbeResult exchange(double timeout_seconds = 3);
  int reconnects() const { return reconnects_; }

 private:
  ConnectedUdpClient(int fd, std::string host, int port) : fd_(fd), host_(std::move(host)), port_(port) {}
  bool reconnect();
  int fd_ = -1;
  std::string host_;
  int port_ = 0;
  int reconnects_ = 0;
};

// Waits until the echo servers of `pods` (name, address) answer on their own addresses.
std::string wait_for_udp_echo(const dataplane::testing::NetworkNamespace& from,
                              const std::vector<std::pair<std::string, std::string>>& pods, int port);

// A UDP echo server for a pod: answers every datagram with the pod's name.
inline constexpr const char* kUdpEchoServer = R"PY(
import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", port))
while True:
    data, addr = s.recvfrom(2048)
    s.sendto(name.encode(), addr)
)PY";

}  // namespace switchyard::dataplane::ebpf::testing
