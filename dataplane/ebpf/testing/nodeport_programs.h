// A test fixture with the tc and XDP NodePort programs loaded from the embedded skeletons (XDP
// on the tc object's maps, as the agent loads them), small maps, a few frontends and backends,
// and BPF_PROG_TEST_RUN of a frame through each program. Nothing is attached anywhere.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/ebpf/bpf/lb_types.h"
#include "dataplane/ebpf/sock_lb_objects.h"
#include "dataplane/ebpf/testing/nodeport_packets.h"
#include "nodeport_tc.skel.h"
#include "nodeport_xdp.skel.h"

namespace switchyard::dataplane::ebpf::testing {

inline const Endpoint kClient{"192.168.50.2", 40000};
inline const Endpoint kNode{"192.168.50.1", 30080};

class NodePortPrograms : public ::testing::Test {
 protected:
  // The size of the LRU maps (conntrack, reverse NAT, affinity).
  virtual std::uint32_t lru_entries() const { return 256; }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "loading BPF programs needs root";
    skel_ = nodeport_tc__open();
    ASSERT_NE(skel_, nullptr);
    // Small maps: this test programs a handful of entries.
    bpf_map* map;
    bpf_object__for_each_map(map, skel_->obj) {
      const auto type = bpf_map__type(map);
      if (type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_ARRAY) continue;
      bpf_map__set_max_entries(map, type == BPF_MAP_TYPE_LRU_HASH ? lru_entries() : 256);
    }
    ASSERT_EQ(nodeport_tc__load(skel_), 0) << "load of the nodeport tc programs";
    xdp_skel_ = nodeport_xdp__open();
    ASSERT_NE(xdp_skel_, nullptr);
    auto shared = share_maps(skel_->obj, xdp_skel_->obj, "the XDP program");
    ASSERT_TRUE(shared) << shared.error().message;
    ASSERT_EQ(nodeport_xdp__load(xdp_skel_), 0) << "load of the nodeport XDP program";
    add_backend(1, {"10.244.0.11", 8080});
    add_backend(2, {"10.244.0.12", 8080});
    add_backend(3, {"fd00:244::11", 8080});
    add_frontend({"0.0.0.0", 30080}, kTcp, {1, 2});  // a NodePort
    add_frontend({"203.0.113.10", 53}, kUdp, {1});   // a LoadBalancer IP
    add_frontend({"192.0.2.20", 80}, kTcp, {});      // no endpoints
    add_frontend({"::", 30084}, kTcp, {3});          // an IPv6 NodePort
    add_frontend({"fd00:50::10", 53}, kUdp, {3});    // an IPv6 externalIP
  }
  void TearDown() override {
    if (xdp_skel_) nodeport_xdp__destroy(xdp_skel_);
    if (skel_) nodeport_tc__destroy(skel_);
  }

  void add_backend(std::uint32_t id, const Endpoint& e) {
    if (e.v6()) {
      lb6_backend b{};
      std::memcpy(b.address, e.address().data(), 16);
      b.port = htons(e.port);
      b.proto = IPPROTO_TCP;  // any non-zero: an array entry with proto 0 is no backend
      ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.lb6_backends_v2), &id, &b, BPF_ANY), 0);
    } else {
      lb4_backend b{};
      std::memcpy(&b.address, e.address().data(), 4);
      b.port = htons(e.port);
      b.proto = IPPROTO_TCP;
      ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.lb4_backends_v2), &id, &b, BPF_ANY), 0);
    }
  }

  void add_frontend(const Endpoint& f, std::uint8_t proto, const std::vector<std::uint32_t>& ids,
                    std::uint16_t flags = LB_SERVICE_FLAG_LOCAL, std::uint32_t service_id = 0) {
    auto put = [&](auto key, int fd) {
      std::memcpy(&key.address, f.address().data(), sizeof key.address);
      key.port = htons(f.port);
      key.proto = proto;
      for (std::size_t i = 0; i < ids.size(); ++i) {
        key.slot = static_cast<std::uint16_t>(i + 1);
        lb_service_value v{.backend_id = ids[i]};
        ASSERT_EQ(bpf_map_update_elem(fd, &key, &v, BPF_ANY), 0);
      }
      key.slot = 0;
      lb_service_value front{.count = static_cast<std::uint16_t>(ids.size()), .flags = flags, .service_id = service_id};
      ASSERT_EQ(bpf_map_update_elem(fd, &key, &front, BPF_ANY), 0);
    };
    if (f.v6())
      put(lb6_service_key{}, bpf_map__fd(skel_->maps.lb6_external_v1));
    else
      put(lb4_service_key{}, bpf_map__fd(skel_->maps.lb4_external_v1));
  }

  struct Run {
    int verdict = -1;
    Bytes out;
  };
  Run run(bpf_program* program, const Bytes& in) {
    Run r;
    r.out.resize(in.size() + 64);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = r.out.data(), .data_size_in = static_cast<__u32>(in.size()),
                .data_size_out = static_cast<__u32>(r.out.size()));
    EXPECT_EQ(bpf_prog_test_run_opts(bpf_program__fd(program), &opts), 0) << std::strerror(errno);
    r.out.resize(opts.data_size_out);
    r.verdict = static_cast<int>(opts.retval);
    return r;
  }
  Run ingress(const Bytes& in) { return run(skel_->progs.nodeport_ingress, in); }
  Run egress(const Bytes& in) { return run(skel_->progs.nodeport_egress, in); }
  Run xdp(const Bytes& in) { return run(xdp_skel_->progs.nodeport_xdp, in); }

  static std::size_t entries(bpf_map* map) {
    std::array<std::uint8_t, 64> key{}, next{};
    std::size_t n = 0;
    for (const void* prev = nullptr; bpf_map_get_next_key(bpf_map__fd(map), prev, next.data()) == 0; prev = key.data()) {
      key = next;
      ++n;
    }
    return n;
  }
  // Conntrack entries of both families and directions.
  std::size_t tracked() {
    return entries(skel_->maps.ct4_v2) + entries(skel_->maps.ct4_reverse_v2) + entries(skel_->maps.ct6_v2) +
           entries(skel_->maps.ct6_reverse_v2);
  }

  // An outcome's count (enum nodeport_metric), and a drop reason's (enum nodeport_drop).
  std::uint64_t metric(std::uint32_t which) { return per_cpu_sum(skel_->maps.np_metrics_v1, which); }
  std::uint64_t dropped(std::uint32_t reason) { return per_cpu_sum(skel_->maps.np_drops_v1, reason); }
  // ICMP errors translated or sent (enum nodeport_icmp).
  std::uint64_t icmp_count(std::uint32_t which) { return per_cpu_sum(skel_->maps.np_icmp_v1, which); }

  nodeport_tc* skel_ = nullptr;
  nodeport_xdp* xdp_skel_ = nullptr;

 private:
  static std::uint64_t per_cpu_sum(bpf_map* map, std::uint32_t index) {
    std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(libbpf_num_possible_cpus()));
    EXPECT_EQ(bpf_map_lookup_elem(bpf_map__fd(map), &index, per_cpu.data()), 0);
    std::uint64_t sum = 0;
    for (auto v : per_cpu) sum += v;
    return sum;
  }
};

}  // namespace switchyard::dataplane::ebpf::testing
