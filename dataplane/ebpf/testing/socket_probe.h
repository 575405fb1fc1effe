// In-process socket checks run on a thread inside a test network namespace (the test process
// is in the test cgroup, so its sockets go through the hooks like any pod's).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "dataplane/testing/network_namespace.h"

namespace switchyard::dataplane::ebpf::testing {

struct ProbeResult {
  int error = 0;           // errno of the failing call, 0 on success
  std::string peer;        // "ip:port" the kernel reports (getpeername or recvfrom)
  std::string answer;      // what the server sent back
  double seconds = 0;
};

// TCP connect to host:port, then getpeername().
ProbeResult tcp_connect(const dataplane::testing::NetworkNamespace& from, const std::string& host, int port);
// One datagram with sendto() on an unconnected socket and the reply's recvfrom() address.
ProbeResult udp_exchange(const dataplane::testing::NetworkNamespace& from, const std::string& host, int port);

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
