// The server on loopback, asked by real clients: dig over UDP and TCP, and c-ares. Also what
// malformed packets get, truncation with the TCP retry, and live Snapshot changes.
#include <arpa/inet.h>
#include <ares.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tuple>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dns/server.h"
#include "dns/test_messages.h"
#include "netns-tests/support/process.h"
#include "orchestrator/api/defaults.h"

namespace switchyard::dns {
namespace {

using switchyard::testing::run;
using ::testing::HasSubstr;

api::Service service(std::string name, std::string ip) {
  api::Service s;
  s.metadata.name = std::move(name);
  s.metadata.namespace_ = "shop";
  s.spec.selector = {{"app", s.metadata.name}};
  s.spec.cluster_ip = std::move(ip);
  s.spec.ports = {api::ServicePort{.name = "http", .port = 80}};
  api::apply_defaults(s, {});
  return s;
}

api::EndpointSlice many_endpoints(std::string svc, int n) {
  api::EndpointSlice s;
  s.metadata.name = svc + "-1";
  s.metadata.namespace_ = "shop";
  s.metadata.labels = {{"kubernetes.io/service-name", svc}};
  s.address_type = "IPv4";
  for (int i = 0; i < n; ++i) s.endpoints.push_back(api::SliceEndpoint{.addresses = {fmt::format("10.2.{}.{}", i / 200, i % 200 + 1)}});
  s.ports = {api::SlicePort{.name = "http", .protocol = "TCP", .port = 8080}};
  return s;
}

class DnsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_.upsert(service("web", "10.96.0.10"));
    state_.upsert(service("big", "None"));
    state_.upsert(many_endpoints("big", 100));
    ServerOptions o;
    o.listen = {"127.0.0.1:0"};
    auto s = DnsServer::create(o);
    ASSERT_TRUE(s) << s.error();
    server_ = std::move(*s);
    server_->set_snapshot(state_.build());
    port_ = server_->bound()[0].substr(server_->bound()[0].rfind(':') + 1);
  }
  std::string dig(const std::string& args) { return run("dig @127.0.0.1 -p " + port_ + " +time=2 +tries=1 " + args).output; }

  endpoints::ClusterState state_{{}};
  std::unique_ptr<DnsServer> server_;
  std::string port_;
};

TEST_F(DnsServerTest, DigOverUdpAndTcp) {
  EXPECT_EQ(dig("+short web.shop.svc.cluster.local"), "10.96.0.10\n");
  EXPECT_EQ(dig("+tcp +short web.shop.svc.cluster.local"), "10.96.0.10\n");
  EXPECT_EQ(dig("+short -x 10.96.0.10"), "web.shop.svc.cluster.local.\n");
  EXPECT_EQ(dig("+short _http._tcp.web.shop.svc.cluster.local SRV"), "0 100 80 web.shop.svc.cluster.local.\n");
  EXPECT_EQ(dig("+short dns-version.cluster.local TXT"), "\"1.1.0\"\n");
  EXPECT_THAT(dig("missing.shop.svc.cluster.local"), HasSubstr("status: NXDOMAIN"));
  EXPECT_GE(server_->counters().tcp_queries, 1u);
}

TEST_F(DnsServerTest, DualStackServicesAnswerEachFamily) {
  auto dual = service("dual", "10.96.0.11");
  dual.spec.cluster_ips = {"10.96.0.11", "fd00::11"};
  dual.spec.ip_families = {"IPv4", "IPv6"};
  dual.spec.ip_family_policy = "RequireDualStack";
  state_.upsert(dual);
  server_->set_snapshot(state_.build());
  EXPECT_EQ(dig("+short dual.shop.svc.cluster.local A"), "10.96.0.11\n");
  EXPECT_EQ(dig("+short dual.shop.svc.cluster.local AAAA"), "fd00::11\n");
  EXPECT_EQ(dig("+short dual.shop.svc.cluster.local ANY"), "10.96.0.11\nfd00::11\n");
  EXPECT_EQ(dig("+short web.shop.svc.cluster.local AAAA"), "");  // IPv4 only: NODATA
  EXPECT_THAT(dig("web.shop.svc.cluster.local AAAA"), HasSubstr("status: NOERROR"));
}

TEST_F(DnsServerTest, LargeAnswersAreTruncatedOverUdpAndDigRetriesOverTcp) {
  const auto udp_only = dig("+ignore +noedns big.shop.svc.cluster.local");
  EXPECT_THAT(udp_only, HasSubstr("flags: qr aa tc rd;"));
  const auto retried = dig("+noedns big.shop.svc.cluster.local");  // dig retries over TCP on TC
  EXPECT_THAT(retried, HasSubstr("ANSWER: 100,"));
}

TEST_F(DnsServerTest, ChangesAreVisibleAtOnce) {
  auto ext = service("ext", "");
  ext.spec = {};
  ext.spec.type = "ExternalName";
  ext.spec.external_name = "old.example.com";
  state_.upsert(ext);
  server_->set_snapshot(state_.build());
  EXPECT_EQ(dig("+short ext.shop.svc.cluster.local"), "old.example.com.\n");
  ext.spec.external_name = "new.example.com";
  state_.upsert(ext);
  state_.upsert(service("fresh", "10.96.0.99"));
  server_->set_snapshot(state_.build());
  EXPECT_EQ(dig("+short ext.shop.svc.cluster.local"), "new.example.com.\n");
  EXPECT_EQ(dig("+short fresh.shop.svc.cluster.local"), "10.96.0.99\n");
}

// c-ares, driven the simple way: select() on its sockets until the callback ran.
struct AresResult {
  int status = -1;
  std::vector<std::string> addresses;
};

AresResult ares_lookup(const std::string& server, const std::string& name) {
  AresResult result;
  ares_channel channel;
  ares_options opts{};
  opts.timeout = 2000;
  opts.tries = 1;
  EXPECT_EQ(ares_init_options(&channel, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES), ARES_SUCCESS);
  EXPECT_EQ(ares_set_servers_ports_csv(channel, server.c_str()), ARES_SUCCESS);
  ares_gethostbyname(
      channel, name.c_str(), AF_INET,
      [](void* arg, int status, int, hostent* host) {
        auto* r = static_cast<AresResult*>(arg);
        r->status = status;
        if (status == ARES_SUCCESS)
          for (char** a = host->h_addr_list; *a; ++a) {
            char buf[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, *a, buf, sizeof buf);
            r->addresses.push_back(buf);
          }
      },
      &result);
  for (int i = 0; i < 100 && result.status == -1; ++i) {
    fd_set read_fds, write_fds;
    FD_ZERO(&read_fds);
    FD_ZERO(&write_fds);
    const int nfds = ares_fds(channel, &read_fds, &write_fds);
    if (nfds == 0) break;
    timeval tv{0, 100000};
    select(nfds, &read_fds, &write_fds, nullptr, &tv);
    ares_process(channel, &read_fds, &write_fds);
  }
  ares_destroy(channel);
  return result;
}

// What CoreDNS answers for the same cluster (the hardening issue's DNS findings), asked with dig.
TEST_F(DnsServerTest, AnswersMatchCoreDnsForExternalNamesSrvPtrAndTheApex) {
  auto ext = service("alias", "");
  ext.spec = {};
  ext.spec.type = "ExternalName";
  ext.spec.external_name = "web.shop.svc.cluster.local";
  state_.upsert(ext);
  // A dual-stack StatefulSet pod: one endpoint per family, both named db-0; db-1 is not ready.
  state_.upsert(service("db", "None"));
  for (const auto& [family, a0, a1] : std::vector<std::tuple<std::string, std::string, std::string>>{{"IPv4", "10.3.0.1", "10.3.0.2"},
                                                                                                     {"IPv6", "fd00::3:1", "fd00::3:2"}}) {
    api::EndpointSlice slice;
    slice.metadata.name = "db-" + family;
    slice.metadata.namespace_ = "shop";
    slice.metadata.labels = {{"kubernetes.io/service-name", "db"}};
    slice.address_type = family;
    slice.endpoints = {api::SliceEndpoint{.addresses = {a0}, .conditions = {.ready = true}, .hostname = "db-0"},
                       api::SliceEndpoint{.addresses = {a1}, .conditions = {.ready = false}, .hostname = "db-1"}};
    slice.ports = {api::SlicePort{.name = "pg", .protocol = "TCP", .port = 5432}};
    state_.upsert(slice);
  }
  auto dns = service("kube-dns", "10.96.0.53");
  dns.metadata.namespace_ = "kube-system";
  state_.upsert(dns);
  server_->set_snapshot(state_.build());

  // An ExternalName whose target is a cluster name gets the target's address too: glibc's stub
  // resolver does not chase a bare CNAME, so getaddrinfo failed in pods.
  EXPECT_EQ(dig("+short alias.shop.svc.cluster.local"), "web.shop.svc.cluster.local.\n10.96.0.10\n");
  // One SRV target per name, with both families' addresses; the not-ready pod is left out.
  const auto srv = dig("_pg._tcp.db.shop.svc.cluster.local SRV");
  EXPECT_EQ(dig("+short _pg._tcp.db.shop.svc.cluster.local SRV"), "0 100 5432 db-0.db.shop.svc.cluster.local.\n");
  EXPECT_THAT(srv, HasSubstr("db-0.db.shop.svc.cluster.local.\t5 IN\tA\t10.3.0.1"));
  EXPECT_THAT(srv, HasSubstr("db-0.db.shop.svc.cluster.local.\t5 IN\tAAAA\tfd00::3:1"));
  // PTR: ready endpoints only; a negative answer carries the reverse zone's SOA.
  EXPECT_EQ(dig("+short -x 10.3.0.1"), "db-0.db.shop.svc.cluster.local.\n");
  const auto not_ready = dig("-x 10.3.0.2");
  EXPECT_THAT(not_ready, HasSubstr("status: NXDOMAIN"));
  EXPECT_THAT(not_ready, HasSubstr("in-addr.arpa.\t\t5\tIN\tSOA\tns.dns.cluster.local."));
  EXPECT_THAT(dig("-x fd00::99"), HasSubstr("ip6.arpa.\t\t5\tIN\tSOA"));
  // The apex NS names a host that resolves (to the cluster DNS service), with glue.
  EXPECT_EQ(dig("+short ns.dns.cluster.local"), "10.96.0.53\n");
  EXPECT_THAT(dig("cluster.local NS"), HasSubstr("ns.dns.cluster.local.\t5\tIN\tA\t10.96.0.53"));
}

TEST_F(DnsServerTest, CAresResolvesServicesAndSeesNxdomain) {
  const std::string server = "127.0.0.1:" + port_;
  auto web = ares_lookup(server, "web.shop.svc.cluster.local");
  EXPECT_EQ(web.status, ARES_SUCCESS);
  EXPECT_EQ(web.addresses, std::vector<std::string>{"10.96.0.10"});
  EXPECT_EQ(ares_lookup(server, "missing.shop.svc.cluster.local").status, ARES_ENOTFOUND);
  EXPECT_EQ(ares_lookup(server, "big.shop.svc.cluster.local").addresses.size(), 100u);  // over TCP after TC
}

TEST_F(DnsServerTest, MalformedPacketsGetFormerrOrNothingAndTheServerKeepsAnswering) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(std::stoi(port_)));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{0, 300000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto exchange = [&](const std::vector<std::uint8_t>& packet) -> std::vector<std::uint8_t> {
    sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    std::vector<std::uint8_t> buf(4096);
    const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    buf.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return buf;
  };
  auto q = testing::make_query("web.shop.svc.cluster.local", kA);
  auto loop = std::vector<std::uint8_t>{0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1};
  auto formerr = exchange(loop);
  ASSERT_EQ(formerr.size(), 12u);
  EXPECT_EQ(formerr[3] & 0xF, kFormErr);
  EXPECT_TRUE(exchange({1, 2, 3}).empty());  // not even a header: dropped
  auto bad_opcode = q;
  bad_opcode[2] = 0x28;
  EXPECT_EQ(exchange(bad_opcode)[3] & 0xF, kNotImp);
  auto absurd = q;
  absurd[4] = 0xFF;
  EXPECT_EQ(exchange(absurd)[3] & 0xF, kFormErr);
  auto ok = testing::decode(exchange(q));
  EXPECT_EQ(ok.answer, std::vector<std::string>{"web.shop.svc.cluster.local. 5 A 10.96.0.10"});
  close(fd);
  EXPECT_GE(server_->counters().dropped, 1u);
  EXPECT_GE(server_->counters().formerr, 3u);
}

TEST(DnsServerStart, BadListenAddressesAreReported) {
  ServerOptions o;
  o.listen = {"localhost:53"};
  auto s = DnsServer::create(o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "--dns-listen localhost:53: localhost is not an IP address");
}

}  // namespace
}  // namespace switchyard::dns
