#include "dns/server_metrics.h"

#include <fmt/format.h>

#include "dns/forwarding.h"
#include "dns/server.h"

namespace switchyard::dns {

namespace {
constexpr std::array<const char*, 16> kRcodeNames = {"NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
                                                     "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE", "RCODE11",
                                                     "RCODE12",  "RCODE13", "RCODE14",  "RCODE15"};
}

void QueryMetrics::record(std::uint16_t type, int rcode, std::chrono::nanoseconds took) {
  std::size_t t = 0;
  while (t < kTypes.size() && kTypes[t] != type) ++t;
  bump(by_type[t]);
  bump(by_rcode[static_cast<std::size_t>(rcode & 0xF)]);
  const double seconds = std::chrono::duration<double>(took).count();
  std::size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  bump(latency[b]);
  bump(latency_sum_ns, static_cast<std::uint64_t>(took.count()));
}

void QueryMetrics::count_response(int rcode, bool truncated_response) {
  switch (rcode) {
    case 2:
      bump(servfail);
      break;
    case 3:
      bump(nxdomain);
      break;
    case 5:
      bump(refused);
      break;
    default:
      break;
  }
  if (truncated_response) bump(truncated);
}

std::string render_metrics(std::span<const QueryMetrics* const> workers, const ForwardCounters* f, bool loop_detected,
                           std::size_t cache_entries) {
  auto sum = [&](auto member) {
    std::uint64_t n = 0;
    for (const auto* w : workers) n += member(*w).load(std::memory_order_relaxed);
    return n;
  };
  std::string out;
  auto counter = [&](std::string_view name, std::string_view help, std::uint64_t v) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, v);
  };
  out += "# HELP switchyard_dns_requests_total Queries answered, by query type.\n# TYPE switchyard_dns_requests_total counter\n";
  for (std::size_t t = 0; t < QueryMetrics::kTypeNames.size(); ++t)
    out += fmt::format("switchyard_dns_requests_total{{type=\"{}\"}} {}\n", QueryMetrics::kTypeNames[t],
                       sum([t](const QueryMetrics& m) -> auto& { return m.by_type[t]; }));
  out += "# HELP switchyard_dns_responses_total Responses sent, by rcode.\n# TYPE switchyard_dns_responses_total counter\n";
  for (std::size_t r = 0; r < 16; ++r) {
    const auto n = sum([r](const QueryMetrics& m) -> auto& { return m.by_rcode[r]; });
    if (n || r <= 5) out += fmt::format("switchyard_dns_responses_total{{rcode=\"{}\"}} {}\n", kRcodeNames[r], n);
  }
  out +=
      "# HELP switchyard_dns_request_duration_seconds Time from a query's arrival to its answer.\n"
      "# TYPE switchyard_dns_request_duration_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b <= QueryMetrics::kBuckets.size(); ++b) {
    cumulative += sum([b](const QueryMetrics& m) -> auto& { return m.latency[b]; });
    out += b < QueryMetrics::kBuckets.size()
               ? fmt::format("switchyard_dns_request_duration_seconds_bucket{{le=\"{}\"}} {}\n", QueryMetrics::kBuckets[b], cumulative)
               : fmt::format("switchyard_dns_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
  }
  out += fmt::format("switchyard_dns_request_duration_seconds_sum {}\nswitchyard_dns_request_duration_seconds_count {}\n",
                     static_cast<double>(sum([](const QueryMetrics& m) -> auto& { return m.latency_sum_ns; })) / 1e9, cumulative);
  counter("switchyard_dns_queries_total", "Queries received, parseable or not.",
          sum([](const QueryMetrics& m) -> auto& { return m.queries; }));
  counter("switchyard_dns_tcp_queries_total", "Queries received over TCP.",
          sum([](const QueryMetrics& m) -> auto& { return m.tcp_queries; }));
  counter("switchyard_dns_dropped_total", "Queries too broken to answer.", sum([](const QueryMetrics& m) -> auto& { return m.dropped; }));
  counter("switchyard_dns_truncated_total", "Responses sent truncated (TC).",
          sum([](const QueryMetrics& m) -> auto& { return m.truncated; }));
  counter("switchyard_dns_autopath_total", "Answers found by server-side search-path expansion.",
          sum([](const QueryMetrics& m) -> auto& { return m.autopath_answers; }));
  if (f) {
    counter("switchyard_dns_cache_hits_total", "Forwarded names answered from the cache.", f->cache_hits.load());
    counter("switchyard_dns_cache_misses_total", "Forwarded names not in the cache.", f->cache_misses.load());
    out += fmt::format(
        "# HELP switchyard_dns_cache_entries Entries in the forward cache.\n# TYPE switchyard_dns_cache_entries gauge\n"
        "switchyard_dns_cache_entries {}\n",
        cache_entries);
    counter("switchyard_dns_forward_requests_total", "Queries sent to upstream servers.", f->sent.load());
    counter("switchyard_dns_forward_responses_total", "Upstream answers received.", f->answered.load());
    counter("switchyard_dns_forward_failures_total", "Upstream queries that failed (timeout, refused, malformed): SERVFAIL.",
            f->failed.load());
    counter("switchyard_dns_forward_rejected_total", "Queries refused because too many were in flight.", f->rejected_in_flight.load());
    counter("switchyard_dns_forward_loop_refused_total", "Queries not forwarded because a forwarding loop was detected.",
            f->refused_after_loop.load());
    counter("switchyard_dns_forward_client_refused_total", "Queries for outside names refused: the client is not in the forwarding ranges.",
            f->refused_client.load());
    out += fmt::format(
        "# HELP switchyard_dns_forward_in_flight Queries waiting for an upstream answer.\n"
        "# TYPE switchyard_dns_forward_in_flight gauge\nswitchyard_dns_forward_in_flight {}\n"
        "# HELP switchyard_dns_forward_loop_detected 1 when our loop probe came back to us.\n"
        "# TYPE switchyard_dns_forward_loop_detected gauge\nswitchyard_dns_forward_loop_detected {}\n",
        f->in_flight.load(), loop_detected ? 1 : 0);
  }
  return out;
}

}  // namespace switchyard::dns
