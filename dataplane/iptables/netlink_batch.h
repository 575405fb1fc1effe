// One nftables transaction: messages framed by NFNL_MSG_BATCH_BEGIN/END in one buffer, sent in
// one sendmsg so that the kernel applies all of it or none of it. NftSocket owns the netlink
// socket (opened in the caller's network namespace) and reports which message the kernel refused.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dataplane/backend.h"

struct nlmsghdr;
struct mnl_socket;

namespace switchyard::dataplane::nft {

// The bytes of one batch (tens of MB for a full sync at 10,000 services). Grown with mremap, which
// moves page tables instead of copying, and prefaulted in bulk: a std::vector's doublings spent a
// fifth of a full sync zero-filling, copying and page-faulting fresh memory one page at a time.
class BatchBuffer {
 public:
  BatchBuffer();
  ~BatchBuffer();
  BatchBuffer(const BatchBuffer&) = delete;
  BatchBuffer& operator=(const BatchBuffer&) = delete;
  char* data() { return data_; }
  std::size_t size() const { return size_; }
  // Makes at least `bytes` usable. Throws std::bad_alloc when the address space is exhausted.
  void grow_to(std::size_t bytes);

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0, populated_ = 0;
};

class NetlinkBatch {
 public:
  NetlinkBatch();
  // Starts a message in the buffer; `what` names the object for error messages. Room for at
  // least kMaxMessageBytes is guaranteed until the next begin().
  nlmsghdr* begin(std::uint16_t type, std::uint16_t family, std::uint16_t flags, std::string what);
  void end(nlmsghdr* message);
  std::uint32_t next_set_id() { return ++set_ids_; }
  std::size_t messages() const { return descriptions_.size(); }
  bool empty() const { return descriptions_.empty(); }
  // Closes the batch; returns the bytes to send.
  std::span<const char> finish();
  // What the message with this sequence number was about ("" if not ours).
  const std::string& describe(std::uint32_t seq) const;

  static constexpr std::size_t kMaxMessageBytes = 64 * 1024;

 private:
  BatchBuffer buffer_;
  std::size_t length_ = 0;
  std::uint32_t first_seq_ = 0, set_ids_ = 0;
  std::vector<std::string> descriptions_;
  bool finished_ = false;
};

class NftSocket {
 public:
  static Result<NftSocket> open();
  // Sends the batch and waits for the kernel's verdict. On error nothing of the batch applies.
  Result<void> commit(NetlinkBatch& batch);

 private:
  struct Closer {
    void operator()(mnl_socket* s) const;
  };
  explicit NftSocket(std::unique_ptr<mnl_socket, Closer> s) : socket_(std::move(s)) {}
  std::unique_ptr<mnl_socket, Closer> socket_;
};

}  // namespace switchyard::dataplane::nft
