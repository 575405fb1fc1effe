// Forwarding names outside the cluster domain: real upstream servers on loopback (a second
// DnsServer serving another zone, a silent socket, a closed port, a relay that points back at
// us), asked through our server with dig and raw UDP.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dns/server.h"
#include "dns/test_messages.h"
#include "netns-tests/support/process.h"
#include "orchestrator/api/defaults.h"

namespace switchyard::dns {
namespace {

using switchyard::testing::run;
using switchyard::testing::wait_until;
using ::testing::HasSubstr;

std::string port_of(const std::string& bound) { return bound.substr(bound.rfind(':') + 1); }

api::Service service(std::string ns, std::string name, std::string ip) {
  api::Service s;
  s.metadata.name = std::move(name);
  s.metadata.namespace_ = std::move(ns);
  s.spec.selector = {{"app", s.metadata.name}};
  s.spec.cluster_ip = std::move(ip);
  s.spec.ports = {api::ServicePort{.name = "http", .port = 80}};
  api::apply_defaults(s, {});
  return s;
}

// A UDP socket on a loopback port of its own; closed when this goes away.
struct LoopbackUdp {
  int fd = -1;
  std::uint16_t port = 0;
  LoopbackUdp() {
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~LoopbackUdp() { close_now(); }
  void close_now() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  std::string address() const { return fmt::format("127.0.0.1:{}", port); }
};

void send_to_port(int fd, std::uint16_t port, std::span<const std::uint8_t> packet) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
}

std::vector<std::uint8_t> receive(int fd, int timeout_ms, sockaddr_in* from = nullptr) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return {};
  std::vector<std::uint8_t> buf(65535);
  socklen_t len = sizeof(sockaddr_in);
  const ssize_t n = recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(from), from ? &len : nullptr);
  buf.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return buf;
}

class ForwarderTest : public ::testing::Test {
 protected:
  // The upstream: another DnsServer, authoritative for upstream.test.
  void start_upstream(std::uint32_t ttl) {
    endpoints::ClusterState state({});
    state.upsert(service("shop", "web", "10.96.0.10"));
    ServerOptions o;
    o.listen = {"127.0.0.1:0"};
    o.workers = 1;
    o.zone.zone = "upstream.test.";
    o.zone.ttl = ttl;
    auto s = DnsServer::create(o);
    ASSERT_TRUE(s) << s.error();
    upstream_ = std::move(*s);
    upstream_->set_snapshot(state.build());
  }
  void start_ours(std::vector<std::string> upstreams, ForwardOptions forward = {}) {
    forward.upstreams = std::move(upstreams);
    ServerOptions o;
    o.listen = {"127.0.0.1:0"};
    o.forward = forward;
    auto s = DnsServer::create(o);
    ASSERT_TRUE(s) << s.error();
    ours_ = std::move(*s);
    endpoints::ClusterState state({});
    state.upsert(service("shop", "local", "10.96.0.20"));
    ours_->set_snapshot(state.build());
    port_ = port_of(ours_->bound()[0]);
  }
  std::string dig(const std::string& args) { return run("dig @127.0.0.1 -p " + port_ + " +time=3 +tries=1 " + args).output; }
  std::uint64_t upstream_queries() const { return upstream_->counters().queries; }

  std::unique_ptr<DnsServer> upstream_, ours_;
  std::string port_;
};

TEST_F(ForwarderTest, NamesOutsideTheClusterDomainGetTheUpstreamsAnswerWithTheClientsIdAndQuestion) {
  start_upstream(30);
  start_ours({upstream_->bound()[0]});
  EXPECT_EQ(dig("+short web.shop.svc.upstream.test"), "10.96.0.10\n");
  EXPECT_EQ(dig("+short local.shop.svc.cluster.local"), "10.96.0.20\n");  // ours, not forwarded
  const auto mixed = dig("+noall +question +answer +comments WeB.ShoP.svc.UPSTREAM.test");
  EXPECT_THAT(mixed, HasSubstr(";WeB.ShoP.svc.UPSTREAM.test.\tIN\tA"));
  EXPECT_THAT(mixed, HasSubstr("flags: qr rd ra;"));  // not authoritative; recursion available
  EXPECT_THAT(mixed, HasSubstr("10.96.0.10"));
  EXPECT_THAT(dig("+tcp web.shop.svc.upstream.test"), HasSubstr("10.96.0.10"));
  // A raw query: the id we chose comes back.
  LoopbackUdp client;
  send_to_port(client.fd, static_cast<std::uint16_t>(std::stoi(port_)), testing::make_query("web.shop.svc.upstream.test", kA, 0xBEEF));
  const auto response = receive(client.fd, 3000);
  ASSERT_GE(response.size(), 12u);
  EXPECT_EQ(response[0] << 8 | response[1], 0xBEEF);
  EXPECT_EQ(testing::decode(response).answer, std::vector<std::string>{"web.shop.svc.upstream.test. 30 A 10.96.0.10"});
}

// On the node's address the server must be no open resolver: outside names are forwarded only
// for the cluster's clients; cluster names are answered to anyone (the hardening issue).
TEST_F(ForwarderTest, OnlyClientsInTheForwardingRangesGetRecursion) {
  start_upstream(30);
  start_ours({upstream_->bound()[0]}, ForwardOptions{.clients = {"10.244.0.0/16", "fd00::/8"}});
  ASSERT_TRUE(wait_until(3, [&] { return upstream_queries() == 1; })) << "the loop probe reaches the upstream first";
  EXPECT_THAT(dig("web.shop.svc.upstream.test"), HasSubstr("status: REFUSED"));
  EXPECT_EQ(upstream_queries(), 1u) << "nothing was sent upstream for a client outside the ranges";
  EXPECT_EQ(dig("+short local.shop.svc.cluster.local"), "10.96.0.20\n") << "cluster names are answered to anyone";
  EXPECT_EQ(ours_->forward_counters()->refused_client.load(), 1u);
  EXPECT_THAT(ours_->metrics_text(), HasSubstr("switchyard_dns_forward_client_refused_total 1"));

  // The same client inside a range (loopback here) is forwarded to, over UDP and TCP.
  ours_.reset();
  start_ours({upstream_->bound()[0]}, ForwardOptions{.clients = {"10.244.0.0/16", "127.0.0.0/8"}});
  EXPECT_EQ(dig("+short web.shop.svc.upstream.test"), "10.96.0.10\n");
  EXPECT_EQ(dig("+tcp +short web.shop.svc.upstream.test"), "10.96.0.10\n");
  EXPECT_EQ(ours_->forward_counters()->refused_client.load(), 0u);
}

// As CoreDNS's default `fallthrough in-addr.arpa ip6.arpa` and its ExternalName handling: a
// reverse name the cluster does not know, and an ExternalName's outside target, go upstream.
TEST_F(ForwarderTest, UnknownReverseNamesAndExternalNameTargetsAreResolvedUpstream) {
  start_upstream(30);
  start_ours({upstream_->bound()[0]});
  auto ext = service("shop", "outside", "");
  ext.spec = {};
  ext.spec.type = "ExternalName";
  ext.spec.external_name = "web.shop.svc.upstream.test";
  endpoints::ClusterState state({});
  state.upsert(service("shop", "local", "10.96.0.20"));
  state.upsert(ext);
  ours_->set_snapshot(state.build());
  EXPECT_EQ(dig("+short -x 10.96.0.20"), "local.shop.svc.cluster.local.\n") << "ours: answered here";
  EXPECT_EQ(dig("+short -x 10.96.0.10"), "web.shop.svc.upstream.test.\n") << "not ours: the upstream's answer";
  EXPECT_EQ(dig("+short outside.shop.svc.cluster.local"), "web.shop.svc.upstream.test.\n10.96.0.10\n");
  EXPECT_EQ(dig("+short outside.shop.svc.cluster.local"), "web.shop.svc.upstream.test.\n10.96.0.10\n") << "again, from the cache";
  EXPECT_EQ(dig("+short +norecurse outside.shop.svc.cluster.local"), "web.shop.svc.upstream.test.\n") << "no recursion asked";
}

TEST(ClientRanges, ParsesCidrsAndHostsAndRefusesGarbage) {
  auto r = ClientRanges::parse({"10.244.0.0/16", "192.168.1.7", "fd00::/8"});
  ASSERT_TRUE(r) << r.error();
  const auto in = ip_key("10.244.3.4"), out = ip_key("10.245.0.1"), host = ip_key("192.168.1.7"), v6 = ip_key("fd12::1"),
             v6_out = ip_key("fe80::1");
  EXPECT_TRUE(r->contains(&*in));
  EXPECT_FALSE(r->contains(&*out));
  EXPECT_TRUE(r->contains(&*host));
  EXPECT_TRUE(r->contains(&*v6));
  EXPECT_FALSE(r->contains(&*v6_out));
  EXPECT_FALSE(r->contains(nullptr)) << "an unknown client is not one of ours";
  EXPECT_TRUE(ClientRanges::parse({})->contains(nullptr)) << "no ranges: everyone";
  EXPECT_THAT(ClientRanges::parse({"10.0.0.0/33"}).error().message, HasSubstr("bad prefix length"));
  EXPECT_THAT(ClientRanges::parse({"nope"}).error().message, HasSubstr("not an IP address"));
}

TEST_F(ForwarderTest, ASecondQueryIsACacheHitAndNegativeAnswersAreCachedForTheCappedSoaMinimum) {
  start_upstream(30);
  ForwardOptions f;
  f.cache.max_negative_ttl = 1;  // the SOA says 30: the cap decides
  start_ours({upstream_->bound()[0]}, f);
  ASSERT_TRUE(wait_until(5, [&] { return upstream_queries() >= 1; }));  // the loop probe arrived
  const auto before = upstream_queries();
  EXPECT_EQ(dig("+short web.shop.svc.upstream.test"), "10.96.0.10\n");
  EXPECT_EQ(dig("+short web.shop.svc.upstream.test"), "10.96.0.10\n");
  EXPECT_EQ(upstream_queries() - before, 1u);
  EXPECT_EQ(ours_->forward_counters()->cache_hits.load(), 1u);

  EXPECT_THAT(dig("missing.shop.svc.upstream.test"), HasSubstr("status: NXDOMAIN"));
  EXPECT_THAT(dig("missing.shop.svc.upstream.test"), HasSubstr("status: NXDOMAIN"));
  EXPECT_EQ(upstream_queries() - before, 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_THAT(dig("missing.shop.svc.upstream.test"), HasSubstr("status: NXDOMAIN"));
  EXPECT_EQ(upstream_queries() - before, 3u);  // expired after the capped 1 s
}

TEST_F(ForwarderTest, AnUpstreamThatIsDownGivesServfailQuickly) {
  LoopbackUdp closed;
  const std::string address = closed.address();
  closed.close_now();  // nothing listens there now: ICMP port unreachable
  ForwardOptions f;
  f.timeout = std::chrono::milliseconds(500);
  start_ours({address}, f);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THAT(dig("example.test"), HasSubstr("status: SERVFAIL"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));

  LoopbackUdp silent;  // takes queries, never answers
  ForwardOptions g;
  g.timeout = std::chrono::milliseconds(200);
  g.tries = 1;
  start_ours({silent.address()}, g);
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_THAT(dig("example.test"), HasSubstr("status: SERVFAIL"));
  EXPECT_LT(std::chrono::steady_clock::now() - t1, std::chrono::milliseconds(1500));
  EXPECT_GE(ours_->forward_counters()->failed.load(), 1u);
}

TEST_F(ForwarderTest, QueriesBeyondTheInFlightLimitAreRefusedAndCounted) {
  LoopbackUdp silent;
  ForwardOptions f;
  f.max_in_flight = 2;
  f.timeout = std::chrono::milliseconds(800);
  f.tries = 1;
  f.detect_loops = false;  // the probe would take a slot
  start_ours({silent.address()}, f);
  LoopbackUdp client;
  for (int i = 0; i < 5; ++i)
    send_to_port(client.fd, static_cast<std::uint16_t>(std::stoi(port_)),
                 testing::make_query(fmt::format("n{}.example.test", i), kA, 100 + i));
  std::map<int, int> rcodes;  // rcode -> count
  for (int i = 0; i < 5; ++i) {
    auto r = receive(client.fd, 3000);
    ASSERT_GE(r.size(), 12u);
    ++rcodes[r[3] & 0xF];
  }
  EXPECT_EQ(rcodes[kRefused], 3);
  EXPECT_EQ(rcodes[kServFail], 2);  // the two in flight, after their timeout
  EXPECT_EQ(ours_->forward_counters()->rejected_in_flight.load(), 3u);
  EXPECT_EQ(ours_->forward_counters()->in_flight.load(), 0);
  EXPECT_THAT(ours_->metrics_text(), HasSubstr("switchyard_dns_forward_rejected_total 3\n"));
}

// An "upstream" that sends every query it gets back to our server, as a resolver whose own
// upstream is us would: the loop the probe must find.
class LoopingRelay {
 public:
  ~LoopingRelay() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::string address() const { return socket_.address(); }
  // Queries that arrived here (from our server's upstream client, or relayed answers).
  int packets() const { return packets_; }
  void start(std::uint16_t target) {
    target_ = target;
    thread_ = std::thread([this] { relay(); });
  }

 private:
  void relay() {
    std::map<std::uint16_t, sockaddr_in> asked_by;
    while (!stop_) {
      sockaddr_in from{};
      auto packet = receive(socket_.fd, 50, &from);
      if (packet.size() < 12) continue;
      const std::uint16_t id = static_cast<std::uint16_t>(packet[0] << 8 | packet[1]);
      ++packets_;
      if (!(packet[2] & 0x80)) {  // a query: pass it on to our server
        asked_by[id] = from;
        send_to_port(socket_.fd, target_, packet);
      } else if (auto it = asked_by.find(id); it != asked_by.end()) {  // its answer: back to who asked
        sendto(socket_.fd, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&it->second), sizeof it->second);
      }
    }
  }
  LoopbackUdp socket_;
  std::uint16_t target_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> packets_{0};
  std::thread thread_;
};

TEST_F(ForwarderTest, AnUpstreamThatForwardsBackToUsIsDetectedAndForwardingStops) {
  LoopingRelay relay;  // its socket exists now; it relays once it knows our port
  start_ours({relay.address()});
  relay.start(static_cast<std::uint16_t>(std::stoi(port_)));
  ASSERT_TRUE(wait_until(5, [&] { return ours_->forwarding_loop_detected(); }));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THAT(dig("example.test"), HasSubstr("status: SERVFAIL"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));  // not sent anywhere
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // The probe went out, came back once, was answered SERVFAIL: a handful of packets, no storm.
  EXPECT_LE(relay.packets(), 4);
  EXPECT_EQ(ours_->forward_counters()->refused_after_loop.load(), 1u);
  EXPECT_THAT(ours_->metrics_text(), HasSubstr("switchyard_dns_forward_loop_detected 1\n"));
}

}  // namespace
}  // namespace switchyard::dns
