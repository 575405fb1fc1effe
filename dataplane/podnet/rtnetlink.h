// The rtnetlink requests the pod network needs, over libmnl: this node's IPv4 addresses, one
// link by name, a VXLAN device, routes (tagged with our own route protocol so that leftovers
// can be found again after a restart), neighbour entries and a VXLAN device's FDB entries.
// Every request waits for the kernel's answer; errors name the object and the errno.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/base/error.h"

struct mnl_socket;
struct nlmsghdr;

namespace switchyard::dataplane::podnet {

// IPv4 addresses in host byte order.
struct Ipv4Prefix {
  std::uint32_t address = 0;
  std::uint8_t length = 32;
  auto operator<=>(const Ipv4Prefix&) const = default;
  bool contains(std::uint32_t ip) const { return length == 0 || (ip >> (32 - length)) == (address >> (32 - length)); }
};
Result<std::uint32_t> parse_ipv4(std::string_view text);
Result<Ipv4Prefix> parse_ipv4_prefix(std::string_view text);  // "10.244.1.0/24" (host bits are cleared)
std::string format_ipv4(std::uint32_t ip);
std::string format_prefix(const Ipv4Prefix& p);

using Mac = std::array<std::uint8_t, 6>;
Result<Mac> parse_mac(std::string_view text);  // "aa:bb:cc:dd:ee:ff"
std::string format_mac(const Mac& mac);

// Routes we program carry this rtm_protocol (unassigned in iproute2's rt_protos).
inline constexpr std::uint8_t kRouteProtocol = 77;

struct InterfaceAddress {
  int ifindex = 0;
  Ipv4Prefix prefix;  // the address and its subnet's length
};

struct LinkInfo {
  int ifindex = 0;
  Mac mac{};
  std::uint32_t mtu = 0;
  bool up = false;
  std::string kind;  // "vxlan", "veth", … ("" when the kernel reports none)
  // VXLAN devices only.
  std::uint32_t vni = 0, local = 0;
  std::uint16_t port = 0;
  int underlying = 0;
  bool learning = true;
};

struct VxlanSpec {
  std::string name;
  std::uint32_t vni = 1;
  std::uint32_t local = 0;
  std::uint16_t port = 8472;
  int underlying = 0;  // ifindex of the link that carries local
  std::uint32_t mtu = 0;
};

struct Route {
  Ipv4Prefix destination;
  std::uint32_t gateway = 0;
  int oif = 0;          // 0: the kernel picks the link the gateway is on
  bool onlink = false;  // the gateway is on oif even without a subnet saying so (VXLAN)
  bool operator==(const Route&) const = default;
};

struct Neighbour {
  int ifindex = 0;
  std::uint32_t ip = 0;
  Mac mac{};
  bool operator==(const Neighbour&) const = default;
};

struct FdbEntry {
  int ifindex = 0;
  Mac mac{};
  std::uint32_t destination = 0;  // the remote VTEP's address
  bool operator==(const FdbEntry&) const = default;
};

class Rtnetlink {
 public:
  // A socket in the calling thread's network namespace.
  static Result<std::unique_ptr<Rtnetlink>> open();
  ~Rtnetlink();

  Result<std::vector<InterfaceAddress>> ipv4_addresses();
  Result<std::optional<LinkInfo>> link(const std::string& name);
  Result<LinkInfo> link(int ifindex);
  Result<void> create_vxlan(const VxlanSpec& spec);
  Result<void> delete_link(int ifindex);
  Result<void> set_up(int ifindex);
  Result<void> add_address(int ifindex, const Ipv4Prefix& address);  // NLM_F_REPLACE: idempotent

  // Main-table IPv4 routes with rtm_protocol == protocol.
  Result<std::vector<Route>> routes(std::uint8_t protocol);
  Result<void> replace_route(const Route& route, std::uint8_t protocol);
  Result<void> delete_route(const Route& route, std::uint8_t protocol);
  // Permanent IPv4 neighbour entries of one link.
  Result<std::vector<Neighbour>> neighbours(int ifindex);
  Result<void> replace_neighbour(const Neighbour& n);
  Result<void> delete_neighbour(const Neighbour& n);
  // Permanent FDB entries of one VXLAN link that have a remote destination.
  Result<std::vector<FdbEntry>> fdb(int ifindex);
  Result<void> replace_fdb(const FdbEntry& e);
  Result<void> delete_fdb(const FdbEntry& e);

 private:
  struct Closer {
    void operator()(mnl_socket* s) const;
  };
  Rtnetlink(std::unique_ptr<mnl_socket, Closer> s, std::uint32_t port_id) : socket_(std::move(s)), port_id_(port_id) {}
  // Sends one request; `on_message` (if any) sees each answer of a dump.
  using Callback = int (*)(const nlmsghdr*, void*);
  Result<void> request(nlmsghdr* message, const std::string& what, Callback on_message = nullptr, void* data = nullptr);
  Result<std::vector<LinkInfo>> links(int ifindex, const std::string& name);

  std::unique_ptr<mnl_socket, Closer> socket_;
  std::uint32_t port_id_ = 0, seq_ = 0;
};

}  // namespace switchyard::dataplane::podnet
