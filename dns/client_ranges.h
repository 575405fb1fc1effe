// The clients whose queries for names outside the cluster are forwarded: a list of CIDRs. Cluster
// names are answered to anyone who can reach the server; recursion only to the cluster's own
// clients, so a DNS server on the node's address is no open resolver (amplification, cache
// snooping).
#pragma once

#include <string>
#include <vector>

#include "dns/autopath.h"
#include "orchestrator/base/error.h"

namespace switchyard::dns {

class ClientRanges {
 public:
  // "10.244.0.0/16", "fd00::/8", "192.168.1.7" (a host). Empty: every client.
  static Result<ClientRanges> parse(const std::vector<std::string>& cidrs);
  bool allows_everyone() const { return ranges_.empty(); }
  // Unknown client (nullptr): allowed only when everyone is.
  bool contains(const IpKey* client) const;

 private:
  struct Range {
    IpKey network{};
    int prefix = 0;  // of the 128-bit (IPv4-mapped for IPv4) address
  };
  std::vector<Range> ranges_;
};

}  // namespace switchyard::dns
