// The allocators against the real embedded store: ranges, bands and messages as upstream has
// them, persistence across a reopen, and what a Service create/update/delete allocates.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "orchestrator/apiserver/allocators.h"
#include "orchestrator/apiserver/service_allocation.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::apiserver {
namespace {

using store::SqliteStore;
using store::testing::TempDir;

class AllocatorTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void open() {
    auto s = SqliteStore::open((dir_.path() / "store.db").string());
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }
  void reopen() {
    store_.reset();
    open();
  }
  std::unique_ptr<ClusterIpAllocator> ips(std::string_view cidr) {
    auto a = ClusterIpAllocator::create(*store_, cidr);
    EXPECT_TRUE(a) << a.error();
    return a ? std::move(*a) : nullptr;
  }
  std::unique_ptr<NodePortAllocator> ports(int min, int max) {
    auto a = NodePortAllocator::create(*store_, min, max);
    EXPECT_TRUE(a) << a.error();
    return a ? std::move(*a) : nullptr;
  }
  std::size_t keys(std::string_view prefix) { return store_->list(prefix, 0, "").value().items.size(); }

  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

TEST(IpRangeTest, SizesAndStaticBands) {
  auto r = IpRange::parse("10.96.0.0/12").value();
  EXPECT_EQ(r.size(), (1u << 20) - 2);
  EXPECT_EQ(r.static_band(), 256u);
  EXPECT_EQ(r.at(0), "10.96.0.1");
  EXPECT_EQ(r.at(r.size() - 1), "10.111.255.254");

  auto c = IpRange::parse("192.168.7.9/24").value();  // host bits dropped
  EXPECT_EQ(c.cidr(), "192.168.7.0/24");
  EXPECT_EQ(c.size(), 254u);
  EXPECT_EQ(c.static_band(), 16u);                 // max(16, 256/16)
  EXPECT_EQ(IpRange::parse("10.0.0.0/20").value().static_band(), 256u);  // 4096/16
  EXPECT_EQ(IpRange::parse("10.0.0.0/21").value().static_band(), 128u);
  EXPECT_EQ(IpRange::parse("10.0.0.0/28").value().static_band(), 0u);    // 16 addresses: no band
  EXPECT_EQ(IpRange::parse("10.0.0.0/29").value().size(), 6u);
  EXPECT_EQ(IpRange::parse("10.0.0.0/31").value().size(), 0u);

  auto v6 = IpRange::parse("fd00:10:96::/108").value();
  EXPECT_EQ(v6.family(), "IPv6");
  EXPECT_EQ(v6.size(), 65535u);  // capped bitmap, minus the anycast address
  EXPECT_EQ(v6.static_band(), 256u);
  EXPECT_EQ(v6.at(0), "fd00:10:96::1");
  EXPECT_EQ(IpRange::parse("fd00::/64").value().size(), 65535u);

  EXPECT_EQ(c.offset_of("192.168.7.0"), std::nullopt);    // network
  EXPECT_EQ(c.offset_of("192.168.7.255"), std::nullopt);  // broadcast
  EXPECT_EQ(c.offset_of("192.168.7.1"), 0u);
  EXPECT_EQ(c.offset_of("192.168.8.1"), std::nullopt);
  EXPECT_EQ(c.offset_of("fd00::1"), std::nullopt);
  EXPECT_FALSE(IpRange::parse("10.0.0.0"));
  EXPECT_FALSE(IpRange::parse("10.0.0.0/33"));
  EXPECT_FALSE(IpRange::parse("10.0.0/8"));
}

TEST(IpRangeTest, PortBands) {
  EXPECT_EQ(port_static_band(2768), 86u);   // 30000-32767: 2768/32
  EXPECT_EQ(port_static_band(100), 16u);
  EXPECT_EQ(port_static_band(16), 0u);
  EXPECT_EQ(port_static_band(10000), 128u);
}

TEST_F(AllocatorTest, NetworkAndBroadcastAreNeverHandedOutAndTheRangeFills) {
  auto a = ips("10.0.0.0/29");
  std::set<std::string> got;
  for (int i = 0; i < 6; ++i) {
    auto ip = a->allocate_next("default/s" + std::to_string(i));
    ASSERT_TRUE(ip) << ip.error().message;
    got.insert(*ip);
  }
  EXPECT_EQ(got, (std::set<std::string>{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}));
  auto full = a->allocate_next("default/late");
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, ErrorCode::Exhausted);
  EXPECT_EQ(full.error().message, "range is full");

  for (const char* ip : {"10.0.0.0", "10.0.0.7"}) {
    auto r = a->allocate(ip, "default/x");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::OutOfRange);
    EXPECT_EQ(r.error().message, fmt::format("the provided IP ({}) is not in the valid range. The range of valid IPs is "
                                             "10.0.0.0/29", ip));
  }
}

TEST_F(AllocatorTest, DynamicAllocationPrefersTheUpperBandAndRequestedIpsUseTheStaticOne) {
  auto a = ips("10.0.0.0/24");  // static band: offsets 0-15, 10.0.0.1-10.0.0.16
  for (int i = 0; i < 200; ++i) {
    auto ip = a->allocate_next("default/dyn");
    ASSERT_TRUE(ip) << ip.error().message;
    EXPECT_GE(a->range().offset_of(*ip).value(), 16u) << *ip;
  }
  EXPECT_TRUE(a->allocate("10.0.0.10", "default/static"));
  auto again = a->allocate("10.0.0.10", "default/other");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::AlreadyExists);
  EXPECT_EQ(again.error().message, "provided IP is already allocated");
  EXPECT_EQ(a->owner_of("10.0.0.10").value(), "default/static");

  // Once the upper band is full, dynamic allocation falls back to the static band.
  for (int i = 0; i < 38; ++i) ASSERT_TRUE(a->allocate_next("default/dyn"));
  auto ip = a->allocate_next("default/dyn");
  ASSERT_TRUE(ip) << ip.error().message;
  EXPECT_LT(a->range().offset_of(*ip).value(), 16u);
}

TEST_F(AllocatorTest, OutOfRangeMessageNamesTheServiceCidr) {
  auto a = ips("10.96.0.0/12");
  auto r = a->allocate("192.168.1.1", "default/x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "the provided IP (192.168.1.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12");
}

TEST_F(AllocatorTest, ReleaseOnlyByTheOwner) {
  auto a = ips("10.96.0.0/12");
  ASSERT_TRUE(a->allocate("10.96.0.10", "kube-system/kube-dns"));
  EXPECT_EQ(a->release("10.96.0.10", "default/intruder").value(), false);
  EXPECT_EQ(a->owner_of("10.96.0.10").value(), "kube-system/kube-dns");
  EXPECT_EQ(a->release("10.96.0.10", "kube-system/kube-dns").value(), true);
  EXPECT_EQ(a->owner_of("10.96.0.10").value(), std::nullopt);
  EXPECT_EQ(a->release("10.96.0.10", "kube-system/kube-dns").value(), false);  // already free
  EXPECT_EQ(a->release("1.2.3.4", "kube-system/kube-dns").value(), false);     // not in range
}

TEST_F(AllocatorTest, NodePortsMessagesAndBands) {
  auto p = ports(30000, 30099);  // 100 ports, static band 30000-30015
  EXPECT_EQ(p->static_band(), 16u);
  for (int i = 0; i < 50; ++i) {
    auto port = p->allocate_next("default/dyn");
    ASSERT_TRUE(port) << port.error().message;
    EXPECT_GE(*port, 30016);
  }
  ASSERT_TRUE(p->allocate(30001, "default/a"));
  auto again = p->allocate(30001, "default/b");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "provided port is already allocated");
  auto out = p->allocate(32000, "default/a");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, ErrorCode::OutOfRange);
  EXPECT_EQ(out.error().message, "provided port is not in the valid range. The range of valid ports is 30000-30099");
  EXPECT_EQ(store_->get("/registry/allocations/nodeports/30001").value()->value, "default/a");

  auto small = ports(31000, 31002);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(small->allocate_next("default/x"));
  EXPECT_EQ(small->allocate_next("default/x").error().message, "range is full");
}

TEST_F(AllocatorTest, AllocationsSurviveClosingAndReopeningTheStore) {
  std::string dynamic_ip;
  int dynamic_port = 0;
  {
    auto a = ips("10.96.0.0/12");
    auto p = ports(30000, 32767);
    ASSERT_TRUE(a->allocate("10.96.0.10", "kube-system/kube-dns"));
    dynamic_ip = a->allocate_next("default/web").value();
    ASSERT_TRUE(p->allocate(30080, "default/web"));
    dynamic_port = p->allocate_next("default/web").value();
  }
  reopen();
  auto a = ips("10.96.0.0/12");
  auto p = ports(30000, 32767);
  auto held = a->allocated().value();
  std::sort(held.begin(), held.end());
  std::vector<std::string> want{"10.96.0.10", dynamic_ip};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(held, want);
  EXPECT_EQ(a->allocate("10.96.0.10", "default/other").error().message, "provided IP is already allocated");
  EXPECT_EQ(a->allocate(dynamic_ip, "default/other").error().message, "provided IP is already allocated");
  EXPECT_EQ(p->allocate(dynamic_port, "default/other").error().message, "provided port is already allocated");
  auto held_ports = p->allocated().value();
  EXPECT_EQ(held_ports.size(), 2u);
  EXPECT_TRUE(std::find(held_ports.begin(), held_ports.end(), 30080) != held_ports.end());
}

TEST_F(AllocatorTest, ConcurrentAllocationsNeverShareAnAddress) {
  auto a = ips("10.0.0.0/27");  // 30 addresses
  std::vector<std::vector<std::string>> got(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 12; ++i)
        if (auto ip = a->allocate_next("default/t" + std::to_string(t))) got[t].push_back(*ip);
    });
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  std::size_t total = 0;
  for (const auto& g : got) {
    total += g.size();
    all.insert(g.begin(), g.end());
  }
  EXPECT_EQ(total, 30u);
  EXPECT_EQ(all.size(), 30u);
  EXPECT_EQ(keys(kClusterIpAllocationPrefix), 30u);
}

}  // namespace
}  // namespace switchyard::apiserver
