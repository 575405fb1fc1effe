// L2 announcements of LoadBalancer addresses (as MetalLB's layer-2 mode and Cilium's L2
// announcer): this node answers ARP requests for the status.loadBalancer.ingress IPv4 addresses
// the dataplane has programmed, so that a client on the node's link reaches them without a route
// through the node. A userspace responder on one AF_PACKET socket, not proxy-ARP neighbour
// entries: `ip neigh add proxy` is only answered when the route to the address leaves through
// another interface than the one asking (and with forwarding on), which a pool on the node's own
// subnet never satisfies; and not an address on an interface either, which would make the
// kernel treat the address as the node's own (NodePorts on it, replies from it).
//
// Answers come only on an interface that has an IPv4 address whose subnet holds the asked
// address: the node's link for that pool, never pod veths. IPv4 only: ndp_responder.h answers
// for IPv6 addresses.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "orchestrator/base/error.h"

namespace switchyard::node {

class ArpResponder {
 public:
  // Opens the socket in the calling thread's network namespace (needs CAP_NET_RAW) and starts
  // answering, for no address yet.
  static Result<std::unique_ptr<ArpResponder>> start();
  ~ArpResponder();
  ArpResponder(const ArpResponder&) = delete;
  ArpResponder& operator=(const ArpResponder&) = delete;

  // The addresses to answer for (host byte order); replaces the previous set. Sends a gratuitous
  // ARP for each new one on its links.
  void set_addresses(std::set<std::uint32_t> addresses);
  void stop();
  std::uint64_t replies() const { return replies_; }

 private:
  explicit ArpResponder(int fd) : fd_(fd) {}
  void run();
  void answer(const unsigned char* packet, std::size_t length, int ifindex);

  int fd_;
  std::mutex mu_;
  std::set<std::uint32_t> addresses_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> replies_{0};
  std::thread thread_;
};

}  // namespace switchyard::node
