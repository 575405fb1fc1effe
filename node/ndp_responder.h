// IPv6 L2 announcements of LoadBalancer addresses, the Neighbor Discovery (RFC 4861) twin of
// arp_responder.h (as MetalLB's NDP responder): this node answers Neighbor Solicitations for the
// IPv6 status.loadBalancer.ingress addresses the dataplane has programmed with Neighbor
// Advertisements carrying its link's MAC, so a client on the node's link reaches them without a
// route through the node. Not proxy NDP (`ip -6 neigh add proxy`): as proxy ARP, the kernel
// answers it only for addresses routed out of another interface than the asking one.
//
// One raw ICMPv6 socket with a filter that lets only Neighbor Solicitations through. A
// solicitation for an address is sent to that address's solicited-node multicast group
// (ff02::1:ffXX:XXXX), which a NIC filters out unless someone joined it: the responder joins
// the group of each announced address on each of its links. Answers come only on an interface
// with a (non-link-local) IPv6 address whose prefix holds the asked address, and only for
// solicitations with hop limit 255 (sent on the link, not routed). When an address is first
// announced, an unsolicited advertisement (Override set) goes to all nodes (ff02::1), so
// neighbours holding another MAC for it update at once, as after the gratuitous ARP.
#pragma once

#include <netinet/in.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "orchestrator/base/error.h"

namespace switchyard::node {

class NdpResponder {
 public:
  using Address = std::array<std::uint8_t, 16>;

  // Opens the socket in the calling thread's network namespace (needs CAP_NET_RAW) and starts
  // answering, for no address yet.
  static Result<std::unique_ptr<NdpResponder>> start();
  ~NdpResponder();
  NdpResponder(const NdpResponder&) = delete;
  NdpResponder& operator=(const NdpResponder&) = delete;

  // The addresses to answer for; replaces the previous set. Joins their solicited-node groups
  // and sends an unsolicited advertisement for each new one on its links.
  void set_addresses(std::set<Address> addresses);
  void stop();
  std::uint64_t advertisements() const { return advertisements_; }

 private:
  explicit NdpResponder(int fd) : fd_(fd) {}
  void run();
  void answer(const std::uint8_t* message, std::size_t length, const in6_addr& from, int ifindex, int hop_limit);
  // Sends an advertisement for `target` out of `ifindex` to `to`.
  bool advertise(const Address& target, const std::uint8_t* mac, int ifindex, const in6_addr& to, bool solicited);
  // Joins the solicited-node groups of the addresses on their links, leaves those no longer needed.
  void refresh_groups();

  int fd_;
  std::mutex mu_;
  std::set<Address> addresses_;
  std::set<std::pair<Address, int>> joined_;  // (solicited-node group, ifindex)
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> advertisements_{0};
  std::thread thread_;
};

}  // namespace switchyard::node
