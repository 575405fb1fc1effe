// The ebpf backend's map writes for one sync: what changed (diff_entries, against the entries
// read back or held), batched per map and applied in an order that programs can never observe
// half-done. Used by ebpf_backend.cpp only.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include "dataplane/ebpf/bpf_map_ops.h"
#include "dataplane/ebpf/ebpf_backend.h"

namespace switchyard::dataplane::ebpf::detail {

// Updates and deletes for every map, applied in an order that never lets a program follow a
// reference to something missing: backends and Maglev tables before the slots naming them,
// slots 1..n before slot 0 raises the count; on the way out slot 0 first, backends last.
struct MapChanges {
  std::vector<std::uint32_t> backend4_ids, backend6_ids, maglev_ids;
  std::vector<lb4_backend> backend4_values;
  std::vector<lb6_backend> backend6_values;
  std::vector<lb_maglev_table> maglev_values;
  std::vector<lb4_service_key> service4_keys, service4_deletes;
  std::vector<lb_service_value> service4_values;
  std::vector<lb6_service_key> service6_keys, service6_deletes;
  std::vector<lb_service_value> service6_values;
  std::vector<lb4_service_key> external4_keys, external4_deletes;
  std::vector<lb_service_value> external4_values;
  std::vector<lb6_service_key> external6_keys, external6_deletes;
  std::vector<lb_service_value> external6_values;
  std::vector<std::uint32_t> backend4_deletes, backend6_deletes, maglev_deletes;
  std::vector<lb4_source_range_key> ranges4_keys, ranges4_deletes;
  std::vector<std::uint8_t> ranges4_values;
  std::vector<lb6_source_range_key> ranges6_keys, ranges6_deletes;
  std::vector<std::uint8_t> ranges6_values;

  void add_backend(const BackendAddress& b, std::uint32_t id) {
    if (b.family == IpFamily::IPv4) {
      lb4_backend v{};
      std::memcpy(&v.address, b.address.data(), 4);
      v.port = b.port_be;
      v.proto = b.proto;
      backend4_ids.push_back(id);
      backend4_values.push_back(v);
    } else {
      lb6_backend v{};
      std::memcpy(v.address, b.address.data(), 16);
      v.port = b.port_be;
      v.proto = b.proto;
      backend6_ids.push_back(id);
      backend6_values.push_back(v);
    }
  }
  // A port's entries, all new (a full sync's desired state); the tc maps' only when `tc`.
  void add_entries(const PortEntries& e, bool tc) {
    auto add = [](const auto& entries, auto& keys, auto& values) {
      for (const auto& [k, v] : entries) {
        keys.push_back(k);
        values.push_back(v);
      }
    };
    add(e.services4, service4_keys, service4_values);
    add(e.services6, service6_keys, service6_values);
    if (tc) {
      add(e.external4, external4_keys, external4_values);
      add(e.external6, external6_keys, external6_values);
      add(e.source_ranges4, ranges4_keys, ranges4_values);
      add(e.source_ranges6, ranges6_keys, ranges6_values);
    }
    for (const auto& m : e.maglev) {
      maglev_ids.push_back(m.service_id);
      maglev_values.push_back(*m.table);
    }
  }
  void delete_backend(IpFamily family, std::uint32_t id) { (family == IpFamily::IPv4 ? backend4_deletes : backend6_deletes).push_back(id); }

  void clear() {  // keeps the storage, for the next chunk
    for (auto* v : {&backend4_ids, &backend6_ids, &maglev_ids, &backend4_deletes, &backend6_deletes, &maglev_deletes}) v->clear();
    for (auto* v : {&service4_keys, &service4_deletes, &external4_keys, &external4_deletes}) v->clear();
    for (auto* v : {&service6_keys, &service6_deletes, &external6_keys, &external6_deletes}) v->clear();
    for (auto* v : {&service4_values, &service6_values, &external4_values, &external6_values}) v->clear();
    for (auto* v : {&ranges4_keys, &ranges4_deletes}) v->clear();
    for (auto* v : {&ranges6_keys, &ranges6_deletes}) v->clear();
    for (auto* v : {&ranges4_values, &ranges6_values}) v->clear();
    backend4_values.clear();
    backend6_values.clear();
    maglev_values.clear();
  }

  std::size_t size() const {
    return backend4_ids.size() + backend6_ids.size() + maglev_ids.size() + service4_keys.size() + service6_keys.size() +
           external4_keys.size() + external6_keys.size() + external4_deletes.size() + external6_deletes.size() + service4_deletes.size() +
           service6_deletes.size() + backend4_deletes.size() + backend6_deletes.size() + maglev_deletes.size() + ranges4_keys.size() +
           ranges6_keys.size() + ranges4_deletes.size() + ranges6_deletes.size();
  }

  Result<void> apply(const SockLbObjects& o) {
    auto slot0_first = [](auto& keys) { std::ranges::stable_partition(keys, [](const auto& k) { return k.slot == 0; }); };
    slot0_first(service4_deletes);
    slot0_first(service6_deletes);
    slot0_first(external4_deletes);
    slot0_first(external6_deletes);
    using std::span;
    if (auto ok = update_entries(o.backends4, span<const std::uint32_t>(backend4_ids), span<const lb4_backend>(backend4_values)); !ok)
      return ok;
    if (auto ok = update_entries(o.backends6, span<const std::uint32_t>(backend6_ids), span<const lb6_backend>(backend6_values)); !ok)
      return ok;
    if (auto ok = update_entries(o.maglev, span<const std::uint32_t>(maglev_ids), span<const lb_maglev_table>(maglev_values)); !ok)
      return ok;
    if (auto ok = update_entries(o.services4, span<const lb4_service_key>(service4_keys), span<const lb_service_value>(service4_values));
        !ok)
      return ok;
    if (auto ok = update_entries(o.services6, span<const lb6_service_key>(service6_keys), span<const lb_service_value>(service6_values));
        !ok)
      return ok;
    if (o.external4.fd >= 0) {
      // Source ranges before the frontends that rely on them, removed after them.
      if (auto ok =
              update_entries(o.source_ranges4, span<const lb4_source_range_key>(ranges4_keys), span<const std::uint8_t>(ranges4_values));
          !ok)
        return ok;
      if (auto ok =
              update_entries(o.source_ranges6, span<const lb6_source_range_key>(ranges6_keys), span<const std::uint8_t>(ranges6_values));
          !ok)
        return ok;
      if (auto ok =
              update_entries(o.external4, span<const lb4_service_key>(external4_keys), span<const lb_service_value>(external4_values));
          !ok)
        return ok;
      if (auto ok =
              update_entries(o.external6, span<const lb6_service_key>(external6_keys), span<const lb_service_value>(external6_values));
          !ok)
        return ok;
      if (auto ok = delete_entries(o.external4, span<const lb4_service_key>(external4_deletes)); !ok) return ok;
      if (auto ok = delete_entries(o.external6, span<const lb6_service_key>(external6_deletes)); !ok) return ok;
      if (auto ok = delete_entries(o.source_ranges4, span<const lb4_source_range_key>(ranges4_deletes)); !ok) return ok;
      if (auto ok = delete_entries(o.source_ranges6, span<const lb6_source_range_key>(ranges6_deletes)); !ok) return ok;
    }
    if (auto ok = delete_entries(o.services4, span<const lb4_service_key>(service4_deletes)); !ok) return ok;
    if (auto ok = delete_entries(o.services6, span<const lb6_service_key>(service6_deletes)); !ok) return ok;
    if (auto ok = delete_entries(o.maglev, span<const std::uint32_t>(maglev_deletes)); !ok) return ok;
    // The backend maps are arrays: an entry goes by being cleared (proto 0).
    const std::vector<lb4_backend> cleared4(backend4_deletes.size());
    const std::vector<lb6_backend> cleared6(backend6_deletes.size());
    if (auto ok = update_entries(o.backends4, span<const std::uint32_t>(backend4_deletes), span<const lb4_backend>(cleared4)); !ok)
      return ok;
    return update_entries(o.backends6, span<const std::uint32_t>(backend6_deletes), span<const lb6_backend>(cleared6));
  }
};

// What must change to turn `before` into `after` (entries equal in both are left alone). With
// `before` empty everything is new: `after` is handed over (moved when nothing came before it),
// so a full sync into empty maps copies its desired state nowhere.
template <class K, class V>
void diff_entries(const std::vector<std::pair<K, V>>& before, std::vector<K>& after_keys, std::vector<V>& after_values,
                  std::vector<K>& update_keys, std::vector<V>& update_values, std::vector<K>& deletes) {
  if (before.empty()) {
    if (update_keys.empty()) {
      update_keys.swap(after_keys);
      update_values.swap(after_values);
    } else {
      update_keys.insert(update_keys.end(), after_keys.begin(), after_keys.end());
      update_values.insert(update_values.end(), after_values.begin(), after_values.end());
    }
    return;
  }
  // `before` indexed by an open-addressing table of positions: no node per entry (a restart
  // reads back hundreds of thousands), 4 bytes per slot.
  const std::size_t capacity = std::bit_ceil(before.size() * 2), mask = capacity - 1;
  auto home = [mask](const K& k) { return BackendAddressHash::mix(BytesHash<K>{}(k)) & mask; };
  std::vector<std::uint32_t> slots(capacity, 0);  // position in `before` + 1; 0: free
  for (std::size_t i = 0; i < before.size(); ++i) {
    std::size_t s = home(before[i].first);
    while (slots[s] != 0 && std::memcmp(&before[slots[s] - 1].first, &before[i].first, sizeof(K)) != 0) s = (s + 1) & mask;
    if (slots[s] == 0) slots[s] = static_cast<std::uint32_t>(i + 1);  // a repeated key counts once
  }
  std::vector<bool> kept(before.size());
  for (std::size_t i = 0; i < after_keys.size(); ++i) {
    bool same = false;
    for (std::size_t s = home(after_keys[i]); slots[s] != 0; s = (s + 1) & mask) {
      const auto& [k, v] = before[slots[s] - 1];
      if (std::memcmp(&k, &after_keys[i], sizeof(K)) != 0) continue;
      kept[slots[s] - 1] = true;
      same = std::memcmp(&v, &after_values[i], sizeof(V)) == 0;
      break;
    }
    if (same) continue;
    update_keys.push_back(after_keys[i]);
    update_values.push_back(after_values[i]);
  }
  for (std::uint32_t slot : slots)
    if (slot != 0 && !kept[slot - 1]) deletes.push_back(before[slot - 1].first);
}

template <class K, class V>
void diff_entries(const std::vector<std::pair<K, V>>& before, const std::vector<std::pair<K, V>>& after, std::vector<K>& update_keys,
                  std::vector<V>& update_values, std::vector<K>& deletes) {
  std::vector<K> keys;
  std::vector<V> values;
  keys.reserve(after.size());
  values.reserve(after.size());
  for (const auto& [k, v] : after) {
    keys.push_back(k);
    values.push_back(v);
  }
  diff_entries(before, keys, values, update_keys, update_values, deletes);
}

}  // namespace switchyard::dataplane::ebpf::detail
