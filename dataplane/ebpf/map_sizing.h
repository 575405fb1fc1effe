// How big the maps are. Two kinds:
//   - maps that hold the cluster (service slots, backends, external frontends, Maglev tables):
//     hash maps without preallocation (BPF_F_NO_PREALLOC, as Cilium's default), so memory
//     follows the entries; their max_entries starts at a floor and the backend grows it, before
//     a sync would overflow it, to the next power of two at or above 1.125× the need;
//   - LRU maps written by the programs (conntrack, socket reverse NAT, affinity), which the
//     kernel always preallocates: sized once, from a flag or from a share of the machine's
//     memory (Cilium's bpf-map-dynamic-size-ratio), split in proportion to Cilium's defaults.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "endpoints/node/service_port.h"

namespace switchyard::dataplane::ebpf {

// Upper bounds of the entries a set of ports puts in each growable map.
struct MapNeeds {
  std::size_t services4 = 0, services6 = 0, backends4 = 0, backends6 = 0, external4 = 0, external6 = 0, maglev = 0;
  MapNeeds& operator+=(const MapNeeds& o);
  MapNeeds& operator-=(const MapNeeds& o);
};
MapNeeds estimate_needs(const endpoints::ServicePortInfo& port, bool maglev_by_default);

// max_entries for `need` entries: the next power of two ≥ 1.125 × need (the kernel rounds its
// buckets to a power of two anyway), at least `floor`.
std::uint32_t capacity_for(std::size_t need, std::uint32_t floor);

struct LruSizes {
  std::uint32_t conntrack = 0;  // each of ct4, ct4_reverse, ct6, ct6_reverse
  std::uint32_t reverse = 0;    // each of lb4_reverse, lb6_reverse
  std::uint32_t affinity = 0;
};
// Entries for `ratio` of `total_memory` bytes (the flags' explicit values, when not 0, win).
// Clamped to [4,096, 16M] entries per map.
LruSizes dynamic_lru_sizes(double ratio, std::uint64_t total_memory, const LruSizes& explicit_sizes);
// MemTotal from /proc/meminfo, in bytes (0 when unreadable).
std::uint64_t total_memory_bytes();

}  // namespace switchyard::dataplane::ebpf
