// Socket-level load balancing with real sockets: the BPF programs attached to a cgroup the test
// creates (the test process and its curl children inside it), a node namespace with routed pods
// (dataplane/testing/service_topology.h) and maps pinned in a private bpf filesystem.
#include <bpf/bpf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <thread>

#include "dataplane/ebpf/ebpf_backend.h"
#include "dataplane/ebpf/testing/ebpf_test_env.h"
#include "dataplane/ebpf/testing/socket_probe.h"
#include "dataplane/iptables/test_cluster.h"
#include "dataplane/testing/service_topology.h"
#include "endpoints/node/snapshot_diff.h"

namespace switchyard::dataplane::ebpf {
namespace {

using namespace test_cluster;
using dataplane::testing::ServiceTopology;
using ::testing::ElementsAre;
using ::testing::Key;
using ::testing::Pair;

constexpr const char* kPodA = "10.244.0.11";
constexpr const char* kPodB = "10.244.0.12";
constexpr const char* kPodAv6 = "fd00:244::11";
constexpr const char* kPodBv6 = "fd00:244::12";
constexpr int kEchoPort = 5353;

api::Service udp_service(std::string name, std::string cluster_ip) {
  auto s = service(std::move(name), std::move(cluster_ip), 53, kEchoPort);
  s.spec.ports[0].protocol = "UDP";
  return s;
}

api::EndpointSlice udp_slice(const std::string& svc, const std::vector<std::pair<std::string, std::string>>& ip_node,
                             std::string family = "IPv4") {
  auto s = slice(svc, ip_node, kEchoPort, std::move(family));
  s.ports[0].protocol = "UDP";
  return s;
}

class SockLbTraffic : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for namespaces, cgroups and BPF";
    auto env = testing::EbpfTestEnv::create();
    ASSERT_TRUE(env) << env.error();
    env_.emplace(std::move(*env));
    auto t = ServiceTopology::create({{"pod-a", kPodA, 8080, kPodAv6}, {"pod-b", kPodB, 8080, kPodBv6}});
    ASSERT_TRUE(t) << t.error();
    topology_.emplace(std::move(*t));
    for (const char* pod : {"pod-a", "pod-b"})
      ASSERT_TRUE(topology_->pod(pod).spawn({"python3", "-c", testing::kUdpEchoServer, pod, std::to_string(kEchoPort)}));
    auto echo_up = testing::wait_for_udp_echo(topology_->node(),
                                              {{"pod-a", kPodA}, {"pod-b", kPodB}, {"pod-a", kPodAv6}, {"pod-b", kPodBv6}}, kEchoPort);
    ASSERT_EQ(echo_up, "");

    state_.upsert(service("web", "10.96.0.10"));
    state_.upsert(slice("web", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    state_.upsert(dual_stack(service("empty", "10.96.0.20"), "fd00:96::20"));
    auto sticky = service("sticky", "10.96.0.50");
    sticky.spec.session_affinity = "ClientIP";
    sticky.spec.session_affinity_timeout_seconds = 1;
    state_.upsert(sticky);
    state_.upsert(slice("sticky", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    state_.upsert(dual_stack(service("web6", "10.96.0.80"), "fd00:96::80"));
    state_.upsert(slice("web6", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    state_.upsert(slice("web6", {{kPodAv6, "node-a"}, {kPodBv6, "node-b"}}, 8080, "IPv6"));
    state_.upsert(dual_stack(udp_service("echo", "10.96.0.53"), "fd00:96::53"));
    state_.upsert(udp_slice("echo", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    state_.upsert(udp_slice("echo", {{kPodAv6, "node-a"}, {kPodBv6, "node-b"}}, "IPv6"));
    auto hashed = service("hashed", "10.96.0.90");
    hashed.metadata.annotations[endpoints::kLoadBalancingAnnotation] = "maglev";
    state_.upsert(hashed);
    state_.upsert(slice("hashed", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    snapshot_ = state_.build();
    ASSERT_NO_FATAL_FAILURE(start_backend());
  }

  EbpfBackendOptions options() {
    auto o = env_->options("node-a");
    auto& t = *topology_;
    o.scope_netns = {t.node().path(), t.pod("pod-a").path(), t.pod("pod-b").path()};
    return o;
  }

  void start_backend() {
    auto created = EbpfBackend::create(options());
    ASSERT_TRUE(created) << created.error().message;
    backend_ = std::move(*created);
    auto ok = backend_->full_sync(*snapshot_);
    ASSERT_TRUE(ok) << ok.error().message;
  }

  void sync() {
    auto next = state_.build();
    auto ok = backend_->sync(*snapshot_, *next, endpoints::diff_snapshots(*snapshot_, *next));
    ASSERT_TRUE(ok) << ok.error().message;
    snapshot_ = next;
  }

  // Declared first: destroyed last, after the backend and the namespaces.
  std::optional<testing::EbpfTestEnv> env_;
  std::optional<ServiceTopology> topology_;
  std::unique_ptr<EbpfBackend> backend_;
  endpoints::ClusterState state_{{.node_name = "node-a"}};
  std::shared_ptr<const endpoints::Snapshot> snapshot_;
};

TEST_F(SockLbTraffic, ClusterIpFromTheNodeAndFromPodsReachesEveryEndpoint) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.node(), "10.96.0.10", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
  // Hairpin: pod-a lands on itself as often as on pod-b, with its own address as the source.
  EXPECT_THAT(t.spread(t.pod("pod-a"), "10.96.0.10", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
  auto m = backend_->metrics();
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_GE(m->translated, 60u);
}

TEST_F(SockLbTraffic, ConnectToTheVipReportsTheVipAsPeer) {
  auto r = testing::tcp_connect(topology_->node(), "10.96.0.10", 80);
  EXPECT_EQ(r.error, 0) << std::strerror(r.error);
  EXPECT_EQ(r.peer, "10.96.0.10:80") << "getpeername shows the service, not the pod";
  auto r6 = testing::tcp_connect(topology_->node(), "fd00:96::80", 80);
  EXPECT_EQ(r6.error, 0) << std::strerror(r6.error);
  EXPECT_EQ(r6.peer, "[fd00:96::80]:80");
}

TEST_F(SockLbTraffic, ServiceWithoutEndpointsIsRefusedAtOnce) {
  auto& t = *topology_;
  for (auto* from : {&t.node(), &t.pod("pod-a")}) {
    auto r = t.get(*from, "10.96.0.20", 80, 5);
    EXPECT_EQ(r.curl_exit, 7) << "connection refused expected from " << from->name() << ": " << r.pod;
    EXPECT_LT(r.seconds, 1.0) << "a reject, not a timeout";
  }
  for (const char* vip : {"10.96.0.20", "fd00:96::20"}) {
    auto r = testing::tcp_connect(t.node(), vip, 80);
    EXPECT_EQ(r.error, ECONNREFUSED) << vip << ": " << std::strerror(r.error);
    EXPECT_LT(r.seconds, 0.1);
  }
  auto m = backend_->metrics();
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_GE(m->rejected_no_backend, 4u);
}

TEST_F(SockLbTraffic, UdpDatagramsReachAPodAndTheReplyComesFromTheVip) {
  auto& t = *topology_;
  std::set<std::string> answered;
  for (int i = 0; i < 20; ++i) {
    auto r = testing::udp_exchange(t.node(), "10.96.0.53", 53);
    ASSERT_EQ(r.error, 0) << std::strerror(r.error);
    EXPECT_EQ(r.peer, "10.96.0.53:53") << "recvmsg shows the service as the sender";
    answered.insert(r.answer);
  }
  EXPECT_THAT(answered, ElementsAre("pod-a", "pod-b")) << "each socket picks a backend, sockets spread";
  auto r6 = testing::udp_exchange(t.pod("pod-b"), "fd00:96::53", 53);
  ASSERT_EQ(r6.error, 0) << std::strerror(r6.error);
  EXPECT_EQ(r6.peer, "[fd00:96::53]:53");
  EXPECT_THAT(r6.answer, ::testing::AnyOf("pod-a", "pod-b"));
}

TEST_F(SockLbTraffic, ClientIpAffinitySticksPerClientAndExpires) {
  auto& t = *topology_;
  auto spread = t.spread(t.node(), "10.96.0.50", 80, 15);
  ASSERT_EQ(spread.size(), 1u) << "every connection from one client goes to one endpoint";
  EXPECT_EQ(spread.begin()->second, 15);
  auto m = backend_->metrics();
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_GE(m->affinity_hits, 14u);
  // The timeout is 1 s: after it a client chooses again, so over rounds both pods turn up.
  std::set<std::string> chosen;
  for (int round = 0; round < 12 && chosen.size() < 2; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    auto r = t.get(t.node(), "10.96.0.50", 80);
    ASSERT_TRUE(r.ok) << r.pod;
    chosen.insert(r.pod);
  }
  EXPECT_EQ(chosen.size(), 2u) << "affinity never expired";
}

TEST_F(SockLbTraffic, RemovedEndpointGetsNoNewConnectionsAfterAPartialSync) {
  auto& t = *topology_;
  state_.upsert(slice("web", {{kPodA, "node-a"}}));
  ASSERT_NO_FATAL_FAILURE(sync());
  EXPECT_EQ(backend_->stats().partial_syncs, 1u);
  EXPECT_THAT(t.spread(t.node(), "10.96.0.10", 80, 20), ElementsAre(Pair("pod-a", 20)));
  state_.upsert(slice("web", {}));
  ASSERT_NO_FATAL_FAILURE(sync());
  auto r = t.get(t.node(), "10.96.0.10", 80, 5);
  EXPECT_EQ(r.curl_exit, 7) << "no endpoints left: refused; " << r.pod;
  state_.upsert(slice("web", {{kPodB, "node-b"}}));
  ASSERT_NO_FATAL_FAILURE(sync());
  EXPECT_THAT(t.spread(t.node(), "10.96.0.10", 80, 10), ElementsAre(Pair("pod-b", 10)));
  // UDP moves with the next datagram: nothing is remembered per flow.
  state_.upsert(udp_slice("echo", {{kPodB, "node-b"}}));
  ASSERT_NO_FATAL_FAILURE(sync());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(testing::udp_exchange(t.node(), "10.96.0.53", 53).answer, "pod-b");
  // A removed service is no longer translated at all.
  state_.remove_service({"shop", "web"});
  ASSERT_NO_FATAL_FAILURE(sync());
  EXPECT_FALSE(t.get(t.node(), "10.96.0.10", 80, 1).ok);
}

TEST_F(SockLbTraffic, StickyClientLeavesARemovedEndpoint) {
  auto& t = *topology_;
  auto first = t.get(t.node(), "10.96.0.50", 80);
  ASSERT_TRUE(first.ok) << first.pod;
  const std::string other = first.pod == "pod-a" ? "pod-b" : "pod-a";
  state_.upsert(slice("sticky", {{other == "pod-a" ? kPodA : kPodB, "node-a"}}));
  ASSERT_NO_FATAL_FAILURE(sync());
  EXPECT_THAT(t.spread(t.node(), "10.96.0.50", 80, 5), ElementsAre(Pair(other, 5)));
}

// Backend ids index the backend arrays and are handed out again once free. A client's affinity
// that still names a freed id must not send it to the backend that takes the id next (another
// service's): the entry goes before the id is reused. Full syncs, which purge no affinity on
// their own.
TEST_F(SockLbTraffic, AffinityToAFreedBackendIdDoesNotFollowTheIdToANewBackend) {
  auto id_of = [&](const char* address) -> std::uint32_t {
    const int fd = backend_->objects().backends4.fd;
    bpf_map_info info{};
    __u32 len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return 0;
    in_addr want{};
    inet_pton(AF_INET, address, &want);
    for (std::uint32_t id = 1; id < info.max_entries; ++id) {
      lb4_backend b{};
      if (bpf_map_lookup_elem(fd, &id, &b) == 0 && b.proto != 0 && b.address == want.s_addr) return id;
    }
    return 0;
  };
  auto full_sync = [&] {
    snapshot_ = state_.build();
    auto ok = backend_->full_sync(*snapshot_);
    ASSERT_TRUE(ok) << ok.error().message;
  };
  state_.upsert(service("gone", "10.96.0.60"));
  state_.upsert(slice("gone", {{"10.244.0.99", "node-b"}}));
  ASSERT_NO_FATAL_FAILURE(full_sync());
  const std::uint32_t freed = id_of("10.244.0.99"), kept = id_of(kPodA);
  ASSERT_NE(freed, 0u);
  ASSERT_NE(kept, 0u);
  const int affinity = backend_->objects().affinity.fd;
  const lb_affinity_key stale_key{.netns_cookie = 1, .service_id = 7001, .pad = 0},
      live_key{.netns_cookie = 2, .service_id = 7002, .pad = 0};
  const lb_affinity_value stale{.last_used_ns = 1, .backend_id = freed, .pad = 0}, live{.last_used_ns = 1, .backend_id = kept, .pad = 0};
  ASSERT_EQ(bpf_map_update_elem(affinity, &stale_key, &stale, BPF_ANY), 0);
  ASSERT_EQ(bpf_map_update_elem(affinity, &live_key, &live, BPF_ANY), 0);

  state_.upsert(slice("gone", {}));
  ASSERT_NO_FATAL_FAILURE(full_sync());
  EXPECT_EQ(id_of("10.244.0.99"), 0u) << "its entry cleared";
  lb_affinity_value v{};
  EXPECT_EQ(bpf_map_lookup_elem(affinity, &stale_key, &v), 0) << "nothing reused the id yet";

  state_.upsert(service("new", "10.96.0.61"));
  state_.upsert(slice("new", {{"10.244.0.98", "node-b"}}));
  ASSERT_NO_FATAL_FAILURE(full_sync());
  EXPECT_EQ(id_of("10.244.0.98"), freed) << "the lowest free id, handed out again";
  EXPECT_NE(bpf_map_lookup_elem(affinity, &stale_key, &v), 0) << "the affinity naming the reused id is gone";
  EXPECT_EQ(bpf_map_lookup_elem(affinity, &live_key, &v), 0) << "others stay";
  EXPECT_EQ(v.backend_id, kept);
  auto r = topology_->get(topology_->node(), "10.96.0.50", 80);
  EXPECT_TRUE(r.ok) << r.pod;
}

TEST_F(SockLbTraffic, Ipv6ClusterIpReachesEveryEndpoint) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.node(), "fd00:96::80", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
  EXPECT_THAT(t.spread(t.pod("pod-b"), "fd00:96::80", 80, 20), ElementsAre(Key("pod-a"), Key("pod-b")));
  EXPECT_THAT(t.spread(t.node(), "10.96.0.80", 80, 20), ElementsAre(Key("pod-a"), Key("pod-b")));
  auto r = t.get(t.node(), "fd00:96::20", 80, 5);
  EXPECT_EQ(r.curl_exit, 7) << "IPv6 service without endpoints: refused; " << r.pod;
}

TEST_F(SockLbTraffic, MaglevServiceReachesEveryEndpoint) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.node(), "10.96.0.90", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
}

TEST_F(SockLbTraffic, AgentsScopedToOtherNamespacesLeaveEachOthersTrafficAlone) {
  auto& t = *topology_;
  // A second agent on the same host, in the same cgroup, acting only for the client namespace,
  // sends 10.96.0.10 to pod-b alone; the first agent keeps both pods for the node.
  auto o = env_->options("node-b");
  o.scope_netns = {t.client().path()};
  auto second = EbpfBackend::create(o);
  ASSERT_TRUE(second) << second.error().message;
  endpoints::ClusterState other{{.node_name = "node-b"}};
  other.upsert(service("web", "10.96.0.10"));
  other.upsert(slice("web", {{kPodB, "node-b"}}));
  ASSERT_TRUE((*second)->full_sync(*other.build()));
  EXPECT_THAT(t.spread(t.client(), "10.96.0.10", 80, 15), ElementsAre(Pair("pod-b", 15)));
  EXPECT_THAT(t.spread(t.node(), "10.96.0.10", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
  auto m = backend_->metrics();
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_GE(m->out_of_scope, 15u) << "the first agent saw the client's connects and left them alone";
  ASSERT_TRUE((*second)->cleanup());
}

TEST_F(SockLbTraffic, RestartReusesThePinsWithoutAFailedConnection) {
  auto& t = *topology_;
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::thread client([&] {
    while (!stop) {
      auto r = testing::tcp_connect(t.node(), "10.96.0.10", 80);
      (r.error == 0 ? ok : failed)++;
    }
  });
  for (int restart = 0; restart < 3; ++restart) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    backend_.reset();  // as when the agent dies: fds close, pins stay
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto created = EbpfBackend::create(options());
    ASSERT_TRUE(created) << created.error().message;
    backend_ = std::move(*created);
    EXPECT_TRUE(backend_->reused_pins());
    auto synced = backend_->full_sync(*snapshot_);
    ASSERT_TRUE(synced) << synced.error().message;
    EXPECT_EQ(backend_->stats().last_batch_messages, 0u) << "the pinned maps already held this Snapshot";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  client.join();
  EXPECT_GE(ok.load(), 10) << "the client kept connecting through the restarts";
  EXPECT_EQ(failed.load(), 0);
  // And a restart that finds a different Snapshot corrects the maps it inherited.
  backend_.reset();
  state_.upsert(slice("web", {{kPodB, "node-b"}}));
  snapshot_ = state_.build();
  ASSERT_NO_FATAL_FAILURE(start_backend());
  EXPECT_THAT(t.spread(t.node(), "10.96.0.10", 80, 10), ElementsAre(Pair("pod-b", 10)));
}

extern "C" char** environ;

// Starts the agent stand-in as a process of its own and waits for its "synced ..." line.
struct AgentProcess {
  pid_t pid = -1;
  std::string line;
  ~AgentProcess() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

std::string start_agent(AgentProcess& agent, const std::vector<std::string>& args) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return "pipe";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  std::vector<std::string> full = {EBPF_TEST_AGENT};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int e = posix_spawn(&agent.pid, EBPF_TEST_AGENT, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (e != 0) {
    close(out[0]);
    return "spawn " + std::string(EBPF_TEST_AGENT) + ": " + std::strerror(e);
  }
  char c;
  pollfd p{.fd = out[0], .events = POLLIN, .revents = 0};
  while (poll(&p, 1, 30000) == 1 && read(out[0], &c, 1) == 1 && c != '\n') agent.line += c;
  close(out[0]);
  return agent.line.starts_with("synced") ? "" : "agent did not sync: '" + agent.line + "'";
}

// A TCP connection to the VIP that stays open, idle, until the test sends its request.
int open_idle_connection(const dataplane::testing::NetworkNamespace& from, const char* vip, int port) {
  int fd = -1;
  (void)from.enter([&] {
    sockaddr_in a{.sin_family = AF_INET, .sin_port = htons(static_cast<std::uint16_t>(port)), .sin_addr = {}, .sin_zero = {}};
    inet_pton(AF_INET, vip, &a.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd);
      fd = -1;
    }
  });
  return fd;
}

TEST_F(SockLbTraffic, KillNineOfTheAgentInterruptsNoConnection) {
  auto& t = *topology_;
  backend_.reset();  // the agent processes below take over this node's pins
  const int stream = open_idle_connection(t.node(), "10.96.0.10", 80);
  ASSERT_GE(stream, 0);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::thread client([&] {
    while (!stop) (testing::tcp_connect(t.node(), "10.96.0.10", 80).error == 0 ? ok : failed)++;
  });
  const std::vector<std::string> args = {env_->bpffs->path() + "/switchyard",
                                         env_->cgroup->path(),
                                         "node-a",
                                         "10.96.0.10:80",
                                         std::string(kPodA) + "," + kPodB,
                                         "8080",
                                         t.node().path(),
                                         t.pod("pod-a").path(),
                                         t.pod("pod-b").path()};
  for (int round = 0; round < 3; ++round) {
    AgentProcess agent;
    auto started = start_agent(agent, args);
    ASSERT_EQ(started, "");
    EXPECT_THAT(agent.line, ::testing::HasSubstr("reused_pins=1"));
    if (round > 0) {
      EXPECT_THAT(agent.line, ::testing::HasSubstr("changes=0")) << "the pins held its Snapshot";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    kill(agent.pid, SIGKILL);  // no cleanup, no destructor
    waitpid(agent.pid, nullptr, 0);
    agent.pid = -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  stop = true;
  client.join();
  EXPECT_GE(ok.load(), 10);
  EXPECT_EQ(failed.load(), 0) << "connections failed while the agent was down or restarting";
  // The connection opened before the first kill still works.
  const char request[] = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_EQ(send(stream, request, sizeof request - 1, 0), static_cast<ssize_t>(sizeof request - 1));
  std::string response;
  char buf[512];
  for (ssize_t n; (n = recv(stream, buf, sizeof buf, 0)) > 0;) response.append(buf, static_cast<std::size_t>(n));
  close(stream);
  EXPECT_THAT(response, ::testing::HasSubstr("200 OK"));
  EXPECT_THAT(response, ::testing::ContainsRegex("pod-[ab]"));
}

TEST_F(SockLbTraffic, CleanupDetachesAndUnpinsEverything) {
  auto& t = *topology_;
  const std::string pins = backend_->pin_dir();
  ASSERT_TRUE(std::filesystem::exists(pins + "/link_sock4_connect"));
  auto attached = dataplane::testing::run_on_host("bpftool cgroup show " + env_->cgroup->path());
  EXPECT_THAT(attached.output, ::testing::HasSubstr("sock4_connect"));
  auto ok = backend_->cleanup();
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_FALSE(std::filesystem::exists(pins));
  attached = dataplane::testing::run_on_host("bpftool cgroup show " + env_->cgroup->path());
  EXPECT_THAT(attached.output, ::testing::Not(::testing::HasSubstr("sock")));
  EXPECT_FALSE(t.get(t.node(), "10.96.0.10", 80, 1).ok) << "nothing translates the VIP any more";
}

}  // namespace
}  // namespace switchyard::dataplane::ebpf
