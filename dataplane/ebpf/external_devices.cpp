#include "dataplane/ebpf/external_devices.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <future>
#include <map>

namespace switchyard::dataplane::ebpf {
namespace {

// Device names other networking software gives its own devices (Cilium's list and more).
constexpr std::array kExcludedPrefixes{"cilium_", "lxc", "cni", "docker", "flannel", "vxlan.calico", "cali", "tunl", "kube-ipvs"};

Error netlink_error(const std::string& what, int err) {
  return Error{ErrorCode::Internal, "rtnetlink " + what + ": " + std::strerror(err)};
}

bool global_unicast(int family, const unsigned char* a) {
  if (family == AF_INET) {
    if (a[0] == 0 || a[0] == 127 || (a[0] == 169 && a[1] == 254) || a[0] >= 224) return false;
    return true;
  }
  static const unsigned char zero[16] = {};
  if (std::memcmp(a, zero, 16) == 0) return false;                            // :: (and ::1 below)
  if (std::memcmp(a, zero, 15) == 0 && a[15] == 1) return false;              // ::1
  if (a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)) return false;  // multicast, fe80::/10
  return true;
}

// Runs one NLM_F_DUMP request and hands every answer to `each`.
template <class Each>
Result<void> dump(mnl_socket* nl, std::uint32_t& seq, std::uint16_t type, std::size_t header_size, const char* what, Each each) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = ++seq;
  auto* family = static_cast<unsigned char*>(mnl_nlmsg_put_extra_header(nlh, header_size));
  *family = AF_UNSPEC;  // the first byte of ifinfomsg, ifaddrmsg and rtmsg alike
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) return std::unexpected(netlink_error(what, errno));
  auto callback = [](const nlmsghdr* m, void* data) -> int {
    (*static_cast<Each*>(data))(m);
    return MNL_CB_OK;
  };
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
    if (n < 0) return std::unexpected(netlink_error(what, errno));
    const int r = mnl_cb_run(buf.data(), static_cast<std::size_t>(n), seq, mnl_socket_get_portid(nl), callback, &each);
    if (r == MNL_CB_STOP) return {};
    if (r == MNL_CB_ERROR) return std::unexpected(netlink_error(what, errno));
  }
}

template <class Each>
void for_each_attr(const nlmsghdr* m, std::size_t header_size, Each each) {
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(m));
  for (auto* attr = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(m, header_size));
       mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<const char*>(attr))); attr = mnl_attr_next(attr))
    each(attr);
}

}  // namespace

std::string why_not_external(const LinkFacts& l) {
  if (!(l.flags & IFF_UP)) return "down";
  if (l.flags & IFF_LOOPBACK) return "loopback";
  if (l.flags & IFF_SLAVE) return "bonding slave";
  if (l.master != 0) return "has a master (bridge or bond port) ifindex " + std::to_string(l.master);
  if (l.kind == "bridge" || l.kind == "openvswitch") return "bridge-like device";
  for (const char* p : kExcludedPrefixes)
    if (l.name.starts_with(p)) return std::string("name prefix ") + p + " (another network plugin's device)";
  if (!l.has_address) return "no address";
  if (l.kind == "veth" && !l.has_default_route) return "veth without the default route (a pod's or another plugin's)";
  if (!l.has_global_route && !l.has_default_route) return "no route to a global unicast destination";
  return "";
}

std::vector<std::string> select_external(const std::vector<LinkFacts>& links) {
  std::vector<std::string> out;
  for (const auto& l : links)
    if (why_not_external(l).empty()) out.push_back(l.name);
  std::ranges::sort(out);
  return out;
}

Result<std::vector<LinkFacts>> read_link_facts() {
  mnl_socket* nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    const int err = errno;
    if (nl) mnl_socket_close(nl);
    return std::unexpected(netlink_error("socket", err));
  }
  std::map<int, LinkFacts> links;
  std::uint32_t seq = 0;
  auto ok = dump(nl, seq, RTM_GETLINK, sizeof(ifinfomsg), "link dump", [&](const nlmsghdr* m) {
    const auto* i = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(m));
    LinkFacts& l = links[i->ifi_index];
    l.ifindex = i->ifi_index;
    l.flags = i->ifi_flags;
    for_each_attr(m, sizeof(*i), [&](const nlattr* a) {
      switch (mnl_attr_get_type(a)) {
        case IFLA_IFNAME:
          l.name = mnl_attr_get_str(a);
          break;
        case IFLA_MASTER:
          l.master = static_cast<int>(mnl_attr_get_u32(a));
          break;
        case IFLA_LINKINFO: {
          const auto* end = static_cast<const char*>(mnl_attr_get_payload(a)) + mnl_attr_get_payload_len(a);
          for (auto* info = static_cast<const nlattr*>(mnl_attr_get_payload(a));
               mnl_attr_ok(info, static_cast<int>(end - reinterpret_cast<const char*>(info))); info = mnl_attr_next(info))
            if (mnl_attr_get_type(info) == IFLA_INFO_KIND) l.kind = mnl_attr_get_str(info);
          break;
        }
        default:
          break;
      }
    });
  });
  if (ok)
    ok = dump(nl, seq, RTM_GETADDR, sizeof(ifaddrmsg), "address dump", [&](const nlmsghdr* m) {
      const auto* a = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(m));
      // IPv6 link-local addresses come with every link: they make no node address.
      if (a->ifa_scope == RT_SCOPE_LINK || a->ifa_scope == RT_SCOPE_HOST) return;
      if (auto it = links.find(static_cast<int>(a->ifa_index)); it != links.end()) it->second.has_address = true;
    });
  if (ok)
    ok = dump(nl, seq, RTM_GETROUTE, sizeof(rtmsg), "route dump", [&](const nlmsghdr* m) {
      const auto* r = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(m));
      if (r->rtm_type != RTN_UNICAST || (r->rtm_family != AF_INET && r->rtm_family != AF_INET6)) return;
      std::uint32_t table = r->rtm_table;
      const unsigned char* dst = nullptr;
      std::vector<int> oifs;
      for_each_attr(m, sizeof(*r), [&](const nlattr* a) {
        switch (mnl_attr_get_type(a)) {
          case RTA_TABLE:
            table = mnl_attr_get_u32(a);
            break;
          case RTA_DST:
            dst = static_cast<const unsigned char*>(mnl_attr_get_payload(a));
            break;
          case RTA_OIF:
            oifs.push_back(static_cast<int>(mnl_attr_get_u32(a)));
            break;
          case RTA_MULTIPATH: {
            const auto* p = static_cast<const char*>(mnl_attr_get_payload(a));
            int left = static_cast<int>(mnl_attr_get_payload_len(a));
            for (auto* nh = reinterpret_cast<const rtnexthop*>(p); RTNH_OK(nh, left); left -= RTNH_ALIGN(nh->rtnh_len), nh = RTNH_NEXT(nh))
              oifs.push_back(nh->rtnh_ifindex);
            break;
          }
          default:
            break;
        }
      });
      if (table != RT_TABLE_MAIN) return;
      const bool is_default = r->rtm_dst_len == 0;
      const bool is_global = dst && global_unicast(r->rtm_family, dst);
      for (int oif : oifs)
        if (auto it = links.find(oif); it != links.end()) {
          it->second.has_default_route |= is_default;
          it->second.has_global_route |= is_global;
        }
    });
  mnl_socket_close(nl);
  if (!ok) return std::unexpected(ok.error());
  std::vector<LinkFacts> out;
  for (auto& [_, l] : links) out.push_back(std::move(l));
  return out;
}

Result<std::unique_ptr<ExternalDeviceWatcher>> ExternalDeviceWatcher::start(int netns_fd, Callback changed) {
  std::unique_ptr<ExternalDeviceWatcher> w(new ExternalDeviceWatcher(-1, std::move(changed)));
  std::promise<Result<void>> started;
  auto ready = started.get_future();
  // Sockets, dumps and the callback's tc attaches all work in the namespace of the thread.
  w->thread_ = std::thread([&started, netns_fd, self = w.get()] {
    if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) != 0) {
      started.set_value(std::unexpected(Error{ErrorCode::Internal, std::string("setns for the device watcher: ") + std::strerror(errno)}));
      return;
    }
    self->socket_fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
    if (self->socket_fd_ < 0 || ::bind(self->socket_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      started.set_value(std::unexpected(netlink_error("socket for link, address and route changes", errno)));
      return;
    }
    self->rescan();
    started.set_value({});
    self->run();
  });
  if (auto ok = ready.get(); !ok) {
    w->thread_.join();
    return std::unexpected(ok.error());
  }
  return w;
}

ExternalDeviceWatcher::~ExternalDeviceWatcher() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (socket_fd_ >= 0) ::close(socket_fd_);
}

void ExternalDeviceWatcher::run() {
  std::vector<char> buf(16384);
  while (!stop_) {
    pollfd p{.fd = socket_fd_, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    // A burst (a link with its addresses and routes) becomes one rescan: drain, settle, drain.
    for (int round = 0; round < 2; ++round) {
      while (::recv(socket_fd_, buf.data(), buf.size(), 0) > 0 || errno == ENOBUFS) {
      }
      if (round == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    rescan();
  }
}

void ExternalDeviceWatcher::rescan() {
  auto facts = read_link_facts();
  if (!facts) {
    spdlog::warn("event=external_devices_scan_failed error=\"{}\"", facts.error().message);
    return;
  }
  auto selected = select_external(*facts);
  if (selected == last_) return;
  for (const auto& l : *facts)
    if (auto why = why_not_external(l); !why.empty() && !(l.flags & IFF_LOOPBACK))
      spdlog::debug("event=external_device_skipped device={} reason=\"{}\"", l.name, why);
  last_ = selected;
  changed_(selected);
}

}  // namespace switchyard::dataplane::ebpf
