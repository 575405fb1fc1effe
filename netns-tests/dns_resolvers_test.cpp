// Cluster DNS as pods see it: a network namespace whose resolv.conf carries the Kubernetes
// search list and ndots:5, the server on 127.0.0.1:53 inside it, and the libc resolver
// (getent) and dig +search resolving partial names.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netns-tests/support/process.h"

namespace switchyard::testing {
namespace {

using ::testing::HasSubstr;

class PodResolvers : public ::testing::Test {
 protected:
  void SetUp() override {
    ns_ = std::make_unique<NetworkNamespace>("dns");
    ns_->write_resolv_conf("nameserver 127.0.0.1\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n");
    server_ =
        std::make_unique<ChildProcess>(std::vector<std::string>{"ip", "netns", "exec", ns_->name(), SWITCHYARD_BINARY, "dns", "--manifests",
                                                                EXAMPLES_DIR "/dns.yaml", "--listen", "127.0.0.1:53", "--workers", "1"},
                                       "/tmp/" + ns_->name() + "-dns.log");
    ASSERT_TRUE(wait_until(10, [&] {
      return ns_->exec("dig @127.0.0.1 +time=1 +tries=1 +short dns-version.cluster.local TXT").output == "\"1.1.0\"\n";
    })) << run("cat /tmp/" + ns_->name() + "-dns.log").output;
  }
  void TearDown() override {
    server_.reset();
    if (!HasFailure()) std::filesystem::remove("/tmp/" + ns_->name() + "-dns.log");  // kept when it can explain a failure
    ns_.reset();
  }
  std::unique_ptr<NetworkNamespace> ns_;
  std::unique_ptr<ChildProcess> server_;
};

TEST_F(PodResolvers, LibcResolverExpandsPartialNames) {
  EXPECT_THAT(ns_->exec("getent hosts web").output, HasSubstr("10.96.0.10      web.shop.svc.cluster.local"));
  EXPECT_THAT(ns_->exec("getent hosts web.shop").output, HasSubstr("10.96.0.10      web.shop.svc.cluster.local"));
  EXPECT_THAT(ns_->exec("getent hosts db-0.db").output, HasSubstr("10.1.0.5        db-0.db.shop.svc.cluster.local"));
  // getent ahosts: getaddrinfo. (ahostsv4 would ask nothing: AI_ADDRCONFIG sees only loopback here.)
  const auto headless = ns_->exec("getent ahosts db").output;
  EXPECT_THAT(headless, HasSubstr("10.1.0.5        STREAM db.shop.svc.cluster.local"));
  EXPECT_THAT(headless, HasSubstr("10.1.0.6        STREAM"));
  EXPECT_EQ(ns_->exec("getent hosts no-such-service").exit_code, 2);  // not found
  // An ExternalName alias of a cluster name: glibc does not chase a bare CNAME, so the answer
  // carries the target's address (it failed before, as the hardening issue found).
  EXPECT_THAT(ns_->exec("getent ahosts web-alias").output, HasSubstr("10.96.0.10"));
}

TEST_F(PodResolvers, DigWithTheSearchList) {
  EXPECT_EQ(ns_->exec("dig +search +short web").output, "10.96.0.10\n");
  EXPECT_EQ(ns_->exec("dig +search +short web.shop").output, "10.96.0.10\n");
  EXPECT_THAT(ns_->exec("dig +search +short _pg._tcp.db.shop.svc SRV").output, HasSubstr("0 50 5432 db-0.db.shop.svc.cluster.local."));
  EXPECT_EQ(ns_->exec("dig +search +short ext").output, "db.example.com.\n");
  EXPECT_EQ(ns_->exec("dig +tcp +search +short web").output, "10.96.0.10\n");
}

// The resolv.conf here names 127.0.0.1, where the server itself listens, and the server forwards
// to resolv.conf's nameservers: CoreDNS's classic loop. The probe finds it; nothing amplifies.
TEST_F(PodResolvers, ForwardingToItselfThroughResolvConfIsDetected) {
  ASSERT_TRUE(wait_until(
      5, [&] { return run("cat /tmp/" + ns_->name() + "-dns.log").output.find("event=dns_forwarding_loop") != std::string::npos; }));
  EXPECT_THAT(ns_->exec("dig @127.0.0.1 +time=2 +tries=1 example.com").output, HasSubstr("status: SERVFAIL"));
  EXPECT_EQ(ns_->exec("dig +search +short web").output, "10.96.0.10\n");  // cluster names unaffected
}

// Autopath as a pod sees it: the pod's address (127.0.0.1 in its namespace) is an endpoint of a
// Service in "shop", so a name outside the cluster, asked with ndots:5, is answered on the first
// search name: one query, a CNAME to the real name and its address. The upstream is a second
// server in the namespace, authoritative for example.test.
class PodWithAutopath : public ::testing::Test {
 protected:
  void SetUp() override {
    ns_ = std::make_unique<NetworkNamespace>("dnsap");
    ns_->write_resolv_conf("nameserver 127.0.0.1\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n");
    pods_manifest_ = "/tmp/" + ns_->name() + "-pods.yaml";
    std::ofstream(pods_manifest_) << "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
                                     "metadata: {name: web-pods, namespace: shop, labels: {kubernetes.io/service-name: web}}\n"
                                     "addressType: IPv4\nendpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]\n"
                                     "ports: [{name: http, port: 8080, protocol: TCP}]\n";
    upstream_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"ip", "netns", "exec", ns_->name(), SWITCHYARD_BINARY, "dns", "--manifests", EXAMPLES_DIR "/dns.yaml",
                                 "--cluster-domain", "example.test", "--listen", "127.0.0.1:5300", "--workers", "1", "--resolv-conf", ""},
        "/tmp/" + ns_->name() + "-upstream.log");
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"ip", "netns", "exec", ns_->name(), SWITCHYARD_BINARY, "dns", "--manifests", EXAMPLES_DIR "/dns.yaml",
                                 "--manifests", pods_manifest_, "--listen", "127.0.0.1:53", "--workers", "1", "--autopath", "--upstream",
                                 "127.0.0.1:5300", "--metrics-listen", "127.0.0.1:9153"},
        "/tmp/" + ns_->name() + "-dns.log");
    ASSERT_TRUE(wait_until(10, [&] {
      return ns_->exec("dig @127.0.0.1 +time=1 +tries=1 +short web.shop.svc.example.test").output == "10.96.0.10\n";
    })) << run("cat /tmp/" + ns_->name() + "-dns.log /tmp/" + ns_->name() + "-upstream.log").output;
  }
  void TearDown() override {
    server_.reset();
    upstream_.reset();
    if (!HasFailure())
      for (const char* log : {"-dns.log", "-upstream.log"}) std::filesystem::remove("/tmp/" + ns_->name() + log);
    ns_.reset();
    std::filesystem::remove(pods_manifest_);
  }
  std::unique_ptr<NetworkNamespace> ns_;
  std::unique_ptr<ChildProcess> upstream_, server_;
  std::string pods_manifest_;
};

TEST_F(PodWithAutopath, AnExternalNameIsAnsweredOnTheFirstSearchName) {
  // dig +search asks the first search name first and stops at the first answer.
  const auto out = ns_->exec("dig +search +noall +answer web.shop.svc.example.test").output;
  EXPECT_THAT(out, HasSubstr("web.shop.svc.example.test.shop.svc.cluster.local. 5 IN CNAME web.shop.svc.example.test."));
  EXPECT_THAT(out, HasSubstr("10.96.0.10"));
  EXPECT_THAT(ns_->exec("getent hosts web.shop.svc.example.test").output, HasSubstr("10.96.0.10"));
  EXPECT_THAT(ns_->exec("curl -s http://127.0.0.1:9153/metrics").output, ::testing::ContainsRegex("switchyard_dns_autopath_total [1-9]"));
}

}  // namespace
}  // namespace switchyard::testing
