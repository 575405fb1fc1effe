#include "dns/forwarding.h"

#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "dns/upstream_client.h"

namespace switchyard::dns {

Forwarding::Forwarding(ForwardOptions options) : options_(std::move(options)), cache_(options_.cache) {}

Result<std::unique_ptr<Forwarding>> Forwarding::create(ForwardOptions options) {
  std::vector<std::string> upstreams;
  for (const auto& u : options.upstreams) {
    auto parsed = parse_upstream(u);
    if (!parsed) return std::unexpected(parsed.error());
    upstreams.push_back(*parsed);
  }
  if (upstreams.empty() && !options.resolv_conf.empty()) {
    auto from_file = read_resolv_conf_nameservers(options.resolv_conf);
    if (!from_file) return std::unexpected(from_file.error());
    if (from_file->empty()) return fail(ErrorCode::Invalid, fmt::format("{}: no nameserver to forward to", options.resolv_conf));
    upstreams = std::move(*from_file);
  }
  if (upstreams.empty()) return std::unique_ptr<Forwarding>();
  auto clients = ClientRanges::parse(options.clients);
  if (!clients) return fail(clients.error());
  std::unique_ptr<Forwarding> f(new Forwarding(std::move(options)));
  f->upstreams_ = std::move(upstreams);
  f->clients_ = std::move(*clients);
  if (f->options_.detect_loops) {
    std::random_device rd;
    std::mt19937_64 rng((static_cast<std::uint64_t>(rd()) << 32) | rd());
    f->probe_name_ = fmt::format("{}.{}.", rng(), rng());  // as CoreDNS: two random numbers, in the root
  }
  return f;
}

void Forwarding::note_probe_returned() {
  if (!loop_detected_.exchange(true))
    spdlog::error(
        "event=dns_forwarding_loop probe={} upstreams={} action=forwarding_stopped "
        "reason=\"our own probe query came back from upstream: the upstream forwards to this server\"",
        probe_name_, fmt::join(upstreams_, ","));
}

bool Forwarding::try_begin() {
  if (counters_.in_flight.fetch_add(1, std::memory_order_relaxed) >= static_cast<std::int64_t>(options_.max_in_flight)) {
    counters_.in_flight.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void Forwarding::end() { counters_.in_flight.fetch_sub(1, std::memory_order_relaxed); }

}  // namespace switchyard::dns
