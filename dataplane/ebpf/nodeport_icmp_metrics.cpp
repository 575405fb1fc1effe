#include "dataplane/ebpf/nodeport_icmp_metrics.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include <cstdint>
#include <vector>

#include "dataplane/ebpf/bpf/lb_types.h"

namespace switchyard::dataplane::ebpf {

std::string nodeport_icmp_metrics_text(const BpfMapRef& icmp_counters) {
  const int cpus = libbpf_num_possible_cpus();
  if (icmp_counters.fd < 0 || cpus <= 0) return "";
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(cpus));
  auto total = [&](std::uint32_t index, std::uint64_t& sum) {
    if (bpf_map_lookup_elem(icmp_counters.fd, &index, per_cpu.data()) != 0) return false;
    sum = 0;
    for (auto v : per_cpu) sum += v;
    return true;
  };
  std::uint64_t frag = 0, other = 0, time_exceeded = 0;
  if (!total(NP_ICMP_FRAG_NEEDED, frag) || !total(NP_ICMP_OTHER_ERROR, other) || !total(NP_ICMP_TIME_EXCEEDED, time_exceeded)) return "";
  return fmt::format(
      "# HELP switchyard_ebpf_icmp_errors_translated_total ICMP errors about NodePort flows translated back (kind: frag_needed "
      "includes ICMPv6 packet too big).\n"
      "# TYPE switchyard_ebpf_icmp_errors_translated_total counter\n"
      "switchyard_ebpf_icmp_errors_translated_total{{kind=\"frag_needed\"}} {}\n"
      "switchyard_ebpf_icmp_errors_translated_total{{kind=\"other\"}} {}\n"
      "# HELP switchyard_ebpf_icmp_time_exceeded_sent_total ICMP time exceeded sent for redirected packets whose TTL ran out.\n"
      "# TYPE switchyard_ebpf_icmp_time_exceeded_sent_total counter\n"
      "switchyard_ebpf_icmp_time_exceeded_sent_total {}\n",
      frag, other, time_exceeded);
}

}  // namespace switchyard::dataplane::ebpf
