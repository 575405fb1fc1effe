// The conntrack garbage collector's pass time against the table size: the tc object's conntrack
// maps (capacity 262,144, the agent's default) filled from userspace with N IPv4 flows (both
// entries), then ConntrackGc::collect() timed with nothing expired (the walk alone) and with
// every flow expired (walk and delete). Needs root; attaches nothing.
//
//   ebpf_ct_gc_bench [--flows=1000,10000,100000,262144]
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/ebpf/bpf/lb_types.h"
#include "dataplane/ebpf/conntrack_gc.h"
#include "nodeport_tc.skel.h"

namespace {

using switchyard::dataplane::ebpf::BpfMapRef;
using switchyard::dataplane::ebpf::ConntrackGc;
using switchyard::dataplane::ebpf::ConntrackMaps;

std::uint32_t now_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint32_t>(ts.tv_sec);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::uint32_t> sizes{1000, 10000, 100000, 262144};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.starts_with("--flows=")) {
      sizes.clear();
      std::stringstream in(a.substr(8));
      for (std::string n; std::getline(in, n, ',');) sizes.push_back(static_cast<std::uint32_t>(std::stoul(n)));
    } else {
      std::fprintf(stderr, "usage: %s [--flows=1000,10000,100000,262144]\n", argv[0]);
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "needs root (loads BPF programs)\n");
    return 1;
  }
  std::printf("| flows (entries) | pass, none expired | pass, all expired (deleted) |\n|---|---|---|\n");
  for (std::uint32_t flows : sizes) {
    nodeport_tc* skel = nodeport_tc__open_and_load();
    if (!skel) {
      std::perror("load of the nodeport tc programs");
      return 1;
    }
    auto ref = [](bpf_map* m) { return BpfMapRef{bpf_map__fd(m), bpf_map__name(m)}; };
    const ConntrackMaps maps{.flow4 = ref(skel->maps.ct4_v2),
                             .reply4 = ref(skel->maps.ct4_reverse_v2),
                             .flow6 = ref(skel->maps.ct6_v2),
                             .reply6 = ref(skel->maps.ct6_reverse_v2),
                             .metrics = ref(skel->maps.np_metrics_v1),
                             .capacity = bpf_map__max_entries(skel->maps.ct4_v2)};
    std::vector<ct4_key> keys(flows);
    std::vector<ct4_entry> values(flows);
    std::vector<ct4_reverse_key> reply_keys(flows);
    std::vector<ct4_reverse_entry> reply_values(flows);
    const std::uint32_t lifetime = now_seconds() + 60;
    for (std::uint32_t i = 0; i < flows; ++i) {
      const std::uint32_t client = htonl(0x0a000000u | (i >> 8)), backend = htonl(0x0af40000u | (i % 250));
      const std::uint16_t port = htons(static_cast<std::uint16_t>(1024 + (i & 0xff)));
      keys[i] = {
          .client = client, .frontend = htonl(0xc0a83201u), .client_port = port, .frontend_port = htons(30080), .proto = 6, .pad = {}};
      values[i] = {.backend = backend,
                   .backend_port = htons(8080),
                   .snat_port = 0,
                   .snat_addr = 0,
                   .snat_ifindex = 0,
                   .lifetime = lifetime,
                   .flags = 0,
                   .pad = {}};
      reply_keys[i] = {.backend = backend, .client = client, .backend_port = htons(8080), .client_port = port, .proto = 6, .pad = {}};
      reply_values[i] = {.frontend = htonl(0xc0a83201u),
                         .frontend_port = htons(30080),
                         .client_port = 0,
                         .client = 0,
                         .client_ifindex = 0,
                         .lifetime = lifetime,
                         .flags = 0,
                         .pad = {}};
    }
    auto put = [](int fd, const void* k, const void* v, std::uint32_t n) {
      LIBBPF_OPTS(bpf_map_batch_opts, opts);
      __u32 count = n;
      return bpf_map_update_batch(fd, k, v, &count, &opts);
    };
    if (put(maps.flow4.fd, keys.data(), values.data(), flows) != 0 ||
        put(maps.reply4.fd, reply_keys.data(), reply_values.data(), flows) != 0) {
      std::perror("filling the conntrack maps");
      return 1;
    }
    ConntrackGc gc(maps, {});
    auto live = gc.collect(lifetime - 1);
    auto dead = gc.collect(lifetime + 1);
    if (!live || !dead) {
      std::fprintf(stderr, "collect: %s\n", (!live ? live.error() : dead.error()).message.c_str());
      return 1;
    }
    std::printf("| %u (%llu) | %.1f ms | %.1f ms (%llu) |\n", flows, static_cast<unsigned long long>(live->entries), live->seconds * 1e3,
                dead->seconds * 1e3, static_cast<unsigned long long>(dead->deleted_entries));
    nodeport_tc__destroy(skel);
  }
  return 0;
}
