// One nftables transaction: messages framed by NFNL_MSG_BATCH_BEGIN/END in one buffer, sent in
// one sendmsg so that the kernel applies all of it or none of it. NftSocket owns the netlink
// socket (opened in the caller's network namespace) and reports which message the kernel refused.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/backend.h"

struct nlmsghdr;
struct mnl_socket;

namespace switchyard::dataplane::nft {

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
  std::vector<char>& finish();
  // What the message with this sequence number was about ("" if not ours).
  const std::string& describe(std::uint32_t seq) const;

  static constexpr std::size_t kMaxMessageBytes = 64 * 1024;

 private:
  std::vector<char> buffer_;
  std::size_t length_ = 0;
  std::uint32_t first_seq_ = 0, set_ids_ = 0;
  std::vector<std::string> descriptions_;
  bool finished_ = false;
};

class NftSocket {
 public:
  static std::expected<NftSocket, Error> open();
  // Sends the batch and waits for the kernel's verdict. On error nothing of the batch applies.
  std::expected<void, Error> commit(NetlinkBatch& batch);

 private:
  struct Closer {
    void operator()(mnl_socket* s) const;
  };
  explicit NftSocket(std::unique_ptr<mnl_socket, Closer> s) : socket_(std::move(s)) {}
  std::unique_ptr<mnl_socket, Closer> socket_;
};

}  // namespace switchyard::dataplane::nft
