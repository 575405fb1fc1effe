// The maps' life beyond one agent: growth with the cluster (new maps, programs switched) and an
// upgrade over pins of an older layout (ct*_v1 migrated into ct*_v2), each with a TCP connection
// through a NodePort that was established before and must keep working after. The topology of
// dataplane/testing/service_topology.h; an echo server on pod-a:9000 behind NodePort 30090.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "dataplane/ebpf/ebpf_backend.h"
#include "dataplane/ebpf/testing/ebpf_test_env.h"
#include "dataplane/iptables/test_cluster.h"
#include "dataplane/testing/service_topology.h"
#include "endpoints/node/snapshot_diff.h"

namespace switchyard::dataplane::ebpf {
namespace {

using namespace test_cluster;
using dataplane::testing::ServiceTopology;
using ::testing::HasSubstr;

constexpr const char* kPodA = "10.244.0.11";
constexpr const char* kPodB = "10.244.0.12";
constexpr const char* kPodAv6 = "fd00:244::11";
constexpr const char* kPodBv6 = "fd00:244::12";
constexpr int kEchoPort = 9000, kEchoNodePort = 30090;

const char* kEchoServer = R"PY(
import socket, threading
srv = socket.socket(socket.AF_INET6)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("::", 9000))
srv.listen(64)
def serve(c):
    while (d := c.recv(4096)):
        c.sendall(d)
    c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
)PY";

// A TCP connection opened from inside a namespace (the socket stays there), used from the test.
class Connection {
 public:
  Connection(const dataplane::testing::NetworkNamespace& ns, const std::string& host, int port) {
    auto entered = ns.enter([&] {
      fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      timeval timeout{.tv_sec = 3, .tv_usec = 0};
      setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
      sockaddr_in a{.sin_family = AF_INET, .sin_port = htons(static_cast<std::uint16_t>(port)), .sin_addr = {}, .sin_zero = {}};
      inet_pton(AF_INET, host.c_str(), &a.sin_addr);
      if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd_);
        fd_ = -1;
      }
    });
    if (!entered) fd_ = -1;
  }
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  // Sends a line and returns what comes back up to its newline ("" on a timeout or a reset).
  std::string echo(const std::string& line) {
    const std::string out = line + "\n";
    if (send(fd_, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) return "";
    std::string got;
    char buf[256];
    while (got.empty() || got.back() != '\n') {
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return "";
      got.append(buf, static_cast<std::size_t>(n));
    }
    got.pop_back();
    return got;
  }

 private:
  int fd_ = -1;
};

bpf_map_info pinned_info(const std::string& path) {
  bpf_map_info info{};
  __u32 len = sizeof info;
  const int fd = bpf_obj_get(path.c_str());
  if (fd >= 0) {
    bpf_obj_get_info_by_fd(fd, &info, &len);
    ::close(fd);
  }
  return info;
}

class MapLifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = testing::EbpfTestEnv::create();
    ASSERT_TRUE(env) << env.error();
    env_.emplace(std::move(*env));
    auto t = ServiceTopology::create({{"pod-a", kPodA, 8080, kPodAv6}, {"pod-b", kPodB, 8080, kPodBv6}});
    ASSERT_TRUE(t) << t.error();
    topology_.emplace(std::move(*t));
    ASSERT_TRUE(topology_->pod("pod-a").spawn({"python3", "-c", kEchoServer}));
    bool up = false;
    for (int attempt = 0; attempt < 100 && !up; ++attempt) {
      up = topology_->node().run(std::string("timeout 1 bash -c '</dev/tcp/") + kPodA + "/9000'").ok();
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(up) << "pod-a's echo server";
    state_.upsert(echo_service());
    state_.upsert(slice("echo", {{kPodA, "node-a"}}, kEchoPort));
    snapshot_ = state_.build();
  }

  static api::Service echo_service() {
    auto echo = service("echo", "10.96.0.90", kEchoPort, kEchoPort);
    echo.spec.type = "NodePort";
    echo.spec.ports[0].node_port = kEchoNodePort;
    return echo;
  }

  // In the node's namespace: the tc programs go on its interface towards the client.
  void start_backend(const SockLbSizes& sizes, bool sync = true) {
    auto& t = *topology_;
    auto options = env_->options("node-a");
    options.sizes = sizes;
    options.scope_netns = {t.node().path(), t.pod("pod-a").path(), t.pod("pod-b").path()};
    options.external_interfaces = {"vclient"};
    Result<std::unique_ptr<EbpfBackend>> created = std::unexpected(Error{ErrorCode::Internal, "not run"});
    auto entered = t.node().enter([&] { created = EbpfBackend::create(options); });
    ASSERT_TRUE(entered) << entered.error();
    ASSERT_TRUE(created) << created.error().message;
    backend_ = std::move(*created);
    if (!sync) return;
    auto ok = backend_->full_sync(*snapshot_);
    ASSERT_TRUE(ok) << ok.error().message;
  }

  void sync_to_state() {
    auto next = state_.build();
    auto ok = backend_->sync(*snapshot_, *next, endpoints::diff_snapshots(*snapshot_, *next));
    ASSERT_TRUE(ok) << ok.error().message;
    snapshot_ = next;
  }

  std::string pin(const std::string& name) const { return backend_->pin_dir() + "/" + name; }

  std::optional<testing::EbpfTestEnv> env_;
  std::optional<ServiceTopology> topology_;
  std::unique_ptr<EbpfBackend> backend_;
  endpoints::ClusterState state_{{.node_name = "node-a"}};
  std::shared_ptr<const endpoints::Snapshot> snapshot_;
};

TEST_F(MapLifecycle, MapsGrowWithTheClusterWithoutDroppingAnEstablishedConnection) {
  auto& t = *topology_;
  ASSERT_NO_FATAL_FAILURE(start_backend({.service_entries = 64, .backends = 16, .maglev_services = 8}));
  EXPECT_EQ(pinned_info(pin("lb4_services_v1")).max_entries, 64u);
  EXPECT_EQ(pinned_info(pin("lb4_services_v1")).map_flags & BPF_F_NO_PREALLOC, static_cast<__u32>(BPF_F_NO_PREALLOC));
  Connection long_lived(t.client(), ServiceTopology::kNodeIp, kEchoNodePort);
  ASSERT_TRUE(long_lived.connected());
  ASSERT_EQ(long_lived.echo("before"), "before");
  const std::uint32_t ct_id = pinned_info(pin("ct4_v2")).id;

  // 120 services (119 × 3 endpoints, 1 × 1): 480 service slots with echo's and 359 backends, past both floors. The
  // first one's endpoint is pod-b, so new connections show the new maps at work.
  for (int i = 0; i < 120; ++i) {
    const std::string name = "grow" + std::to_string(i);
    state_.upsert(service(name, "10.96.1." + std::to_string(i + 1)));
    if (i == 0)
      state_.upsert(slice(name, {{kPodB, "node-a"}}));
    else
      state_.upsert(slice(name, {{"10.250.0." + std::to_string(i), "node-b"},
                                 {"10.250.1." + std::to_string(i), "node-b"},
                                 {"10.250.2." + std::to_string(i), "node-b"}}));
  }
  ASSERT_NO_FATAL_FAILURE(sync_to_state());
  EXPECT_EQ(backend_->map_growths(), 1);
  EXPECT_EQ(pinned_info(pin("lb4_services_v1")).max_entries, 1024u) << "next power of two ≥ 1.125 × 480";
  EXPECT_EQ(pinned_info(pin("lb4_backends_v2")).max_entries, 512u);
  EXPECT_EQ(pinned_info(pin("ct4_v2")).id, ct_id) << "conntrack kept as it was";

  EXPECT_EQ(long_lived.echo("after the growth"), "after the growth");
  Connection fresh(t.client(), ServiceTopology::kNodeIp, kEchoNodePort);
  ASSERT_TRUE(fresh.connected());
  EXPECT_EQ(fresh.echo("new"), "new");
  auto r = t.get(t.node(), "10.96.1.1", 80);
  ASSERT_TRUE(r.ok) << r.pod;
  EXPECT_EQ(r.pod, "pod-b");
  // A restart over the grown pins keeps their size (never shrinks to the floor).
  backend_.reset();
  ASSERT_NO_FATAL_FAILURE(start_backend({.service_entries = 64, .backends = 16, .maglev_services = 8}));
  EXPECT_EQ(backend_->map_growths(), 0);
  EXPECT_EQ(pinned_info(pin("lb4_services_v1")).max_entries, 1024u);
  EXPECT_EQ(long_lived.echo("after a restart"), "after a restart");
  auto cleaned = backend_->cleanup();
  ASSERT_TRUE(cleaned) << cleaned.error().message;
}

// A cluster without IPv6 frontends keeps IPv6's LRU maps (ct6, ct6_reverse, lb6_reverse) at a
// few entries; its first IPv6 Service grows them (they are empty then) and IPv6 traffic to it,
// NodePort on the node's IPv6 address and ClusterIP, works, while the IPv4 flow stays up.
TEST_F(MapLifecycle, FirstIpv6ServiceGrowsTheIdleIpv6Maps) {
  auto& t = *topology_;
  ASSERT_NO_FATAL_FAILURE(start_backend({.reverse_entries = 8192, .conntrack_entries = 8192}));
  const std::uint32_t idle = SockLbSizes::kIdleLruEntries;
  for (const char* name : {"ct6_v2", "ct6_reverse_v2", "lb6_reverse_v1"}) EXPECT_EQ(pinned_info(pin(name)).max_entries, idle) << name;
  for (const char* name : {"ct4_v2", "ct4_reverse_v2", "lb4_reverse_v1"}) EXPECT_EQ(pinned_info(pin(name)).max_entries, 8192u) << name;
  Connection long_lived(t.client(), ServiceTopology::kNodeIp, kEchoNodePort);
  ASSERT_TRUE(long_lived.connected());
  ASSERT_EQ(long_lived.echo("before"), "before");
  const std::uint32_t ct4_id = pinned_info(pin("ct4_v2")).id;
  auto before = t.get(t.client(), ServiceTopology::kNodeIpv6, 30084, 1);
  EXPECT_FALSE(before.ok) << "no IPv6 NodePort yet, answered by " << before.pod;

  state_.upsert(dual_stack(node_port_service("web6", "10.96.0.80", 30084), "fd00:96::80"));
  state_.upsert(slice("web6", {{kPodA, "node-a"}}));
  state_.upsert(slice("web6", {{kPodAv6, "node-a"}, {kPodBv6, "node-a"}}, 8080, "IPv6"));
  ASSERT_NO_FATAL_FAILURE(sync_to_state());
  EXPECT_EQ(backend_->map_growths(), 1);
  for (const char* name : {"ct6_v2", "ct6_reverse_v2", "lb6_reverse_v1"}) EXPECT_EQ(pinned_info(pin(name)).max_entries, 8192u) << name;
  EXPECT_EQ(pinned_info(pin("ct4_v2")).id, ct4_id) << "IPv4 conntrack kept as it was";
  EXPECT_EQ(long_lived.echo("after the growth"), "after the growth");

  auto spread = t.spread(t.client(), ServiceTopology::kNodeIpv6, 30084, 20);
  EXPECT_EQ(spread["pod-a"] + spread["pod-b"], 20) << "IPv6 NodePort through the grown ct6 maps";
  auto r = t.get(t.node(), "fd00:96::80", 80);
  ASSERT_TRUE(r.ok) << "IPv6 ClusterIP from the node, curl " << r.curl_exit;
  EXPECT_THAT(r.pod, ::testing::AnyOf("pod-a", "pod-b"));
  // The IPv6 flows are tracked in the new maps (the collector reads them too).
  bpf_map_info ct6 = pinned_info(pin("ct6_v2"));
  EXPECT_NE(ct6.id, 0u);
  auto cleaned = backend_->cleanup();
  ASSERT_TRUE(cleaned) << cleaned.error().message;
}

// What an agent of the layout before lifetimes leaves pinned: ct*_v1 maps, their values 8 bytes
// shorter, holding the flows; no ct*_v2. Built from the running flows' entries (the fake old
// agent), then the _v2 pins removed. `value_cut`: bytes dropped from each value (8 for the real
// v1 layout; 12 for a layout no agent knows).
void pin_older_layout(const std::string& dir, std::uint32_t value_cut) {
  for (const char* name : {"ct4_v2", "ct4_reverse_v2", "ct6_v2", "ct6_reverse_v2"}) {
    const std::string path = dir + "/" + name;
    const int fd = bpf_obj_get(path.c_str());
    ASSERT_GE(fd, 0) << path;
    bpf_map_info info{};
    __u32 len = sizeof info;
    ASSERT_EQ(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
    std::string old_name(name);
    old_name.replace(old_name.size() - 2, 2, "v1");
    const int old = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, old_name.c_str(), info.key_size, info.value_size - value_cut, 4096, nullptr);
    ASSERT_GE(old, 0) << std::strerror(errno);
    std::vector<std::uint8_t> key(info.key_size), next(info.key_size), value(info.value_size);
    const void* previous = nullptr;
    while (bpf_map_get_next_key(fd, previous, next.data()) == 0) {
      key = next;
      previous = key.data();
      if (bpf_map_lookup_elem(fd, key.data(), value.data()) == 0) {
        ASSERT_EQ(bpf_map_update_elem(old, key.data(), value.data(), BPF_ANY), 0);
      }
    }
    ASSERT_EQ(bpf_obj_pin(old, (dir + "/" + old_name).c_str()), 0);
    ASSERT_EQ(::unlink(path.c_str()), 0);
    ::close(old);
    ::close(fd);
  }
}

// What an agent before sizes followed the cluster pinned: `name` preallocated at a fixed size.
void pin_preallocated(const std::string& dir, const std::string& name, std::uint32_t max_entries) {
  const std::string path = dir + "/" + name;
  const int fd = bpf_obj_get(path.c_str());
  ASSERT_GE(fd, 0) << path;
  bpf_map_info info{};
  __u32 len = sizeof info;
  ASSERT_EQ(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
  const int old = bpf_map_create(static_cast<bpf_map_type>(info.type), name.c_str(), info.key_size, info.value_size, max_entries, nullptr);
  ASSERT_GE(old, 0) << std::strerror(errno);
  std::vector<std::uint8_t> key(info.key_size), next(info.key_size), value(info.value_size);
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, next.data()) == 0) {
    key = next;
    previous = key.data();
    if (bpf_map_lookup_elem(fd, key.data(), value.data()) == 0) {
      ASSERT_EQ(bpf_map_update_elem(old, key.data(), value.data(), BPF_ANY), 0);
    }
  }
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_EQ(bpf_obj_pin(old, path.c_str()), 0);
  ::close(old);
  ::close(fd);
}

std::uint64_t entries_of(const std::string& path) {
  const int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return 0;
  bpf_map_info info{};
  __u32 len = sizeof info;
  bpf_obj_get_info_by_fd(fd, &info, &len);
  std::vector<std::uint8_t> key(info.key_size), next(info.key_size);
  std::uint64_t n = 0;
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, next.data()) == 0) {
    key = next;
    previous = key.data();
    ++n;
  }
  ::close(fd);
  return n;
}

TEST_F(MapLifecycle, AnAgentUpgradedOverPinsOfTheV1ConntrackLayoutKeepsEstablishedConnections) {
  auto& t = *topology_;
  ASSERT_NO_FATAL_FAILURE(start_backend({}));
  Connection long_lived(t.client(), ServiceTopology::kNodeIp, kEchoNodePort);
  ASSERT_TRUE(long_lived.connected());
  ASSERT_EQ(long_lived.echo("before"), "before");
  const std::string dir = backend_->pin_dir();
  backend_.reset();  // the old agent goes away, its pins stay
  ASSERT_NO_FATAL_FAILURE(pin_older_layout(dir, 8));
  // ... and its service maps preallocated at the old default size.
  ASSERT_NO_FATAL_FAILURE(pin_preallocated(dir, "lb4_services_v1", 262144));
  ASSERT_NO_FATAL_FAILURE(pin_preallocated(dir, "lb4_external_v1", 262144));
  ASSERT_EQ(entries_of(dir + "/ct4_v1"), 1u);
  ASSERT_FALSE(std::filesystem::exists(dir + "/ct4_v2"));

  // Meanwhile the echo endpoint moved to pod-b, which has no echo server: only the migrated
  // conntrack entry keeps the connection on pod-a (without it the next segment would be a new
  // flow to pod-b, answered by a reset).
  state_.upsert(slice("echo", {{kPodB, "node-a"}}, kEchoPort));
  snapshot_ = state_.build();
  ASSERT_NO_FATAL_FAILURE(start_backend({}));
  bool migrated = false;
  for (const auto& e : backend_->objects().pin_events())
    if (e.event == "bpf_map_migrated" && e.name == "ct4_v1") {
      migrated = true;
      EXPECT_EQ(e.from, "v1");
      EXPECT_EQ(e.to, "v2");
      EXPECT_EQ(e.entries, 1u);
    }
  EXPECT_TRUE(migrated);
  // The preallocated maps' entries moved into maps sized for them, not preallocated.
  for (const char* name : {"lb4_services_v1", "lb4_external_v1"}) {
    const auto info = pinned_info(pin(name));
    EXPECT_EQ(info.map_flags & BPF_F_NO_PREALLOC, static_cast<__u32>(BPF_F_NO_PREALLOC)) << name;
    EXPECT_EQ(info.max_entries, 1024u) << name << ": the floor, enough for its 2 entries";
    EXPECT_EQ(entries_of(pin(name)), 2u) << name;
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/ct4_v1"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/ct4_reverse_v1"));
  EXPECT_EQ(entries_of(dir + "/ct4_v2"), 1u);
  EXPECT_EQ(entries_of(dir + "/ct4_reverse_v2"), 1u);
  EXPECT_EQ(long_lived.echo("after the upgrade"), "after the upgrade");
  // The migrated entry got a lifetime: the collector does not take the flow.
  ct4_key key{};
  ct4_entry entry{};
  const int fd = bpf_obj_get((dir + "/ct4_v2").c_str());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(bpf_map_get_next_key(fd, nullptr, &key), 0);
  ASSERT_EQ(bpf_map_lookup_elem(fd, &key, &entry), 0);
  ::close(fd);
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  EXPECT_GT(entry.lifetime, static_cast<std::uint32_t>(now.tv_sec) + 3600) << "established TCP: 6 h";
  auto cleaned = backend_->cleanup();
  ASSERT_TRUE(cleaned) << cleaned.error().message;
}

// The control: pins of a layout no agent knows are replaced (and said so), and then the same
// connection does break — what the migration above is for.
TEST_F(MapLifecycle, PinsOfAnUnknownLayoutAreReplacedAndTheirFlowsDropped) {
  auto& t = *topology_;
  ASSERT_NO_FATAL_FAILURE(start_backend({}));
  Connection long_lived(t.client(), ServiceTopology::kNodeIp, kEchoNodePort);
  ASSERT_TRUE(long_lived.connected());
  ASSERT_EQ(long_lived.echo("before"), "before");
  const std::string dir = backend_->pin_dir();
  backend_.reset();
  ASSERT_NO_FATAL_FAILURE(pin_older_layout(dir, 12));
  state_.upsert(slice("echo", {{kPodB, "node-a"}}, kEchoPort));
  snapshot_ = state_.build();
  ASSERT_NO_FATAL_FAILURE(start_backend({}));
  bool replaced = false;
  for (const auto& e : backend_->objects().pin_events()) replaced |= e.event == "bpf_map_replaced" && e.name == "ct4_v1";
  EXPECT_TRUE(replaced);
  EXPECT_FALSE(std::filesystem::exists(dir + "/ct4_v1"));
  EXPECT_EQ(long_lived.echo("after"), "") << "the flow was forgotten: its next segment went to pod-b";
  auto cleaned = backend_->cleanup();
  ASSERT_TRUE(cleaned) << cleaned.error().message;
}

// What an agent before the backend arrays leaves pinned: lb4_backends_v1, a hash by backend id
// (the same entries), plus a backend under id `extra_id` that no slot names; no lb4_backends_v2.
void pin_backends_v1(const std::string& dir, std::uint32_t extra_id) {
  const std::string path = dir + "/lb4_backends_v2";
  const int fd = bpf_obj_get(path.c_str());
  ASSERT_GE(fd, 0) << path;
  const int old = bpf_map_create(BPF_MAP_TYPE_HASH, "lb4_backends_v1", 4, sizeof(lb4_backend), 4096, nullptr);
  ASSERT_GE(old, 0) << std::strerror(errno);
  std::uint32_t key = 0, next = 0;
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &next) == 0) {
    key = next;
    previous = &key;
    lb4_backend b{};
    if (bpf_map_lookup_elem(fd, &key, &b) == 0 && b.proto != 0) {
      ASSERT_EQ(bpf_map_update_elem(old, &key, &b, BPF_ANY), 0);
    }
  }
  lb4_backend extra{.address = 0, .port = htons(80), .proto = IPPROTO_TCP, .flags = 0};
  inet_pton(AF_INET, "10.250.9.9", &extra.address);
  ASSERT_EQ(bpf_map_update_elem(old, &extra_id, &extra, BPF_ANY), 0);
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_EQ(bpf_obj_pin(old, (dir + "/lb4_backends_v1").c_str()), 0);
  ::close(old);
  ::close(fd);
}

lb4_backend array_entry(const std::string& path, std::uint32_t id) {
  lb4_backend b{};
  const int fd = bpf_obj_get(path.c_str());
  if (fd >= 0) {
    bpf_map_lookup_elem(fd, &id, &b);
    ::close(fd);
  }
  return b;
}

// Backends by id moved from a hash (_v1) to an array (_v2): the new agent's programs find the
// migrated backends at once, before its first sync, and the array reaches the highest old id.
TEST_F(MapLifecycle, AnAgentUpgradedOverV1BackendHashPinsTranslatesBeforeItsFirstSync) {
  auto& t = *topology_;
  ASSERT_NO_FATAL_FAILURE(start_backend({}));
  Connection long_lived(t.client(), ServiceTopology::kNodeIp, kEchoNodePort);
  ASSERT_TRUE(long_lived.connected());
  ASSERT_EQ(long_lived.echo("before"), "before");
  const std::string dir = backend_->pin_dir();
  backend_.reset();
  ASSERT_NO_FATAL_FAILURE(pin_backends_v1(dir, 3000));

  ASSERT_NO_FATAL_FAILURE(start_backend({}, /*sync=*/false));
  bool migrated = false;
  for (const auto& e : backend_->objects().pin_events())
    if (e.event == "bpf_map_migrated" && e.name == "lb4_backends_v1") {
      migrated = true;
      EXPECT_EQ(e.to, "v2");
      EXPECT_EQ(e.entries, 2u) << "echo's backend and the extra one";
    }
  EXPECT_TRUE(migrated);
  EXPECT_FALSE(std::filesystem::exists(dir + "/lb4_backends_v1"));
  const auto info = pinned_info(pin("lb4_backends_v2"));
  EXPECT_EQ(info.type, static_cast<__u32>(BPF_MAP_TYPE_ARRAY));
  EXPECT_EQ(info.max_entries, 4096u) << "the next power of two ≥ 1.125 × 3,001: id 3000 fits";
  Connection before_sync(t.node(), "10.96.0.90", kEchoPort);  // the socket hooks, through the migrated backend
  ASSERT_TRUE(before_sync.connected());
  EXPECT_EQ(before_sync.echo("no sync yet"), "no sync yet");
  EXPECT_EQ(long_lived.echo("after the upgrade"), "after the upgrade");

  auto ok = backend_->full_sync(*snapshot_);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(array_entry(pin("lb4_backends_v2"), 3000).proto, 0) << "a backend no slot names is cleared";
  Connection fresh(t.node(), "10.96.0.90", kEchoPort);
  ASSERT_TRUE(fresh.connected());
  EXPECT_EQ(fresh.echo("synced"), "synced");
  auto cleaned = backend_->cleanup();
  ASSERT_TRUE(cleaned) << cleaned.error().message;
}

TEST(PinnedLayouts, EveryPinnedMapCarriesAVersionAndItsLayoutIsInTheTable) {
  for (const auto& l : pinned_layouts()) EXPECT_GT(layout_version(l.name), 0) << l.name;
  EXPECT_EQ(layout_version("ct4_v2"), 2);
  EXPECT_EQ(layout_version("ct4"), 0);
  EXPECT_EQ(layout_version("lb_v1x"), 0);
}

}  // namespace
}  // namespace switchyard::dataplane::ebpf
