// The health-check node port of an externalTrafficPolicy Local service, asked by curl from the
// external client namespace of a ServiceTopology, as a cloud load balancer would ask the node.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "dataplane/health_check_server.h"
#include "dataplane/proxy_health.h"
#include "dataplane/iptables/test_cluster.h"
#include "dataplane/testing/service_topology.h"

namespace switchyard::dataplane {
namespace {

using namespace test_cluster;
using testing::ServiceTopology;

constexpr const char* kPodA = "10.244.0.11";
constexpr const char* kPodB = "10.244.0.12";
constexpr std::int32_t kHealthPort = 32100;

api::Service local_load_balancer(std::int32_t health_port) {
  auto s = node_port_service("local", "10.96.0.40", 30081);
  s.spec.type = "LoadBalancer";
  s.spec.external_traffic_policy = "Local";
  s.spec.health_check_node_port = health_port;
  return s;
}

struct HealthReply {
  int curl_exit = -1;
  int status = 0;
  nlohmann::json body;
};

HealthReply ask(testing::NetworkNamespace& from, const std::string& host, std::int32_t port) {
  const std::string authority = host.find(':') == std::string::npos ? host : "[" + host + "]";
  // Body, then the status code on a line of its own.
  auto r = from.run("curl -sS --max-time 2 -w '\\n%{http_code}' http://" + authority + ":" + std::to_string(port) + "/");
  HealthReply reply{r.exit_code, 0, {}};
  if (!r.ok()) return reply;
  const auto split = r.output.rfind('\n');
  reply.status = std::stoi(r.output.substr(split + 1));
  reply.body = nlohmann::json::parse(r.output.substr(0, split), nullptr, false);
  return reply;
}

class HealthCheckServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
    auto t = ServiceTopology::create({{"pod-a", kPodA, 8080}, {"pod-b", kPodB, 8080}});
    ASSERT_TRUE(t) << t.error();
    topology_.emplace(std::move(*t));
  }
  void TearDown() override {
    // The server's sockets belong to the node namespace; close them before it goes away.
    if (server_ && topology_) (void)topology_->node().enter([&] { server_.reset(); });
  }

  void start(HealthCheckServerOptions options = {}) {
    Result<std::unique_ptr<HealthCheckServer>> created = std::unexpected(Error{ErrorCode::Internal, "not run"});
    auto entered = topology_->node().enter([&] { created = HealthCheckServer::create(options); });
    ASSERT_TRUE(entered) << entered.error();
    ASSERT_TRUE(created) << created.error().message;
    server_ = std::move(*created);
  }
  // Builds the Snapshot and hands it to the server from inside the node namespace.
  void update() {
    auto snapshot = state_.build();
    Result<void> ok = std::unexpected(Error{ErrorCode::Internal, "not run"});
    auto entered = topology_->node().enter([&] { ok = server_->update(*snapshot); });
    ASSERT_TRUE(entered) << entered.error();
    ASSERT_TRUE(ok) << ok.error().message;
  }

  std::optional<ServiceTopology> topology_;
  std::unique_ptr<HealthCheckServer> server_;
  endpoints::ClusterState state_{{.node_name = "node-a"}};
};

TEST_F(HealthCheckServerTest, AnswersOkWithLocalEndpointsAndUnavailableWithout) {
  ASSERT_NO_FATAL_FAILURE(start());
  state_.upsert(local_load_balancer(kHealthPort));
  state_.upsert(slice("local", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
  ASSERT_NO_FATAL_FAILURE(update());
  EXPECT_THAT(server_->listening_ports(), ::testing::ElementsAre(kHealthPort));

  auto& client = topology_->client();
  auto with_local = ask(client, ServiceTopology::kNodeIp, kHealthPort);
  ASSERT_EQ(with_local.curl_exit, 0);
  EXPECT_EQ(with_local.status, 200);
  EXPECT_EQ(with_local.body,
            nlohmann::json::parse(R"({"service":{"namespace":"shop","name":"local"},"localEndpoints":1,"serviceProxyHealthy":true})"));
  // Every node address answers by default, IPv6 too.
  EXPECT_EQ(ask(client, ServiceTopology::kNodeIpv6, kHealthPort).status, 200);

  // The local pod goes away: the load balancer must stop sending traffic to this node.
  state_.upsert(slice("local", {{kPodB, "node-b"}}));
  ASSERT_NO_FATAL_FAILURE(update());
  auto without_local = ask(client, ServiceTopology::kNodeIp, kHealthPort);
  ASSERT_EQ(without_local.curl_exit, 0);
  EXPECT_EQ(without_local.status, 503);
  EXPECT_EQ(without_local.body["localEndpoints"], 0);
  EXPECT_EQ(without_local.body["service"]["name"], "local");

  // And back.
  state_.upsert(slice("local", {{kPodA, "node-a"}, {"10.244.0.13", "node-a"}}));
  ASSERT_NO_FATAL_FAILURE(update());
  auto two = ask(client, ServiceTopology::kNodeIp, kHealthPort);
  EXPECT_EQ(two.status, 200);
  EXPECT_EQ(two.body["localEndpoints"], 2);
}

// kube-proxy's rule, through the agent's own ProxyHealth: once a change has waited longer than
// the health timeout for a successful sync, every health-check port answers 503 (the node's
// rules are stale), even with local endpoints; the next successful sync brings back 200.
TEST_F(HealthCheckServerTest, StaleSyncsTurnThePortsUnavailableUntilTheNextSuccessfulSync) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto now = std::chrono::system_clock::now();
  ProxyHealth proxy(std::chrono::seconds(60), [&now] { return now; });
  server_->set_proxy_health([&proxy] { return proxy.healthy(); });
  state_.upsert(local_load_balancer(kHealthPort));
  state_.upsert(slice("local", {{kPodA, "node-a"}}));
  ASSERT_NO_FATAL_FAILURE(update());
  proxy.updated();
  auto& client = topology_->client();
  EXPECT_EQ(ask(client, ServiceTopology::kNodeIp, kHealthPort).status, 200);

  // A change arrives and the syncs that should program it keep failing.
  proxy.queued_update();
  now += std::chrono::seconds(59);
  EXPECT_EQ(ask(client, ServiceTopology::kNodeIp, kHealthPort).status, 200) << "still within the health timeout";
  now += std::chrono::seconds(2);
  auto stale = ask(client, ServiceTopology::kNodeIp, kHealthPort);
  EXPECT_EQ(stale.status, 503);
  EXPECT_EQ(stale.body["serviceProxyHealthy"], false);
  EXPECT_EQ(stale.body["localEndpoints"], 1);

  proxy.updated();
  auto recovered = ask(client, ServiceTopology::kNodeIp, kHealthPort);
  EXPECT_EQ(recovered.status, 200);
  EXPECT_EQ(recovered.body["serviceProxyHealthy"], true);
}

TEST_F(HealthCheckServerTest, PortClosesWhenTheServiceGoesOrStopsBeingLocal) {
  ASSERT_NO_FATAL_FAILURE(start());
  state_.upsert(local_load_balancer(kHealthPort));
  state_.upsert(slice("local", {{kPodA, "node-a"}}));
  auto other = local_load_balancer(kHealthPort + 1);
  other.metadata.name = "other";
  other.spec.cluster_ip = "10.96.0.41";
  other.spec.ports[0].node_port = 30082;
  state_.upsert(other);
  ASSERT_NO_FATAL_FAILURE(update());
  EXPECT_THAT(server_->listening_ports(), ::testing::ElementsAre(kHealthPort, kHealthPort + 1));
  auto& client = topology_->client();
  EXPECT_EQ(ask(client, ServiceTopology::kNodeIp, kHealthPort + 1).body["service"]["name"], "other");

  auto cluster_policy = local_load_balancer(0);
  cluster_policy.spec.external_traffic_policy = "Cluster";
  state_.upsert(cluster_policy);
  state_.remove_service({"shop", "other"});
  ASSERT_NO_FATAL_FAILURE(update());
  EXPECT_THAT(server_->listening_ports(), ::testing::IsEmpty());
  EXPECT_EQ(ask(client, ServiceTopology::kNodeIp, kHealthPort).curl_exit, 7) << "connection refused";
  EXPECT_EQ(ask(client, ServiceTopology::kNodeIp, kHealthPort + 1).curl_exit, 7) << "connection refused";
}

TEST_F(HealthCheckServerTest, ListensOnlyOnTheGivenNodeAddresses) {
  ASSERT_NO_FATAL_FAILURE(start({.node_addresses = {ServiceTopology::kNodeIp}}));
  state_.upsert(local_load_balancer(kHealthPort));
  state_.upsert(slice("local", {{kPodA, "node-a"}}));
  ASSERT_NO_FATAL_FAILURE(update());
  auto& client = topology_->client();
  EXPECT_EQ(ask(client, ServiceTopology::kNodeIp, kHealthPort).status, 200);
  EXPECT_EQ(ask(client, ServiceTopology::kNodeIpv6, kHealthPort).curl_exit, 7) << "not listening on the IPv6 address";
}

TEST_F(HealthCheckServerTest, PortInUseIsReportedAndTheOthersStillServe) {
  ASSERT_NO_FATAL_FAILURE(start());
  // Something else on the node holds the first port.
  auto holder = topology_->node().spawn({"python3", "-c",
                                         "import socket,time;s=socket.socket(socket.AF_INET6);"
                                         "s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,0);"
                                         "s.bind(('::'," +
                                             std::to_string(kHealthPort) + "));s.listen();time.sleep(60)"});
  ASSERT_TRUE(holder) << holder.error();
  bool bound = false;
  for (int i = 0; i < 100 && !bound; ++i) {
    bound = topology_->node().run("ss -Htln | grep -q ':" + std::to_string(kHealthPort) + " '").ok();
    if (!bound) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(bound);
  state_.upsert(local_load_balancer(kHealthPort));
  state_.upsert(slice("local", {{kPodA, "node-a"}}));
  auto other = local_load_balancer(kHealthPort + 1);
  other.metadata.name = "other";
  other.spec.cluster_ip = "10.96.0.41";
  other.spec.ports[0].node_port = 30082;
  state_.upsert(other);
  auto snapshot = state_.build();
  Result<void> ok;
  ASSERT_TRUE(topology_->node().enter([&] { ok = server_->update(*snapshot); }));
  ASSERT_FALSE(ok);
  EXPECT_THAT(ok.error().message, ::testing::HasSubstr("health-check node port 32100 of service shop/local"));
  EXPECT_THAT(ok.error().message, ::testing::HasSubstr("in use"));
  EXPECT_THAT(server_->listening_ports(), ::testing::ElementsAre(kHealthPort + 1));
  EXPECT_EQ(ask(topology_->client(), ServiceTopology::kNodeIp, kHealthPort + 1).status, 503);
}

}  // namespace
}  // namespace switchyard::dataplane
