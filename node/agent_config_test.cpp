// KubeProxyConfiguration files as kube-proxy DaemonSets carry them, Go durations, listen
// addresses, and the status HTTP server answering real requests on loopback.
#include "node/agent_config.h"

#include <utility>  // Boost 1.74 asio/awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/status_http_server.h"

namespace switchyard::node {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(GoDuration, ParsesTheFormsKubeProxyConfigsUse) {
  EXPECT_EQ(*parse_go_duration("30s"), 30s);
  EXPECT_EQ(*parse_go_duration("1m0s"), 60s);
  EXPECT_EQ(*parse_go_duration("1h30m"), 90min);
  EXPECT_EQ(*parse_go_duration("500ms"), 500ms);
  EXPECT_EQ(*parse_go_duration("1.5s"), 1500ms);
  EXPECT_EQ(*parse_go_duration("0"), 0ms);
  EXPECT_THAT(parse_go_duration("30").error().message, HasSubstr("unknown unit \"\""));
  EXPECT_THAT(parse_go_duration("days").error().message, HasSubstr("expected a number"));
  EXPECT_THAT(parse_go_duration("5d").error().message, HasSubstr("unknown unit \"d\""));
  EXPECT_THAT(parse_go_duration("").error().message, HasSubstr("empty"));
}

TEST(HostPort, SplitsAddressesWithAndWithoutPorts) {
  EXPECT_EQ(*split_host_port("0.0.0.0:10256", 1), std::make_pair(std::string("0.0.0.0"), std::uint16_t{10256}));
  EXPECT_EQ(*split_host_port("[::1]:53", 1), std::make_pair(std::string("::1"), std::uint16_t{53}));
  EXPECT_EQ(*split_host_port("127.0.0.1", 10249), std::make_pair(std::string("127.0.0.1"), std::uint16_t{10249}));
  EXPECT_EQ(*split_host_port(":10256", 1), std::make_pair(std::string("0.0.0.0"), std::uint16_t{10256}));
  EXPECT_THAT(split_host_port("1.2.3.4:99999", 1).error().message, HasSubstr("bad port \"99999\""));
}

// What kubeadm writes into the kube-proxy ConfigMap, with nftables mode and our fields.
constexpr const char* kKubeadmStyle = R"(apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
bindAddress: 0.0.0.0
clientConnection:
  acceptContentTypes: ""
  burst: 10
  contentType: application/vnd.kubernetes.protobuf
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 5
clusterCIDR: 10.244.0.0/16,fd00:10:244::/56
configSyncPeriod: 15m0s
conntrack:
  maxPerCore: 32768
  min: 131072
  tcpCloseWaitTimeout: 1h0m0s
  tcpEstablishedTimeout: 24h0m0s
  udpTimeout: 0s
  udpStreamTimeout: 2m
healthzBindAddress: 0.0.0.0:10256
hostnameOverride: ""
iptables:
  masqueradeAll: false
  syncPeriod: 30s
metricsBindAddress: 127.0.0.1:10249
mode: nftables
nftables:
  syncPeriod: 45s
  minSyncPeriod: 2s
nodePortAddresses: [192.168.0.0/16]
)";

TEST(KubeProxyConfiguration, ReadsTheFieldsThatApplyAndReportsTheRest) {
  AgentConfig c;
  auto ok = parse_kube_proxy_configuration(kKubeadmStyle, c);
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(c.mode, "nftables");
  EXPECT_EQ(c.kubeconfig, "/var/lib/kube-proxy/kubeconfig.conf");
  EXPECT_THAT(c.cluster_cidrs, ElementsAre("10.244.0.0/16", "fd00:10:244::/56"));
  EXPECT_THAT(c.node_port_addresses, ElementsAre("192.168.0.0/16"));
  EXPECT_EQ(c.sync_period, 45s);  // from the nftables block
  EXPECT_EQ(c.min_sync_period, 2s);
  EXPECT_EQ(c.conntrack.max_per_core, 32768);
  EXPECT_EQ(c.conntrack.min, 131072);
  EXPECT_EQ(c.conntrack.tcp_established_timeout, 24h);
  EXPECT_EQ(c.conntrack.tcp_close_wait_timeout, 1h);
  EXPECT_EQ(c.conntrack.udp_stream_timeout, 120s);
  EXPECT_FALSE(c.conntrack.udp_timeout);  // 0s: leave the kernel's value
  EXPECT_EQ(c.healthz_bind_address, "0.0.0.0:10256");
  EXPECT_EQ(c.metrics_bind_address, "127.0.0.1:10249");
  EXPECT_THAT(c.ignored_fields, ::testing::IsSupersetOf({"iptables", "configSyncPeriod", "hostnameOverride"}));
}

TEST(KubeProxyConfiguration, TopLevelSyncPeriodsWinOverTheModeBlock) {
  AgentConfig c;
  ASSERT_TRUE(parse_kube_proxy_configuration("kind: KubeProxyConfiguration\nsyncPeriod: 1m\nnftables: {syncPeriod: 10s}\n", c));
  EXPECT_EQ(c.sync_period, 60s);
}

TEST(KubeProxyConfiguration, ErrorsNameTheFieldAndTheCause) {
  AgentConfig c;
  EXPECT_THAT(parse_kube_proxy_configuration("mode: ipvs\n", c).error().message, HasSubstr("mode \"ipvs\""));
  EXPECT_THAT(parse_kube_proxy_configuration("syncPeriod: soon\n", c).error().message, HasSubstr("syncPeriod: duration \"soon\""));
  EXPECT_THAT(parse_kube_proxy_configuration("clusterCidr: 10.0.0.0/8\n", c).error().message,
              HasSubstr("clusterCidr: unknown field of KubeProxyConfiguration"));
  EXPECT_THAT(parse_kube_proxy_configuration("conntrack: {maxPerCore: lots}\n", c).error().message, HasSubstr("YAML"));
  EXPECT_THAT(parse_kube_proxy_configuration("kind: KubeletConfiguration\n", c).error().message,
              HasSubstr("expected KubeProxyConfiguration"));
  EXPECT_THAT(read_kube_proxy_configuration("/nonexistent/kube-proxy.yaml", c).error().message,
              HasSubstr("--config /nonexistent/kube-proxy.yaml: cannot read the file"));
}

// One GET over a real socket; returns the raw response.
std::string http_get(std::uint16_t port, const std::string& path) {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  asio::write(s, asio::buffer(request));
  std::string out;
  boost::system::error_code ec;
  char buf[4096];
  for (std::size_t n; (n = s.read_some(asio::buffer(buf), ec)) > 0 || !ec;) out.append(buf, n);
  return out;
}

TEST(StatusHttpServer, AnswersKnownPathsAnd404sTheRest) {
  int calls = 0;
  auto server = StatusHttpServer::start("127.0.0.1:0", {{"/healthz", [&] {
                                                           ++calls;
                                                           return StatusResponse{503, "application/json", "{\"x\": 1}"};
                                                         }}});
  ASSERT_TRUE(server) << server.error();
  const auto port = (*server)->port();
  ASSERT_NE(port, 0);
  auto r = http_get(port, "/healthz?verbose");
  EXPECT_THAT(r, HasSubstr("HTTP/1.1 503"));
  EXPECT_THAT(r, HasSubstr("Content-Type: application/json"));
  EXPECT_THAT(r, HasSubstr("{\"x\": 1}"));
  EXPECT_EQ(calls, 1);
  EXPECT_THAT(http_get(port, "/nothing"), HasSubstr("HTTP/1.1 404"));
  // The port is taken now: a second server on it says so.
  auto second = StatusHttpServer::start("127.0.0.1:" + std::to_string(port), {});
  ASSERT_FALSE(second);
  EXPECT_THAT(second.error().message, HasSubstr("listen 127.0.0.1:" + std::to_string(port)));
  EXPECT_THAT(StatusHttpServer::start("localhost:0", {}).error().message, HasSubstr("not an IP address"));
}

}  // namespace
}  // namespace switchyard::node
