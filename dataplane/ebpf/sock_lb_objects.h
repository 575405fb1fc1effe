// The kernel objects of the eBPF dataplane: the socket load balancer's programs (cgroup hooks) and
// the tc programs for traffic from outside, from the embedded skeletons,
// their maps pinned under <pin_root>/<node>/ and their cgroup links pinned beside them. Opening
// reuses whatever an earlier agent pinned there (maps keep their contents, links are switched
// to the new programs in place), so a restart never detaches the hooks.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dataplane/backend.h"
#include "dataplane/ebpf/bpf/lb_types.h"
#include "dataplane/ebpf/bpf_map_ops.h"
#include "dataplane/ebpf/conntrack_gc.h"
#include "dataplane/ebpf/map_pins.h"
#include "dataplane/ebpf/map_sizing.h"

struct sock_lb;
struct nodeport_tc;
struct nodeport_xdp;
struct sock_destroy;
struct bpf_link;
struct bpf_object;

namespace switchyard::dataplane::ebpf {

// map_sizing.h says how these are chosen.
struct SockLbSizes {
  // Floors of the maps that hold the cluster (each family); the backend grows them with it.
  std::uint32_t service_entries = 1024;  // frontends × (1 + backends); also the external maps
  std::uint32_t backends = 1024;
  std::uint32_t maglev_services = 64;  // 4 KiB each
  // LRU maps, preallocated by the kernel: 0 = from dynamic_size_ratio of the machine's memory.
  std::uint32_t affinity_entries = 0;
  std::uint32_t reverse_entries = 0;    // translated sockets remembered for recvmsg/getpeername
  std::uint32_t conntrack_entries = 0;  // each of the four conntrack maps
  double dynamic_size_ratio = 0.00025;  // --ebpf-map-dynamic-size-ratio (Cilium's is 0.0025)
  // max_entries the backend grew maps to, by map name (above the floors above).
  std::map<std::string, std::uint32_t> grown;
  // false: the cluster has no frontend of that family yet, so no flow of it can be tracked or
  // translated: its LRU maps (ct, ct_reverse, lb_reverse) take kIdleLruEntries until the first
  // one appears and the backend grows them (empty then, so nothing is lost). A larger pin of an
  // earlier agent is kept as it is.
  bool frontends4 = true, frontends6 = true;
  static constexpr std::uint32_t kIdleLruEntries = 64;
};

struct SockLbObjectOptions {
  std::string pin_dir;      // <pin_root>/<node>
  std::string cgroup_path;  // where the hooks attach
  bool ipv4 = true, ipv6 = true;
  bool scope_by_netns = false;
  SockLbSizes sizes;
  std::vector<std::string> external_interfaces;  // tc programs go there (this thread's netns)
  bool nodeport_xdp = false;                     // and nodeport_xdp on their XDP hook
  // The tc programs are loaded even without external_interfaces: set_tc_interfaces() attaches them.
  bool detect_external_interfaces = false;
  // 127.0.0.0/8 NodePorts for the node's own sockets (kube-proxy's --iptables-localhost-nodeports).
  bool nodeport_localhost = true;
};

class SockLbObjects {
 public:
  static Result<std::unique_ptr<SockLbObjects>> open(SockLbObjectOptions options);
  ~SockLbObjects();  // closes our fds only: the pins keep maps and hooks in place

  // Unpins and detaches everything under pin_dir and removes the directory.
  Result<void> remove();

  BpfMapRef services4, services6, backends4, backends6, maglev, affinity, scope, metrics;
  BpfMapRef external4, external6;  // the tc programs' frontends
  // max_entries of a loaded map, by name (0 when it is not loaded).
  std::uint32_t capacity(const std::string& map_name) const;
  // What open() did to pins it found (resized, migrated, replaced).
  const std::vector<PinEvent>& pin_events() const { return pin_events_; }
  BpfMapRef source_ranges4, source_ranges6;  // loadBalancerSourceRanges (LPM tries)
  BpfMapRef node_addresses;                  // lb_node_addrs_v1: NodePorts from the node itself
  bool reused_pins() const { return reused_pins_; }
  const std::string& sock_destroy_error() const { return sock_destroy_error_; }
  // How nodeport_xdp is attached to each external interface ("native" or "generic"), in order.
  const std::vector<std::string>& xdp_modes() const { return xdp_modes_; }
  const std::string& pin_dir() const { return options_.pin_dir; }
  // Where open() mounted a bpf filesystem because none was there ("" when one was).
  const std::string& bpffs_mounted() const { return bpffs_mounted_; }
  int program_fd(const std::string& name) const;
  // The tc programs' conntrack maps and outcome counters (fds -1 when the tc programs are not loaded).
  ConntrackMaps conntrack_maps() const;
  // The tc programs' ICMP counters, np_icmp_v1 (fd -1 when they are not loaded).
  BpfMapRef icmp_counters() const;
  // Makes the tc (and XDP) programs sit on exactly these interfaces of the calling thread's
  // namespace (the one open() ran in): attaches new ones, detaches those left out. Thread-safe.
  Result<void> set_tc_interfaces(const std::vector<std::string>& names);
  std::vector<std::string> tc_interfaces() const;  // where they are now, sorted  // for BPF_PROG_TEST_RUN and inspection

  // Destroys the connected UDP sockets, in each of `netns_paths` ("" = this thread's namespace),
  // that the hooks translated from one of the keys' VIPs to its backend; returns how many (0
  // when the kernel could not load the iterator: see sock_destroy_error()).
  Result<std::uint64_t> destroy_udp_sockets(const std::vector<lb4_destroy_key>& v4, const std::vector<lb6_destroy_key>& v6,
                                            const std::vector<std::string>& netns_paths);

 private:
  explicit SockLbObjects(SockLbObjectOptions options) : options_(std::move(options)) {}
  Result<void> load();
  Result<void> attach();
  Result<void> load_nodeport();
  Result<void> load_nodeport_xdp();
  Result<void> load_sock_destroy();
  Result<void> attach_tc();
  Result<void> attach_tc_interface(const std::string& name);
  std::string detach_tc();  // failures, "" when none
  std::string detach_tc_ifindex(int ifindex);

  SockLbObjectOptions options_;
  sock_lb* skeleton_ = nullptr;
  nodeport_tc* nodeport_ = nullptr;
  nodeport_xdp* nodeport_xdp_ = nullptr;  // only in XDP mode
  sock_destroy* sock_destroy_ = nullptr;
  bpf_link* udp_iterator_ = nullptr;
  std::string sock_destroy_error_;            // why the UDP socket iterator is not there, "" when it is
  int netns_fd_ = -1;                         // where external_interfaces live, for detaching later
  mutable std::mutex tc_mutex_;               // the device watcher attaches while syncs run
  std::map<int, std::string> tc_interfaces_;  // ifindex -> name
  std::vector<int> tc_ifindexes_;
  std::vector<int> xdp_ifindexes_;
  std::vector<std::string> xdp_modes_;
  std::vector<bpf_link*> links_;
  bool reused_pins_ = false;
  std::string bpffs_mounted_;
  LruSizes lru_;
  std::unique_ptr<PinSwitch> pins_;  // between load and attach
  std::vector<PinEvent> pin_events_;
};

// Before `user` is loaded: every map it defines under the name of one of `owner`'s (loaded) maps
// becomes that map, so that programs of two objects work on the same maps.
Result<void> share_maps(bpf_object* owner, bpf_object* user, const std::string& user_name);

// The cgroup v2 mount point from /proc/self/mounts ("" if there is none).
std::string cgroup2_mount();
// The cookie the kernel gives the network namespace at `netns_path` (SO_NETNS_COOKIE).
Result<std::uint64_t> netns_cookie(const std::string& netns_path);

}  // namespace switchyard::dataplane::ebpf
