// Typed batch operations on one BPF map (hash maps): update, delete and dump in as few
// syscalls as the kernel allows, with errors that name the map and the cause.
#pragma once

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dataplane/backend.h"

namespace switchyard::dataplane::ebpf {

struct BpfMapRef {
  int fd = -1;
  std::string name;
};

inline Error map_error(const BpfMapRef& map, const std::string& what, int err) {
  return Error{ErrorCode::Internal, "BPF map " + map.name + ": " + what + ": " + std::strerror(err)};
}

// Kernel batches are capped to keep one syscall's copy bounded.
inline constexpr std::size_t kBatchChunk = 16384;

template <class K, class V>
Result<void> update_entries(const BpfMapRef& map, std::span<const K> keys, std::span<const V> values) {
  LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
  for (std::size_t done = 0; done < keys.size();) {
    __u32 count = static_cast<__u32>(std::min(kBatchChunk, keys.size() - done));
    if (bpf_map_update_batch(map.fd, keys.data() + done, values.data() + done, &count, &opts) != 0)
      return std::unexpected(map_error(map, "update of " + std::to_string(keys.size()) + " entries", errno));
    done += count;
  }
  return {};
}

// Keys that are already gone are skipped: deleting is idempotent.
template <class K>
Result<void> delete_entries(const BpfMapRef& map, std::span<const K> keys) {
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  for (std::size_t done = 0; done < keys.size();) {
    __u32 count = static_cast<__u32>(std::min(kBatchChunk, keys.size() - done));
    if (bpf_map_delete_batch(map.fd, keys.data() + done, &count, &opts) != 0) {
      if (errno != ENOENT) return std::unexpected(map_error(map, "delete of " + std::to_string(keys.size()) + " entries", errno));
      ++count;  // `count` entries went, the next one was missing
    }
    done += count;
  }
  return {};
}

template <class K, class V>
Result<std::vector<std::pair<K, V>>> dump_entries(const BpfMapRef& map) {
  std::vector<std::pair<K, V>> out;
  // About 1 MiB per batch whatever the value size (Maglev tables are 4 KiB each).
  // Left uninitialised: the kernel writes what it returns, and pages never written are never
  // faulted in (an empty map's dump costs no memory).
  std::size_t chunk = std::max<std::size_t>(16, (1u << 20) / (sizeof(K) + sizeof(V)));
  auto keys = std::make_unique_for_overwrite<K[]>(chunk);
  auto values = std::make_unique_for_overwrite<V[]>(chunk);
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  std::uint64_t token = 0;
  bool first = true;
  while (true) {
    __u32 count = static_cast<__u32>(chunk);
    const int rc = bpf_map_lookup_batch(map.fd, first ? nullptr : &token, &token, keys.get(), values.get(), &count, &opts);
    if (rc != 0 && errno == ENOSPC) {  // one hash bucket holds more than a chunk
      chunk *= 2;
      keys = std::make_unique_for_overwrite<K[]>(chunk);
      values = std::make_unique_for_overwrite<V[]>(chunk);
      continue;
    }
    if (rc != 0 && errno != ENOENT) return std::unexpected(map_error(map, "dump", errno));
    for (__u32 i = 0; i < count; ++i) out.emplace_back(keys[i], values[i]);
    if (rc != 0) return out;  // ENOENT: that was the last batch
    first = false;
  }
}

// Key by key, for small maps whose type has no batch lookup that works (LPM tries).
template <class K, class V>
Result<std::vector<std::pair<K, V>>> dump_entries_by_key(const BpfMapRef& map) {
  std::vector<std::pair<K, V>> out;
  K key{}, next{};
  const K* prev = nullptr;
  while (bpf_map_get_next_key(map.fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    V value{};
    if (bpf_map_lookup_elem(map.fd, &key, &value) == 0) out.emplace_back(key, value);
  }
  if (errno != ENOENT) return std::unexpected(map_error(map, "dump", errno));
  return out;
}

}  // namespace switchyard::dataplane::ebpf
