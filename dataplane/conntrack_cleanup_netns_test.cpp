// A UDP client that keeps sending to a ClusterIP (or a node port) from one socket stays on the
// endpoint its first packet was DNATed to, as long as conntrack remembers the flow. When that
// endpoint is removed, ConntrackCleaner must delete the entry so that the same flow moves to an
// endpoint that is left.
// Real traffic: the nftables backend in a node namespace, UDP echo servers in two pods, the
// client in the external namespace.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <utility>

#include "dataplane/conntrack_cleanup.h"
#include "dataplane/iptables/nftables_backend.h"
#include "dataplane/iptables/test_cluster.h"
#include "dataplane/testing/service_topology.h"

namespace switchyard::dataplane {
namespace {

using namespace test_cluster;
using testing::ServiceTopology;

constexpr const char* kPodA = "10.244.0.11";
constexpr const char* kPodB = "10.244.0.12";
constexpr const char* kPodAv6 = "fd00:244::11";
constexpr const char* kPodBv6 = "fd00:244::12";
constexpr int kEchoPort = 5353;

// Answers every datagram with the pod's name, on IPv4 and IPv6.
constexpr const char* kUdpEcho = R"PY(
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[2])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(sys.argv[1].encode(), peer)
)PY";

// One connected UDP socket: every datagram is the same flow (same 5-tuple) for conntrack.
class UdpFlow {
 public:
  static std::expected<UdpFlow, std::string> open(testing::NetworkNamespace& ns, const std::string& ip, int port) {
    int fd = -1;
    std::string error;
    auto entered = ns.enter([&] {
      const bool v6 = ip.find(':') != std::string::npos;
      fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      sockaddr_storage sa{};
      socklen_t len = 0;
      if (v6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&sa);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr);
        len = sizeof *a;
      } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&sa);
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        inet_pton(AF_INET, ip.c_str(), &a->sin_addr);
        len = sizeof *a;
      }
      timeval timeout{0, 500'000};
      if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0 ||
          connect(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0)
        error = "UDP socket to " + ip + ": " + std::strerror(errno);
    });
    if (!entered) return std::unexpected(entered.error());
    if (!error.empty()) {
      if (fd >= 0) close(fd);
      return std::unexpected(error);
    }
    return UdpFlow(fd);
  }
  UdpFlow(UdpFlow&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  ~UdpFlow() {
    if (fd_ >= 0) close(fd_);
  }
  // Who answers a datagram on this flow ("" after three unanswered tries).
  std::string ask() {
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (send(fd_, "ping", 4, 0) != 4) continue;
      char buf[256];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0) return std::string(buf, static_cast<std::size_t>(n));
    }
    return "";
  }

 private:
  explicit UdpFlow(int fd) : fd_(fd) {}
  int fd_;
};

constexpr int kNodePort = 30053;

api::Service udp_service() {
  auto s = service("dns", "10.96.0.53", 53, kEchoPort);
  s.spec.type = "NodePort";
  s.spec.ports[0].node_port = kNodePort;
  s.spec.ports[0].protocol = "UDP";
  return dual_stack(std::move(s), "fd00:96::53");
}
api::EndpointSlice udp_slice(const std::vector<std::pair<std::string, std::string>>& ip_node, std::string family) {
  auto s = slice("dns", ip_node, kEchoPort, std::move(family));
  s.ports[0].protocol = "UDP";
  return s;
}

// A flow from the external client to one of the service's addresses, and the endpoints of the
// flow's family.
struct FlowCase {
  std::string name, destination;
  int port = 0;
  std::string family, pod_a, pod_b;
};

class ConntrackCleanupTraffic : public ::testing::TestWithParam<FlowCase> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
    auto t = ServiceTopology::create({{"pod-a", kPodA, 8080, kPodAv6}, {"pod-b", kPodB, 8080, kPodBv6}});
    ASSERT_TRUE(t) << t.error();
    topology_.emplace(std::move(*t));
    for (const char* pod : {"pod-a", "pod-b"}) {
      auto echo = topology_->pod(pod).spawn({"python3", "-c", kUdpEcho, pod, std::to_string(kEchoPort)});
      ASSERT_TRUE(echo) << echo.error();
    }
    // The echo servers answer on both families before any flow starts: a flow whose first
    // datagram met a closed port would be refused for as long as conntrack keeps it.
    for (const char* address : {kPodA, kPodB, kPodAv6, kPodBv6}) {
      auto probe = topology_->node().run(
          std::string("python3 -c \"import socket,sys\nfor _ in range(300):\n") +
          "  s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(0.1)\n"
          "  try:\n    s.sendto(b'x',(sys.argv[1]," +
          std::to_string(kEchoPort) +
          "));s.recv(99);sys.exit(0)\n"
          "  except OSError: pass\nsys.exit(1)\" " +
          address);
      ASSERT_TRUE(probe.ok()) << "echo server at " << address << " did not answer: " << probe.output;
    }
    nft::NftablesBackendOptions options;
    options.generator.cluster_cidrs = {ServiceTopology::kPodCidr, ServiceTopology::kPodCidrIpv6};
    Result<void> ok = std::unexpected(Error{ErrorCode::Internal, "not run"});
    auto entered = topology_->node().enter([&] {
      auto backend = nft::NftablesBackend::create(options);
      auto cleaner = ConntrackCleaner::create();
      if (!backend)
        ok = std::unexpected(backend.error());
      else if (!cleaner)
        ok = std::unexpected(cleaner.error());
      else {
        backend_ = std::move(*backend);
        cleaner_ = std::move(*cleaner);
        ok = {};
      }
    });
    ASSERT_TRUE(entered) << entered.error();
    ASSERT_TRUE(ok) << ok.error().message;
    state_.upsert(udp_service());
    state_.upsert(udp_slice({{kPodA, "node-a"}, {kPodB, "node-b"}}, "IPv4"));
    state_.upsert(udp_slice({{kPodAv6, "node-a"}, {kPodBv6, "node-b"}}, "IPv6"));
    snapshot_ = state_.build();
    auto synced = backend_->full_sync(*snapshot_);
    ASSERT_TRUE(synced) << synced.error().message;
  }

  // Programs what changed in state_; the diff is kept for the conntrack cleanup.
  void sync() {
    before_ = snapshot_;
    snapshot_ = state_.build();
    diff_ = endpoints::diff_snapshots(*before_, *snapshot_);
    auto ok = backend_->sync(*before_, *snapshot_, diff_);
    ASSERT_TRUE(ok) << ok.error().message;
  }

  std::optional<ServiceTopology> topology_;
  std::unique_ptr<nft::NftablesBackend> backend_;
  std::unique_ptr<ConntrackCleaner> cleaner_;
  endpoints::ClusterState state_{{.node_name = "node-a"}};
  std::shared_ptr<const endpoints::Snapshot> snapshot_, before_;
  endpoints::SnapshotDiff diff_;
};

TEST_P(ConntrackCleanupTraffic, FlowMovesOffARemovedEndpointOnlyAfterCleanup) {
  const auto& c = GetParam();
  auto flow = UdpFlow::open(topology_->client(), c.destination, c.port);
  ASSERT_TRUE(flow) << flow.error();
  std::string first;
  for (int attempt = 0; attempt < 10 && first.empty(); ++attempt) first = flow->ask();  // echo servers starting
  ASSERT_THAT(first, ::testing::AnyOf("pod-a", "pod-b"));
  for (int i = 0; i < 5; ++i) ASSERT_EQ(flow->ask(), first) << "one flow, one endpoint";

  // The endpoint the flow uses is removed (its pod still answers: a terminating pod, say).
  const bool a_first = first == "pod-a";
  state_.upsert(udp_slice({{a_first ? c.pod_b : c.pod_a, a_first ? "node-b" : "node-a"}}, c.family));
  ASSERT_NO_FATAL_FAILURE(sync());
  EXPECT_EQ(flow->ask(), first) << "without cleanup conntrack keeps the flow on the removed endpoint";

  auto cleaned = cleaner_->on_sync(*before_, *snapshot_, diff_);
  ASSERT_TRUE(cleaned) << cleaned.error().message;
  EXPECT_EQ(cleaned->entries_deleted, 1u);
  const std::string other = a_first ? "pod-b" : "pod-a";
  for (int i = 0; i < 5; ++i) EXPECT_EQ(flow->ask(), other) << "the same socket's flow moved";
}

TEST_P(ConntrackCleanupTraffic, FlowsToOtherEndpointsAndServicesAreLeftAlone) {
  const auto& c = GetParam();
  auto flow = UdpFlow::open(topology_->client(), c.destination, c.port);
  ASSERT_TRUE(flow) << flow.error();
  std::string first;
  for (int attempt = 0; attempt < 10 && first.empty(); ++attempt) first = flow->ask();
  ASSERT_THAT(first, ::testing::AnyOf("pod-a", "pod-b"));
  // The endpoint the flow does not use goes away.
  const bool a_first = first == "pod-a";
  state_.upsert(udp_slice({{a_first ? c.pod_a : c.pod_b, a_first ? "node-a" : "node-b"}}, c.family));
  ASSERT_NO_FATAL_FAILURE(sync());
  auto cleaned = cleaner_->on_sync(*before_, *snapshot_, diff_);
  ASSERT_TRUE(cleaned) << cleaned.error().message;
  EXPECT_GE(cleaned->entries_seen, 1u);
  EXPECT_EQ(cleaned->entries_deleted, 0u);
  EXPECT_EQ(flow->ask(), first);
}

INSTANTIATE_TEST_SUITE_P(Flows, ConntrackCleanupTraffic,
                         ::testing::Values(FlowCase{"ClusterIpIPv4", "10.96.0.53", 53, "IPv4", kPodA, kPodB},
                                           FlowCase{"ClusterIpIPv6", "fd00:96::53", 53, "IPv6", kPodAv6, kPodBv6},
                                           FlowCase{"NodePortIPv4", ServiceTopology::kNodeIp, kNodePort, "IPv4", kPodA, kPodB},
                                           FlowCase{"NodePortIPv6", ServiceTopology::kNodeIpv6, kNodePort, "IPv6", kPodAv6, kPodBv6}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace switchyard::dataplane
