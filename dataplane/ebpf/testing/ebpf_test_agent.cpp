// A stand-in for `switchyard agent --mode ebpf` in tests that kill -9 the agent: programs one
// ClusterIP service into an EbpfBackend, prints "synced" and waits to be killed.
//
//   ebpf_test_agent PIN_ROOT CGROUP NODE VIP:PORT BACKEND_IP[,BACKEND_IP...] TARGET_PORT NETNS...
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/ebpf/ebpf_backend.h"
#include "dataplane/iptables/test_cluster.h"

using namespace switchyard;

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: %s PIN_ROOT CGROUP NODE VIP:PORT BACKENDS TARGET_PORT NETNS...\n", argv[0]);
    return 2;
  }
  dataplane::ebpf::EbpfBackendOptions options;
  options.pin_root = argv[1];
  options.cgroup_root = argv[2];
  options.node_name = argv[3];
  for (int i = 7; i < argc; ++i) options.scope_netns.push_back(argv[i]);
  options.sizes = {.service_entries = 4096, .backends = 1024, .maglev_services = 64, .affinity_entries = 1024, .reverse_entries = 4096};
  const std::string vip_port = argv[4];
  const auto colon = vip_port.rfind(':');
  const int target = std::stoi(argv[6]);
  endpoints::ClusterState state({.node_name = options.node_name});
  state.upsert(dataplane::test_cluster::service("web", vip_port.substr(0, colon), std::stoi(vip_port.substr(colon + 1)), target));
  std::vector<std::pair<std::string, std::string>> backends;
  std::istringstream list(argv[5]);
  for (std::string ip; std::getline(list, ip, ',');) backends.emplace_back(ip, "node-b");
  state.upsert(dataplane::test_cluster::slice("web", backends, target));
  auto backend = dataplane::ebpf::EbpfBackend::create(options);
  if (!backend) {
    std::fprintf(stderr, "%s\n", backend.error().message.c_str());
    return 1;
  }
  if (auto ok = (*backend)->full_sync(*state.build()); !ok) {
    std::fprintf(stderr, "%s\n", ok.error().message.c_str());
    return 1;
  }
  std::printf("synced reused_pins=%d changes=%llu\n", (*backend)->reused_pins() ? 1 : 0,
              static_cast<unsigned long long>((*backend)->stats().last_batch_messages));
  std::fflush(stdout);
  while (true) pause();
}
