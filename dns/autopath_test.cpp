// Server-side search-path expansion, asked with dig from source addresses that the Snapshot
// knows as pods (any 127.0.0.0/8 address is ours on loopback: `dig -b 127.0.0.N`).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dns/server.h"
#include "netns-tests/support/process.h"
#include "orchestrator/api/defaults.h"

namespace switchyard::dns {
namespace {

using switchyard::testing::run;
using switchyard::testing::wait_until;
using ::testing::HasSubstr;
using ::testing::Not;

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

api::EndpointSlice pods(std::string ns, std::string svc, std::vector<std::string> ips) {
  api::EndpointSlice s;
  s.metadata.name = svc + "-1";
  s.metadata.namespace_ = std::move(ns);
  s.metadata.labels = {{"kubernetes.io/service-name", svc}};
  s.address_type = "IPv4";
  for (auto& ip : ips) s.endpoints.push_back(api::SliceEndpoint{.addresses = {ip}});
  s.ports = {api::SlicePort{.name = "http", .protocol = "TCP", .port = 8080}};
  return s;
}

class AutopathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Upstream: authoritative for example.test (names shaped as <svc>.<ns>.svc.example.test).
    endpoints::ClusterState upstream_state({});
    upstream_state.upsert(service("www", "api", "192.0.2.7"));
    ServerOptions uo;
    uo.listen = {"127.0.0.1:0"};
    uo.workers = 1;
    uo.zone.zone = "example.test.";
    uo.zone.ttl = 60;
    auto u = DnsServer::create(uo);
    ASSERT_TRUE(u) << u.error();
    upstream_ = std::move(*u);
    upstream_->set_snapshot(upstream_state.build());

    // Ours: pods 127.0.0.5 (shop) and 127.0.0.6 (other) behind services.
    endpoints::ClusterState state({});
    state.upsert(service("shop", "web", "10.96.0.10"));
    state.upsert(pods("shop", "web", {"127.0.0.5"}));
    state.upsert(service("other", "db", "10.96.0.20"));
    state.upsert(pods("other", "db", {"127.0.0.6"}));
    ServerOptions o;
    o.listen = {"127.0.0.1:0"};
    o.autopath = true;
    o.forward.upstreams = {upstream_->bound()[0]};
    auto s = DnsServer::create(o);
    ASSERT_TRUE(s) << s.error();
    ours_ = std::move(*s);
    ours_->set_snapshot(state.build());
    port_ = ours_->bound()[0].substr(ours_->bound()[0].rfind(':') + 1);
    // Our loop probe reaches the upstream first: the counts below start after it.
    ASSERT_TRUE(wait_until(5, [&] { return upstream_->counters().queries >= 1; }));
  }
  std::string dig_from(const std::string& source, const std::string& args) {
    // Whitespace runs (dig aligns with tabs) become one space.
    std::string out,
        raw = run("dig -b " + source + " @127.0.0.1 -p " + port_ + " +time=3 +tries=1 +noall +answer +comments " + args).output;
    for (char c : raw)
      if (!(std::isspace(static_cast<unsigned char>(c)) && c != '\n' && !out.empty() && out.back() == ' ')) out += (c == '\t' ? ' ' : c);
    return out;
  }

  std::unique_ptr<DnsServer> upstream_, ours_;
  std::string port_;
};

TEST_F(AutopathTest, AClusterNameFromAnotherNamespaceIsFoundInOneRoundTrip) {
  // A pod in shop asks for "db.other" with ndots:5: first try db.other.shop.svc.cluster.local.
  const auto out = dig_from("127.0.0.5", "db.other.shop.svc.cluster.local");
  EXPECT_THAT(out, HasSubstr("status: NOERROR"));
  EXPECT_THAT(out, HasSubstr("db.other.shop.svc.cluster.local. 5 IN CNAME db.other.svc.cluster.local."));
  EXPECT_THAT(out, HasSubstr("db.other.svc.cluster.local. 5 IN A 10.96.0.20"));
  // The service's own name is answered as usual, without a CNAME.
  const auto own = dig_from("127.0.0.5", "web.shop.svc.cluster.local");
  EXPECT_THAT(own, HasSubstr("web.shop.svc.cluster.local. 5 IN A 10.96.0.10"));
  EXPECT_THAT(own, Not(HasSubstr("CNAME")));
}

TEST_F(AutopathTest, AnExternalNameIsForwardedAndAnsweredWithACnameFromTheFirstSearchName) {
  const auto before = upstream_->counters().queries;
  const auto out = dig_from("127.0.0.5", "api.www.svc.example.test.shop.svc.cluster.local");
  EXPECT_THAT(out, HasSubstr("status: NOERROR"));
  EXPECT_THAT(out, HasSubstr("api.www.svc.example.test.shop.svc.cluster.local. 5 IN CNAME api.www.svc.example.test."));
  EXPECT_THAT(out, HasSubstr("api.www.svc.example.test. 60 IN A 192.0.2.7"));
  // Asked again: from the cache, the upstream is not asked twice.
  EXPECT_THAT(dig_from("127.0.0.5", "api.www.svc.example.test.shop.svc.cluster.local"), HasSubstr("192.0.2.7"));
  EXPECT_EQ(upstream_->counters().queries - before, 1u);
  EXPECT_THAT(ours_->metrics_text(), HasSubstr("switchyard_dns_autopath_total 2\n"));
}

TEST_F(AutopathTest, OnlyKnownPodsOfThatNamespaceGetIt) {
  // A pod of "other" asking with shop's suffix, and an address no Service names: plain NXDOMAIN.
  EXPECT_THAT(dig_from("127.0.0.6", "db.other.shop.svc.cluster.local"), HasSubstr("status: NXDOMAIN"));
  EXPECT_THAT(dig_from("127.0.0.9", "db.other.shop.svc.cluster.local"), HasSubstr("status: NXDOMAIN"));
  // A name found nowhere on the list, upstream included: NXDOMAIN for the name as asked.
  const auto none = dig_from("127.0.0.5", "nothing.shop.svc.cluster.local");
  EXPECT_THAT(none, HasSubstr("status: NXDOMAIN"));
  EXPECT_THAT(none, Not(HasSubstr("CNAME")));
}

}  // namespace
}  // namespace switchyard::dns
