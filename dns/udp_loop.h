// The UDP side of one worker: when its socket is readable, take up to a batch of queries with one
// recvmmsg, answer them, and send the answers with one sendmmsg. Two system calls per batch
// instead of two per query: on this machine (a VM) the syscalls were most of the cost.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <vector>

#include <utility>  // Boost 1.74 asio/awaitable.hpp uses std::exchange without it

#include <boost/asio/ip/udp.hpp>

namespace switchyard::dns {

class DnsServer;

class UdpBatchLoop {
 public:
  static constexpr int kBatch = 32;
  UdpBatchLoop(DnsServer& server, void* worker, boost::asio::ip::udp::socket& socket);
  void start();

 private:
  struct Slot {
    std::array<std::uint8_t, 4096> in;
    std::array<std::uint8_t, 4096> out;
    sockaddr_storage peer;
  };
  void drain();

  DnsServer& server_;
  void* worker_;  // DnsServer::Worker
  boost::asio::ip::udp::socket& socket_;
  std::vector<Slot> slots_;
  std::array<mmsghdr, kBatch> in_msgs_{}, out_msgs_{};
  std::array<iovec, kBatch> in_iov_{}, out_iov_{};
};

}  // namespace switchyard::dns
