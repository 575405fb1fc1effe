// The node's own addresses for the socket hooks (lb_node_addrs_v1): a connect() to one of them on
// a NodePort is translated like one to a service VIP. Read from the network namespace the backend
// was created in (every interface but loopback; IPv6 link-local left out), written as a set.
#pragma once

#include <vector>

#include "dataplane/backend.h"
#include "dataplane/ebpf/bpf/lb_types.h"
#include "dataplane/ebpf/bpf_map_ops.h"

namespace switchyard::dataplane::ebpf {

// The addresses of the network namespace `netns_fd` names (-1: the calling thread's), sorted.
Result<std::vector<lb_node_addr_key>> read_node_addresses(int netns_fd);
// Makes `map` hold exactly `addresses` (sorted, as read_node_addresses returns them).
Result<void> write_node_addresses(const BpfMapRef& map, const std::vector<lb_node_addr_key>& addresses);

}  // namespace switchyard::dataplane::ebpf
