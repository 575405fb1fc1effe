// Reads back from the kernel what the nftables backend programmed, for `switchyard status`: the
// dispatch maps of every switchyard service table (VIP . protocol . port → chain, node port →
// chain) and the DNAT targets of the chains they lead to. Netlink dumps through libnftnl, in the
// calling thread's network namespace; nothing is taken from the agent's memory.
#pragma once

#include <expected>
#include <string>
#include <vector>

#include "dataplane/backend.h"
#include "dataplane/iptables/nft_model.h"

namespace switchyard::dataplane::nft {

struct ProgrammedFrontend {
  std::string address;   // "" for a node port (every local address)
  std::string protocol;  // tcp | udp | sctp
  std::uint16_t port = 0;
  std::string chain;  // where the map sends it: service-…, external-…
  std::string table;
  std::string service;                // "namespace/name/protocol/port-name", from the chain name
  std::vector<std::string> backends;  // "IP:PORT" from the DNAT rules of the service's chain
  bool no_endpoints = false;          // in a no-endpoint map: rejected (or dropped); the map does not name the service
};

// Every frontend in our tables of `family`, sorted by service then address; empty when nothing
// is programmed.
Result<std::vector<ProgrammedFrontend>> read_programmed_frontends(IpFamily family);

}  // namespace switchyard::dataplane::nft
