// Which interfaces get the tc programs when --external-interfaces is not given: as Cilium's
// device detection, the node's own links that carry its addresses and its default route.
// Selected: up, with an address, and a route to a global unicast destination through it.
// Left out (the reason is returned for the log): loopback, bonding slaves (IFF_SLAVE) and
// anything with a master (bridge ports: the pod veths of a CNI bridge), bridges and Open
// vSwitch ports, names Cilium, Docker and CNI plugins give their own devices (cilium_, lxc,
// cni, docker, flannel, vxlan.calico, cali, tunl), and veth pairs without a default route
// (pod and test veths: a veth is external only when it carries the default route, as on
// kind nodes). Routed pod veths that only hold a link-local gateway address are veths
// without a default route, so they are left out too.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/backend.h"

namespace switchyard::dataplane::ebpf {

struct LinkFacts {
  int ifindex = 0;
  std::string name;
  unsigned flags = 0;  // IFF_*
  std::string kind;    // IFLA_INFO_KIND: "veth", "bridge", "" for a physical NIC
  int master = 0;      // IFLA_MASTER
  bool has_address = false;
  bool has_default_route = false;  // main table, through this link
  bool has_global_route = false;   // to a global unicast destination, through this link
};

// "" when `link` is selected, else why not (pure; table-tested).
std::string why_not_external(const LinkFacts& link);
// The names of the selected links, sorted.
std::vector<std::string> select_external(const std::vector<LinkFacts>& links);

// Links, addresses and main-table routes of the calling thread's network namespace (rtnetlink dumps).
Result<std::vector<LinkFacts>> read_link_facts();

// Follows link, address and route changes (rtnetlink multicast groups) of the network namespace
// `netns_fd` names and calls `changed` with the new selection whenever it differs from the
// last one, on a thread of its own; the first call is made by start() itself.
class ExternalDeviceWatcher {
 public:
  using Callback = std::function<void(const std::vector<std::string>& selected)>;
  static Result<std::unique_ptr<ExternalDeviceWatcher>> start(int netns_fd, Callback changed);
  ~ExternalDeviceWatcher();  // stops the thread
  ExternalDeviceWatcher(const ExternalDeviceWatcher&) = delete;
  ExternalDeviceWatcher& operator=(const ExternalDeviceWatcher&) = delete;

 private:
  ExternalDeviceWatcher(int socket_fd, Callback changed) : socket_fd_(socket_fd), changed_(std::move(changed)) {}
  void run();
  void rescan();

  int socket_fd_ = -1;
  Callback changed_;
  std::vector<std::string> last_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace switchyard::dataplane::ebpf
