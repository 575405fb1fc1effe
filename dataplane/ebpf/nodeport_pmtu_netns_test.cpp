// Path-MTU discovery through a NodePort: a client namespace reaches the node through a router
// namespace whose link towards the client has a smaller MTU (1280) than every other link (1500).
// The pod behind the NodePort sends full-size segments; the router answers them with ICMP
// fragmentation needed (ICMPv6 packet too big) addressed to the node's address, about the reply
// as the node sent it (from the NodePort). Only when the tc program translates that error back to
// the pod, about the pod's own packet, does the pod lower its path MTU and the transfer complete.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/ebpf/ebpf_backend.h"
#include "dataplane/ebpf/testing/ebpf_test_env.h"
#include "dataplane/iptables/test_cluster.h"
#include "dataplane/testing/network_namespace.h"
#include "endpoints/node/snapshot.h"

namespace switchyard::dataplane::ebpf {
namespace {

using dataplane::testing::NetworkNamespace;
using namespace test_cluster;

constexpr std::size_t kBulkBytes = 8u << 20;
constexpr int kNodePort = 30080;

struct Family {
  const char* name;
  int af;
  const char* node;  // the node's address on its link to the router: what the client connects to
};
const Family kV4{"IPv4", AF_INET, "192.168.70.1"};
const Family kV6{"IPv6", AF_INET6, "fd00:70::1"};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Socket address of `ip`:`port` in `af`.
sockaddr_storage address(int af, const std::string& ip, int port) {
  sockaddr_storage ss{};
  if (af == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET, ip.c_str(), &a->sin_addr);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr);
  }
  return ss;
}
socklen_t length(int af) { return af == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6); }

class PathMtuThroughNodePort : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for namespaces and BPF";
    auto env = testing::EbpfTestEnv::create();
    ASSERT_TRUE(env) << env.error();
    env_.emplace(std::move(*env));
    for (auto [slot, role] : {std::pair{&node_, "node"}, {&router_, "router"}, {&client_, "client"}, {&pod_, "pod"}}) {
      auto ns = NetworkNamespace::create(NetworkNamespace::unique_name("sy-pmtu", role));
      ASSERT_TRUE(ns) << ns.error();
      slot->emplace(std::move(*ns));
      // No duplicate address detection: links are usable at once (the fresh ones included).
      auto r = (*slot)->run("sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
      ASSERT_TRUE(r.ok()) << r.output;
    }
    const std::string forwarding = "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1";
    // node <-> router (1500), router <-> client (1280 on the router's side only: the client
    // advertises a 1460-byte MSS, so the pod's segments only fit up to the router).
    auto r = node_->run(forwarding + " && ip link set lo up && ip link add vrouter type veth peer name eth0 netns " + router_->name() +
                        " && ip link add vpod type veth peer name eth0 netns " + pod_->name() +
                        " && ip addr add 192.168.70.1/24 dev vrouter && ip -6 addr add fd00:70::1/64 dev vrouter nodad"
                        " && ip addr add 10.244.0.1/24 dev vpod && ip -6 addr add fd00:244::1/64 dev vpod nodad"
                        " && ip link set vrouter up && ip link set vpod up"
                        " && ip route add 192.168.71.0/24 via 192.168.70.2 && ip -6 route add fd00:71::/64 via fd00:70::2");
    ASSERT_TRUE(r.ok()) << r.output;
    r = router_->run(forwarding + " && ip link set lo up && ip link add vclient type veth peer name eth0 netns " + client_->name() +
                     " && ip addr add 192.168.70.2/24 dev eth0 && ip -6 addr add fd00:70::2/64 dev eth0 nodad && ip link set eth0 up"
                     " && ip addr add 192.168.71.1/24 dev vclient && ip -6 addr add fd00:71::1/64 dev vclient nodad"
                     " && ip link set vclient mtu 1280 up");
    ASSERT_TRUE(r.ok()) << r.output;
    r = client_->run(
        "ip link set lo up && ip addr add 192.168.71.2/24 dev eth0 && ip -6 addr add fd00:71::2/64 dev eth0 nodad && ip link set eth0 up"
        " && ip route add default via 192.168.71.1 && ip -6 route add default via fd00:71::1");
    ASSERT_TRUE(r.ok()) << r.output;
    r = pod_->run(
        "ip link set lo up && ip addr add 10.244.0.11/24 dev eth0 && ip -6 addr add fd00:244::11/64 dev eth0 nodad && ip link set eth0 up"
        " && ip route add default via 10.244.0.1 && ip -6 route add default via fd00:244::1");
    ASSERT_TRUE(r.ok()) << r.output;
    // The client's link is 1500 on its own side: check that the path really is narrower.
    ASSERT_THAT(router_->run("ip link show vclient").output, ::testing::HasSubstr("mtu 1280"));

    state_.upsert(dual_stack(node_port_service("bulk", "10.96.0.30", kNodePort), "fd00:96::30"));
    state_.upsert(slice("bulk", {{"10.244.0.11", "node-a"}}));
    state_.upsert(slice("bulk", {{"fd00:244::11", "node-a"}}, 8080, "IPv6"));
    snapshot_ = state_.build();
    auto options = env_->options("node-a");
    options.scope_netns = {node_->path(), pod_->path()};
    options.external_interfaces = {"vrouter"};
    Result<std::unique_ptr<EbpfBackend>> created = std::unexpected(Error{ErrorCode::Internal, "not run"});
    auto entered = node_->enter([&] { created = EbpfBackend::create(options); });
    ASSERT_TRUE(entered) << entered.error();
    ASSERT_TRUE(created) << created.error().message;
    backend_ = std::move(*created);
    auto ok = backend_->full_sync(*snapshot_);
    ASSERT_TRUE(ok) << ok.error().message;
  }
  void TearDown() override {
    if (sender_.joinable()) sender_.join();
    if (backend_) {
      auto ok = node_->enter([&] { EXPECT_TRUE(backend_->cleanup()); });
      EXPECT_TRUE(ok) << ok.error();
    }
  }

  // The pod: accepts one connection on 8080 and sends it kBulkBytes.
  void serve_bulk(int af) {
    Fd listener;
    auto entered = pod_->enter([&] {
      listener = Fd(socket(af, SOCK_STREAM, 0));
      const int one = 1;
      setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      auto any = address(af, af == AF_INET ? "0.0.0.0" : "::", 8080);
      if (bind(listener.get(), reinterpret_cast<sockaddr*>(&any), length(af)) != 0 || listen(listener.get(), 1) != 0) listener = Fd();
    });
    ASSERT_TRUE(entered) << entered.error();
    ASSERT_GE(listener.get(), 0) << "the pod's listener: " << std::strerror(errno);
    sender_ = std::thread([l = std::move(listener)] {
      pollfd p{l.get(), POLLIN, 0};
      if (poll(&p, 1, 10000) != 1) return;
      Fd c(accept(l.get(), nullptr, nullptr));
      const timeval timeout{25, 0};  // the client gives up after 20 s
      setsockopt(c.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
      std::vector<char> chunk(64 * 1024, 'x');
      for (std::size_t sent = 0; sent < kBulkBytes;) {
        const ssize_t n = send(c.get(), chunk.data(), std::min(chunk.size(), kBulkBytes - sent), MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += static_cast<std::size_t>(n);
      }
    });
  }

  // The client: connects to the NodePort and reads until EOF or the deadline. Bytes received.
  std::size_t receive_bulk(const Family& f, std::chrono::seconds deadline) {
    Fd c;
    auto to = address(f.af, f.node, kNodePort);
    // Retried for a few seconds while the fresh links' neighbours are resolved.
    int error = 0;
    for (int attempt = 0; attempt < 25; ++attempt) {
      auto entered = client_->enter([&] { c = Fd(socket(f.af, SOCK_STREAM, 0)); });
      EXPECT_TRUE(entered) << entered.error();
      error = connect(c.get(), reinterpret_cast<sockaddr*>(&to), length(f.af)) == 0 ? 0 : errno;
      if (error == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (error != 0) {
      ADD_FAILURE() << "connect: " << std::strerror(error);
      return 0;
    }
    std::vector<char> buffer(256 * 1024);
    std::size_t received = 0;
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{c.get(), POLLIN, 0};
      if (poll(&p, 1, 200) != 1) continue;
      const ssize_t n = recv(c.get(), buffer.data(), buffer.size(), 0);
      if (n <= 0) break;
      received += static_cast<std::size_t>(n);
    }
    return received;
  }

  std::optional<testing::EbpfTestEnv> env_;
  // Removed in reverse order: pod, client, router, then the node.
  std::optional<NetworkNamespace> node_, router_, client_, pod_;
  std::unique_ptr<EbpfBackend> backend_;
  std::thread sender_;
  endpoints::ClusterState state_{{.node_name = "node-a"}};
  std::shared_ptr<const endpoints::Snapshot> snapshot_;
};

TEST_P(PathMtuThroughNodePort, ABulkTransferCompletesWithTheFragNeededTranslated) {
  const Family& f = GetParam();
  ASSERT_NO_FATAL_FAILURE(serve_bulk(f.af));
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(receive_bulk(f, std::chrono::seconds(20)), kBulkBytes) << "the pod's full-size segments never fit the router's link";
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_LT(seconds, 10) << "path MTU learnt at once, not by retransmission timeouts";
  EXPECT_THAT(backend_->metrics_text(),
              ::testing::Not(::testing::HasSubstr("switchyard_ebpf_icmp_errors_translated_total{kind=\"frag_needed\"} 0\n")));
  EXPECT_THAT(backend_->metrics_text(), ::testing::HasSubstr("switchyard_ebpf_icmp_errors_translated_total{kind=\"frag_needed\"} "));
  // The pod learnt the path MTU towards the client.
  const std::string client = f.af == AF_INET ? "192.168.71.2" : "fd00:71::2";
  EXPECT_THAT(pod_->run("ip route get " + client).output, ::testing::HasSubstr("mtu 1280"));
}

INSTANTIATE_TEST_SUITE_P(Families, PathMtuThroughNodePort, ::testing::Values(kV4, kV6),
                         [](const ::testing::TestParamInfo<Family>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace switchyard::dataplane::ebpf
