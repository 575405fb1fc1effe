#include "dataplane/ebpf/map_pins.h"

#include <bpf/bpf.h>
#include <netinet/in.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "dataplane/ebpf/bpf/lb_types.h"
#include "dataplane/ebpf/map_sizing.h"

namespace switchyard::dataplane::ebpf {
namespace {

Error errno_error(const std::string& what, int err) { return Error{ErrorCode::Internal, what + ": " + std::strerror(err)}; }

bool per_cpu(std::uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

// Bytes of one value as lookups return it (per-CPU maps: one 8-byte-aligned copy per CPU).
std::uint32_t value_buffer(std::uint32_t type, std::uint32_t value_size) {
  if (!per_cpu(type)) return value_size;
  return ((value_size + 7) / 8 * 8) * static_cast<std::uint32_t>(std::max(1, libbpf_num_possible_cpus()));
}

std::string describe(std::uint32_t type, std::uint32_t key, std::uint32_t value, std::uint32_t max_entries, std::uint32_t flags) {
  return "type=" + std::to_string(type) + ",key=" + std::to_string(key) + ",value=" + std::to_string(value) +
         ",max_entries=" + std::to_string(max_entries) + ",flags=" + std::to_string(flags);
}

std::uint32_t monotonic_seconds() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<std::uint32_t>(t.tv_sec);
}

// Conntrack entries before lifetimes (_v1) were the _v2 value without its last 8 bytes
// (lifetime, flags, padding): those are added, the lifetime as if the flow had just been seen
// (established TCP or UDP; the collector ends it later as usual).
OlderLayout ct_v1(std::string_view from, std::string_view to, std::uint32_t key_size, std::uint32_t old_value_size,
                  std::uint32_t proto_offset) {
  return {
      from, to, key_size, old_value_size,
      [old_value_size, proto_offset](const std::uint8_t* key, const std::uint8_t* old_value, std::uint8_t* new_value, std::uint32_t now_s) {
        std::memcpy(new_value, old_value, old_value_size);
        const std::uint32_t lifetime = now_s + (key[proto_offset] == IPPROTO_TCP ? CT_LIFETIME_TCP : CT_LIFETIME_UDP);
        std::memcpy(new_value + old_value_size, &lifetime, 4);
        std::memset(new_value + old_value_size + 4, 0, 4);  // flags, padding
      }};
}

OlderLayout same_value(std::string_view from, std::string_view to, std::uint32_t key_size, std::uint32_t value_size) {
  return {from, to, key_size, value_size,
          [value_size](const std::uint8_t*, const std::uint8_t* old_value, std::uint8_t* new_value, std::uint32_t) {
            std::memcpy(new_value, old_value, value_size);
          }};
}

// One past the highest 4-byte key of a map (0 when empty): how big an array indexed by them must be.
std::uint32_t key_bound(int fd) {
  std::uint32_t key = 0, next = 0, bound = 0;
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &next) == 0) {
    key = next;
    previous = &key;
    bound = std::max(bound, key + 1);
  }
  return bound;
}

std::size_t count_entries(int fd, std::uint32_t key_size) {
  std::vector<std::uint8_t> key(key_size), next(key_size);
  std::size_t n = 0;
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, next.data()) == 0) {
    key = next;
    previous = key.data();
    ++n;
  }
  return n;
}

}  // namespace

// Literal sizes on purpose: changing a layout means changing its line here, and its name's _v<N>.
const std::vector<PinnedLayout>& pinned_layouts() {
  static const std::vector<PinnedLayout> layouts = {
      {"lb4_services_v1", BPF_MAP_TYPE_HASH, 12, 16},
      {"lb6_services_v1", BPF_MAP_TYPE_HASH, 24, 16},
      {"lb4_backends_v2", BPF_MAP_TYPE_ARRAY, 4, 8},
      {"lb6_backends_v2", BPF_MAP_TYPE_ARRAY, 4, 20},
      {"lb_affinity_v1", BPF_MAP_TYPE_LRU_HASH, 16, 16},
      {"lb_maglev_v1", BPF_MAP_TYPE_HASH, 4, 4084},
      {"lb4_reverse_v1", BPF_MAP_TYPE_LRU_HASH, 16, 8},
      {"lb6_reverse_v1", BPF_MAP_TYPE_LRU_HASH, 32, 20},
      {"lb_scope_v1", BPF_MAP_TYPE_HASH, 8, 1},
      {"lb_metrics_v1", BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8},
      {"lb4_external_v1", BPF_MAP_TYPE_HASH, 12, 16},
      {"lb6_external_v1", BPF_MAP_TYPE_HASH, 24, 16},
      {"lb4_source_ranges_v1", BPF_MAP_TYPE_LPM_TRIE, 12, 1},
      {"lb6_source_ranges_v1", BPF_MAP_TYPE_LPM_TRIE, 24, 1},
      {"np_interfaces_v1", BPF_MAP_TYPE_HASH, 4, 4},
      {"np_metrics_v1", BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8},
      {"np_drops_v1", BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8},
      {"np_icmp_v1", BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8},
      {"np_icmp_rate_v1", BPF_MAP_TYPE_PERCPU_ARRAY, 4, 16},
      {"lb_node_addrs_v1", BPF_MAP_TYPE_HASH, 20, 1},
      {"ct4_v2", BPF_MAP_TYPE_LRU_HASH, 16, 24},
      {"ct4_reverse_v2", BPF_MAP_TYPE_LRU_HASH, 16, 24},
      {"ct6_v2", BPF_MAP_TYPE_LRU_HASH, 40, 48},
      {"ct6_reverse_v2", BPF_MAP_TYPE_LRU_HASH, 40, 48},
  };
  return layouts;
}

const std::vector<OlderLayout>& older_layouts() {
  // The protocol's offset in each key: ct4_key / ct4_reverse_key 12, ct6_key / ct6_reverse_key 36.
  static const std::vector<OlderLayout> older = {
      ct_v1("ct4_v1", "ct4_v2", 16, 16, 12),
      ct_v1("ct4_reverse_v1", "ct4_reverse_v2", 16, 16, 12),
      ct_v1("ct6_v1", "ct6_v2", 40, 40, 36),
      ct_v1("ct6_reverse_v1", "ct6_reverse_v2", 40, 40, 36),
      // Backends were hashes by id (_v1), now arrays indexed by it (_v2): same key and value, so
      // entries copy as they are (prepare() makes the array cover the highest id).
      same_value("lb4_backends_v1", "lb4_backends_v2", 4, 8),
      same_value("lb6_backends_v1", "lb6_backends_v2", 4, 20),
  };
  return older;
}

int layout_version(std::string_view name) {
  const auto at = name.rfind("_v");
  if (at == std::string_view::npos || at + 2 >= name.size()) return 0;
  int version = 0;
  const auto* end = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(name.data() + at + 2, end, version);
  return ec == std::errc{} && ptr == end ? version : 0;
}

Result<std::uint64_t> copy_map_entries(int from, int to, std::uint32_t key_size, std::uint32_t from_value_size, std::uint32_t to_value_size,
                                       const OlderLayout* convert) {
  std::vector<std::uint8_t> key(key_size), next(key_size), value(from_value_size), converted(to_value_size);
  const std::uint32_t now = monotonic_seconds();
  bpf_map_info to_info{};
  __u32 to_len = sizeof to_info;
  const bool to_array = bpf_obj_get_info_by_fd(to, &to_info, &to_len) == 0 && to_info.type == BPF_MAP_TYPE_ARRAY;
  std::uint64_t copied = 0;
  const void* previous = nullptr;
  while (bpf_map_get_next_key(from, previous, next.data()) == 0) {
    key = next;
    previous = key.data();
    if (bpf_map_lookup_elem(from, key.data(), value.data()) != 0) continue;  // gone meanwhile (LRU)
    // An array's all-zero entry is what the new array holds already (a free backend id).
    if (to_array && std::ranges::all_of(value, [](std::uint8_t b) { return b == 0; })) continue;
    const void* v = value.data();
    if (convert) {
      convert->convert(key.data(), value.data(), converted.data(), now);
      v = converted.data();
    }
    // BPF_NOEXIST: an entry the new map already has (newer programs wrote it) wins. Arrays have
    // every entry already (only the agent writes them): overwritten.
    if (bpf_map_update_elem(to, key.data(), v, to_array ? BPF_ANY : BPF_NOEXIST) == 0)
      ++copied;
    else if (errno != EEXIST)
      return std::unexpected(errno_error("copy of an entry after " + std::to_string(copied), errno));
  }
  return copied;
}

PinSwitch::~PinSwitch() {
  for (const auto& p : pending_) ::close(p.old_fd);
  for (const auto& o : older_) ::close(o.old_fd);
}

Result<void> PinSwitch::prepare(bpf_map* map, bool growable) {
  const std::string name = bpf_map__name(map);
  if (layout_version(name) == 0) return std::unexpected(Error{ErrorCode::Internal, "pinned map " + name + " carries no _v<N> version"});
  const std::uint32_t type = bpf_map__type(map), key = bpf_map__key_size(map), value = bpf_map__value_size(map);
  for (const auto& l : pinned_layouts())
    if (l.name == name && (l.type != type || l.key_size != key || l.value_size != value))
      return std::unexpected(Error{ErrorCode::Internal, "map " + name + ": its layout (" + describe(type, key, value, 0, 0) +
                                                            ") is not the one its version names (" +
                                                            describe(l.type, l.key_size, l.value_size, 0, 0) +
                                                            "): bump the _v<N> and list the old layout in map_pins.cpp"});
  // An array that older pins migrate into (backends by id) must reach their highest key.
  if (growable && type == BPF_MAP_TYPE_ARRAY)
    for (const auto& older : older_layouts())
      if (older.to == name && older.key_size == 4)
        if (const int old_fd = bpf_obj_get((pin_dir_ + "/" + std::string(older.from)).c_str()); old_fd >= 0) {
          const std::uint32_t bound = key_bound(old_fd);
          ::close(old_fd);
          if (bound > bpf_map__max_entries(map)) bpf_map__set_max_entries(map, capacity_for(bound, bpf_map__max_entries(map)));
        }
  const std::string path = pin_dir_ + "/" + name;
  const int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    if (bpf_map__set_pin_path(map, path.c_str()) != 0) return std::unexpected(errno_error("pin path " + path, errno));
    return {};  // libbpf creates and pins it
  }
  bpf_map_info info{};
  __u32 len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
    const int err = errno;
    ::close(fd);
    return std::unexpected(errno_error("pinned map " + path, err));
  }
  const bool same_layout = info.type == type && info.key_size == key && info.value_size == value;
  if (growable && same_layout) {
    const std::uint32_t asked = bpf_map__max_entries(map);
    if (info.map_flags == bpf_map__map_flags(map))
      bpf_map__set_max_entries(map, std::max(asked, info.max_entries));  // grown by an earlier agent: kept
    else  // preallocated by an agent before sizes followed the cluster: as big as its entries need
      bpf_map__set_max_entries(map, capacity_for(count_entries(fd, key), asked));
  }
  if (same_layout && info.max_entries == bpf_map__max_entries(map) && info.map_flags == bpf_map__map_flags(map)) {
    ::close(fd);
    if (bpf_map__set_pin_path(map, path.c_str()) != 0) return std::unexpected(errno_error("pin path " + path, errno));
    return {};  // reused as it is
  }
  // A fresh map (not pinned until commit()), filled from this one after the load.
  pending_.push_back({map, fd, path, same_layout, describe(info.type, info.key_size, info.value_size, info.max_entries, info.map_flags),
                      describe(type, key, value, bpf_map__max_entries(map), bpf_map__map_flags(map))});
  return {};
}

Result<void> PinSwitch::copy_entries(const std::vector<bpf_map*>& loaded) {
  for (const auto& p : pending_) {
    PinEvent e{.event = p.copy ? "bpf_map_resized" : "bpf_map_replaced", .name = bpf_map__name(p.map), .from = p.from, .to = p.to};
    if (p.copy) {
      const std::uint32_t v = value_buffer(bpf_map__type(p.map), bpf_map__value_size(p.map));
      auto n = copy_map_entries(p.old_fd, bpf_map__fd(p.map), bpf_map__key_size(p.map), v, v, nullptr);
      if (!n) return std::unexpected(with_context(n.error(), "map " + e.name + " into its new size"));
      e.entries = *n;
    }
    events_.push_back(std::move(e));
  }
  for (const auto& older : older_layouts()) {
    bpf_map* target = nullptr;
    for (bpf_map* m : loaded)
      if (older.to == bpf_map__name(m)) target = m;
    if (!target) continue;
    const std::string path = pin_dir_ + "/" + std::string(older.from);
    const int fd = bpf_obj_get(path.c_str());
    if (fd < 0) continue;
    bpf_map_info info{};
    __u32 len = sizeof info;
    PinEvent e{.event = "bpf_map_replaced",
               .name = std::string(older.from),
               .from = "v" + std::to_string(layout_version(older.from)),
               .to = "v" + std::to_string(layout_version(older.to))};
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.key_size == older.key_size && info.value_size == older.value_size) {
      auto n = copy_map_entries(fd, bpf_map__fd(target), older.key_size, older.value_size, bpf_map__value_size(target), &older);
      if (!n) {
        ::close(fd);
        return std::unexpected(with_context(n.error(), "migration of " + path));
      }
      e.event = "bpf_map_migrated";
      e.entries = *n;
    }
    older_.push_back({fd, path, std::move(e)});
  }
  return {};
}

Result<void> PinSwitch::commit() {
  for (auto& p : pending_) {
    if (::unlink(p.path.c_str()) != 0 && errno != ENOENT) return std::unexpected(errno_error("unpin of the old " + p.path, errno));
    if (const int err = bpf_map__pin(p.map, p.path.c_str()); err != 0)
      return std::unexpected(errno_error("pin of the new " + p.path, -err));
  }
  for (const auto& o : older_) ::unlink(o.path.c_str());
  for (const auto& o : older_) events_.push_back(o.event);
  for (const auto& e : events_) {
    if (e.event == "bpf_map_migrated")
      spdlog::info("event=bpf_map_migrated name={} from={} to={} entries={}", e.name, e.from, e.to, e.entries);
    else if (e.event == "bpf_map_resized")
      spdlog::info("event=bpf_map_resized name={} from={} to={} entries={}", e.name, e.from, e.to, e.entries);
    else
      spdlog::warn("event=bpf_map_replaced name={} from={} to={} reason=\"a layout this agent cannot read; its entries are dropped\"",
                   e.name, e.from, e.to);
  }
  return {};
}

}  // namespace switchyard::dataplane::ebpf
