#include "dns/udp_loop.h"

#include <netinet/in.h>

#include <cstring>

#include <boost/asio/post.hpp>

#include "dns/server.h"

namespace switchyard::dns {

namespace asio = boost::asio;
using asio::ip::udp;

namespace {

IpKey key_of(const sockaddr_storage& s) {
  if (s.ss_family == AF_INET) {
    std::array<std::uint8_t, 4> v4;
    std::memcpy(v4.data(), &reinterpret_cast<const sockaddr_in&>(s).sin_addr, 4);
    return ip_key_v4(v4);
  }
  IpKey k;
  std::memcpy(k.data(), &reinterpret_cast<const sockaddr_in6&>(s).sin6_addr, 16);
  return k;  // a v4-mapped address is already in IpKey's form
}

}  // namespace

UdpBatchLoop::UdpBatchLoop(DnsServer& server, void* worker, udp::socket& socket)
    : server_(server), worker_(worker), socket_(socket), slots_(kBatch) {
  for (int i = 0; i < kBatch; ++i) {
    in_iov_[i] = {slots_[i].in.data(), slots_[i].in.size()};
    out_iov_[i] = {slots_[i].out.data(), 0};
  }
}

void UdpBatchLoop::start() {
  socket_.async_wait(udp::socket::wait_read, [this](boost::system::error_code ec) {
    if (ec == asio::error::operation_aborted) return;
    drain();
  });
}

void UdpBatchLoop::drain() {
  auto* worker = static_cast<DnsServer::Worker*>(worker_);
  const int fd = socket_.native_handle();
  for (int round = 0; round < 8; ++round) {  // then let TCP, timers and upstream answers run
    for (int i = 0; i < kBatch; ++i) {
      auto& h = in_msgs_[i].msg_hdr;
      h = {};
      h.msg_name = &slots_[i].peer;
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_iov = &in_iov_[i];
      h.msg_iovlen = 1;
    }
    const int n = recvmmsg(fd, in_msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return start();  // drained (EAGAIN) or an error for one datagram: wait again
    const auto received = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) server_.prefetch(std::span(slots_[i].in.data(), in_msgs_[i].msg_len), worker);
    int replies = 0;
    for (int i = 0; i < n; ++i) {
      Slot& slot = slots_[i];
      const IpKey client = key_of(slot.peer);
      std::unique_ptr<DnsServer::ForwardJob> job;
      const std::size_t len =
          server_.answer(std::span(slot.in.data(), in_msgs_[i].msg_len), slot.out, slot.out.size(), false, &client, worker, job, received);
      if (len) {
        out_iov_[replies] = {slot.out.data(), len};
        auto& h = out_msgs_[replies].msg_hdr;
        h = {};
        h.msg_name = &slot.peer;
        h.msg_namelen = in_msgs_[i].msg_hdr.msg_namelen;
        h.msg_iov = &out_iov_[replies];
        h.msg_iovlen = 1;
        ++replies;
      } else if (job) {
        udp::endpoint peer;
        std::memcpy(peer.data(), &slot.peer, in_msgs_[i].msg_hdr.msg_namelen);
        server_.forward(*worker, std::move(job), [this, peer](std::span<const std::uint8_t> response) {
          boost::system::error_code ec;
          socket_.send_to(asio::buffer(response.data(), response.size()), peer, 0, ec);
        });
      }
    }
    for (int sent = 0; sent < replies;) {  // a full send buffer drops the rest, as UDP would
      const int k = sendmmsg(fd, out_msgs_.data() + sent, static_cast<unsigned>(replies - sent), MSG_DONTWAIT);
      if (k <= 0) break;
      sent += k;
    }
    if (n < kBatch) return start();
  }
  asio::post(socket_.get_executor(), [this] { drain(); });  // more waiting: continue after the others
}

}  // namespace switchyard::dns
