#include "dataplane/node_port_addresses.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <set>

namespace switchyard::dataplane {

using endpoints::IpFamily;

namespace {

IpFamily family_of(const std::string& address) { return address.find(':') == std::string::npos ? IpFamily::IPv4 : IpFamily::IPv6; }

struct Prefix {
  int af = AF_INET;
  std::array<std::uint8_t, 16> bytes{};
  int bits = 0;
};

std::optional<Prefix> parse_prefix(const std::string& text) {
  Prefix p;
  const auto slash = text.find('/');
  const std::string address = text.substr(0, slash);
  p.af = family_of(address) == IpFamily::IPv4 ? AF_INET : AF_INET6;
  if (inet_pton(p.af, address.c_str(), p.bytes.data()) != 1) return std::nullopt;
  const int max = p.af == AF_INET ? 32 : 128;
  p.bits = max;
  if (slash != std::string::npos) {
    const std::string bits = text.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 || !std::ranges::all_of(bits, ::isdigit)) return std::nullopt;
    p.bits = std::stoi(bits);
    if (p.bits > max) return std::nullopt;
  }
  return p;
}

bool is_loopback(const std::string& address) { return cidr_contains("127.0.0.0/8", address) || address == "::1"; }

// The CIDRs of one family that restrict node ports; empty: every address ("primary" expanded).
std::vector<std::string> cidrs_of(const NodePortAddresses& n, IpFamily f) {
  std::vector<std::string> out;
  for (const auto& c : n.cidrs) {
    if (c == "primary") {
      for (const auto& ip : n.primary_ips)
        if (family_of(ip) == f) out.push_back(ip);
    } else if (family_of(c) == f) {
      if (c == "0.0.0.0/0" || c == "::/0") return {};  // zero CIDR: everything
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

bool cidr_contains(const std::string& cidr, const std::string& address) {
  auto net = parse_prefix(cidr);
  auto host = parse_prefix(address);
  if (!net || !host || net->af != host->af) return false;
  const int full = net->bits / 8, rest = net->bits % 8;
  if (!std::equal(net->bytes.begin(), net->bytes.begin() + full, host->bytes.begin())) return false;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (net->bytes[full] & mask) == (host->bytes[full] & mask);
}

Result<void> NodePortAddresses::validate() const {
  for (const auto& c : cidrs) {
    if (c == "primary") {
      if (primary_ips.empty())
        return std::unexpected(Error{ErrorCode::Internal, "nodePortAddresses: 'primary' given but the node's primary IPs are unknown"});
      continue;
    }
    if (c.find('/') == std::string::npos || !parse_prefix(c))
      return std::unexpected(Error{ErrorCode::Internal, "nodePortAddresses: '" + c + "' is not a CIDR"});
  }
  for (const auto& ip : primary_ips)
    if (ip.find('/') != std::string::npos || !parse_prefix(ip))
      return std::unexpected(Error{ErrorCode::Internal, "nodePortAddresses: primary node IP '" + ip + "' is not an address"});
  return {};
}

bool NodePortAddresses::match_all(IpFamily f) const { return cidrs_of(*this, f).empty(); }

std::vector<std::string> NodePortAddresses::select(IpFamily f, const std::vector<std::string>& local_addresses) const {
  const auto cidrs = cidrs_of(*this, f);
  std::vector<std::string> out;
  for (const auto& a : local_addresses) {
    if (family_of(a) != f || is_loopback(a)) continue;
    if (std::ranges::any_of(cidrs, [&](const std::string& c) { return cidr_contains(c, a); })) out.push_back(a);
  }
  return out;
}

struct LocalAddresses::Socket {
  mnl_socket* nl = nullptr;
  std::uint32_t port_id = 0, seq = 0;
  ~Socket() {
    if (nl) mnl_socket_close(nl);
  }
};

LocalAddresses::LocalAddresses(std::unique_ptr<Socket> socket) : socket_(std::move(socket)) {}
LocalAddresses::~LocalAddresses() = default;

Result<std::unique_ptr<LocalAddresses>> LocalAddresses::create() {
  auto s = std::make_unique<Socket>();
  s->nl = mnl_socket_open(NETLINK_ROUTE);
  if (!s->nl || mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0)
    return std::unexpected(Error{ErrorCode::Internal, std::string("rtnetlink socket for the local addresses: ") + std::strerror(errno)});
  s->port_id = mnl_socket_get_portid(s->nl);
  return std::unique_ptr<LocalAddresses>(new LocalAddresses(std::move(s)));
}

Result<std::vector<std::string>> LocalAddresses::list() {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETADDR;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = ++socket_->seq;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_UNSPEC;
  if (mnl_socket_sendto(socket_->nl, nlh, nlh->nlmsg_len) < 0)
    return std::unexpected(Error{ErrorCode::Internal, std::string("rtnetlink address dump: ") + std::strerror(errno)});
  std::set<std::string> addresses;
  auto on_address = [](const nlmsghdr* m, void* data) -> int {
    const auto* a = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(m));
    const void* local = nullptr;
    const void* address = nullptr;
    const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(m));
    for (auto* attr = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(m, sizeof(*a)));
         mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<const char*>(attr))); attr = mnl_attr_next(attr)) {
      if (mnl_attr_get_type(attr) == IFA_LOCAL) local = mnl_attr_get_payload(attr);
      if (mnl_attr_get_type(attr) == IFA_ADDRESS) address = mnl_attr_get_payload(attr);
    }
    // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point links.
    const void* mine = local ? local : address;
    char text[INET6_ADDRSTRLEN];
    if (mine && (a->ifa_family == AF_INET || a->ifa_family == AF_INET6) && inet_ntop(a->ifa_family, mine, text, sizeof text))
      static_cast<std::set<std::string>*>(data)->insert(text);
    return MNL_CB_OK;
  };
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(socket_->nl, buf.data(), buf.size());
    if (n < 0) return std::unexpected(Error{ErrorCode::Internal, std::string("rtnetlink address dump: ") + std::strerror(errno)});
    const int r = mnl_cb_run(buf.data(), static_cast<std::size_t>(n), socket_->seq, socket_->port_id, on_address, &addresses);
    if (r == MNL_CB_STOP) break;
    if (r == MNL_CB_ERROR)
      return std::unexpected(Error{ErrorCode::Internal, std::string("rtnetlink address dump: ") + std::strerror(errno)});
  }
  return std::vector<std::string>(addresses.begin(), addresses.end());
}

}  // namespace switchyard::dataplane
