#include "dataplane/ebpf/sock_lb_objects.h"

#include "dataplane/ebpf/bpffs.h"

#include <bpf/libbpf.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "nodeport_tc.skel.h"
#include "nodeport_xdp.skel.h"
#include "sock_destroy.skel.h"
#include "sock_lb.skel.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace switchyard::dataplane::ebpf {
namespace {

Error errno_error(const std::string& what, int err) { return Error{ErrorCode::Internal, what + ": " + std::strerror(err)}; }

// Programs of one family, by the name their link is pinned under.
std::vector<std::pair<std::string, bpf_program*>> programs(sock_lb* s, bool ipv4, bool ipv6) {
  std::vector<std::pair<std::string, bpf_program*>> out;
  if (ipv4) {
    out.emplace_back("sock4_connect", s->progs.sock4_connect);
    out.emplace_back("sock4_sendmsg", s->progs.sock4_sendmsg);
    out.emplace_back("sock4_recvmsg", s->progs.sock4_recvmsg);
    out.emplace_back("sock4_getpeername", s->progs.sock4_getpeername);
  }
  if (ipv6) {
    out.emplace_back("sock6_connect", s->progs.sock6_connect);
    out.emplace_back("sock6_sendmsg", s->progs.sock6_sendmsg);
    out.emplace_back("sock6_recvmsg", s->progs.sock6_recvmsg);
    out.emplace_back("sock6_getpeername", s->progs.sock6_getpeername);
  }
  return out;
}

std::vector<bpf_map*> pinned_maps(sock_lb* s) {
  auto& m = s->maps;
  // The external frontends and source ranges are the tc programs' too (they reuse these, as
  // before when they pinned them themselves); the socket hooks read them for NodePorts from the node.
  return {m.lb4_services_v1, m.lb6_services_v1, m.lb4_backends_v2,      m.lb6_backends_v2,      m.lb_affinity_v1,
          m.lb_maglev_v1,    m.lb4_reverse_v1,  m.lb6_reverse_v1,       m.lb_scope_v1,          m.lb_metrics_v1,
          m.lb4_external_v1, m.lb6_external_v1, m.lb4_source_ranges_v1, m.lb6_source_ranges_v1, m.lb_node_addrs_v1};
}

// Maps that hold the cluster: not preallocated, and grown with it (map_sizing.h).
bool growable(bpf_map* map) {
  const std::string name = bpf_map__name(map);
  return name.find("_services_") != std::string::npos || name.find("_backends_") != std::string::npos ||
         name.find("_external_") != std::string::npos || name == "lb_maglev_v1";
}

void set_growable(bpf_map* map, const SockLbSizes& z) {
  const std::string name = bpf_map__name(map);
  std::uint32_t floor = name.find("_backends_") != std::string::npos ? z.backends
                        : name == "lb_maglev_v1"                     ? z.maglev_services
                                                                     : z.service_entries;
  if (auto it = z.grown.find(name); it != z.grown.end()) floor = std::max(floor, it->second);
  bpf_map__set_max_entries(map, floor);
  // Arrays (backends by id) are always allocated whole: small entries, no element overhead.
  if (bpf_map__type(map) != BPF_MAP_TYPE_ARRAY) bpf_map__set_map_flags(map, bpf_map__map_flags(map) | BPF_F_NO_PREALLOC);
}

// A per-family LRU map (ct4*, ct6*, lb4_reverse, lb6_reverse) of a family without frontends.
bool idle_family(bpf_map* map, const SockLbSizes& z) {
  const std::string name = bpf_map__name(map);
  const bool lru = name.starts_with("ct") || name.find("_reverse_") != std::string::npos;
  if (!lru) return false;
  const bool v6 = name.starts_with("ct6") || name.starts_with("lb6");
  return v6 ? !z.frontends6 : !z.frontends4;
}

std::string link_pin(const std::string& dir, const std::string& program) { return dir + "/link_" + program; }

// Our filter on an interface's clsact hook: a fixed handle and priority, so that a restarted
// agent replaces its predecessor's filter in place.
constexpr __u32 kTcHandle = 0x5359, kTcPriority = 1;

}  // namespace

Result<void> share_maps(bpf_object* owner, bpf_object* user, const std::string& user_name) {
  bpf_map* map;
  bpf_object__for_each_map(map, user) {
    if (bpf_map__is_internal(map)) continue;
    if (bpf_map* shared = bpf_object__find_map_by_name(owner, bpf_map__name(map)))
      if (bpf_map__reuse_fd(map, bpf_map__fd(shared)) != 0)
        return std::unexpected(errno_error(std::string("sharing map ") + bpf_map__name(map) + " with " + user_name, errno));
  }
  return {};
}

std::string cgroup2_mount() {
  std::ifstream mounts("/proc/self/mounts");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream in(line);
    std::string device, mount_point, type;
    in >> device >> mount_point >> type;
    if (type == "cgroup2") return mount_point;
  }
  return "";
}

Result<std::uint64_t> netns_cookie(const std::string& netns_path) {
  Result<std::uint64_t> result = std::unexpected(Error{ErrorCode::Internal, "not run"});
  // setns on a thread of its own: the caller's thread stays where it is.
  std::thread t([&] {
    const int ns = ::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
      result = std::unexpected(errno_error("network namespace " + netns_path, errno));
      if (ns >= 0) ::close(ns);
      return;
    }
    ::close(ns);
    const int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    std::uint64_t cookie = 0;
    socklen_t len = sizeof cookie;
    if (sock < 0 || getsockopt(sock, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0)
      result = std::unexpected(errno_error("SO_NETNS_COOKIE in " + netns_path, errno));
    else
      result = cookie;
    if (sock >= 0) ::close(sock);
  });
  t.join();
  return result;
}

Result<std::unique_ptr<SockLbObjects>> SockLbObjects::open(SockLbObjectOptions options) {
  std::unique_ptr<SockLbObjects> objects(new SockLbObjects(std::move(options)));
  auto& o = *objects;
  if (auto ok = o.load(); !ok) return std::unexpected(ok.error());
  const bool tc = !o.options_.external_interfaces.empty() || o.options_.detect_external_interfaces;
  if (tc)
    if (auto ok = o.load_nodeport(); !ok) return std::unexpected(ok.error());
  // Every program is loaded: maps that were resized or are of an older layout get their entries
  // before any program uses them, then the hooks switch (links updated, tc filters replaced).
  std::vector<bpf_map*> loaded;
  bpf_map* map;
  bpf_object__for_each_map(map, o.skeleton_->obj) loaded.push_back(map);
  if (o.nodeport_) bpf_object__for_each_map(map, o.nodeport_->obj) loaded.push_back(map);
  if (auto ok = o.pins_->copy_entries(loaded); !ok) return std::unexpected(ok.error());
  if (auto ok = o.attach(); !ok) return std::unexpected(ok.error());
  // Without bpf_sock_destroy (Linux < 6.5) the rest works; connected UDP sockets then keep a
  // removed backend until they reconnect.
  if (auto ok = o.load_sock_destroy(); !ok) {
    o.sock_destroy_error_ = ok.error().message;
    if (o.sock_destroy_) sock_destroy__destroy(o.sock_destroy_);
    o.sock_destroy_ = nullptr;
  }
  if (tc)
    if (auto ok = o.attach_tc(); !ok) return std::unexpected(ok.error());
  if (auto ok = o.pins_->commit(); !ok) return std::unexpected(ok.error());
  o.pin_events_ = o.pins_->events();
  o.pins_.reset();
  return objects;
}

Result<void> SockLbObjects::load() {
  // A fresh host may have no bpf filesystem: mount one (as Cilium does) before pinning.
  if (auto ok = ensure_bpffs_pin_dir(options_.pin_dir, &bpffs_mounted_); !ok) return ok;

  skeleton_ = sock_lb__open();
  if (!skeleton_) return std::unexpected(errno_error("open of the sock_lb BPF skeleton", errno));
  skeleton_->rodata->scope_by_netns = options_.scope_by_netns ? 1 : 0;
  skeleton_->rodata->nodeport_localhost = options_.nodeport_localhost ? 1 : 0;
  // This thread's network namespace is the node's: its sockets may use localhost NodePorts.
  auto host = netns_cookie("/proc/thread-self/ns/net");
  if (!host) return std::unexpected(host.error());
  skeleton_->rodata->host_netns_cookie = *host;
  auto& m = skeleton_->maps;
  const auto& z = options_.sizes;
  lru_ = dynamic_lru_sizes(z.dynamic_size_ratio, total_memory_bytes(),
                           {.conntrack = z.conntrack_entries, .reverse = z.reverse_entries, .affinity = z.affinity_entries});
  for (bpf_map* map :
       {m.lb4_services_v1, m.lb6_services_v1, m.lb4_backends_v2, m.lb6_backends_v2, m.lb_maglev_v1, m.lb4_external_v1, m.lb6_external_v1})
    set_growable(map, z);
  const std::uint32_t idle = SockLbSizes::kIdleLruEntries;
  for (auto [map, size] : {std::pair{m.lb_affinity_v1, lru_.affinity},
                           {m.lb4_reverse_v1, z.frontends4 ? lru_.reverse : idle},
                           {m.lb6_reverse_v1, z.frontends6 ? lru_.reverse : idle}})
    bpf_map__set_max_entries(map, size);
  // A few entries in a 4,096-entry map: allocated as they come.
  bpf_map__set_map_flags(m.lb_scope_v1, BPF_F_NO_PREALLOC);
  reused_pins_ = std::filesystem::exists(options_.pin_dir + "/" + bpf_map__name(m.lb4_services_v1));
  pins_ = std::make_unique<PinSwitch>(options_.pin_dir);
  for (bpf_map* map : pinned_maps(skeleton_))
    if (auto ok = pins_->prepare(map, growable(map) || idle_family(map, z)); !ok) return ok;
  // libbpf reuses a pinned map when its type, sizes and flags match (PinSwitch pinned only
  // those), and pins new ones.
  if (const int err = sock_lb__load(skeleton_); err != 0)
    return std::unexpected(errno_error(
        "load of the sock_lb BPF programs (pins in " + options_.pin_dir + "; maps of other sizes pinned there cannot be reused)", -err));
  auto ref = [](bpf_map* map) { return BpfMapRef{bpf_map__fd(map), bpf_map__name(map)}; };
  services4 = ref(m.lb4_services_v1);
  services6 = ref(m.lb6_services_v1);
  backends4 = ref(m.lb4_backends_v2);
  backends6 = ref(m.lb6_backends_v2);
  maglev = ref(m.lb_maglev_v1);
  affinity = ref(m.lb_affinity_v1);
  scope = ref(m.lb_scope_v1);
  metrics = ref(m.lb_metrics_v1);
  external4 = ref(m.lb4_external_v1);
  external6 = ref(m.lb6_external_v1);
  source_ranges4 = ref(m.lb4_source_ranges_v1);
  source_ranges6 = ref(m.lb6_source_ranges_v1);
  node_addresses = ref(m.lb_node_addrs_v1);
  return {};
}

Result<void> SockLbObjects::attach() {
  const int cgroup = ::open(options_.cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgroup < 0) return std::unexpected(errno_error("cgroup " + options_.cgroup_path, errno));
  for (const auto& [name, program] : programs(skeleton_, options_.ipv4, options_.ipv6)) {
    const std::string pin = link_pin(options_.pin_dir, name);
    bpf_link* link = nullptr;
    if (std::filesystem::exists(pin)) {
      // An earlier agent's hook: switch it to this program without a moment detached.
      link = bpf_link__open(pin.c_str());
      if (!link) {
        ::close(cgroup);
        return std::unexpected(errno_error("pinned link " + pin, errno));
      }
      if (const int err = bpf_link__update_program(link, program); err != 0) {
        bpf_link__destroy(link);
        ::close(cgroup);
        return std::unexpected(errno_error("update of pinned link " + pin + " to the new " + name, -err));
      }
    } else {
      link = bpf_program__attach_cgroup(program, cgroup);
      if (!link) {
        const int err = errno;
        ::close(cgroup);
        return std::unexpected(errno_error("attach of " + name + " to cgroup " + options_.cgroup_path, err));
      }
      if (const int err = bpf_link__pin(link, pin.c_str()); err != 0) {
        bpf_link__destroy(link);
        ::close(cgroup);
        return std::unexpected(errno_error("pin of the " + name + " link at " + pin, -err));
      }
    }
    links_.push_back(link);
  }
  ::close(cgroup);
  return {};
}

Result<void> SockLbObjects::load_nodeport() {
  nodeport_ = nodeport_tc__open();
  if (!nodeport_) return std::unexpected(errno_error("open of the nodeport_tc BPF skeleton", errno));
  bpf_map* map;
  bpf_object__for_each_map(map, nodeport_->obj) {
    if (bpf_map__is_internal(map)) continue;
    const std::string name = bpf_map__name(map);
    // Maps both objects define (backends, ...) are the socket load balancer's, shared.
    if (bpf_map* shared = bpf_object__find_map_by_name(skeleton_->obj, name.c_str())) {
      if (bpf_map__reuse_fd(map, bpf_map__fd(shared)) != 0)
        return std::unexpected(errno_error("sharing map " + name + " with the tc programs", errno));
      continue;
    }
    if (name.starts_with("ct"))
      bpf_map__set_max_entries(map, idle_family(map, options_.sizes) ? SockLbSizes::kIdleLruEntries : lru_.conntrack);
    else if (growable(map))
      set_growable(map, options_.sizes);
    // Conntrack survives a restart too.
    if (auto ok = pins_->prepare(map, growable(map) || idle_family(map, options_.sizes)); !ok) return ok;
  }
  if (const int err = nodeport_tc__load(nodeport_); err != 0)
    return std::unexpected(errno_error("load of the nodeport tc BPF programs (pins in " + options_.pin_dir + ")", -err));
  external4 = BpfMapRef{bpf_map__fd(nodeport_->maps.lb4_external_v1), bpf_map__name(nodeport_->maps.lb4_external_v1)};
  external6 = BpfMapRef{bpf_map__fd(nodeport_->maps.lb6_external_v1), bpf_map__name(nodeport_->maps.lb6_external_v1)};
  source_ranges4 = BpfMapRef{bpf_map__fd(nodeport_->maps.lb4_source_ranges_v1), bpf_map__name(nodeport_->maps.lb4_source_ranges_v1)};
  source_ranges6 = BpfMapRef{bpf_map__fd(nodeport_->maps.lb6_source_ranges_v1), bpf_map__name(nodeport_->maps.lb6_source_ranges_v1)};
  return options_.nodeport_xdp ? load_nodeport_xdp() : Result<void>{};
}

// The XDP program works on the tc programs' conntrack and metrics maps.
Result<void> SockLbObjects::load_nodeport_xdp() {
  nodeport_xdp_ = nodeport_xdp__open();
  if (!nodeport_xdp_) return std::unexpected(errno_error("open of the nodeport_xdp BPF skeleton", errno));
  if (auto ok = share_maps(nodeport_->obj, nodeport_xdp_->obj, "the XDP program"); !ok) return ok;
  if (const int err = nodeport_xdp__load(nodeport_xdp_); err != 0)
    return std::unexpected(errno_error("load of the nodeport XDP program", -err));
  return {};
}

Result<void> SockLbObjects::load_sock_destroy() {
  sock_destroy_ = sock_destroy__open();
  if (!sock_destroy_) return std::unexpected(errno_error("open of the sock_destroy BPF skeleton", errno));
  // The reverse maps (socket cookie -> VIP) and the rest of maps.h are the socket LB's.
  if (auto ok = share_maps(skeleton_->obj, sock_destroy_->obj, "the UDP iterator"); !ok) return ok;
  if (const int err = sock_destroy__load(sock_destroy_); err != 0)
    return std::unexpected(errno_error("load of the UDP socket iterator (bpf_sock_destroy needs Linux 6.5)", -err));
  udp_iterator_ = bpf_program__attach_iter(sock_destroy_->progs.destroy_udp, nullptr);
  if (!udp_iterator_) return std::unexpected(errno_error("UDP socket iterator link", errno));
  return {};
}

Result<std::uint64_t> SockLbObjects::destroy_udp_sockets(const std::vector<lb4_destroy_key>& v4, const std::vector<lb6_destroy_key>& v6,
                                                         const std::vector<std::string>& netns_paths) {
  if ((v4.empty() && v6.empty()) || !sock_destroy_) return 0;
  const BpfMapRef map4{bpf_map__fd(sock_destroy_->maps.lb4_destroy_v1), "lb4_destroy_v1"};
  const BpfMapRef map6{bpf_map__fd(sock_destroy_->maps.lb6_destroy_v1), "lb6_destroy_v1"};
  std::vector<std::uint8_t> ones(std::max(v4.size(), v6.size()), 1);
  const std::uint64_t before = sock_destroy_->bss->destroyed;
  auto run = [&]() -> Result<void> {
    if (auto ok = update_entries(map4, std::span<const lb4_destroy_key>(v4), std::span<const std::uint8_t>(ones.data(), v4.size())); !ok)
      return ok;
    if (auto ok = update_entries(map6, std::span<const lb6_destroy_key>(v6), std::span<const std::uint8_t>(ones.data(), v6.size())); !ok)
      return ok;
    for (const auto& path : netns_paths) {
      std::string failure;
      // The iterator walks the sockets of the namespace it is created in: a thread of its own.
      std::thread t([&] {
        if (!path.empty()) {
          const int ns = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
          if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
            failure = "network namespace " + path + ": " + std::strerror(errno);
            if (ns >= 0) ::close(ns);
            return;
          }
          ::close(ns);
        }
        const int fd = bpf_iter_create(bpf_link__fd(udp_iterator_));
        if (fd < 0) {
          failure = "UDP socket iterator: " + std::string(std::strerror(errno));
          return;
        }
        char buf[256];
        while (::read(fd, buf, sizeof buf) > 0) {
        }
        ::close(fd);
      });
      t.join();
      if (!failure.empty()) return std::unexpected(Error{ErrorCode::Internal, failure});
    }
    return {};
  };
  auto ok = run();
  // A destroy key left behind would close the sockets of a backend that comes back later.
  auto cleared4 = delete_entries(map4, std::span<const lb4_destroy_key>(v4));
  auto cleared6 = delete_entries(map6, std::span<const lb6_destroy_key>(v6));
  if (!ok) return std::unexpected(ok.error());
  if (!cleared4) return std::unexpected(with_context(cleared4.error(), "clearing the UDP socket destroy keys"));
  if (!cleared6) return std::unexpected(with_context(cleared6.error(), "clearing the UDP socket destroy keys"));
  return sock_destroy_->bss->destroyed - before;
}

Result<void> SockLbObjects::attach_tc() {
  netns_fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (netns_fd_ < 0) return std::unexpected(errno_error("this thread's network namespace", errno));
  for (const auto& name : options_.external_interfaces)
    if (auto ok = attach_tc_interface(name); !ok) return ok;
  return {};
}

Result<void> SockLbObjects::set_tc_interfaces(const std::vector<std::string>& names) {
  std::vector<std::string> failures;
  {
    std::lock_guard lock(tc_mutex_);
    // Interfaces no longer selected (or gone): forget them; detach where they still exist.
    for (auto it = tc_interfaces_.begin(); it != tc_interfaces_.end();) {
      if (std::ranges::find(names, it->second) != names.end() && static_cast<int>(if_nametoindex(it->second.c_str())) == it->first) {
        ++it;
        continue;
      }
      const std::uint32_t key = static_cast<std::uint32_t>(it->first);
      bpf_map_delete_elem(bpf_map__fd(nodeport_->maps.np_interfaces_v1), &key);
      if (static_cast<int>(if_nametoindex(it->second.c_str())) == it->first) {
        if (auto why = detach_tc_ifindex(it->first); !why.empty()) failures.push_back(why);
      }
      std::erase(tc_ifindexes_, it->first);
      std::erase(xdp_ifindexes_, it->first);
      it = tc_interfaces_.erase(it);
    }
  }
  for (const auto& name : names) {
    {
      std::lock_guard lock(tc_mutex_);
      if (tc_interfaces_.contains(static_cast<int>(if_nametoindex(name.c_str())))) continue;
    }
    if (auto ok = attach_tc_interface(name); !ok) failures.push_back(ok.error().message);
  }
  if (failures.empty()) return {};
  std::string all;
  for (const auto& f : failures) all += (all.empty() ? "" : "; ") + f;
  return std::unexpected(Error{ErrorCode::Internal, all});
}

std::vector<std::string> SockLbObjects::tc_interfaces() const {
  std::lock_guard lock(tc_mutex_);
  std::vector<std::string> out;
  for (const auto& [_, name] : tc_interfaces_) out.push_back(name);
  std::ranges::sort(out);
  return out;
}

Result<void> SockLbObjects::attach_tc_interface(const std::string& name) {
  const int ifindex = static_cast<int>(if_nametoindex(name.c_str()));
  if (ifindex == 0) return std::unexpected(errno_error("interface " + name, errno));
  // Routes through this interface lead to other nodes: flows to backends there get SNATed.
  const std::uint32_t key = static_cast<std::uint32_t>(ifindex), yes = 1;
  if (bpf_map_update_elem(bpf_map__fd(nodeport_->maps.np_interfaces_v1), &key, &yes, BPF_ANY) != 0)
    return std::unexpected(errno_error("np_interfaces_v1 entry for " + name, errno));
  for (auto [point, program] :
       {std::pair{BPF_TC_INGRESS, nodeport_->progs.nodeport_ingress}, {BPF_TC_EGRESS, nodeport_->progs.nodeport_egress}}) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
    if (const int err = bpf_tc_hook_create(&hook); err != 0 && err != -EEXIST)
      return std::unexpected(errno_error("clsact qdisc on " + name, -err));
    LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = bpf_program__fd(program), .flags = BPF_TC_F_REPLACE, .handle = kTcHandle,
                .priority = kTcPriority);
    if (const int err = bpf_tc_attach(&hook, &opts); err != 0)
      return std::unexpected(
          errno_error(std::string("tc ") + (point == BPF_TC_INGRESS ? "ingress" : "egress") + " program on " + name, -err));
  }
  std::lock_guard lock(tc_mutex_);
  tc_ifindexes_.push_back(ifindex);
  tc_interfaces_[ifindex] = name;
  if (!options_.nodeport_xdp) return {};
  // Native where the driver has it (veth does), else generic; replaces a predecessor's program.
  if (const int err = bpf_xdp_attach(ifindex, bpf_program__fd(nodeport_xdp_->progs.nodeport_xdp), 0, nullptr); err != 0)
    return std::unexpected(errno_error("XDP program on " + name, -err));
  xdp_ifindexes_.push_back(ifindex);
  LIBBPF_OPTS(bpf_xdp_query_opts, query);
  const bool queried = bpf_xdp_query(ifindex, 0, &query) == 0;
  xdp_modes_.push_back(!queried                                ? "unknown"
                       : query.attach_mode == XDP_ATTACHED_DRV ? "native"
                       : query.attach_mode == XDP_ATTACHED_SKB ? "generic"
                                                               : "other");
  return {};
}

// In the calling thread's namespace; failures as text, "" when none.
std::string SockLbObjects::detach_tc_ifindex(int ifindex) {
  std::string failures;
  if (std::ranges::find(xdp_ifindexes_, ifindex) != xdp_ifindexes_.end())
    if (const int err = bpf_xdp_detach(ifindex, 0, nullptr); err != 0 && err != -ENOENT)
      failures += " XDP detach on ifindex " + std::to_string(ifindex) + ": " + std::strerror(-err) + ";";
  for (auto point : {BPF_TC_INGRESS, BPF_TC_EGRESS}) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
    LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
    if (const int err = bpf_tc_detach(&hook, &opts); err != 0 && err != -ENOENT)
      failures += " tc detach on ifindex " + std::to_string(ifindex) + ": " + std::strerror(-err) + ";";
  }
  return failures;
}

std::string SockLbObjects::detach_tc() {
  std::string failures;
  if (netns_fd_ < 0) return failures;
  // On a thread in the interfaces' namespace: the caller may be elsewhere by now.
  std::thread t([&] {
    if (setns(netns_fd_, CLONE_NEWNET) != 0) {
      failures = " setns for tc detach: " + std::string(std::strerror(errno)) + ";";
      return;
    }
    std::lock_guard lock(tc_mutex_);
    for (int ifindex : tc_ifindexes_) failures += detach_tc_ifindex(ifindex);
  });
  t.join();
  std::lock_guard lock(tc_mutex_);
  tc_ifindexes_.clear();
  xdp_ifindexes_.clear();
  tc_interfaces_.clear();
  return failures;
}

ConntrackMaps SockLbObjects::conntrack_maps() const {
  if (!nodeport_) return {};
  auto ref = [](bpf_map* map) { return BpfMapRef{bpf_map__fd(map), bpf_map__name(map)}; };
  const auto& m = nodeport_->maps;
  return {.flow4 = ref(m.ct4_v2),
          .reply4 = ref(m.ct4_reverse_v2),
          .flow6 = ref(m.ct6_v2),
          .reply6 = ref(m.ct6_reverse_v2),
          .metrics = ref(m.np_metrics_v1),
          .capacity = std::max(bpf_map__max_entries(m.ct4_v2), bpf_map__max_entries(m.ct6_v2))};
}

std::uint32_t SockLbObjects::capacity(const std::string& map_name) const {
  for (bpf_object* obj : {skeleton_ ? skeleton_->obj : nullptr, nodeport_ ? nodeport_->obj : nullptr})
    if (bpf_map* map = obj ? bpf_object__find_map_by_name(obj, map_name.c_str()) : nullptr) return bpf_map__max_entries(map);
  return 0;
}

BpfMapRef SockLbObjects::icmp_counters() const {
  if (!nodeport_) return {};
  return {bpf_map__fd(nodeport_->maps.np_icmp_v1), bpf_map__name(nodeport_->maps.np_icmp_v1)};
}

int SockLbObjects::program_fd(const std::string& name) const {
  for (const auto& [n, program] : programs(skeleton_, true, true))
    if (n == name) return bpf_program__fd(program);
  return -1;
}

SockLbObjects::~SockLbObjects() {
  for (bpf_link* link : links_) bpf_link__destroy(link);  // closes the fd; the pin keeps it attached
  if (udp_iterator_) bpf_link__destroy(udp_iterator_);
  if (sock_destroy_) sock_destroy__destroy(sock_destroy_);
  if (nodeport_xdp_) nodeport_xdp__destroy(nodeport_xdp_);  // so does the XDP hook
  if (nodeport_) nodeport_tc__destroy(nodeport_);           // tc filters keep their programs
  if (skeleton_) sock_lb__destroy(skeleton_);
  if (netns_fd_ >= 0) ::close(netns_fd_);
}

Result<void> SockLbObjects::remove() {
  std::string failures = detach_tc();
  if (nodeport_) {
    bpf_map* map;
    bpf_object__for_each_map(map, nodeport_->obj) if (bpf_map__is_pinned(map) && bpf_map__unpin(map, nullptr) != 0) failures +=
        " unpin " + std::string(bpf_map__name(map)) + ";";
  }
  for (bpf_link* link : links_) {
    bpf_link__unpin(link);
    if (bpf_link__detach(link) != 0) failures += " detach: " + std::string(std::strerror(errno)) + ";";
    bpf_link__destroy(link);
  }
  links_.clear();
  // Links an earlier agent pinned for a family this one does not serve.
  for (const auto& [name, program] : programs(skeleton_, true, true)) {
    const std::string pin = link_pin(options_.pin_dir, name);
    if (!std::filesystem::exists(pin)) continue;
    if (bpf_link* link = bpf_link__open(pin.c_str())) {
      bpf_link__detach(link);
      bpf_link__destroy(link);
    }
    ::unlink(pin.c_str());
  }
  for (bpf_map* map : pinned_maps(skeleton_))
    if (bpf_map__is_pinned(map) && bpf_map__unpin(map, nullptr) != 0) failures += " unpin " + std::string(bpf_map__name(map)) + ";";
  if (::rmdir(options_.pin_dir.c_str()) != 0 && errno != ENOENT)
    failures += " rmdir " + options_.pin_dir + ": " + std::strerror(errno) + ";";
  if (!failures.empty()) return std::unexpected(Error{ErrorCode::Internal, "cleanup of " + options_.pin_dir + ":" + failures});
  return {};
}

}  // namespace switchyard::dataplane::ebpf
