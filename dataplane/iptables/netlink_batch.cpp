#include "dataplane/iptables/netlink_batch.h"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <new>

namespace switchyard::dataplane::nft {
namespace {

std::atomic<std::uint32_t> g_sequence{static_cast<std::uint32_t>(::time(nullptr))};

std::string errno_text(int e) { return std::strerror(e); }

}  // namespace

BatchBuffer::BatchBuffer() { grow_to(NetlinkBatch::kMaxMessageBytes * 4); }

BatchBuffer::~BatchBuffer() {
  if (data_) munmap(data_, size_);
}

void BatchBuffer::grow_to(std::size_t bytes) {
  if (bytes > size_) {
    std::size_t size = size_ ? size_ : 1;
    while (size < bytes) size *= 2;
    void* p = data_ ? mremap(data_, size_, size, MREMAP_MAYMOVE)
                    : mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<char*>(p);
    size_ = size;
  }
  if (bytes > populated_) {
    // Fault in as much again as is in use, in one call rather than page by page as it is
    // written (kernels since 5.14; older ones refuse the advice and fault as before). A small
    // batch (a partial sync) touches no more than it did with a vector.
    const std::size_t end = std::min(size_, std::max(bytes, populated_ * 2));
    madvise(data_ + populated_, end - populated_, MADV_POPULATE_WRITE);
    populated_ = end;
  }
}

NetlinkBatch::NetlinkBatch() {
  first_seq_ = g_sequence.fetch_add(1u << 24);  // room for 16M messages per batch
  auto* nlh = nftnl_batch_begin(buffer_.data(), first_seq_);
  length_ = NLMSG_ALIGN(nlh->nlmsg_len);
}

nlmsghdr* NetlinkBatch::begin(std::uint16_t type, std::uint16_t family, std::uint16_t flags, std::string what) {
  buffer_.grow_to(length_ + kMaxMessageBytes);
  descriptions_.push_back(std::move(what));
  const std::uint32_t seq = first_seq_ + static_cast<std::uint32_t>(descriptions_.size());
  return nftnl_nlmsg_build_hdr(buffer_.data() + length_, type, family, flags, seq);
}

void NetlinkBatch::end(nlmsghdr* message) { length_ += NLMSG_ALIGN(message->nlmsg_len); }

std::span<const char> NetlinkBatch::finish() {
  if (!finished_) {
    buffer_.grow_to(length_ + kMaxMessageBytes);
    const std::uint32_t seq = first_seq_ + static_cast<std::uint32_t>(descriptions_.size()) + 1;
    auto* nlh = nftnl_batch_end(buffer_.data() + length_, seq);
    length_ += NLMSG_ALIGN(nlh->nlmsg_len);
    finished_ = true;
  }
  return {buffer_.data(), length_};
}

const std::string& NetlinkBatch::describe(std::uint32_t seq) const {
  static const std::string kUnknown = "batch framing";
  const std::uint32_t index = seq - first_seq_;
  if (index == 0 || index > descriptions_.size()) return kUnknown;
  return descriptions_[index - 1];
}

void NftSocket::Closer::operator()(mnl_socket* s) const { mnl_socket_close(s); }

Result<NftSocket> NftSocket::open() {
  std::unique_ptr<mnl_socket, Closer> s(mnl_socket_open(NETLINK_NETFILTER));
  if (!s) return std::unexpected(Error{ErrorCode::Internal, "nftables netlink socket: " + errno_text(errno)});
  if (mnl_socket_bind(s.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    return std::unexpected(Error{ErrorCode::Internal, "nftables netlink socket bind: " + errno_text(errno)});
  // Errors for a large batch must all fit, or we could not tell success from overflow.
  int rcvbuf = 64 << 20;
  setsockopt(mnl_socket_get_fd(s.get()), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  return NftSocket(std::move(s));
}

Result<void> NftSocket::commit(NetlinkBatch& batch) {
  const auto bytes = batch.finish();
  const int fd = mnl_socket_get_fd(socket_.get());
  // The whole batch is one netlink message train in one skb: the send buffer must hold it.
  int sndbuf = static_cast<int>(bytes.size()) + 4096;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
  if (mnl_socket_sendto(socket_.get(), bytes.data(), bytes.size()) < 0)
    return std::unexpected(Error{ErrorCode::Internal, fmt::format("nftables commit of {} messages ({} bytes): send: {}", batch.messages(),
                                                                  bytes.size(), errno_text(errno))});
  // The kernel processes the batch inside sendmsg: every error is queued by now. Messages carry
  // no ACK flag, so a clean commit leaves nothing to read.
  std::string failures;
  std::vector<char> reply(MNL_SOCKET_BUFFER_SIZE * 4);
  for (;;) {
    const ssize_t n = recv(fd, reply.data(), reply.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return std::unexpected(Error{ErrorCode::Internal, fmt::format("nftables commit of {} messages: reading the kernel's answer: {}",
                                                                    batch.messages(), errno_text(errno))});
    }
    int left = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(reply.data()); mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error == 0) continue;
      if (!failures.empty()) failures += "; ";
      failures += fmt::format("{}: {}", batch.describe(err->msg.nlmsg_seq), errno_text(-err->error));
    }
  }
  if (!failures.empty())
    return std::unexpected(
        Error{ErrorCode::Internal, fmt::format("nftables commit of {} messages refused, nothing applied: {}", batch.messages(), failures)});
  return {};
}

}  // namespace switchyard::dataplane::nft
