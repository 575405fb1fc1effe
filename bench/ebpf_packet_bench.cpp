// Per-packet cost of the tc NodePort program under BPF_PROG_TEST_RUN (the kernel runs the
// program `repeat` times on one packet and reports the mean), with 1 to 100,000 LoadBalancer
// frontends × 10 backends in its maps, against a program that only parses the same headers
// (the floor). The packet belongs to a tracked flow after its first run: this is the cost of
// an established flow's packet (conntrack hit, DNAT, two checksum fixes). Needs root; attaches
// nothing.
//
//   ebpf_packet_bench [--services=1,1000,10000,100000] [--repeat=1000000]
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/ebpf/bpf/lb_types.h"
#include "nodeport_tc.skel.h"
#include "parse_floor.skel.h"

namespace {

std::vector<std::uint8_t> tcp_syn(std::uint32_t client, std::uint32_t frontend, std::uint16_t dport) {
  std::vector<std::uint8_t> p(14 + 20 + 20, 0);
  p[12] = 0x08;
  std::uint8_t* ip = p.data() + 14;
  ip[0] = 0x45;
  ip[3] = 40;
  ip[8] = 64;
  ip[9] = IPPROTO_TCP;
  std::memcpy(ip + 12, &client, 4);
  std::memcpy(ip + 16, &frontend, 4);
  std::uint8_t* t = ip + 20;
  t[0] = 0x9c;  // 40000
  t[1] = 0x40;
  t[2] = static_cast<std::uint8_t>(dport >> 8);
  t[3] = static_cast<std::uint8_t>(dport);
  t[12] = 5 << 4;
  t[13] = 0x02;
  return p;
}

// Mean nanoseconds per run of `fd` on `packet`.
double ns_per_packet(int fd, std::vector<std::uint8_t> packet, int repeat) {
  std::vector<std::uint8_t> out(packet.size() + 64);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet.data(), .data_out = out.data(), .data_size_in = static_cast<__u32>(packet.size()),
              .data_size_out = static_cast<__u32>(out.size()), .repeat = repeat);
  if (bpf_prog_test_run_opts(fd, &opts) != 0) {
    std::perror("BPF_PROG_TEST_RUN");
    return -1;
  }
  return static_cast<double>(opts.duration);
}

std::uint32_t address(int base, int index) { return htonl(static_cast<std::uint32_t>(base) << 24 | static_cast<std::uint32_t>(index)); }

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {1, 1000, 10000, 100000};
  int repeat = 1000000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.starts_with("--services=")) {
      sizes.clear();
      std::string list = a.substr(11);
      for (std::size_t p = 0; p <= list.size();) {
        auto comma = list.find(',', p);
        if (comma == std::string::npos) comma = list.size();
        sizes.push_back(std::stoi(list.substr(p, comma - p)));
        p = comma + 1;
      }
    } else if (a.starts_with("--repeat=")) {
      repeat = std::stoi(a.substr(9));
    } else if (!a.starts_with("--benchmark_")) {
      std::fprintf(stderr, "usage: %s [--services=1,1000,10000,100000] [--repeat=1000000]\n", argv[0]);
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "ebpf_packet_bench needs root (it loads BPF programs)\n");
    return 0;
  }
  parse_floor* floor = parse_floor__open_and_load();
  if (!floor) {
    std::perror("load parse_floor");
    return 1;
  }
  const double floor_ns = ns_per_packet(bpf_program__fd(floor->progs.parse_floor), tcp_syn(address(192, 2), address(10, 1), 80), repeat);
  std::printf(
      "| LoadBalancer frontends × 10 backends | nodeport_ingress, tracked flow | parse-only floor | program minus floor "
      "|\n|---|---|---|---|\n");
  for (int n : sizes) {
    nodeport_tc* skel = nodeport_tc__open();
    const std::uint32_t entries = static_cast<std::uint32_t>(n) * 11 + 16;
    bpf_map__set_max_entries(skel->maps.lb4_external_v1, entries);
    if (!skel || nodeport_tc__load(skel) != 0) {
      std::perror("load nodeport");
      return 1;
    }
    for (std::uint32_t id = 1; id <= 10; ++id) {
      lb4_backend b{.address = address(11, static_cast<int>(id)), .port = htons(8080), .proto = IPPROTO_TCP};
      bpf_map_update_elem(bpf_map__fd(skel->maps.lb4_backends_v2), &id, &b, BPF_ANY);
    }
    std::vector<lb4_service_key> keys;
    std::vector<lb_service_value> values;
    keys.reserve(entries);
    values.reserve(entries);
    for (int s = 0; s < n; ++s)
      for (std::uint16_t slot = 0; slot <= 10; ++slot) {
        keys.push_back({.address = address(10, s + 1), .port = htons(80), .slot = slot, .proto = IPPROTO_TCP});
        lb_service_value v{};
        if (slot == 0)
          v.count = 10;
        else
          v.backend_id = slot;
        values.push_back(v);
      }
    __u32 count = static_cast<__u32>(keys.size());
    if (bpf_map_update_batch(bpf_map__fd(skel->maps.lb4_external_v1), keys.data(), values.data(), &count, nullptr) != 0) {
      std::perror("fill lb4_external_v1");
      return 1;
    }
    const double ns = ns_per_packet(bpf_program__fd(skel->progs.nodeport_ingress), tcp_syn(address(192, 2), address(10, n), 80), repeat);
    std::printf("| %d | %.0f ns | %.0f ns | %.0f ns |\n", n, ns, floor_ns, ns - floor_ns);
    std::fflush(stdout);
    nodeport_tc__destroy(skel);
  }
  parse_floor__destroy(floor);
  return 0;
}
