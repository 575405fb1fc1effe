// Reads back from the pinned BPF maps what the eBPF backend programmed, for `switchyard status`
// (as `cilium service list` does): every frontend of the socket load balancer and of the tc
// programs, with the backends its slots name. Nothing is taken from the agent's memory; the
// maps hold service ids, not names.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include "dataplane/backend.h"

namespace switchyard::dataplane::ebpf {

struct ProgrammedFrontend {
  std::string address;   // "" for a node port (every address of the node)
  std::string protocol;  // tcp | udp | sctp
  std::uint16_t port = 0;
  bool external = false;  // a tc frontend (traffic from outside the node), else a socket-LB one
  bool local = false;     // externalTrafficPolicy Local
  std::uint32_t service_id = 0;
  std::vector<std::string> backends;  // "IP:PORT" in slot order; empty: rejected (socket) or dropped (tc)
};

// Every frontend pinned under `pin_dir` (<bpf root>/<node>), sorted by service id then address;
// empty when nothing is pinned there.
Result<std::vector<ProgrammedFrontend>> read_programmed_frontends(const std::string& pin_dir);

}  // namespace switchyard::dataplane::ebpf
