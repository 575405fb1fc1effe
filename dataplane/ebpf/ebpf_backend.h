// The eBPF Backend: socket-level load balancing for ClusterIPs, external IPs and load-balancer
// IPs of traffic that starts on this node (its processes and its pods), programmed as BPF map
// entries (lb_entries.h) from the Snapshot diff. The maps are the desired state: a full sync
// reads them back and corrects every difference, so a restarted agent reconciles what it
// finds pinned instead of starting over, and the hooks stay attached throughout.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "dataplane/backend.h"
#include "dataplane/ebpf/external_devices.h"
#include "dataplane/ebpf/id_allocator.h"
#include "dataplane/ebpf/lb_entries.h"
#include "dataplane/ebpf/sock_lb_objects.h"

namespace switchyard::dataplane::ebpf {

struct EbpfBackendOptions {
  std::string node_name;                            // pins under <pin_root>/<node_name>
  std::string pin_root = "/sys/fs/bpf/switchyard";  // must be on a bpf filesystem
  std::string cgroup_root;                          // --cgroup-root; "" = the cgroup v2 mount
  // Network namespaces (paths such as /run/netns/NAME or /proc/PID/ns/net) whose sockets this
  // agent translates. Empty: every socket in the cgroup, whatever its namespace.
  std::vector<std::string> scope_netns;
  bool ipv4 = true, ipv6 = true;
  bool maglev_by_default = false;  // else only ports annotated for maglev use it
  SockLbSizes sizes;
  // Interfaces (in the network namespace create() runs in) whose traffic from outside the tc
  // programs translate: NodePort, load-balancer IPs, external IPs. Empty: no tc programs.
  std::vector<std::string> external_interfaces;
  // Instead of external_interfaces: the interfaces carrying the node's addresses and default
  // route, followed as they come and go (external_devices.h says which are left out).
  bool detect_external_interfaces = false;
  // XDP mode (--ebpf-nodeport-mode xdp): nodeport_xdp also goes on the external interfaces and
  // DNATs the packets of tracked flows before an skb exists; the tc programs handle the rest.
  bool nodeport_xdp = false;
  // NodePorts on 127.0.0.0/8 for the node's own sockets (kube-proxy's --iptables-localhost-nodeports,
  // default on); NodePorts on the node's addresses always work from the node and its pods.
  bool nodeport_localhost = true;
  // The conntrack garbage collector's bounds (it runs whenever the tc programs are loaded).
  ConntrackGcOptions conntrack_gc;
};

// Counters from the programs' metrics map, summed over CPUs.
struct SockLbMetrics {
  std::uint64_t translated = 0, reversed = 0, rejected_no_backend = 0, dropped_backend_missing = 0;
  std::uint64_t affinity_hits = 0, out_of_scope = 0;
  std::uint64_t udp_sockets_destroyed = 0;  // connected UDP sockets whose backend went away
};

class EbpfBackend final : public Backend, private LbIdSource {
 public:
  static Result<std::unique_ptr<EbpfBackend>> create(EbpfBackendOptions options);
  ~EbpfBackend() override;

  Result<void> sync(const endpoints::Snapshot& before, const endpoints::Snapshot& after, const endpoints::SnapshotDiff& diff) override;
  Result<void> full_sync(const endpoints::Snapshot& snapshot) override;
  // Detaches the hooks, unpins the maps and links and removes the pin directory.
  Result<void> cleanup() override;
  BackendStats stats() const override { return stats_; }
  // The conntrack collector's metrics and the tc programs' ICMP counters.
  std::string metrics_text() const override;
  ConntrackGc* conntrack_gc() { return conntrack_gc_.get(); }

  // Translates sockets of one more network namespace too (scoped agents only).
  Result<void> add_netns_to_scope(const std::string& netns_path);
  Result<SockLbMetrics> metrics() const;
  // True when create() found this node's maps and hooks pinned by an earlier agent.
  bool reused_pins() const { return objects_->reused_pins(); }
  const std::string& pin_dir() const { return objects_->pin_dir(); }
  const SockLbObjects& objects() const { return *objects_; }
  // Maps grown since create() (each time: new maps filled from the old, programs switched).
  int map_growths() const { return map_growths_; }

 private:
  struct BackendRef {
    std::uint32_t id = 0;
    int refs = 0;
  };
  using BackendTable = std::unordered_map<BackendAddress, BackendRef, BackendAddressHash>;
  struct FrontendId {
    IpFamily family;
    std::array<std::uint8_t, 16> address;
    std::uint16_t port_be;
    std::uint8_t proto;
    auto operator<=>(const FrontendId&) const = default;
  };
  // What a port was last programmed from: the Snapshot's own (shared) port info and its service
  // ids. Its map entries are rebuilt from these when it changes, so no copy of them is kept.
  struct ProgrammedPort {
    std::shared_ptr<const endpoints::ServicePortInfo> info;
    std::uint32_t service_id4 = 0, service_id6 = 0;
  };

  EbpfBackend(EbpfBackendOptions options, std::unique_ptr<SockLbObjects> objects)
      : options_(std::move(options)), objects_(std::move(objects)) {}
  std::uint32_t backend_id(const BackendAddress& backend) override;
  std::uint32_t backend_id_of(const BackendAddress& backend) override { return backends_.at(backend).id; }
  std::uint32_t service_id(const endpoints::ServicePortName& name, IpFamily family) override;
  // The entries `port` is programmed with now (ids looked up, no reference counted).
  void programmed_entries(const ProgrammedPort& port, PortEntries& out) const;
  std::size_t written_entries(const PortEntries& entries) const;  // what they put in the maps
  // Connected UDP sockets translated to a backend that `entries` no longer has for `old`'s VIPs.
  void collect_udp_to_destroy(const PortEntries& old, const PortEntries& entries);
  // Grows the maps that `needs` would not fit (map_sizing.h), before a sync writes them.
  Result<void> ensure_capacity(const MapNeeds& needs);
  Result<void> purge_affinity(const std::map<std::uint32_t, std::vector<std::uint32_t>>& kept);

  EbpfBackendOptions options_;
  std::unique_ptr<SockLbObjects> objects_;
  std::mutex objects_mutex_;  // the device watcher's thread against a growth's swap of objects_
  MapNeeds needs_;            // of what is programmed now
  int map_growths_ = 0;
  std::vector<int> gc_fds_;  // the collector's own copies of the conntrack map fds: it outlives a growth
  std::map<endpoints::ServicePortName, ProgrammedPort> programmed_;
  BackendTable backends_;
  std::map<FrontendId, std::uint32_t> pinned_service_ids_;         // slot 0 of what an earlier agent left
  std::vector<const BackendTable::value_type*> newly_referenced_;  // by the port being built
  ProgrammedPort* building_ = nullptr;                             // the port whose entries are being built
  std::size_t service_entries_ = 0;                                // entries of every map but the backends
  PortEntries scratch_;                                            // reused by every full sync
  std::vector<lb4_destroy_key> destroy4_;                          // filled during a sync
  std::vector<lb6_destroy_key> destroy6_;
  std::vector<std::string> socket_netns_;  // where connected UDP sockets are looked for
  int create_netns_fd_ = -1;               // the namespace create() ran in
  // Re-reads the node's addresses (create()'s namespace) into lb_node_addrs_v1.
  Result<void> refresh_node_addresses();
  std::uint32_t next_id_ = 1;                // service ids
  IdAllocator backend_ids4_, backend_ids6_;  // indexes of lb4/lb6_backends_v2, dense
  IdAllocator& backend_ids(IpFamily family) { return family == IpFamily::IPv4 ? backend_ids4_ : backend_ids6_; }
  // Affinity entries naming ids handed out again (to another backend) go before it is written.
  Result<void> purge_reused_ids();
  bool needs_full_sync_ = true;
  bool removed_ = false;
  BackendStats stats_;
  std::uint64_t udp_sockets_destroyed_ = 0;
  std::unique_ptr<ExternalDeviceWatcher> device_watcher_;  // before objects_ goes: declared after it
  std::unique_ptr<ConntrackGc> conntrack_gc_;              // the same
};

}  // namespace switchyard::dataplane::ebpf
