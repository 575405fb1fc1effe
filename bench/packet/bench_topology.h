// The network of the packet benchmark, in namespaces it owns (removed with it): a node that
// routes, ten backend pods and one client pod wired as Calico and Cilium wire pods (a veth
// each, a /32 route on the node, a default route to a link-local gateway on the node's end),
// and an external client on a /24 behind the node's "vext" (the eBPF tc programs attach there).
// Every backend pod runs `packet_load serve`. Traffic from the client pod to a ClusterIP
// crosses the node namespace, so the nat rules of nftables and iptables see it, and the eBPF
// socket hooks see its connect() (the client runs in the bench's cgroup).
#pragma once

#include <sys/types.h>

#include <expected>
#include <string>
#include <vector>

#include "dataplane/testing/network_namespace.h"

namespace switchyard::bench {

struct BenchPorts {
  static constexpr int kUdp = 9000, kCrr = 8080, kBulk = 5201;
};

class BenchTopology {
 public:
  static constexpr const char* kPodCidr = "10.244.0.0/16";
  static constexpr const char* kClientPodIp = "10.244.1.2";
  static constexpr const char* kNodeExternalIp = "192.168.60.1";
  static constexpr const char* kExternalClientIp = "192.168.60.2";
  static constexpr const char* kExternalInterface = "vext";

  // `load_tool`: the packet_load binary, started in every pod.
  static std::expected<BenchTopology, std::string> create(int pods, const std::string& load_tool);

  dataplane::testing::NetworkNamespace& node() { return node_; }
  dataplane::testing::NetworkNamespace& client() { return client_; }
  dataplane::testing::NetworkNamespace& external() { return external_; }
  const std::vector<std::string>& pod_ips() const { return pod_ips_; }
  const std::vector<pid_t>& server_pids() const { return server_pids_; }
  // UDP datagrams delivered to sockets in all backend pods so far (Udp InDatagrams, per netns).
  std::uint64_t udp_delivered() const;

 private:
  BenchTopology(dataplane::testing::NetworkNamespace node, dataplane::testing::NetworkNamespace client,
                dataplane::testing::NetworkNamespace external)
      : node_(std::move(node)), client_(std::move(client)), external_(std::move(external)) {}
  std::expected<void, std::string> add_routed_pod(dataplane::testing::NetworkNamespace& pod, const std::string& veth,
                                                  const std::string& ip);

  // Declared first so that they are removed last.
  dataplane::testing::NetworkNamespace node_;
  dataplane::testing::NetworkNamespace client_;
  dataplane::testing::NetworkNamespace external_;
  std::vector<dataplane::testing::NetworkNamespace> pods_;
  std::vector<std::string> pod_ips_;
  std::vector<pid_t> server_pids_;
};

}  // namespace switchyard::bench
