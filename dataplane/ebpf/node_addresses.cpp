#include "dataplane/ebpf/node_addresses.h"

#include <bpf/bpf.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>

#include <algorithm>
#include <cstring>
#include <thread>

namespace switchyard::dataplane::ebpf {
namespace {

// The family field holds AF_INET / AF_INET6 (the programs' LB_AF_INET / LB_AF_INET6).
bool less(const lb_node_addr_key& a, const lb_node_addr_key& b) { return std::memcmp(&a, &b, sizeof a) < 0; }
bool same(const lb_node_addr_key& a, const lb_node_addr_key& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

Result<std::vector<lb_node_addr_key>> read_here() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::unexpected(Error{ErrorCode::Internal, std::string("getifaddrs: ") + std::strerror(errno)});
  std::vector<lb_node_addr_key> out;
  for (const ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || (a->ifa_flags & IFF_LOOPBACK)) continue;
    lb_node_addr_key k{};
    if (a->ifa_addr->sa_family == AF_INET) {
      k.family = AF_INET;
      std::memcpy(k.address, &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, 4);
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      const auto* a6 = &reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr;
      if (IN6_IS_ADDR_LINKLOCAL(a6)) continue;  // needs a scope: not a NodePort address
      k.family = AF_INET6;
      std::memcpy(k.address, a6, 16);
    } else {
      continue;
    }
    out.push_back(k);
  }
  freeifaddrs(list);
  std::sort(out.begin(), out.end(), less);
  out.erase(std::unique(out.begin(), out.end(), same), out.end());
  return out;
}

}  // namespace

Result<std::vector<lb_node_addr_key>> read_node_addresses(int netns_fd) {
  if (netns_fd < 0) return read_here();
  Result<std::vector<lb_node_addr_key>> result = std::unexpected(Error{ErrorCode::Internal, "not run"});
  // setns on a thread of its own: the caller's thread stays where it is.
  std::thread t([&] {
    if (setns(netns_fd, CLONE_NEWNET) != 0)
      result = std::unexpected(Error{ErrorCode::Internal, std::string("node addresses: setns: ") + std::strerror(errno)});
    else
      result = read_here();
  });
  t.join();
  return result;
}

Result<void> write_node_addresses(const BpfMapRef& map, const std::vector<lb_node_addr_key>& addresses) {
  std::vector<lb_node_addr_key> stale;
  lb_node_addr_key key{}, next{};
  for (const void* prev = nullptr; bpf_map_get_next_key(map.fd, prev, &next) == 0; prev = &key) {
    key = next;
    if (!std::binary_search(addresses.begin(), addresses.end(), key, less)) stale.push_back(key);
  }
  for (const auto& k : stale)
    if (bpf_map_delete_elem(map.fd, &k) != 0 && errno != ENOENT) return std::unexpected(map_error(map, "delete of a node address", errno));
  const std::uint8_t yes = 1;
  for (const auto& k : addresses)
    if (bpf_map_update_elem(map.fd, &k, &yes, BPF_ANY) != 0) return std::unexpected(map_error(map, "add of a node address", errno));
  return {};
}

}  // namespace switchyard::dataplane::ebpf
