// The cluster zone, record kind by record kind, against a Snapshot built from API objects:
// what dig would show.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dns/cluster_zone.h"
#include "dns/test_messages.h"
#include "orchestrator/api/defaults.h"

namespace switchyard::dns {
namespace {

using testing::decode;
using testing::Decoded;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::make_query;
using ::testing::UnorderedElementsAre;

api::Service service(std::string name, std::string ip, std::vector<api::ServicePort> ports = {}) {
  api::Service s;
  s.metadata.name = std::move(name);
  s.metadata.namespace_ = "shop";
  s.spec.selector = {{"app", s.metadata.name}};
  s.spec.cluster_ip = std::move(ip);
  s.spec.ports = ports.empty() ? std::vector<api::ServicePort>{{.name = "http", .port = 80}} : ports;
  api::apply_defaults(s, {});
  return s;
}

api::EndpointSlice slice(std::string svc, std::vector<api::SliceEndpoint> eps, std::string family = "IPv4") {
  api::EndpointSlice s;
  s.metadata.name = svc + "-" + family;
  s.metadata.namespace_ = "shop";
  s.metadata.labels = {{"kubernetes.io/service-name", svc}};
  s.address_type = std::move(family);
  s.endpoints = std::move(eps);
  s.ports = {api::SlicePort{.name = "http", .protocol = "TCP", .port = 8080}};
  return s;
}

api::SliceEndpoint ep(std::string ip, std::optional<std::string> hostname = {}, bool ready = true, std::string pod = "") {
  api::SliceEndpoint e{.addresses = {std::move(ip)}, .hostname = std::move(hostname)};
  e.conditions.ready = ready;
  if (!pod.empty()) e.target_ref = api::ObjectReference{.kind = "Pod", .namespace_ = "shop", .name = pod};
  return e;
}

class ClusterZoneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_.upsert(service("web", "10.96.0.10", {{.name = "http", .port = 80}, {.name = "dns", .protocol = "UDP", .port = 53}}));
    auto dual = service("dual", "10.96.0.11");
    dual.spec.cluster_ips = {"10.96.0.11", "fd00::11"};
    dual.spec.ip_families = {"IPv4", "IPv6"};
    dual.spec.ip_family_policy = "RequireDualStack";
    state_.upsert(dual);
    state_.upsert(service("db", "None"));
    state_.upsert(slice("db", {ep("10.1.0.5", "db-0"), ep("10.1.0.6", std::nullopt, true, "db-1"), ep("10.1.0.7", "db-2", false)}));
    state_.upsert(service("empty-headless", "None"));
    auto ext = service("ext", "");
    ext.spec = {};
    ext.spec.type = "ExternalName";
    ext.spec.external_name = "Db.Example.com";
    state_.upsert(ext);
    snapshot_ = state_.build();
  }

  Decoded ask(const std::string& name, std::uint16_t type, ClusterZoneOptions opts = {}) {
    ClusterZone zone(opts);
    auto q = parse_query(make_query(name, type));
    EXPECT_TRUE(q.has_value());
    std::vector<std::uint8_t> buf(4096);
    ResponseWriter w(buf, buf.size());
    zone.answer(snapshot_.get(), *q, w);
    auto out = w.finish();
    return decode(std::vector<std::uint8_t>(out.begin(), out.end()));
  }

  endpoints::ClusterState state_{{.node_name = "node-a"}};
  std::shared_ptr<const endpoints::Snapshot> snapshot_;
};

const std::string kSoa = "cluster.local. 5 SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5";

TEST(ParseRequest, SplitsLikeCoreDns) {
  auto r = parse_request("_http._tcp.web.shop.svc.cluster.local.", "cluster.local.");
  EXPECT_EQ(r.port, "http");
  EXPECT_EQ(r.protocol, "tcp");
  EXPECT_EQ(r.service, "web");
  EXPECT_EQ(r.namespace_, "shop");
  EXPECT_EQ(r.kind, "svc");
  auto e = parse_request("db-0.db.shop.svc.cluster.local.", "cluster.local.");
  EXPECT_EQ(e.endpoint, "db-0");
  EXPECT_EQ(e.service, "db");
  auto p = parse_request("10-1-0-5.shop.pod.cluster.local.", "cluster.local.");
  EXPECT_EQ(p.kind, "pod");
  EXPECT_EQ(p.service, "10-1-0-5");
  EXPECT_FALSE(parse_request("a.b.c.web.shop.svc.cluster.local.", "cluster.local.").valid);
  EXPECT_FALSE(parse_request("web.shop.foo.cluster.local.", "cluster.local.").valid);
  EXPECT_TRUE(parse_request("cluster.local.", "cluster.local.").kind.empty());
}

TEST_F(ClusterZoneTest, ClusterIpServiceA) {
  auto d = ask("web.shop.svc.cluster.local", kA);
  EXPECT_EQ(d.rcode, kNoError);
  EXPECT_TRUE(d.aa);
  EXPECT_THAT(d.answer, ElementsAre("web.shop.svc.cluster.local. 5 A 10.96.0.10"));
}

TEST_F(ClusterZoneTest, NamesAreCaseInsensitive) {
  EXPECT_THAT(ask("WEB.Shop.SVC.Cluster.Local", kA).answer, ElementsAre("web.shop.svc.cluster.local. 5 A 10.96.0.10"));
}

TEST_F(ClusterZoneTest, AaaaOnAnIpv4OnlyServiceIsNodata) {
  auto d = ask("web.shop.svc.cluster.local", kAAAA);
  EXPECT_EQ(d.rcode, kNoError);
  EXPECT_THAT(d.answer, IsEmpty());
  EXPECT_THAT(d.authority, ElementsAre(kSoa));
}

TEST_F(ClusterZoneTest, DualStackServiceAnswersPerFamily) {
  EXPECT_THAT(ask("dual.shop.svc.cluster.local", kA).answer, ElementsAre("dual.shop.svc.cluster.local. 5 A 10.96.0.11"));
  EXPECT_THAT(ask("dual.shop.svc.cluster.local", kAAAA).answer, ElementsAre("dual.shop.svc.cluster.local. 5 AAAA fd00::11"));
}

TEST_F(ClusterZoneTest, HeadlessServiceReturnsReadyEndpoints) {
  auto d = ask("db.shop.svc.cluster.local", kA);
  EXPECT_THAT(d.answer, UnorderedElementsAre("db.shop.svc.cluster.local. 5 A 10.1.0.5", "db.shop.svc.cluster.local. 5 A 10.1.0.6"));
}

TEST_F(ClusterZoneTest, HeadlessEndpointsByHostnameAndByDashedIp) {
  EXPECT_THAT(ask("db-0.db.shop.svc.cluster.local", kA).answer, ElementsAre("db-0.db.shop.svc.cluster.local. 5 A 10.1.0.5"));
  EXPECT_THAT(ask("10-1-0-6.db.shop.svc.cluster.local", kA).answer, ElementsAre("10-1-0-6.db.shop.svc.cluster.local. 5 A 10.1.0.6"));
  EXPECT_EQ(ask("db-2.db.shop.svc.cluster.local", kA).rcode, kNxDomain);  // not ready
  ClusterZoneOptions pod_names;
  pod_names.endpoint_pod_names = true;
  EXPECT_THAT(ask("db-1.db.shop.svc.cluster.local", kA, pod_names).answer, ElementsAre("db-1.db.shop.svc.cluster.local. 5 A 10.1.0.6"));
}

TEST_F(ClusterZoneTest, HeadlessWithoutReadyEndpointsIsNxdomain) {
  auto d = ask("empty-headless.shop.svc.cluster.local", kA);
  EXPECT_EQ(d.rcode, kNxDomain);
  EXPECT_THAT(d.authority, ElementsAre(kSoa));
}

TEST_F(ClusterZoneTest, SrvForNamedPorts) {
  auto d = ask("_http._tcp.web.shop.svc.cluster.local", kSRV);
  EXPECT_THAT(d.answer, ElementsAre("_http._tcp.web.shop.svc.cluster.local. 5 SRV 0 100 80 web.shop.svc.cluster.local."));
  EXPECT_THAT(d.additional, ElementsAre("web.shop.svc.cluster.local. 5 A 10.96.0.10"));
  EXPECT_THAT(ask("_dns._udp.web.shop.svc.cluster.local", kSRV).answer,
              ElementsAre("_dns._udp.web.shop.svc.cluster.local. 5 SRV 0 100 53 web.shop.svc.cluster.local."));
  EXPECT_EQ(ask("_dns._tcp.web.shop.svc.cluster.local", kSRV).rcode, kNxDomain);
  auto headless = ask("_http._tcp.db.shop.svc.cluster.local", kSRV);
  EXPECT_THAT(headless.answer,
              UnorderedElementsAre("_http._tcp.db.shop.svc.cluster.local. 5 SRV 0 50 8080 db-0.db.shop.svc.cluster.local.",
                                   "_http._tcp.db.shop.svc.cluster.local. 5 SRV 0 50 8080 10-1-0-6.db.shop.svc.cluster.local."));
  EXPECT_THAT(headless.additional,
              UnorderedElementsAre("db-0.db.shop.svc.cluster.local. 5 A 10.1.0.5", "10-1-0-6.db.shop.svc.cluster.local. 5 A 10.1.0.6"));
}

TEST_F(ClusterZoneTest, PtrForServiceAndEndpointIps) {
  EXPECT_THAT(ask("10.0.96.10.in-addr.arpa", kPTR).answer, ElementsAre("10.0.96.10.in-addr.arpa. 5 PTR web.shop.svc.cluster.local."));
  EXPECT_THAT(ask("5.0.1.10.in-addr.arpa", kPTR).answer, ElementsAre("5.0.1.10.in-addr.arpa. 5 PTR db-0.db.shop.svc.cluster.local."));
  std::string v6 = "1.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa";
  EXPECT_THAT(ask(v6, kPTR).answer, ElementsAre(v6 + ". 5 PTR dual.shop.svc.cluster.local."));
  EXPECT_EQ(ask("9.9.9.10.in-addr.arpa", kPTR).rcode, kNxDomain);
}

TEST_F(ClusterZoneTest, ExternalNameIsACname) {
  EXPECT_THAT(ask("ext.shop.svc.cluster.local", kA).answer, ElementsAre("ext.shop.svc.cluster.local. 5 CNAME db.example.com."));
}

TEST_F(ClusterZoneTest, DnsVersionApexAndNamespaces) {
  EXPECT_THAT(ask("dns-version.cluster.local", kTXT).answer, ElementsAre("dns-version.cluster.local. 5 TXT 1.1.0"));
  EXPECT_THAT(ask("cluster.local", kSOA).answer, ElementsAre(kSoa));
  EXPECT_THAT(ask("cluster.local", kNS).answer, ElementsAre("cluster.local. 5 NS ns.dns.cluster.local."));
  auto ns = ask("shop.svc.cluster.local", kA);  // an existing namespace: NODATA
  EXPECT_EQ(ns.rcode, kNoError);
  EXPECT_THAT(ns.answer, IsEmpty());
  EXPECT_EQ(ask("nope.svc.cluster.local", kA).rcode, kNxDomain);
  EXPECT_EQ(ask("missing.shop.svc.cluster.local", kA).rcode, kNxDomain);
  auto txt = ask("web.shop.svc.cluster.local", kTXT);  // the name exists, the type does not
  EXPECT_EQ(txt.rcode, kNoError);
  EXPECT_THAT(txt.authority, ElementsAre(kSoa));
}

// With a namespace feed (the agent's), a namespace with no Services exists: NODATA with the
// SOA, as CoreDNS answers; one that does not exist is NXDOMAIN even when it once had Services.
TEST_F(ClusterZoneTest, NamespacesFromTheFeedDecideNodataOrNxdomain) {
  state_.upsert_namespace("shop");
  state_.upsert_namespace("empty");
  snapshot_ = state_.build();
  auto empty = ask("empty.svc.cluster.local", kA);
  EXPECT_EQ(empty.rcode, kNoError);
  EXPECT_THAT(empty.answer, IsEmpty());
  EXPECT_THAT(empty.authority, ElementsAre(::testing::HasSubstr(" SOA ns.dns.cluster.local. hostmaster.cluster.local. ")));
  EXPECT_EQ(ask("shop.svc.cluster.local", kA).rcode, kNoError);
  EXPECT_EQ(ask("nope.svc.cluster.local", kA).rcode, kNxDomain);
  EXPECT_EQ(ask("missing.empty.svc.cluster.local", kA).rcode, kNxDomain);
  state_.remove_namespace("empty");
  snapshot_ = state_.build();
  EXPECT_EQ(ask("empty.svc.cluster.local", kA).rcode, kNxDomain);
}

TEST_F(ClusterZoneTest, PodRecordsFollowThePodsMode) {
  EXPECT_EQ(ask("10-1-0-5.shop.pod.cluster.local", kA).rcode, kNxDomain);  // disabled by default
  ClusterZoneOptions insecure;
  insecure.pods = PodRecords::Insecure;
  EXPECT_THAT(ask("10-9-9-9.shop.pod.cluster.local", kA, insecure).answer, ElementsAre("10-9-9-9.shop.pod.cluster.local. 5 A 10.9.9.9"));
  ClusterZoneOptions verified;
  verified.pods = PodRecords::Verified;
  EXPECT_THAT(ask("10-1-0-5.shop.pod.cluster.local", kA, verified).answer, ElementsAre("10-1-0-5.shop.pod.cluster.local. 5 A 10.1.0.5"));
  EXPECT_EQ(ask("10-9-9-9.shop.pod.cluster.local", kA, verified).rcode, kNxDomain);
}

// The server answers through the ServiceIndex (keys inline in the entry, or compared through
// the service when too long for it; A/AAAA of ClusterIP services from the entry alone): the
// same bytes as through the Snapshot's map, for every kind of service, hits and misses.
TEST_F(ClusterZoneTest, ServiceIndexAnswersAsTheSnapshot) {
  const std::string long_name = "a-service-name-longer-than-an-index-entry";
  state_.upsert(service(long_name, "10.96.0.12"));
  snapshot_ = state_.build();
  const ServiceIndex index(*snapshot_);
  const ClusterZone zone({});
  auto answer = [&](const std::string& name, std::uint16_t type, const ServiceIndex* with) {
    auto q = parse_query(make_query(name, type));
    EXPECT_TRUE(q.has_value());
    std::vector<std::uint8_t> buf(4096);
    ResponseWriter w(buf, buf.size());
    zone.answer(snapshot_.get(), with, *q, w);
    auto out = w.finish();
    return std::vector<std::uint8_t>(out.begin(), out.end());
  };
  for (const std::string& svc :
       std::vector<std::string>{"web", "dual", "db", "empty-headless", "ext", long_name, "missing", long_name + "x", "wex"})
    for (const std::uint16_t type : {kA, kAAAA, kSRV, kTXT, kANY}) {
      const std::string name = svc + ".shop.svc.cluster.local";
      EXPECT_EQ(answer(name, type, &index), answer(name, type, nullptr)) << name << " type " << type;
    }
  EXPECT_THAT(decode(answer(long_name + ".shop.svc.cluster.local", kA, &index)).answer,
              ElementsAre(long_name + ".shop.svc.cluster.local. 5 A 10.96.0.12"));
  EXPECT_THAT(decode(answer("dual.shop.svc.cluster.local", kAAAA, &index)).answer,
              ElementsAre("dual.shop.svc.cluster.local. 5 AAAA fd00::11"));
  EXPECT_EQ(decode(answer("wex.shop.svc.cluster.local", kA, &index)).rcode, kNxDomain);
}

TEST_F(ClusterZoneTest, ServfailUntilTheFirstSync) {
  ClusterZone zone({});
  auto q = *parse_query(make_query("web.shop.svc.cluster.local", kA));
  std::vector<std::uint8_t> buf(512);
  ResponseWriter w(buf, buf.size());
  zone.answer(nullptr, q, w);
  auto out = w.finish();
  EXPECT_EQ(decode(std::vector<std::uint8_t>(out.begin(), out.end())).rcode, kServFail);
}

}  // namespace
}  // namespace switchyard::dns
