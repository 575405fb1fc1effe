// kube-proxy's --nodeport-addresses: the node addresses on which NodePorts (and the health-check
// node ports) answer. A list of CIDRs, or "primary" for the node's primary IPs; per IP family, no
// CIDR of that family (or a zero CIDR) means every local address. Loopback addresses never
// answer node ports (as kube-proxy's nftables mode). Shared by both backends.
#pragma once

#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/backend.h"
#include "endpoints/node/service_port.h"

namespace switchyard::dataplane {

struct NodePortAddresses {
  std::vector<std::string> cidrs;        // "10.0.0.0/8", "fd00::/64", "primary"; empty: every address
  std::vector<std::string> primary_ips;  // the Node's primary IPs (InternalIP), for "primary"

  // Checks the CIDRs (and that "primary" has IPs to stand for): the message names the bad one.
  Result<void> validate() const;
  // True when node ports of `family` answer on every local address (no restriction to apply).
  bool match_all(endpoints::IpFamily family) const;
  // The addresses among `local_addresses` of `family` that node ports answer on, loopback left out.
  // Only meaningful when !match_all(family).
  std::vector<std::string> select(endpoints::IpFamily family, const std::vector<std::string>& local_addresses) const;
};

// Whether `address` is inside `cidr` ("10.0.0.0/8", or a plain address meaning /32 or /128).
bool cidr_contains(const std::string& cidr, const std::string& address);

// The addresses configured on the interfaces of one network namespace, read over a rtnetlink
// socket opened at create() in the calling thread's namespace (so that list() answers for that
// namespace from whichever thread calls it).
class LocalAddresses {
 public:
  static Result<std::unique_ptr<LocalAddresses>> create();
  ~LocalAddresses();
  LocalAddresses(const LocalAddresses&) = delete;
  LocalAddresses& operator=(const LocalAddresses&) = delete;
  // Every IPv4 and IPv6 address (link-local included), as text, sorted and without duplicates.
  Result<std::vector<std::string>> list();

 private:
  struct Socket;
  explicit LocalAddresses(std::unique_ptr<Socket> socket);
  std::unique_ptr<Socket> socket_;
};

}  // namespace switchyard::dataplane
