#include "dataplane/podnet/rtnetlink.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace switchyard::dataplane::podnet {

namespace {

constexpr std::size_t kBufferBytes = 64 * 1024;

std::uint32_t be_to_host(const void* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return ntohl(v);
}

// Walks the attributes after a fixed header of `header_bytes`.
template <class F>
void for_each_attribute(const nlmsghdr* m, std::size_t header_bytes, F&& f) {
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(m));
  for (auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(m, header_bytes));
       mnl_attr_ok(a, static_cast<int>(tail - reinterpret_cast<const char*>(a))); a = mnl_attr_next(a))
    f(a);
}

// Walks the attributes nested in `parent` (mnl_attr_for_each_nested does not compile as C++).
template <class F>
void for_each_nested(const nlattr* parent, F&& f) {
  const auto* end = static_cast<const char*>(mnl_attr_get_payload(parent)) + mnl_attr_get_payload_len(parent);
  for (auto* a = static_cast<const nlattr*>(mnl_attr_get_payload(parent));
       mnl_attr_ok(a, static_cast<int>(end - reinterpret_cast<const char*>(a))); a = mnl_attr_next(a))
    f(a);
}

void put_ipv4(nlmsghdr* m, std::uint16_t type, std::uint32_t ip) { mnl_attr_put_u32(m, type, htonl(ip)); }

}  // namespace

Result<std::uint32_t> parse_ipv4(std::string_view text) {
  in_addr a{};
  if (inet_pton(AF_INET, std::string(text).c_str(), &a) != 1) return fail(ErrorCode::Invalid, fmt::format("not an IPv4 address: {}", text));
  return ntohl(a.s_addr);
}

Result<Ipv4Prefix> parse_ipv4_prefix(std::string_view text) {
  const auto slash = text.find('/');
  auto ip = parse_ipv4(text.substr(0, slash));
  if (!ip) return fail(ip.error());
  unsigned length = 32;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (ec != std::errc() || end != digits.data() + digits.size() || length > 32)
      return fail(ErrorCode::Invalid, fmt::format("not an IPv4 prefix: {}", text));
  }
  const std::uint32_t mask = length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
  return Ipv4Prefix{*ip & mask, static_cast<std::uint8_t>(length)};
}

std::string format_ipv4(std::uint32_t ip) { return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff); }
std::string format_prefix(const Ipv4Prefix& p) { return fmt::format("{}/{}", format_ipv4(p.address), p.length); }

Result<Mac> parse_mac(std::string_view text) {
  Mac mac{};
  if (text.size() != 17) return fail(ErrorCode::Invalid, fmt::format("not a MAC address: {}", text));
  for (std::size_t i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != ':') return fail(ErrorCode::Invalid, fmt::format("not a MAC address: {}", text));
    auto [end, ec] = std::from_chars(text.data() + i * 3, text.data() + i * 3 + 2, mac[i], 16);
    if (ec != std::errc() || end != text.data() + i * 3 + 2) return fail(ErrorCode::Invalid, fmt::format("not a MAC address: {}", text));
  }
  return mac;
}

std::string format_mac(const Mac& m) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
}

void Rtnetlink::Closer::operator()(mnl_socket* s) const { mnl_socket_close(s); }
Rtnetlink::~Rtnetlink() = default;

Result<std::unique_ptr<Rtnetlink>> Rtnetlink::open() {
  std::unique_ptr<mnl_socket, Closer> s(mnl_socket_open(NETLINK_ROUTE));
  if (!s || mnl_socket_bind(s.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    return fail(ErrorCode::Internal, std::string("rtnetlink socket: ") + std::strerror(errno));
  const auto port = mnl_socket_get_portid(s.get());
  return std::unique_ptr<Rtnetlink>(new Rtnetlink(std::move(s), port));
}

Result<void> Rtnetlink::request(nlmsghdr* m, const std::string& what, Callback on_message, void* data) {
  m->nlmsg_seq = ++seq_;
  // NLM_F_DUMP's bits are NLM_F_REPLACE's and NLM_F_EXCL's: only a GET can be a dump.
  const bool dump = m->nlmsg_type % 4 == 2 && (m->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  if (!dump) m->nlmsg_flags |= NLM_F_ACK;  // every other request ends with the kernel's answer
  if (mnl_socket_sendto(socket_.get(), m, m->nlmsg_len) < 0)
    return fail(ErrorCode::Internal, fmt::format("{}: sending: {}", what, std::strerror(errno)));
  std::vector<char> buf(kBufferBytes);
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(socket_.get(), buf.data(), buf.size());
    if (n < 0) return fail(ErrorCode::Internal, fmt::format("{}: receiving: {}", what, std::strerror(errno)));
    const int r = mnl_cb_run(buf.data(), static_cast<std::size_t>(n), seq_, port_id_, on_message, data);
    if (r == MNL_CB_STOP) return {};
    if (r == MNL_CB_ERROR) {
      const int e = errno;
      return fail(e == ENODEV || e == ENOENT || e == ESRCH ? ErrorCode::NotFound : ErrorCode::Internal,
                  fmt::format("{}: {}", what, std::strerror(e)));
    }
  }
}

namespace {

struct LinkDump {
  std::vector<LinkInfo> links;
};

void parse_vxlan_data(const nlattr* data, LinkInfo& l) {
  for_each_nested(data, [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case IFLA_VXLAN_ID:
        l.vni = mnl_attr_get_u32(a);
        break;
      case IFLA_VXLAN_LOCAL:
        l.local = be_to_host(mnl_attr_get_payload(a));
        break;
      case IFLA_VXLAN_PORT:
        l.port = ntohs(mnl_attr_get_u16(a));
        break;
      case IFLA_VXLAN_LINK:
        l.underlying = static_cast<int>(mnl_attr_get_u32(a));
        break;
      case IFLA_VXLAN_LEARNING:
        l.learning = mnl_attr_get_u8(a) != 0;
        break;
      default:
        break;
    }
  });
}

int on_link(const nlmsghdr* m, void* data) {
  if (m->nlmsg_type != RTM_NEWLINK) return MNL_CB_OK;
  const auto* info = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(m));
  LinkInfo l;
  l.ifindex = info->ifi_index;
  l.up = info->ifi_flags & IFF_UP;
  for_each_attribute(m, sizeof(ifinfomsg), [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case IFLA_ADDRESS:
        if (mnl_attr_get_payload_len(a) == 6) std::memcpy(l.mac.data(), mnl_attr_get_payload(a), 6);
        break;
      case IFLA_MTU:
        l.mtu = mnl_attr_get_u32(a);
        break;
      case IFLA_LINKINFO: {
        for_each_nested(a, [&](const nlattr* n) {
          if (mnl_attr_get_type(n) == IFLA_INFO_KIND) l.kind = mnl_attr_get_str(n);
          if (mnl_attr_get_type(n) == IFLA_INFO_DATA && l.kind == "vxlan") parse_vxlan_data(n, l);
        });
        break;
      }
      default:
        break;
    }
  });
  static_cast<LinkDump*>(data)->links.push_back(l);
  return MNL_CB_OK;
}

}  // namespace

Result<std::vector<LinkInfo>> Rtnetlink::links(int ifindex, const std::string& name) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* m = mnl_nlmsg_put_header(buf.data());
  m->nlmsg_type = RTM_GETLINK;
  m->nlmsg_flags = NLM_F_REQUEST;
  auto* info = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(m, sizeof(ifinfomsg)));
  info->ifi_family = AF_UNSPEC;
  info->ifi_index = ifindex;
  if (!name.empty()) mnl_attr_put_strz(m, IFLA_IFNAME, name.c_str());
  LinkDump dump;
  auto ok = request(m, name.empty() ? fmt::format("link {}", ifindex) : "link " + name, on_link, &dump);
  if (!ok && ok.error().code == ErrorCode::NotFound) return std::vector<LinkInfo>{};
  if (!ok) return fail(ok.error());
  return std::move(dump.links);
}

Result<std::optional<LinkInfo>> Rtnetlink::link(const std::string& name) {
  auto found = links(0, name);
  if (!found) return fail(found.error());
  if (found->empty()) return std::optional<LinkInfo>{};
  return std::optional<LinkInfo>{found->front()};
}

Result<LinkInfo> Rtnetlink::link(int ifindex) {
  auto found = links(ifindex, "");
  if (!found) return fail(found.error());
  if (found->empty()) return fail(ErrorCode::NotFound, fmt::format("link {}: no such device", ifindex));
  return found->front();
}

Result<void> Rtnetlink::create_vxlan(const VxlanSpec& s) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* m = mnl_nlmsg_put_header(buf.data());
  m->nlmsg_type = RTM_NEWLINK;
  m->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
  auto* info = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(m, sizeof(ifinfomsg)));
  info->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(m, IFLA_IFNAME, s.name.c_str());
  if (s.mtu) mnl_attr_put_u32(m, IFLA_MTU, s.mtu);
  nlattr* linkinfo = mnl_attr_nest_start(m, IFLA_LINKINFO);
  mnl_attr_put_strz(m, IFLA_INFO_KIND, "vxlan");
  nlattr* data = mnl_attr_nest_start(m, IFLA_INFO_DATA);
  mnl_attr_put_u32(m, IFLA_VXLAN_ID, s.vni);
  put_ipv4(m, IFLA_VXLAN_LOCAL, s.local);
  if (s.underlying) mnl_attr_put_u32(m, IFLA_VXLAN_LINK, static_cast<std::uint32_t>(s.underlying));
  mnl_attr_put_u16(m, IFLA_VXLAN_PORT, htons(s.port));
  mnl_attr_put_u8(m, IFLA_VXLAN_LEARNING, 0);  // peers come from Node objects, not from traffic
  mnl_attr_nest_end(m, data);
  mnl_attr_nest_end(m, linkinfo);
  return request(m, fmt::format("creating VXLAN device {} (vni {}, local {}, port {})", s.name, s.vni, format_ipv4(s.local), s.port));
}

Result<void> Rtnetlink::delete_link(int ifindex) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* m = mnl_nlmsg_put_header(buf.data());
  m->nlmsg_type = RTM_DELLINK;
  m->nlmsg_flags = NLM_F_REQUEST;
  auto* info = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(m, sizeof(ifinfomsg)));
  info->ifi_index = ifindex;
  return request(m, fmt::format("deleting link {}", ifindex));
}

Result<void> Rtnetlink::set_up(int ifindex) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* m = mnl_nlmsg_put_header(buf.data());
  m->nlmsg_type = RTM_NEWLINK;
  m->nlmsg_flags = NLM_F_REQUEST;
  auto* info = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(m, sizeof(ifinfomsg)));
  info->ifi_index = ifindex;
  info->ifi_flags = IFF_UP;
  info->ifi_change = IFF_UP;
  return request(m, fmt::format("setting link {} up", ifindex));
}

Result<void> Rtnetlink::add_address(int ifindex, const Ipv4Prefix& p) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* m = mnl_nlmsg_put_header(buf.data());
  m->nlmsg_type = RTM_NEWADDR;
  m->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
  auto* a = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(m, sizeof(ifaddrmsg)));
  a->ifa_family = AF_INET;
  a->ifa_prefixlen = p.length;
  a->ifa_index = static_cast<unsigned>(ifindex);
  a->ifa_scope = RT_SCOPE_UNIVERSE;
  put_ipv4(m, IFA_LOCAL, p.address);
  put_ipv4(m, IFA_ADDRESS, p.address);
  return request(m, fmt::format("address {} on link {}", format_prefix(p), ifindex));
}

Result<std::vector<InterfaceAddress>> Rtnetlink::ipv4_addresses() {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* m = mnl_nlmsg_put_header(buf.data());
  m->nlmsg_type = RTM_GETADDR;
  m->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  auto* a = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(m, sizeof(ifaddrmsg)));
  a->ifa_family = AF_INET;
  std::vector<InterfaceAddress> out;
  auto cb = [](const nlmsghdr* msg, void* data) -> int {
    if (msg->nlmsg_type != RTM_NEWADDR) return MNL_CB_OK;
    const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(msg));
    if (ifa->ifa_family != AF_INET) return MNL_CB_OK;
    std::optional<std::uint32_t> local, address;
    for_each_attribute(msg, sizeof(ifaddrmsg), [&](const nlattr* at) {
      if (mnl_attr_get_type(at) == IFA_LOCAL) local = be_to_host(mnl_attr_get_payload(at));
      if (mnl_attr_get_type(at) == IFA_ADDRESS) address = be_to_host(mnl_attr_get_payload(at));
    });
    if (auto ip = local ? local : address)
      static_cast<std::vector<InterfaceAddress>*>(data)->push_back({static_cast<int>(ifa->ifa_index), {*ip, ifa->ifa_prefixlen}});
    return MNL_CB_OK;
  };
  if (auto ok = request(m, "listing IPv4 addresses", cb, &out); !ok) return fail(ok.error());
  return out;
}

namespace {

struct RouteDump {
  std::uint8_t protocol = 0;
  std::vector<Route> routes;
};

int on_route(const nlmsghdr* m, void* data) {
  if (m->nlmsg_type != RTM_NEWROUTE) return MNL_CB_OK;
  auto* dump = static_cast<RouteDump*>(data);
  const auto* r = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(m));
  if (r->rtm_family != AF_INET || r->rtm_protocol != dump->protocol || r->rtm_type != RTN_UNICAST) return MNL_CB_OK;
  std::uint32_t table = r->rtm_table;
  Route route;
  route.destination.length = r->rtm_dst_len;
  route.onlink = r->rtm_flags & RTNH_F_ONLINK;
  for_each_attribute(m, sizeof(rtmsg), [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case RTA_TABLE:
        table = mnl_attr_get_u32(a);
        break;
      case RTA_DST:
        route.destination.address = be_to_host(mnl_attr_get_payload(a));
        break;
      case RTA_GATEWAY:
        route.gateway = be_to_host(mnl_attr_get_payload(a));
        break;
      case RTA_OIF:
        route.oif = static_cast<int>(mnl_attr_get_u32(a));
        break;
      default:
        break;
    }
  });
  if (table == RT_TABLE_MAIN) dump->routes.push_back(route);
  return MNL_CB_OK;
}

nlmsghdr* route_message(char* buf, std::uint16_t type, std::uint16_t flags, const Route& route, std::uint8_t protocol) {
  nlmsghdr* m = mnl_nlmsg_put_header(buf);
  m->nlmsg_type = type;
  m->nlmsg_flags = NLM_F_REQUEST | flags;
  auto* r = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(m, sizeof(rtmsg)));
  r->rtm_family = AF_INET;
  r->rtm_dst_len = route.destination.length;
  r->rtm_table = RT_TABLE_MAIN;
  r->rtm_protocol = protocol;
  r->rtm_scope = type == RTM_DELROUTE ? RT_SCOPE_NOWHERE : RT_SCOPE_UNIVERSE;
  r->rtm_type = RTN_UNICAST;
  if (route.onlink) r->rtm_flags |= RTNH_F_ONLINK;
  put_ipv4(m, RTA_DST, route.destination.address);
  if (type != RTM_DELROUTE) {
    if (route.gateway) put_ipv4(m, RTA_GATEWAY, route.gateway);
    if (route.oif) mnl_attr_put_u32(m, RTA_OIF, static_cast<std::uint32_t>(route.oif));
  }
  return m;
}

std::string describe(const Route& r) {
  return fmt::format("route {} via {}{}{}", format_prefix(r.destination), format_ipv4(r.gateway),
                     r.oif ? fmt::format(" dev {}", r.oif) : "", r.onlink ? " onlink" : "");
}

}  // namespace

Result<std::vector<Route>> Rtnetlink::routes(std::uint8_t protocol) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* m = mnl_nlmsg_put_header(buf.data());
  m->nlmsg_type = RTM_GETROUTE;
  m->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  auto* r = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(m, sizeof(rtmsg)));
  r->rtm_family = AF_INET;
  RouteDump dump{.protocol = protocol, .routes = {}};
  if (auto ok = request(m, "listing routes", on_route, &dump); !ok) return fail(ok.error());
  return std::move(dump.routes);
}

Result<void> Rtnetlink::replace_route(const Route& route, std::uint8_t protocol) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  return request(route_message(buf.data(), RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, route, protocol), describe(route));
}

Result<void> Rtnetlink::delete_route(const Route& route, std::uint8_t protocol) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  auto ok = request(route_message(buf.data(), RTM_DELROUTE, 0, route, protocol), "deleting " + describe(route));
  if (!ok && ok.error().code == ErrorCode::NotFound) return {};  // already gone
  return ok;
}

namespace {

struct NeighbourDump {
  int ifindex = 0;
  bool bridge = false;
  std::vector<Neighbour> neighbours;
  std::vector<FdbEntry> fdb;
};

int on_neighbour(const nlmsghdr* m, void* data) {
  if (m->nlmsg_type != RTM_NEWNEIGH) return MNL_CB_OK;
  auto* dump = static_cast<NeighbourDump*>(data);
  const auto* n = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(m));
  if (n->ndm_ifindex != dump->ifindex || !(n->ndm_state & NUD_PERMANENT)) return MNL_CB_OK;
  std::optional<std::uint32_t> dst;
  std::optional<Mac> mac;
  for_each_attribute(m, sizeof(ndmsg), [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == NDA_DST && mnl_attr_get_payload_len(a) == 4) dst = be_to_host(mnl_attr_get_payload(a));
    if (mnl_attr_get_type(a) == NDA_LLADDR && mnl_attr_get_payload_len(a) == 6) {
      mac.emplace();
      std::memcpy(mac->data(), mnl_attr_get_payload(a), 6);
    }
  });
  if (!dst || !mac) return MNL_CB_OK;
  if (dump->bridge && n->ndm_family == AF_BRIDGE)
    dump->fdb.push_back({dump->ifindex, *mac, *dst});
  else if (!dump->bridge && n->ndm_family == AF_INET)
    dump->neighbours.push_back({dump->ifindex, *dst, *mac});
  return MNL_CB_OK;
}

nlmsghdr* neighbour_message(char* buf, std::uint16_t type, std::uint16_t flags, std::uint8_t family, int ifindex) {
  nlmsghdr* m = mnl_nlmsg_put_header(buf);
  m->nlmsg_type = type;
  m->nlmsg_flags = NLM_F_REQUEST | flags;
  auto* n = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(m, sizeof(ndmsg)));
  n->ndm_family = family;
  n->ndm_ifindex = ifindex;
  n->ndm_state = NUD_PERMANENT;
  if (family == AF_BRIDGE) n->ndm_flags = NTF_SELF;
  return m;
}

}  // namespace

Result<std::vector<Neighbour>> Rtnetlink::neighbours(int ifindex) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* m = neighbour_message(buf.data(), RTM_GETNEIGH, NLM_F_DUMP, AF_INET, 0);
  NeighbourDump dump{.ifindex = ifindex, .bridge = false, .neighbours = {}, .fdb = {}};
  if (auto ok = request(m, "listing neighbours", on_neighbour, &dump); !ok) return fail(ok.error());
  return std::move(dump.neighbours);
}

Result<void> Rtnetlink::replace_neighbour(const Neighbour& n) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* m = neighbour_message(buf.data(), RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, AF_INET, n.ifindex);
  put_ipv4(m, NDA_DST, n.ip);
  mnl_attr_put(m, NDA_LLADDR, 6, n.mac.data());
  return request(m, fmt::format("neighbour {} lladdr {} dev {}", format_ipv4(n.ip), format_mac(n.mac), n.ifindex));
}

Result<void> Rtnetlink::delete_neighbour(const Neighbour& n) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* m = neighbour_message(buf.data(), RTM_DELNEIGH, 0, AF_INET, n.ifindex);
  put_ipv4(m, NDA_DST, n.ip);
  auto ok = request(m, fmt::format("deleting neighbour {} dev {}", format_ipv4(n.ip), n.ifindex));
  if (!ok && ok.error().code == ErrorCode::NotFound) return {};
  return ok;
}

Result<std::vector<FdbEntry>> Rtnetlink::fdb(int ifindex) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* m = neighbour_message(buf.data(), RTM_GETNEIGH, NLM_F_DUMP, AF_BRIDGE, 0);
  NeighbourDump dump{.ifindex = ifindex, .bridge = true, .neighbours = {}, .fdb = {}};
  if (auto ok = request(m, "listing FDB entries", on_neighbour, &dump); !ok) return fail(ok.error());
  return std::move(dump.fdb);
}

Result<void> Rtnetlink::replace_fdb(const FdbEntry& e) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* m = neighbour_message(buf.data(), RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, AF_BRIDGE, e.ifindex);
  mnl_attr_put(m, NDA_LLADDR, 6, e.mac.data());
  put_ipv4(m, NDA_DST, e.destination);
  return request(m, fmt::format("FDB entry {} dst {} dev {}", format_mac(e.mac), format_ipv4(e.destination), e.ifindex));
}

Result<void> Rtnetlink::delete_fdb(const FdbEntry& e) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* m = neighbour_message(buf.data(), RTM_DELNEIGH, 0, AF_BRIDGE, e.ifindex);
  mnl_attr_put(m, NDA_LLADDR, 6, e.mac.data());
  put_ipv4(m, NDA_DST, e.destination);
  auto ok = request(m, fmt::format("deleting FDB entry {} dst {} dev {}", format_mac(e.mac), format_ipv4(e.destination), e.ifindex));
  if (!ok && ok.error().code == ErrorCode::NotFound) return {};
  return ok;
}

}  // namespace switchyard::dataplane::podnet
