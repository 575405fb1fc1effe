// The services the packet benchmark programs, described once and handed to all three
// dataplanes: N Services × 10 endpoints as API objects (for the Snapshot the eBPF and nftables
// backends consume) and as kube-proxy service ports (for the iptables layout). Services 0..N-2
// are fillers whose endpoints are addresses nothing answers on; the last one, "target", is the
// one the traffic goes to, and its endpoints are the benchmark's pods. It is listed last, so
// kube-proxy's KUBE-SERVICES walk reaches it after every other rule (the worst case; in a real
// cluster the order is arbitrary and the average is half of that).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bench/packet/kube_proxy_iptables.h"
#include "endpoints/node/snapshot.h"

namespace switchyard::bench {

struct BenchTarget {
  std::string cluster_ip;
  int crr_port = 80, bulk_port = 5201, udp_port = 9000;  // service ports
  int crr_node_port = 30080;
};

class BenchCluster {
 public:
  BenchCluster(int services, int endpoints_per_service, const std::vector<std::string>& pod_ips);

  std::shared_ptr<const endpoints::Snapshot> snapshot() const { return snapshot_; }
  // The same cluster after one endpoint of service N/2 was replaced (kube-proxy: the
  // corresponding partial restore).
  std::shared_ptr<const endpoints::Snapshot> changed_snapshot() const { return changed_snapshot_; }
  const std::vector<KubeProxyServicePort>& kube_proxy_ports() const { return ports_; }
  std::string kube_proxy_partial() const;
  const BenchTarget& target() const { return target_; }

 private:
  std::vector<KubeProxyServicePort> ports_, changed_ports_;
  std::size_t changed_index_ = 0;
  KubeProxyEndpoint removed_;
  std::shared_ptr<const endpoints::Snapshot> snapshot_, changed_snapshot_;
  BenchTarget target_;
};

}  // namespace switchyard::bench
