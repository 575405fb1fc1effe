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

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace switchyard::node {

namespace {

// The interface's MAC, if it has an IPv4 address whose subnet holds `target`.
bool link_serves(int ifindex, std::uint32_t target, unsigned char mac[6]) {
  char name[IF_NAMESIZE] = {};
  if (!if_indextoname(static_cast<unsigned>(ifindex), name)) return false;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return false;
  bool on_subnet = false, have_mac = false;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || std::strcmp(a->ifa_name, name) != 0) continue;
    if (a->ifa_addr->sa_family == AF_INET && a->ifa_netmask) {
      const auto addr = ntohl(reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr);
      const auto mask = ntohl(reinterpret_cast<sockaddr_in*>(a->ifa_netmask)->sin_addr.s_addr);
      if ((addr & mask) == (target & mask) && addr != target) on_subnet = true;
    } else if (a->ifa_addr->sa_family == AF_PACKET) {
      const auto* ll = reinterpret_cast<sockaddr_ll*>(a->ifa_addr);
      if (ll->sll_halen == 6) {
        std::memcpy(mac, ll->sll_addr, 6);
        have_mac = true;
      }
    }
  }
  freeifaddrs(list);
  return on_subnet && have_mac;
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
  std::lock_guard lock(mu_);
  if (addresses != addresses_) spdlog::info("event=arp_responder_addresses count={}", addresses.size());
  addresses_ = std::move(addresses);
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
  unsigned char mac[6];
  if (!link_serves(ifindex, target, mac)) return;
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
