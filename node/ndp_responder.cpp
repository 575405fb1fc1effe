#include "node/ndp_responder.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace switchyard::node {

namespace {

using Address = NdpResponder::Address;

struct Link {
  int ifindex;
  std::uint8_t mac[6];
};

Address address_of(const in6_addr& a) {
  Address out;
  std::memcpy(out.data(), a.s6_addr, 16);
  return out;
}

in6_addr in6_of(const Address& a) {
  in6_addr out;
  std::memcpy(out.s6_addr, a.data(), 16);
  return out;
}

std::string text(const Address& a) {
  char buf[INET6_ADDRSTRLEN] = "";
  const in6_addr in = in6_of(a);
  inet_ntop(AF_INET6, &in, buf, sizeof buf);
  return buf;
}

// ff02::1:ffXX:XXXX, the group a solicitation for `a` is sent to (RFC 4291 2.7.1).
Address solicited_node_group(const Address& a) {
  Address g{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, a[13], a[14], a[15]};
  return g;
}

// The Ethernet links with a global (not link-local) IPv6 address whose prefix holds `target`
// (not `target` itself).
std::vector<Link> links_for(const Address& target) {
  std::vector<Link> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  std::set<std::string> on_prefix;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET6 || !a->ifa_netmask || !(a->ifa_flags & IFF_UP)) continue;
    const auto* addr = reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr.s6_addr;
    const auto* mask = reinterpret_cast<sockaddr_in6*>(a->ifa_netmask)->sin6_addr.s6_addr;
    if (addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80) continue;  // fe80::/10
    bool same = std::memcmp(addr, target.data(), 16) != 0;
    for (int i = 0; i < 16 && same; ++i) same = (addr[i] & mask[i]) == (target[i] & mask[i]);
    if (same) on_prefix.insert(a->ifa_name);
  }
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_PACKET || !on_prefix.contains(a->ifa_name)) continue;
    const auto* ll = reinterpret_cast<sockaddr_ll*>(a->ifa_addr);
    if (ll->sll_halen != 6) continue;
    Link link{ll->sll_ifindex, {}};
    std::memcpy(link.mac, ll->sll_addr, 6);
    out.push_back(link);
  }
  freeifaddrs(list);
  return out;
}

}  // namespace

Result<std::unique_ptr<NdpResponder>> NdpResponder::start() {
  const int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  if (fd < 0) return fail(ErrorCode::Internal, fmt::format("NDP responder: socket(ICMPv6): {}", std::strerror(errno)));
  icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  ICMP6_FILTER_SETPASS(ND_NEIGHBOR_SOLICIT, &filter);
  const int on = 1, hops = 255, off = 0;  // RFC 4861: ND messages leave with hop limit 255
  if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) != 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) != 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops) != 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) != 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof off) != 0) {
    const int err = errno;
    close(fd);
    return fail(ErrorCode::Internal, fmt::format("NDP responder: socket options: {}", std::strerror(err)));
  }
  auto responder = std::unique_ptr<NdpResponder>(new NdpResponder(fd));
  responder->thread_ = std::thread([r = responder.get()] { r->run(); });
  return responder;
}

NdpResponder::~NdpResponder() {
  stop();
  close(fd_);
}

void NdpResponder::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

// Joins the groups of the announced addresses on their links as they are now, and leaves the
// groups no announced address needs any more. Called with mu_ held.
void NdpResponder::refresh_groups() {
  std::set<std::pair<Address, int>> wanted;
  for (const auto& a : addresses_)
    for (const auto& link : links_for(a)) wanted.insert({solicited_node_group(a), link.ifindex});
  for (const auto& [group, ifindex] : wanted) {
    if (joined_.contains({group, ifindex})) continue;
    ipv6_mreq m{in6_of(group), static_cast<unsigned>(ifindex)};
    if (setsockopt(fd_, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m) != 0 && errno != EADDRINUSE) {
      spdlog::warn("event=ndp_join_failed group={} ifindex={} error=\"{}\"", text(group), ifindex, std::strerror(errno));
      continue;
    }
    joined_.insert({group, ifindex});
  }
  for (auto it = joined_.begin(); it != joined_.end();) {
    if (wanted.contains(*it)) {
      ++it;
      continue;
    }
    ipv6_mreq m{in6_of(it->first), static_cast<unsigned>(it->second)};
    setsockopt(fd_, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &m, sizeof m);  // the link may be gone, taking the group with it
    it = joined_.erase(it);
  }
}

void NdpResponder::set_addresses(std::set<Address> addresses) {
  std::vector<Address> added;
  {
    std::lock_guard lock(mu_);
    if (addresses == addresses_) return;
    std::set_difference(addresses.begin(), addresses.end(), addresses_.begin(), addresses_.end(), std::back_inserter(added));
    spdlog::info("event=ndp_responder_addresses count={} added={}", addresses.size(), added.size());
    addresses_ = std::move(addresses);
    refresh_groups();
  }
  // Unsolicited advertisements to all nodes (Override set, Solicited not), as MetalLB sends on
  // taking an address: a neighbour's entry holding another MAC is replaced at once.
  in6_addr all_nodes{};
  inet_pton(AF_INET6, "ff02::1", &all_nodes);
  for (const auto& a : added)
    for (const auto& link : links_for(a)) advertise(a, link.mac, link.ifindex, all_nodes, false);
}

bool NdpResponder::advertise(const Address& target, const std::uint8_t* mac, int ifindex, const in6_addr& to, bool solicited) {
  struct {
    nd_neighbor_advert na;
    nd_opt_hdr option;
    std::uint8_t mac[6];
  } __attribute__((packed)) message{};
  message.na.nd_na_type = ND_NEIGHBOR_ADVERT;
  message.na.nd_na_code = 0;
  message.na.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE | (solicited ? ND_NA_FLAG_SOLICITED : 0);
  message.na.nd_na_target = in6_of(target);
  message.option.nd_opt_type = ND_OPT_TARGET_LINKADDR;
  message.option.nd_opt_len = 1;  // in units of 8 bytes: this header and the MAC
  std::memcpy(message.mac, mac, 6);
  sockaddr_in6 dst{};
  dst.sin6_family = AF_INET6;
  dst.sin6_addr = to;
  dst.sin6_scope_id = static_cast<std::uint32_t>(ifindex);
  // The interface goes in IPV6_PKTINFO too: a global destination has no scope to carry it.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  iovec iov{&message, sizeof message};
  msghdr msg{};
  msg.msg_name = &dst;
  msg.msg_namelen = sizeof dst;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
  in6_pktinfo info{};
  info.ipi6_ifindex = static_cast<unsigned>(ifindex);
  std::memcpy(CMSG_DATA(c), &info, sizeof info);
  if (sendmsg(fd_, &msg, 0) < 0) {
    spdlog::warn("event=ndp_advertisement_failed target={} ifindex={} error=\"{}\"", text(target), ifindex, std::strerror(errno));
    return false;
  }
  ++advertisements_;
  return true;
}

void NdpResponder::run() {
  std::uint8_t message[1500];
  auto last_refresh = std::chrono::steady_clock::now();
  while (!stopping_) {
    // Links that came up later join their groups within a few seconds.
    if (std::chrono::steady_clock::now() - last_refresh > std::chrono::seconds(5)) {
      std::lock_guard lock(mu_);
      refresh_groups();
      last_refresh = std::chrono::steady_clock::now();
    }
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    sockaddr_in6 from{};
    alignas(cmsghdr) char control[256];
    iovec iov{message, sizeof message};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(fd_, &msg, 0);
    if (n < 0) continue;
    int ifindex = 0, hop_limit = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != IPPROTO_IPV6) continue;
      if (c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        ifindex = static_cast<int>(info.ipi6_ifindex);
      } else if (c->cmsg_type == IPV6_HOPLIMIT) {
        std::memcpy(&hop_limit, CMSG_DATA(c), sizeof hop_limit);
      }
    }
    answer(message, static_cast<std::size_t>(n), from.sin6_addr, ifindex, hop_limit);
  }
}

void NdpResponder::answer(const std::uint8_t* message, std::size_t length, const in6_addr& from, int ifindex, int hop_limit) {
  // RFC 4861 7.1.1: hop limit 255 (from the link itself), code 0, at least the fixed part.
  if (length < sizeof(nd_neighbor_solicit) || hop_limit != 255 || ifindex == 0) return;
  nd_neighbor_solicit ns;
  std::memcpy(&ns, message, sizeof ns);
  if (ns.nd_ns_type != ND_NEIGHBOR_SOLICIT || ns.nd_ns_code != 0) return;
  const Address target = address_of(ns.nd_ns_target);
  {
    std::lock_guard lock(mu_);
    if (!addresses_.contains(target)) return;
  }
  const auto links = links_for(target);
  const auto link = std::find_if(links.begin(), links.end(), [&](const Link& l) { return l.ifindex == ifindex; });
  if (link == links.end()) return;
  // From the unspecified address (duplicate address detection): the answer goes to all nodes,
  // unsolicited (RFC 4861 7.2.4); otherwise back to the asker.
  if (IN6_IS_ADDR_UNSPECIFIED(&from)) {
    in6_addr all_nodes{};
    inet_pton(AF_INET6, "ff02::1", &all_nodes);
    advertise(target, link->mac, ifindex, all_nodes, false);
  } else {
    advertise(target, link->mac, ifindex, from, true);
  }
}

}  // namespace switchyard::node
