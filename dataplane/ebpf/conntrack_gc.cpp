#include "dataplane/ebpf/conntrack_gc.h"

#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "dataplane/ebpf/bpf/lb_types.h"

namespace switchyard::dataplane::ebpf {
namespace {

constexpr std::size_t kGcChunk = 4096;  // entries per batch: the pass's memory, whatever the table

std::uint32_t monotonic_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint32_t>(ts.tv_sec);  // bpf_ktime_get_ns()'s clock
}

// The other half of an entry, as the programs compute it (bpf/lib/conntrack.h): the reply key of
// a flow entry, the flow key of a reply entry. Same layout both ways (asserted there).
ct4_reverse_key reply_of(const ct4_key& k, const ct4_entry& v) {
  return {.backend = v.backend,
          .client = v.snat_port ? v.snat_addr : k.client,
          .backend_port = v.backend_port,
          .client_port = v.snat_port ? v.snat_port : k.client_port,
          .proto = k.proto,
          .pad = {}};
}
ct4_key flow_of(const ct4_reverse_key& k, const ct4_reverse_entry& v) {
  return {.client = v.client_port ? v.client : k.client,
          .frontend = v.frontend,
          .client_port = v.client_port ? v.client_port : k.client_port,
          .frontend_port = v.frontend_port,
          .proto = k.proto,
          .pad = {}};
}
ct6_reverse_key reply_of(const ct6_key& k, const ct6_entry& v) {
  ct6_reverse_key r{};
  std::memcpy(r.backend, v.backend, 16);
  std::memcpy(r.client, v.snat_port ? v.snat_addr : k.client, 16);
  r.backend_port = v.backend_port;
  r.client_port = v.snat_port ? v.snat_port : k.client_port;
  r.proto = k.proto;
  return r;
}
ct6_key flow_of(const ct6_reverse_key& k, const ct6_reverse_entry& v) {
  ct6_key f{};
  std::memcpy(f.client, v.client_port ? v.client : k.client, 16);
  std::memcpy(f.frontend, v.frontend, 16);
  f.client_port = v.client_port ? v.client_port : k.client_port;
  f.frontend_port = v.frontend_port;
  f.proto = k.proto;
  return f;
}
auto other_of(const ct4_key& k, const ct4_entry& v) { return reply_of(k, v); }
auto other_of(const ct4_reverse_key& k, const ct4_reverse_entry& v) { return flow_of(k, v); }
auto other_of(const ct6_key& k, const ct6_entry& v) { return reply_of(k, v); }
auto other_of(const ct6_reverse_key& k, const ct6_reverse_entry& v) { return flow_of(k, v); }

bool expired(std::uint32_t lifetime, std::uint32_t now) { return static_cast<std::int32_t>(now - lifetime) > 0; }

// Deletes the entry at `key` if it is still expired: read again just before, since a packet
// since the walk read it would have moved its lifetime on (this narrows the window to the two
// syscalls; a flow idle for its whole lifetime is the rest).
template <class Key, class Value>
bool delete_if_expired(const BpfMapRef& map, const Key& key, std::uint32_t now) {
  Value again{};
  if (bpf_map_lookup_elem(map.fd, &key, &again) != 0 || !expired(again.lifetime, now)) return false;
  return bpf_map_delete_elem(map.fd, &key) == 0;
}

// One map of a pair: every entry counted; an expired one deleted with its other half when that
// half has expired too, or alone when its other half is gone. The flow half always goes first,
// each half at once after its own re-read (not in a batch after the chunk): a client port that
// comes round again while its old flow is being collected either finds the old flow entry (and
// the reply entry, still there, is kept as the re-read shows it refreshed) or finds none and
// starts a new flow whose reply entry replaces the old one (and is kept for the same reason).
// Deleting the reply half first, or both in batches after the chunk, could leave a reopened or
// new flow without its reply entry: its replies untranslated, the connection stuck.
template <class Key, class Value, class OtherKey, class OtherValue>
Result<void> sweep(const BpfMapRef& map, const BpfMapRef& other, std::uint32_t now, bool is_flow_map, ConntrackGcPass& pass) {
  auto keys = std::make_unique_for_overwrite<Key[]>(kGcChunk);
  auto values = std::make_unique_for_overwrite<Value[]>(kGcChunk);
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  std::uint64_t token = 0;
  bool first = true, last = false;
  while (!last) {
    __u32 count = kGcChunk;
    const int rc = bpf_map_lookup_batch(map.fd, first ? nullptr : &token, &token, keys.get(), values.get(), &count, &opts);
    if (rc != 0 && errno != ENOENT) return std::unexpected(map_error(map, "garbage collection walk", errno));
    last = rc != 0;
    first = false;
    for (__u32 i = 0; i < count; ++i) {
      ++pass.entries;
      if (is_flow_map) ++pass.flow_entries;
      if (!expired(values[i].lifetime, now)) continue;
      const OtherKey other_key = other_of(keys[i], values[i]);
      OtherValue other_value{};
      const bool other_present = bpf_map_lookup_elem(other.fd, &other_key, &other_value) == 0;
      if (other_present && !expired(other_value.lifetime, now)) continue;  // the flow lives on in the other direction
      if (is_flow_map) {
        if (!delete_if_expired<Key, Value>(map, keys[i], now)) continue;
        ++pass.deleted_entries;
        ++pass.expired_flows;
        // The reply half is counted here: the reply map's walk, after this one, no longer sees it.
        if (other_present && delete_if_expired<OtherKey, OtherValue>(other, other_key, now)) {
          ++pass.entries;
          ++pass.deleted_entries;
        }
      } else {
        // A reply entry whose flow entry is still there (expired): that one first.
        if (other_present) {
          if (!delete_if_expired<OtherKey, OtherValue>(other, other_key, now)) continue;
          ++pass.deleted_entries;
        }
        if (delete_if_expired<Key, Value>(map, keys[i], now)) ++pass.deleted_entries;
        ++pass.expired_flows;  // a flow counts once: from its flow entry, or from a reply entry found here
      }
    }
  }
  return {};
}

}  // namespace

ConntrackGc::~ConntrackGc() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t ConntrackGc::counter(std::uint32_t index) const {
  if (maps_.metrics.fd < 0) return 0;
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(std::max(1, libbpf_num_possible_cpus())));
  if (bpf_map_lookup_elem(maps_.metrics.fd, &index, per_cpu.data()) != 0) return 0;
  std::uint64_t sum = 0;
  for (auto v : per_cpu) sum += v;
  return sum;
}

Result<ConntrackGcPass> ConntrackGc::collect(std::uint32_t now) {
  if (now == 0) now = monotonic_seconds();
  const auto started = std::chrono::steady_clock::now();
  ConntrackGcPass pass;
  // Flow maps first: a flow whose two entries expired goes as one.
  if (auto ok = sweep<ct4_key, ct4_entry, ct4_reverse_key, ct4_reverse_entry>(maps_.flow4, maps_.reply4, now, true, pass); !ok)
    return std::unexpected(ok.error());
  if (auto ok = sweep<ct4_reverse_key, ct4_reverse_entry, ct4_key, ct4_entry>(maps_.reply4, maps_.flow4, now, false, pass); !ok)
    return std::unexpected(ok.error());
  if (auto ok = sweep<ct6_key, ct6_entry, ct6_reverse_key, ct6_reverse_entry>(maps_.flow6, maps_.reply6, now, true, pass); !ok)
    return std::unexpected(ok.error());
  if (auto ok = sweep<ct6_reverse_key, ct6_reverse_entry, ct6_key, ct6_entry>(maps_.reply6, maps_.flow6, now, false, pass); !ok)
    return std::unexpected(ok.error());
  pass.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::uint64_t present = pass.flow_entries - std::min(pass.flow_entries, pass.expired_flows);
  if (!have_baseline_) {
    created0_ = counter(NP_METRIC_DNAT_NEW);
    reset0_ = counter(NP_METRIC_CT_RESET);
    present0_ = present;
    have_baseline_ = true;
  }
  entries_ = pass.entries - std::min(pass.entries, pass.deleted_entries);
  flow_entries_ = present;
  collected_flows_ += pass.expired_flows;
  deleted_entries_ += pass.deleted_entries;
  passes_ += 1;
  last_pass_us_ = static_cast<std::uint64_t>(pass.seconds * 1e6);
  return pass;
}

std::chrono::milliseconds ConntrackGc::next_interval(const ConntrackGcPass& pass) {
  if (interval_.count() == 0) interval_ = options_.min_interval;
  const double deleted = pass.entries ? static_cast<double>(pass.deleted_entries) / static_cast<double>(pass.entries) : 0;
  const double fill = maps_.capacity ? static_cast<double>(pass.flow_entries) / maps_.capacity : 0;
  // A table that doubled since the last pass: new flows arrive fast, their ends will follow.
  const bool growing = pass.entries > 1024 && pass.entries > 2 * last_entries_;
  last_entries_ = pass.entries;
  if (growing) {
    interval_ = options_.min_interval;
  } else if (deleted > 0.25 || fill > 0.5)  // much to delete, or filling up: sooner
    interval_ = std::max(options_.min_interval, interval_ / 2);
  else if (deleted < 0.05)
    interval_ = std::min(options_.max_interval, interval_ * 3 / 2);
  interval_ms_ = static_cast<std::uint64_t>(interval_.count());
  return interval_;
}

void ConntrackGc::start() {
  thread_ = std::thread([this] {
    std::chrono::milliseconds wait = options_.min_interval;
    while (true) {
      {
        std::unique_lock lock(mutex_);
        if (wake_.wait_for(lock, wait, [this] { return stop_; })) return;
      }
      auto pass = collect();
      if (!pass) {
        failures_ += 1;
        spdlog::warn("event=conntrack_gc_failed error=\"{}\"", pass.error().message);
        wait = options_.min_interval;
        continue;
      }
      wait = next_interval(*pass);
      if (pass->deleted_entries)
        spdlog::debug("event=conntrack_gc entries={} deleted={} seconds={:.3f} next_ms={}", pass->entries, pass->deleted_entries,
                      pass->seconds, wait.count());
    }
  });
}

std::string ConntrackGc::metrics_text() const {
  const std::uint64_t present = flow_entries_;
  std::uint64_t evicted = 0;
  if (have_baseline_) {
    // created − reset − collected − (present − present0): what the LRU took.
    const std::int64_t e = static_cast<std::int64_t>(counter(NP_METRIC_DNAT_NEW) - created0_) -
                           static_cast<std::int64_t>(counter(NP_METRIC_CT_RESET) - reset0_) - static_cast<std::int64_t>(collected_flows_) -
                           (static_cast<std::int64_t>(present) - static_cast<std::int64_t>(present0_));
    evicted = e > 0 ? static_cast<std::uint64_t>(e) : 0;
  }
  std::string out;
  out += "# HELP switchyard_ebpf_conntrack_entries Conntrack entries of the tc programs (both directions), after the last GC pass.\n";
  out += "# TYPE switchyard_ebpf_conntrack_entries gauge\n";
  out += fmt::format("switchyard_ebpf_conntrack_entries {}\n", entries_.load());
  out += "# HELP switchyard_ebpf_conntrack_flows Tracked flows (client-side entries), after the last GC pass.\n";
  out += "# TYPE switchyard_ebpf_conntrack_flows gauge\n";
  out += fmt::format("switchyard_ebpf_conntrack_flows {}\n", present);
  out += "# HELP switchyard_ebpf_conntrack_capacity Entries each conntrack map holds before the LRU evicts.\n";
  out += "# TYPE switchyard_ebpf_conntrack_capacity gauge\n";
  out += fmt::format("switchyard_ebpf_conntrack_capacity {}\n", maps_.capacity);
  out += "# HELP switchyard_ebpf_conntrack_gc_deleted_total Conntrack entries deleted by the garbage collector (expired).\n";
  out += "# TYPE switchyard_ebpf_conntrack_gc_deleted_total counter\n";
  out += fmt::format("switchyard_ebpf_conntrack_gc_deleted_total {}\n", deleted_entries_.load());
  out += "# HELP switchyard_ebpf_conntrack_gc_flows_total Flows the garbage collector ended (expired).\n";
  out += "# TYPE switchyard_ebpf_conntrack_gc_flows_total counter\n";
  out += fmt::format("switchyard_ebpf_conntrack_gc_flows_total {}\n", collected_flows_.load());
  out += "# HELP switchyard_ebpf_conntrack_created_flows_total Flows the tc programs started tracking (since the maps were created).\n";
  out += "# TYPE switchyard_ebpf_conntrack_created_flows_total counter\n";
  out += fmt::format("switchyard_ebpf_conntrack_created_flows_total {}\n", counter(NP_METRIC_DNAT_NEW));
  out += "# HELP switchyard_ebpf_conntrack_reset_flows_total Flows ended by a TCP reset (since the maps were created).\n";
  out += "# TYPE switchyard_ebpf_conntrack_reset_flows_total counter\n";
  out += fmt::format("switchyard_ebpf_conntrack_reset_flows_total {}\n", counter(NP_METRIC_CT_RESET));
  out += "# HELP switchyard_ebpf_conntrack_evictions_total Flows the full LRU table evicted since the agent started (derived).\n";
  out += "# TYPE switchyard_ebpf_conntrack_evictions_total counter\n";
  out += fmt::format("switchyard_ebpf_conntrack_evictions_total {}\n", evicted);
  out += "# HELP switchyard_ebpf_conntrack_gc_runs_total Garbage collection passes, and failed ones.\n";
  out += "# TYPE switchyard_ebpf_conntrack_gc_runs_total counter\n";
  out += fmt::format("switchyard_ebpf_conntrack_gc_runs_total {}\n", passes_.load());
  out += fmt::format("switchyard_ebpf_conntrack_gc_failures_total {}\n", failures_.load());
  out += "# HELP switchyard_ebpf_conntrack_gc_interval_seconds The wait before the next pass (adapts to what passes find).\n";
  out += "# TYPE switchyard_ebpf_conntrack_gc_interval_seconds gauge\n";
  out += fmt::format("switchyard_ebpf_conntrack_gc_interval_seconds {:.3f}\n", static_cast<double>(interval_ms_.load()) / 1000.0);
  out += fmt::format("switchyard_ebpf_conntrack_gc_last_pass_seconds {:.6f}\n", static_cast<double>(last_pass_us_.load()) / 1e6);
  return out;
}

}  // namespace switchyard::dataplane::ebpf
