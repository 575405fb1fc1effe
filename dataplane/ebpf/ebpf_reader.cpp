#include "dataplane/ebpf/ebpf_reader.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <tuple>
#include <filesystem>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "dataplane/ebpf/bpf/lb_types.h"
#include "dataplane/ebpf/bpf_map_ops.h"

namespace switchyard::dataplane::ebpf {

namespace {

// A pinned map opened read-only; closed when this goes away.
class PinnedMap {
 public:
  // Nothing when the pin does not exist (that family or the tc programs were never loaded).
  static Result<std::optional<PinnedMap>> open(const std::string& pin_dir, const std::string& name) {
    const std::string path = pin_dir + "/" + name;
    if (!std::filesystem::exists(path)) return std::optional<PinnedMap>{};
    LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);
    const int fd = bpf_obj_get_opts(path.c_str(), &opts);
    if (fd < 0) return std::unexpected(map_error({-1, path}, "open", errno));
    return std::optional<PinnedMap>(PinnedMap(BpfMapRef{fd, name}));
  }
  PinnedMap(PinnedMap&& o) noexcept : ref_(o.ref_) { o.ref_.fd = -1; }
  ~PinnedMap() {
    if (ref_.fd >= 0) ::close(ref_.fd);
  }
  const BpfMapRef& ref() const { return ref_; }

 private:
  explicit PinnedMap(BpfMapRef ref) : ref_(std::move(ref)) {}
  BpfMapRef ref_;
};

std::string protocol_name(std::uint8_t proto) {
  switch (proto) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_SCTP:
      return "sctp";
    default:
      return std::to_string(proto);
  }
}

std::string address_text(int af, const void* address) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(af, address, text, sizeof text);
  return text;
}

std::string endpoint_text(int af, const void* address, std::uint16_t port_be) {
  const std::string a = address_text(af, address);
  return af == AF_INET ? fmt::format("{}:{}", a, ntohs(port_be)) : fmt::format("[{}]:{}", a, ntohs(port_be));
}

// The frontends of one service map (socket or tc, one family), their slots resolved through the
// family's backend map.
template <class Key, class Backend>
Result<void> read_family(const std::string& pin_dir, const std::string& services_map, const std::string& backends_map, int af,
                         bool external, std::vector<ProgrammedFrontend>& out) {
  auto services = PinnedMap::open(pin_dir, services_map);
  if (!services) return std::unexpected(services.error());
  if (!*services) return {};
  auto entries = dump_entries<Key, lb_service_value>((*services)->ref());
  if (!entries) return std::unexpected(entries.error());
  std::map<std::uint32_t, std::string> backend_text;
  auto backends = PinnedMap::open(pin_dir, backends_map);
  if (!backends) return std::unexpected(backends.error());
  if (*backends) {
    auto dumped = dump_entries<std::uint32_t, Backend>((*backends)->ref());
    if (!dumped) return std::unexpected(dumped.error());
    for (const auto& [id, b] : *dumped)
      if (b.proto != 0) backend_text[id] = endpoint_text(af, &b.address, b.port);  // proto 0: a free array entry
  }
  // Slot 0 of each frontend, then its slots 1..n by number.
  auto same_frontend = [](const Key& a, const Key& b) {
    return std::memcmp(&a.address, &b.address, sizeof a.address) == 0 && a.port == b.port && a.proto == b.proto;
  };
  for (const auto& [key, value] : *entries) {
    if (key.slot != 0) continue;
    ProgrammedFrontend f;
    const bool any_address =
        std::all_of(reinterpret_cast<const std::uint8_t*>(&key.address),
                    reinterpret_cast<const std::uint8_t*>(&key.address) + sizeof key.address, [](auto b) { return b == 0; });
    f.address = external && any_address ? "" : address_text(af, &key.address);
    f.protocol = protocol_name(key.proto);
    f.port = ntohs(key.port);
    f.external = external;
    f.local = (value.flags & LB_SERVICE_FLAG_LOCAL) != 0;
    f.service_id = value.service_id;
    std::vector<std::pair<std::uint16_t, std::uint32_t>> slots;
    for (const auto& [k, v] : *entries)
      if (k.slot != 0 && k.slot <= value.count && same_frontend(k, key)) slots.emplace_back(k.slot, v.backend_id);
    std::sort(slots.begin(), slots.end());
    for (const auto& [slot, id] : slots) {
      auto it = backend_text.find(id);
      f.backends.push_back(it != backend_text.end() ? it->second : fmt::format("(backend {} missing)", id));
    }
    out.push_back(std::move(f));
  }
  return {};
}

}  // namespace

Result<std::vector<ProgrammedFrontend>> read_programmed_frontends(const std::string& pin_dir) {
  std::vector<ProgrammedFrontend> out;
  if (!std::filesystem::is_directory(pin_dir)) return out;
  const std::string v = LB_MAP_VERSION;
  for (bool external : {false, true}) {
    const std::string kind = external ? "external" : "services";
    if (auto ok = read_family<lb4_service_key, lb4_backend>(pin_dir, "lb4_" + kind + "_" + v, "lb4_backends_v2", AF_INET, external, out);
        !ok)
      return std::unexpected(ok.error());
    if (auto ok = read_family<lb6_service_key, lb6_backend>(pin_dir, "lb6_" + kind + "_" + v, "lb6_backends_v2", AF_INET6, external, out);
        !ok)
      return std::unexpected(ok.error());
  }
  std::stable_sort(out.begin(), out.end(), [](const ProgrammedFrontend& a, const ProgrammedFrontend& b) {
    return std::tie(a.service_id, a.external, a.address, a.port) < std::tie(b.service_id, b.external, b.address, b.port);
  });
  return out;
}

}  // namespace switchyard::dataplane::ebpf
