// The tc programs' ICMP counters (np_icmp_v1: errors about translated flows translated, time
// exceeded sent) in the Prometheus text format, for the agent's /metrics.
#pragma once

#include <string>

#include "dataplane/ebpf/bpf_map_ops.h"

namespace switchyard::dataplane::ebpf {

// Empty when the map is not there (fd -1) or cannot be read.
std::string nodeport_icmp_metrics_text(const BpfMapRef& icmp_counters);

}  // namespace switchyard::dataplane::ebpf
