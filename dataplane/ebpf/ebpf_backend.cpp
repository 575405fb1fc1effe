#include "dataplane/ebpf/ebpf_backend.h"

#include "dataplane/ebpf/map_changes.h"
#include "dataplane/ebpf/node_addresses.h"
#include "dataplane/ebpf/nodeport_icmp_metrics.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <set>
#include <thread>

namespace switchyard::dataplane::ebpf {
namespace {

using detail::diff_entries;
using detail::MapChanges;

using Clock = std::chrono::steady_clock;

// The ids a port's entries already carry, for rebuilding them: nothing counted, nothing allocated.
template <class Backends>
class HeldIds final : public LbIdSource {
 public:
  HeldIds(const Backends& backends, std::uint32_t service_id4, std::uint32_t service_id6)
      : backends_(backends), service_id4_(service_id4), service_id6_(service_id6) {}
  std::uint32_t backend_id(const BackendAddress& b) override { return backends_.at(b).id; }
  std::uint32_t backend_id_of(const BackendAddress& b) override { return backends_.at(b).id; }
  std::uint32_t service_id(const endpoints::ServicePortName&, IpFamily family) override {
    return family == IpFamily::IPv4 ? service_id4_ : service_id6_;
  }

 private:
  const Backends& backends_;
  std::uint32_t service_id4_, service_id6_;
};

}  // namespace

Result<std::unique_ptr<EbpfBackend>> EbpfBackend::create(EbpfBackendOptions options) {
  if (options.node_name.empty() || options.node_name.find('/') != std::string::npos)
    return std::unexpected(Error{ErrorCode::Internal, "eBPF backend: node name '" + options.node_name + "' cannot name a pin directory"});
  if (options.cgroup_root.empty()) options.cgroup_root = cgroup2_mount();
  if (options.cgroup_root.empty())
    return std::unexpected(Error{ErrorCode::Internal, "eBPF backend: no cgroup v2 mount in /proc/self/mounts"});
  // No IPv6 frontend before the first sync says otherwise (map_sizing.h): IPv6's LRU maps idle.
  options.sizes.frontends6 = false;
  SockLbObjectOptions object_options{.pin_dir = options.pin_root + "/" + options.node_name,
                                     .cgroup_path = options.cgroup_root,
                                     .ipv4 = options.ipv4,
                                     .ipv6 = options.ipv6,
                                     .scope_by_netns = !options.scope_netns.empty(),
                                     .sizes = options.sizes,
                                     .external_interfaces = options.external_interfaces,
                                     .nodeport_xdp = options.nodeport_xdp,
                                     .detect_external_interfaces = options.detect_external_interfaces,
                                     .nodeport_localhost = options.nodeport_localhost};
  auto objects = SockLbObjects::open(std::move(object_options));
  if (!objects) return std::unexpected(objects.error());
  std::unique_ptr<EbpfBackend> backend(new EbpfBackend(std::move(options), std::move(*objects)));
  backend->create_netns_fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (backend->create_netns_fd_ < 0)
    return std::unexpected(Error{ErrorCode::Internal, "this thread's network namespace: " + std::string(std::strerror(errno))});
  for (const auto& path : backend->options_.scope_netns)
    if (auto ok = backend->add_netns_to_scope(path); !ok) return std::unexpected(ok.error());
  if (backend->socket_netns_.empty()) backend->socket_netns_.push_back("/proc/self/fd/" + std::to_string(backend->create_netns_fd_));
  if (auto ok = backend->refresh_node_addresses(); !ok) return std::unexpected(ok.error());
  if (auto maps = backend->objects_->conntrack_maps(); maps.flow4.fd >= 0) {
    for (BpfMapRef* m : {&maps.flow4, &maps.reply4, &maps.flow6, &maps.reply6, &maps.metrics}) {
      m->fd = fcntl(m->fd, F_DUPFD_CLOEXEC, 0);
      backend->gc_fds_.push_back(m->fd);
    }
    backend->conntrack_gc_ = std::make_unique<ConntrackGc>(std::move(maps), backend->options_.conntrack_gc);
    backend->conntrack_gc_->start();
  }
  if (backend->options_.detect_external_interfaces) {
    // The device watcher calls back on its own thread, in create()'s namespace.
    auto* b = backend.get();
    auto watcher = ExternalDeviceWatcher::start(backend->create_netns_fd_, [b](const std::vector<std::string>& selected) {
      std::lock_guard lock(b->objects_mutex_);  // a growth may be swapping the objects
      auto* objects = b->objects_.get();
      auto ok = objects->set_tc_interfaces(selected);
      spdlog::info("event=external_interfaces_changed interfaces={} attached={}", fmt::join(selected, ","),
                   fmt::join(objects->tc_interfaces(), ","));
      if (!ok) spdlog::warn("event=external_interface_attach_failed error=\"{}\"", ok.error().message);
    });
    if (!watcher) return std::unexpected(with_context(watcher.error(), "external interface detection"));
    backend->device_watcher_ = std::move(*watcher);
  }
  return backend;
}

EbpfBackend::~EbpfBackend() {
  device_watcher_.reset();
  conntrack_gc_.reset();  // before its fds close
  for (int fd : gc_fds_) ::close(fd);
  if (create_netns_fd_ >= 0) ::close(create_netns_fd_);
}

Result<void> EbpfBackend::ensure_capacity(const MapNeeds& n) {
  const auto& z = options_.sizes;
  std::map<std::string, std::pair<std::uint32_t, std::uint32_t>> grow;  // name -> (from, to)
  auto check = [&](const std::string& name, std::size_t need, std::uint32_t floor) {
    const std::uint32_t capacity = objects_->capacity(name);
    if (capacity != 0 && need > capacity) grow[name] = {capacity, capacity_for(need, floor)};
  };
  check("lb4_services_v1", n.services4, z.service_entries);
  check("lb6_services_v1", n.services6, z.service_entries);
  // Backends are arrays indexed by id: every id handed out must fit, and the endpoints the
  // sync may add (ids stay dense, so one growth usually covers a first sync).
  check("lb4_backends_v2", std::max<std::size_t>(backend_ids4_.end(), n.backends4 + 1), z.backends);
  check("lb6_backends_v2", n.backends6 == 0 ? backend_ids6_.end() : std::max<std::size_t>(backend_ids6_.end(), n.backends6 + 1),
        z.backends);
  check("lb4_external_v1", n.external4, z.service_entries);
  check("lb6_external_v1", n.external6, z.service_entries);
  check("lb_maglev_v1", n.maglev, z.maglev_services);
  // The first backend of a family (a frontend without one only rejects, tracking nothing): its
  // LRU maps, idle so far and so empty (no flow of the family could be translated), get their
  // full size. NodePort on the node's IPv6 addresses counts: its backends are IPv6 endpoints.
  auto wake = [&](bool& active, std::size_t backends, const char* ct, const char* reverse) {
    if (active || backends == 0) return;
    active = true;
    for (const char* name : {ct, reverse})
      if (const std::uint32_t c = objects_->capacity(name); c != 0 && c <= SockLbSizes::kIdleLruEntries) grow[name] = {c, 0};
  };
  wake(options_.sizes.frontends4, n.backends4, "ct4_v2", "lb4_reverse_v1");
  wake(options_.sizes.frontends6, n.backends6, "ct6_v2", "lb6_reverse_v1");
  if (grow.empty()) return {};
  for (const auto& [name, sizes] : grow)
    if (sizes.second != 0) options_.sizes.grown[name] = sizes.second;
  // New objects over the same pins: maps of the same size (conntrack, affinity, ...) are taken
  // over as they are, the grown ones created anew and filled from the old before the links and
  // tc filters switch to the new programs. The tc programs go where the current ones are, from
  // create()'s network namespace.
  SockLbObjectOptions o{.pin_dir = objects_->pin_dir(),
                        .cgroup_path = options_.cgroup_root,
                        .ipv4 = options_.ipv4,
                        .ipv6 = options_.ipv6,
                        .scope_by_netns = !options_.scope_netns.empty(),
                        .sizes = options_.sizes,
                        .external_interfaces = objects_->tc_interfaces(),
                        .nodeport_xdp = options_.nodeport_xdp,
                        .detect_external_interfaces = objects_->external4.fd >= 0};
  Result<std::unique_ptr<SockLbObjects>> fresh = std::unexpected(Error{ErrorCode::Internal, "not run"});
  std::thread t([&] {
    if (setns(create_netns_fd_, CLONE_NEWNET) != 0) {
      fresh = std::unexpected(Error{ErrorCode::Internal, "setns: " + std::string(std::strerror(errno))});
      return;
    }
    fresh = SockLbObjects::open(std::move(o));
  });
  t.join();
  if (!fresh) return std::unexpected(with_context(fresh.error(), "growing the eBPF maps"));
  {
    std::lock_guard lock(objects_mutex_);
    objects_ = std::move(*fresh);  // the old maps go with the old programs' last reference
  }
  // The collector's fds follow the new conntrack maps (same fd numbers: its thread reads them).
  if (auto maps = objects_->conntrack_maps(); maps.flow4.fd >= 0 && gc_fds_.size() == 5) {
    const BpfMapRef* now[] = {&maps.flow4, &maps.reply4, &maps.flow6, &maps.reply6, &maps.metrics};
    for (std::size_t i = 0; i < gc_fds_.size(); ++i)
      if (::dup3(now[i]->fd, gc_fds_[i], O_CLOEXEC) < 0)
        return std::unexpected(Error{ErrorCode::Internal, "conntrack collector fd: " + std::string(std::strerror(errno))});
  }
  ++map_growths_;
  for (const auto& [name, sizes] : grow)
    if (sizes.second != 0)
      spdlog::info("event=bpf_map_grown name={} from={} to={} reason=\"the cluster needs more entries\"", name, sizes.first, sizes.second);
    else
      spdlog::info("event=bpf_map_grown name={} from={} to={} reason=\"the first frontend of its family\"", name, sizes.first,
                   objects_->capacity(name));
  return {};
}

Result<void> EbpfBackend::refresh_node_addresses() {
  auto addresses = read_node_addresses(create_netns_fd_);
  if (!addresses) return std::unexpected(addresses.error());
  return write_node_addresses(objects_->node_addresses, *addresses);
}

Result<void> EbpfBackend::add_netns_to_scope(const std::string& netns_path) {
  auto cookie = netns_cookie(netns_path);
  if (!cookie) return std::unexpected(cookie.error());
  const std::uint8_t yes = 1;
  if (bpf_map_update_elem(objects_->scope.fd, &*cookie, &yes, BPF_ANY) != 0)
    return std::unexpected(map_error(objects_->scope, "add network namespace " + netns_path, errno));
  if (socket_netns_.size() == 1 && socket_netns_[0].starts_with("/proc/self/fd/")) socket_netns_.clear();  // scoped from now on
  socket_netns_.push_back(netns_path);
  return {};
}

// Called once per backend of each port being built: counts the reference at the same time,
// and remembers backends that were referenced by nothing before (their map entry is new).
std::uint32_t EbpfBackend::backend_id(const BackendAddress& backend) {
  auto [it, inserted] = backends_.try_emplace(backend);
  auto& ref = it->second;
  if (ref.id == 0) ref.id = backend_ids(backend.family).allocate();
  if (ref.refs++ == 0) newly_referenced_.push_back(&*it);  // nodes stay put
  return ref.id;
}

std::uint32_t EbpfBackend::service_id(const endpoints::ServicePortName&, IpFamily family) {
  std::uint32_t& id = family == IpFamily::IPv4 ? building_->service_id4 : building_->service_id6;
  if (id != 0) return id;
  // After a restart: keep the id slot 0 of this port's first VIP already carries, so that
  // affinity entries and Maglev tables stay valid.
  const auto& port = *building_->info;
  for (const auto& ip : port.cluster_ips) {
    FrontendId f{
        .family = family, .address = {}, .port_be = htons(static_cast<std::uint16_t>(port.port)), .proto = protocol_number(port.protocol)};
    if (inet_pton(family == IpFamily::IPv4 ? AF_INET : AF_INET6, ip.c_str(), f.address.data()) != 1) continue;
    if (auto pinned = pinned_service_ids_.find(f); pinned != pinned_service_ids_.end()) {
      id = pinned->second;
      pinned_service_ids_.erase(pinned);
      return id;
    }
  }
  id = next_id_++;
  return id;
}

void EbpfBackend::programmed_entries(const ProgrammedPort& port, PortEntries& out) const {
  HeldIds<BackendTable> ids(backends_, port.service_id4, port.service_id6);
  build_port_entries(*port.info, ids, options_.maglev_by_default, out);
}

std::size_t EbpfBackend::written_entries(const PortEntries& e) const {
  std::size_t n = e.services4.size() + e.services6.size() + e.maglev.size();
  if (objects_->external4.fd >= 0) n += e.external4.size() + e.external6.size() + e.source_ranges4.size() + e.source_ranges6.size();
  return n;
}

Result<void> EbpfBackend::full_sync(const endpoints::Snapshot& snapshot) {
  if (removed_) return std::unexpected(Error{ErrorCode::Internal, "eBPF backend " + pin_dir() + ": already cleaned up"});
  const auto start = Clock::now();
  auto fail = [&](Error e) -> Result<void> {
    ++stats_.failed_syncs;
    needs_full_sync_ = true;
    return std::unexpected(std::move(e));
  };
  MapNeeds needs;
  for (const auto& [name, info] : snapshot.service_ports()) needs += estimate_needs(*info, options_.maglev_by_default);
  backend_ids4_.recycle();  // released by the last sync: nothing names them now
  backend_ids6_.recycle();
  if (auto ok = ensure_capacity(needs); !ok) return fail(ok.error());
  // Addresses come and go with the node's links: a full sync (periodic) picks them up.
  if (auto ok = refresh_node_addresses(); !ok) return fail(ok.error());
  // What the kernel holds now: ours from before, an earlier agent's, or nothing.
  auto services4 = dump_entries<lb4_service_key, lb_service_value>(objects_->services4);
  if (!services4) return fail(services4.error());
  auto services6 = dump_entries<lb6_service_key, lb_service_value>(objects_->services6);
  if (!services6) return fail(services6.error());
  auto backends4 = dump_entries<std::uint32_t, lb4_backend>(objects_->backends4);
  if (!backends4) return fail(backends4.error());
  auto backends6 = dump_entries<std::uint32_t, lb6_backend>(objects_->backends6);
  if (!backends6) return fail(backends6.error());
  // The backend arrays hold every index: proto 0 is a free one.
  std::erase_if(*backends4, [](const auto& e) { return e.second.proto == 0; });
  std::erase_if(*backends6, [](const auto& e) { return e.second.proto == 0; });
  auto maglev = dump_entries<std::uint32_t, lb_maglev_table>(objects_->maglev);
  if (!maglev) return fail(maglev.error());
  const bool tc = objects_->external4.fd >= 0;
  std::vector<std::pair<lb4_service_key, lb_service_value>> external4;
  std::vector<std::pair<lb6_service_key, lb_service_value>> external6;
  std::vector<std::pair<lb4_source_range_key, std::uint8_t>> ranges4;
  std::vector<std::pair<lb6_source_range_key, std::uint8_t>> ranges6;
  if (tc) {
    auto e4 = dump_entries<lb4_service_key, lb_service_value>(objects_->external4);
    if (!e4) return fail(e4.error());
    auto e6 = dump_entries<lb6_service_key, lb_service_value>(objects_->external6);
    if (!e6) return fail(e6.error());
    external4 = std::move(*e4);
    external6 = std::move(*e6);
    auto r4 = dump_entries_by_key<lb4_source_range_key, std::uint8_t>(objects_->source_ranges4);
    if (!r4) return fail(r4.error());
    auto r6 = dump_entries_by_key<lb6_source_range_key, std::uint8_t>(objects_->source_ranges6);
    if (!r6) return fail(r6.error());
    ranges4 = std::move(*r4);
    ranges6 = std::move(*r6);
  }

  // Keep the ids found in the maps, so that no slot ever names another backend than before.
  auto seen = [&](std::uint32_t id) { next_id_ = std::max(next_id_, id + 1); };
  // A backend the maps hold under a second id: that id is cleared by this sync (not wanted),
  // and reused from the next one.
  auto keep_backend = [&](const BackendAddress& b, std::uint32_t id) {
    auto& ids = backend_ids(b.family);
    ids.claim(id);
    if (auto [it, inserted] = backends_.try_emplace(b, BackendRef{id, 0}); !inserted && it->second.id != id) ids.release(id);
  };
  for (const auto& [id, v] : *backends4) {
    BackendAddress b{.family = IpFamily::IPv4, .port_be = v.port, .proto = v.proto};
    std::memcpy(b.address.data(), &v.address, 4);
    keep_backend(b, id);
  }
  for (const auto& [id, v] : *backends6) {
    BackendAddress b{.family = IpFamily::IPv6, .port_be = v.port, .proto = v.proto};
    std::memcpy(b.address.data(), v.address, 16);
    keep_backend(b, id);
  }
  pinned_service_ids_.clear();
  for (const auto& [k, v] : *services4) {
    if (k.slot != 0) continue;
    FrontendId f{.family = IpFamily::IPv4, .address = {}, .port_be = k.port, .proto = k.proto};
    std::memcpy(f.address.data(), &k.address, 4);
    pinned_service_ids_[f] = v.service_id;
    seen(v.service_id);
  }
  for (const auto& [k, v] : *services6) {
    if (k.slot != 0) continue;
    FrontendId f{.family = IpFamily::IPv6, .address = {}, .port_be = k.port, .proto = k.proto};
    std::memcpy(f.address.data(), k.address, 16);
    pinned_service_ids_[f] = v.service_id;
    seen(v.service_id);
  }
  for (const auto& [id, t] : *maglev) seen(id);

  // The desired state, built port by port through one scratch PortEntries straight into the
  // batches' own layout (one array per map): the sync touches little fresh memory, which on
  // this kind of VM costs more than the work itself. Every backend's reference count starts
  // again from 0, so newly_referenced_ collects each referenced backend once, as its first port
  // is built: its entry goes into the same batch as that port's slots.
  const bool maps_empty = services4->empty() && services6->empty() && backends4->empty() && backends6->empty() && maglev->empty() &&
                          external4.empty() && external6.empty() && ranges4.empty() && ranges6.empty();
  std::map<endpoints::ServicePortName, ProgrammedPort> programmed;
  for (auto& [name, ref] : backends_) ref.refs = 0;
  std::size_t endpoint_count = 0;
  for (const auto& [name, info] : snapshot.service_ports()) endpoint_count += info->endpoints.size();
  backends_.reserve(std::max(backends4->size() + backends6->size(), endpoint_count));
  MapChanges want;
  if (!maps_empty) {
    const std::size_t services4_estimate = std::max(services4->size(), endpoint_count + snapshot.service_ports().size());
    want.service4_keys.reserve(services4_estimate);
    want.service4_values.reserve(services4_estimate);
  }
  std::size_t service_entries = 0, written = 0;
  newly_referenced_.clear();
  auto previous = programmed_.begin();  // both sorted by name: ids carried over in one walk
  for (const auto& [name, info] : snapshot.service_ports()) {
    ProgrammedPort port{.info = info};
    while (previous != programmed_.end() && previous->first < name) ++previous;
    if (previous != programmed_.end() && previous->first == name) {
      port.service_id4 = previous->second.service_id4;
      port.service_id6 = previous->second.service_id6;
    }
    building_ = &port;
    build_port_entries(*info, *this, options_.maglev_by_default, scratch_);
    building_ = nullptr;
    for (const auto* b : newly_referenced_) want.add_backend(b->first, b->second.id);
    newly_referenced_.clear();
    want.add_entries(scratch_, tc);
    service_entries += written_entries(scratch_);
    programmed.emplace_hint(programmed.end(), name, std::move(port));
    // Into empty maps nothing needs comparing: written a chunk at a time (backends before the
    // slots naming them, as in every batch), so one chunk's buffers serve the whole sync.
    if (maps_empty && want.size() >= kBatchChunk) {
      written += want.size();
      if (auto ok = ensure_capacity(needs); !ok) return fail(ok.error());  // ids past the backend arrays' end
      if (auto ok = purge_reused_ids(); !ok) return fail(ok.error());
      if (auto ok = want.apply(*objects_); !ok) return fail(ok.error());
      want.clear();
    }
  }

  MapChanges changes;
  if (maps_empty) {
    std::swap(changes, want);
  } else {
    diff_entries(*services4, want.service4_keys, want.service4_values, changes.service4_keys, changes.service4_values,
                 changes.service4_deletes);
    diff_entries(*services6, want.service6_keys, want.service6_values, changes.service6_keys, changes.service6_values,
                 changes.service6_deletes);
    diff_entries(external4, want.external4_keys, want.external4_values, changes.external4_keys, changes.external4_values,
                 changes.external4_deletes);
    diff_entries(external6, want.external6_keys, want.external6_values, changes.external6_keys, changes.external6_values,
                 changes.external6_deletes);
    diff_entries(ranges4, want.ranges4_keys, want.ranges4_values, changes.ranges4_keys, changes.ranges4_values, changes.ranges4_deletes);
    diff_entries(ranges6, want.ranges6_keys, want.ranges6_values, changes.ranges6_keys, changes.ranges6_values, changes.ranges6_deletes);
    diff_entries(*backends4, want.backend4_ids, want.backend4_values, changes.backend4_ids, changes.backend4_values,
                 changes.backend4_deletes);
    diff_entries(*backends6, want.backend6_ids, want.backend6_values, changes.backend6_ids, changes.backend6_values,
                 changes.backend6_deletes);
    diff_entries(*maglev, want.maglev_ids, want.maglev_values, changes.maglev_ids, changes.maglev_values, changes.maglev_deletes);
  }
  written += changes.size();
  if (auto ok = ensure_capacity(needs); !ok) return fail(ok.error());
  if (auto ok = purge_reused_ids(); !ok) return fail(ok.error());
  if (auto ok = changes.apply(*objects_); !ok) return fail(ok.error());
  std::erase_if(backends_, [&](const auto& e) {
    if (e.second.refs != 0) return false;
    backend_ids(e.first.family).release(e.second.id);
    return true;
  });
  programmed_ = std::move(programmed);
  needs_ = needs;
  service_entries_ = service_entries;
  needs_full_sync_ = false;
  ++stats_.full_syncs;
  stats_.last_batch_messages = written;
  stats_.last_sync_duration = Clock::now() - start;
  stats_.last_successful_sync = std::chrono::system_clock::now();
  stats_.map_elements = backends_.size() + service_entries_;
  return {};
}

Result<void> EbpfBackend::sync(const endpoints::Snapshot&, const endpoints::Snapshot& after, const endpoints::SnapshotDiff& diff) {
  if (removed_) return std::unexpected(Error{ErrorCode::Internal, "eBPF backend " + pin_dir() + ": already cleaned up"});
  if (needs_full_sync_) return full_sync(after);
  const auto start = Clock::now();
  MapNeeds needs = needs_;
  backend_ids4_.recycle();
  backend_ids6_.recycle();
  for (const auto& change : diff.changes) {
    if (auto it = programmed_.find(change.name); it != programmed_.end())
      needs -= estimate_needs(*it->second.info, options_.maglev_by_default);
    if (change.after) needs += estimate_needs(*change.after, options_.maglev_by_default);
  }
  if (auto ok = ensure_capacity(needs); !ok) {
    ++stats_.failed_syncs;
    needs_full_sync_ = true;
    return ok;
  }
  MapChanges changes;
  struct Change {
    const endpoints::ServicePortChange* change;
    const ProgrammedPort* old;  // null: the port is new
    ProgrammedPort port;        // what it is programmed from after this sync
    PortEntries entries;
  };
  std::vector<Change> fresh;
  std::map<std::uint32_t, std::vector<std::uint32_t>> affinity_kept;  // service id -> backends it may keep
  // Acquire every new backend before releasing old ones: one moving between ports keeps its id.
  for (const auto& change : diff.changes) {
    Change c{.change = &change, .old = nullptr, .port = {}, .entries = {}};
    if (auto it = programmed_.find(change.name); it != programmed_.end()) {
      c.old = &it->second;
      c.port.service_id4 = it->second.service_id4;
      c.port.service_id6 = it->second.service_id6;
    }
    if (change.after) {
      c.port.info = change.after;
      newly_referenced_.clear();
      building_ = &c.port;
      build_port_entries(*change.after, *this, options_.maglev_by_default, c.entries);
      building_ = nullptr;
      for (const auto* b : newly_referenced_) changes.add_backend(b->first, b->second.id);
    }
    fresh.push_back(std::move(c));
  }
  newly_referenced_.clear();
  PortEntries old;
  for (auto& c : fresh) {
    const PortEntries& entries = c.entries;
    // Rebuilt before this port's references are released, so its backends still have their ids.
    if (c.old)
      programmed_entries(*c.old, old);
    else
      old.clear();
    diff_entries(old.services4, entries.services4, changes.service4_keys, changes.service4_values, changes.service4_deletes);
    diff_entries(old.services6, entries.services6, changes.service6_keys, changes.service6_values, changes.service6_deletes);
    diff_entries(old.external4, entries.external4, changes.external4_keys, changes.external4_values, changes.external4_deletes);
    diff_entries(old.external6, entries.external6, changes.external6_keys, changes.external6_values, changes.external6_deletes);
    diff_entries(old.source_ranges4, entries.source_ranges4, changes.ranges4_keys, changes.ranges4_values, changes.ranges4_deletes);
    diff_entries(old.source_ranges6, entries.source_ranges6, changes.ranges6_keys, changes.ranges6_values, changes.ranges6_deletes);
    std::set<std::uint32_t> tables;
    for (const auto& m : entries.maglev) {
      changes.maglev_ids.push_back(m.service_id);
      changes.maglev_values.push_back(*m.table);
      tables.insert(m.service_id);
    }
    for (const auto& m : old.maglev)
      if (!tables.contains(m.service_id)) changes.maglev_deletes.push_back(m.service_id);
    for (std::uint32_t sid : old.affinity_service_ids) {
      auto kept = entries.backends_by_service.find(sid);
      affinity_kept[sid] = kept == entries.backends_by_service.end() ? std::vector<std::uint32_t>{} : kept->second;
    }
    collect_udp_to_destroy(old, entries);
    for (const auto& b : old.backends) {
      auto it = backends_.find(b);
      if (it == backends_.end() || --it->second.refs > 0) continue;
      changes.delete_backend(b.family, it->second.id);
      backend_ids(b.family).release(it->second.id);
      backends_.erase(it);
    }
    service_entries_ += written_entries(entries);
    service_entries_ -= written_entries(old);
  }
  // Ids past the backend arrays' end (handed out by this sync) grow them first.
  auto ok = ensure_capacity(needs);
  if (ok) ok = purge_reused_ids();
  if (ok) ok = changes.apply(*objects_);
  if (ok && !affinity_kept.empty()) ok = purge_affinity(affinity_kept);
  // After the maps: a destroyed socket's application reconnects to a remaining backend.
  if (ok) {
    auto destroyed = objects_->destroy_udp_sockets(destroy4_, destroy6_, socket_netns_);
    if (destroyed)
      udp_sockets_destroyed_ += *destroyed;
    else
      ok = std::unexpected(destroyed.error());
  }
  destroy4_.clear();
  destroy6_.clear();
  if (!ok) {
    ++stats_.failed_syncs;
    needs_full_sync_ = true;
    return ok;
  }
  for (auto& c : fresh) {
    if (c.change->after)
      programmed_[c.change->name] = std::move(c.port);
    else
      programmed_.erase(c.change->name);
  }
  needs_ = needs;
  ++stats_.partial_syncs;
  stats_.last_batch_messages = changes.size();
  stats_.last_sync_duration = Clock::now() - start;
  stats_.last_successful_sync = std::chrono::system_clock::now();
  stats_.map_elements = backends_.size() + service_entries_;
  return {};
}

// Connected UDP sockets were translated at connect() to a backend: those whose backend left the
// port (for one of its VIPs) are destroyed after the sync, keyed by (backend, VIP).
void EbpfBackend::collect_udp_to_destroy(const PortEntries& old, const PortEntries& entries) {
  for (const auto& b : old.backends) {
    if (b.proto != IPPROTO_UDP || std::ranges::find(entries.backends, b) != entries.backends.end()) continue;
    if (b.family == IpFamily::IPv4) {
      for (const auto& [k, v] : old.services4) {
        if (k.slot != 0) continue;
        lb4_destroy_key d{.backend = 0, .vip = k.address, .backend_port = b.port_be, .vip_port = k.port};
        std::memcpy(&d.backend, b.address.data(), 4);
        destroy4_.push_back(d);
      }
    } else {
      for (const auto& [k, v] : old.services6) {
        if (k.slot != 0) continue;
        lb6_destroy_key d{.backend = {}, .vip = {}, .backend_port = b.port_be, .vip_port = k.port};
        std::memcpy(d.backend, b.address.data(), 16);
        std::memcpy(d.vip, k.address, 16);
        destroy6_.push_back(d);
      }
    }
  }
}

// Affinity entries pointing at a backend their service no longer has would keep sending the
// client there (the backend id may live on in another service): forget them.
Result<void> EbpfBackend::purge_affinity(const std::map<std::uint32_t, std::vector<std::uint32_t>>& kept) {
  const auto& map = objects_->affinity;
  std::vector<lb_affinity_key> stale;
  lb_affinity_key key{}, next{};
  const lb_affinity_key* prev = nullptr;
  while (bpf_map_get_next_key(map.fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    lb_affinity_value value{};
    if (bpf_map_lookup_elem(map.fd, &key, &value) != 0) continue;
    auto it = kept.find(key.service_id);
    if (it != kept.end() && std::ranges::find(it->second, value.backend_id) == it->second.end()) stale.push_back(key);
  }
  for (const auto& k : stale) bpf_map_delete_elem(map.fd, &k);  // LRU may have dropped it already
  return {};
}

Result<void> EbpfBackend::purge_reused_ids() {
  std::vector<std::uint32_t> reused = backend_ids4_.take_reused();
  for (std::uint32_t id : backend_ids6_.take_reused()) reused.push_back(id);
  if (reused.empty()) return {};
  std::ranges::sort(reused);
  // By id alone, either family: at worst a client of the other family picks its backend again.
  const auto& map = objects_->affinity;
  std::vector<lb_affinity_key> stale;
  lb_affinity_key key{}, next{};
  const lb_affinity_key* prev = nullptr;
  while (bpf_map_get_next_key(map.fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    lb_affinity_value value{};
    if (bpf_map_lookup_elem(map.fd, &key, &value) == 0 && std::ranges::binary_search(reused, value.backend_id)) stale.push_back(key);
  }
  for (const auto& k : stale) bpf_map_delete_elem(map.fd, &k);  // LRU may have dropped it already
  return {};
}

Result<void> EbpfBackend::cleanup() {
  if (removed_) return {};
  device_watcher_.reset();  // attaches nothing more
  conntrack_gc_.reset();
  auto ok = objects_->remove();
  removed_ = true;
  programmed_.clear();
  backends_.clear();
  backend_ids4_.clear();
  backend_ids6_.clear();
  service_entries_ = 0;
  return ok;
}

std::string EbpfBackend::metrics_text() const {
  return (conntrack_gc_ ? conntrack_gc_->metrics_text() : "") + nodeport_icmp_metrics_text(objects_->icmp_counters());
}

Result<SockLbMetrics> EbpfBackend::metrics() const {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return std::unexpected(Error{ErrorCode::Internal, "possible CPUs: " + std::string(std::strerror(-cpus))});
  std::vector<std::uint64_t> values(static_cast<std::size_t>(cpus));
  auto read = [&](std::uint32_t metric) -> Result<std::uint64_t> {
    if (bpf_map_lookup_elem(objects_->metrics.fd, &metric, values.data()) != 0)
      return std::unexpected(map_error(objects_->metrics, "read of counter " + std::to_string(metric), errno));
    std::uint64_t sum = 0;
    for (auto v : values) sum += v;
    return sum;
  };
  SockLbMetrics m;
  m.udp_sockets_destroyed = udp_sockets_destroyed_;
  for (auto [metric, field] : {std::pair{LB_METRIC_TRANSLATED, &m.translated},
                               {LB_METRIC_REVERSED, &m.reversed},
                               {LB_METRIC_REJECT_NO_BACKEND, &m.rejected_no_backend},
                               {LB_METRIC_DROP_BACKEND_MISSING, &m.dropped_backend_missing},
                               {LB_METRIC_AFFINITY_HIT, &m.affinity_hits},
                               {LB_METRIC_OUT_OF_SCOPE, &m.out_of_scope}}) {
    auto v = read(metric);
    if (!v) return std::unexpected(v.error());
    *field = *v;
  }
  return m;
}

}  // namespace switchyard::dataplane::ebpf
