#include "node/arp_responder.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/if_ether.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace switchyard::node {

namespace {

struct Link {
  int ifindex;
  unsigned char mac[6];
};

// The Ethernet links with an IPv4 address whose subnet holds `target` (not `target` itself).
std::vector<Link> links_for(std::uint32_t target) {
  std::vector<Link> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  std::set<std::string> on_subnet;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || !a->ifa_netmask || !(a->ifa_flags & IFF_UP)) continue;
    const auto addr = ntohl(reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr);
    const auto mask = ntohl(reinterpret_cast<sockaddr_in*>(a->ifa_netmask)->sin_addr.s_addr);
    if ((addr & mask) == (target & mask) && addr != target) on_subnet.insert(a->ifa_name);
  }
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_PACKET || !on_subnet.contains(a->ifa_name)) continue;
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

Result<std::unique_ptr<ArpResponder>> ArpResponder::start() {
  // SOCK_DGRAM: the kernel strips and builds the Ethernet header; every interface of the namespace.
  const int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
  if (fd < 0) return fail(ErrorCode::Internal, fmt::format("ARP responder: socket(AF_PACKET): {}", std::strerror(errno)));
  auto responder = std::unique_ptr<ArpResponder>(new ArpResponder(fd));
  responder->thread_ = std::thread([r = responder.get()] { r->run(); });
  return responder;
}

ArpResponder::~ArpResponder() {
  stop();
  close(fd_);
}

void ArpResponder::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void ArpResponder::set_addresses(std::set<std::uint32_t> addresses) {
  std::vector<std::uint32_t> added;
  {
    std::lock_guard lock(mu_);
    if (addresses == addresses_) return;
    std::set_difference(addresses.begin(), addresses.end(), addresses_.begin(), addresses_.end(), std::back_inserter(added));
    spdlog::info("event=arp_responder_addresses count={} added={}", addresses.size(), added.size());
    addresses_ = std::move(addresses);
  }
  // Gratuitous ARP (a request for itself, to broadcast), as MetalLB sends on taking an address:
  // neighbours holding another MAC for it (an earlier holder) update at once.
  for (const auto ip : added)
    for (const auto& link : links_for(ip)) {
      ether_arp garp{};
      garp.ea_hdr.ar_hrd = htons(ARPHRD_ETHER);
      garp.ea_hdr.ar_pro = htons(ETH_P_IP);
      garp.ea_hdr.ar_hln = 6;
      garp.ea_hdr.ar_pln = 4;
      garp.ea_hdr.ar_op = htons(ARPOP_REQUEST);
      const std::uint32_t be = htonl(ip);
      std::memcpy(garp.arp_sha, link.mac, 6);
      std::memcpy(garp.arp_spa, &be, 4);
      std::memcpy(garp.arp_tpa, &be, 4);
      sockaddr_ll to{};
      to.sll_family = AF_PACKET;
      to.sll_protocol = htons(ETH_P_ARP);
      to.sll_ifindex = link.ifindex;
      to.sll_halen = 6;
      std::memset(to.sll_addr, 0xFF, 6);
      if (sendto(fd_, &garp, sizeof garp, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
        spdlog::warn("event=gratuitous_arp_failed ifindex={} error=\"{}\"", link.ifindex, std::strerror(errno));
    }
}

void ArpResponder::run() {
  unsigned char packet[256];
  while (!stopping_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    sockaddr_ll from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = recvfrom(fd_, packet, sizeof packet, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0 || from.sll_pkttype == PACKET_OUTGOING) continue;
    answer(packet, static_cast<std::size_t>(n), from.sll_ifindex);
  }
}

void ArpResponder::answer(const unsigned char* packet, std::size_t length, int ifindex) {
  if (length < sizeof(ether_arp)) return;
  ether_arp request;
  std::memcpy(&request, packet, sizeof request);
  if (ntohs(request.ea_hdr.ar_hrd) != ARPHRD_ETHER || ntohs(request.ea_hdr.ar_pro) != ETH_P_IP || request.ea_hdr.ar_hln != 6 ||
      request.ea_hdr.ar_pln != 4 || ntohs(request.ea_hdr.ar_op) != ARPOP_REQUEST)
    return;
  std::uint32_t target;
  std::memcpy(&target, request.arp_tpa, 4);
  target = ntohl(target);
  {
    std::lock_guard lock(mu_);
    if (!addresses_.contains(target)) return;
  }
  const auto links = links_for(target);
  const auto link = std::find_if(links.begin(), links.end(), [&](const Link& l) { return l.ifindex == ifindex; });
  if (link == links.end()) return;
  const unsigned char* mac = link->mac;
  ether_arp reply = request;
  reply.ea_hdr.ar_op = htons(ARPOP_REPLY);
  std::memcpy(reply.arp_sha, mac, 6);
  std::memcpy(reply.arp_spa, request.arp_tpa, 4);
  std::memcpy(reply.arp_tha, request.arp_sha, 6);
  std::memcpy(reply.arp_tpa, request.arp_spa, 4);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_ifindex = ifindex;
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, request.arp_sha, 6);
  if (sendto(fd_, &reply, sizeof reply, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
    spdlog::warn("event=arp_reply_failed ifindex={} error=\"{}\"", ifindex, std::strerror(errno));
    return;
  }
  ++replies_;
}

}  // namespace switchyard::node
