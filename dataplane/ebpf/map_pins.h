// Versioned pins: every pinned map's name ends in _v<N>, the version of its entry layout, and
// kPinnedLayouts holds each name's type and key and value sizes in one table (literal numbers:
// a struct change that misses the bump fails the load, and the table test). Before a load,
// PinSwitch compares each pin with the map about to be loaded:
//   - same layout and size: reused (libbpf pin_path);
//   - same layout, another size or flags (a map grown with the cluster, prealloc changed):
//     a fresh map is created, the old one's entries copied in before the programs switch;
//   - another layout under the same name (should not happen: names carry versions): a fresh
//     map, entries dropped;
// and after the load migrates pins of older known layouts (kOlderLayouts, e.g. ct4_v1 ->
// ct4_v2) into the new maps, entry by entry. commit() runs once the programs use the new maps:
// the new maps take the pins and the old pins go. Each step is logged (event=bpf_map_*).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/backend.h"

struct bpf_map;

namespace switchyard::dataplane::ebpf {

struct PinnedLayout {
  std::string_view name;  // with its _v<N>
  std::uint32_t type;     // BPF_MAP_TYPE_*
  std::uint32_t key_size, value_size;
};

// Every map the agent pins, as the BPF C defines it now.
const std::vector<PinnedLayout>& pinned_layouts();

// An older layout of a map that the agent still knows how to read: its entries are converted
// into the current map (`to`) when its pin is found.
struct OlderLayout {
  std::string_view from, to;  // pin names
  std::uint32_t key_size, value_size;
  // old value -> new value (the key is kept); `now_s` is CLOCK_MONOTONIC seconds.
  std::function<void(const std::uint8_t* key, const std::uint8_t* old_value, std::uint8_t* new_value, std::uint32_t now_s)> convert;
};
const std::vector<OlderLayout>& older_layouts();

// "ct4_v2" -> 2; 0 when the name carries no version.
int layout_version(std::string_view name);

// What happened to one pin (also what the log line says).
struct PinEvent {
  std::string event;  // bpf_map_resized | bpf_map_replaced | bpf_map_migrated
  std::string name, from, to;
  std::uint64_t entries = 0;
};

class PinSwitch {
 public:
  explicit PinSwitch(std::string pin_dir) : pin_dir_(std::move(pin_dir)) {}
  ~PinSwitch();  // closes the old maps' fds (their pins stay unless commit() ran)
  PinSwitch(const PinSwitch&) = delete;
  PinSwitch& operator=(const PinSwitch&) = delete;

  // Before the object's load. `growable`: the pinned map may be larger than asked (it grew
  // with the cluster): then its size is kept, never shrunk.
  Result<void> prepare(bpf_map* map, bool growable);
  // After the load, before the programs are attached: old entries into the new maps, and older
  // layouts' pins (kOlderLayouts whose `to` is one of `loaded`) migrated.
  Result<void> copy_entries(const std::vector<bpf_map*>& loaded);
  // After the programs use the new maps: pins moved to them, older pins removed, events logged.
  Result<void> commit();
  const std::vector<PinEvent>& events() const { return events_; }

 private:
  struct Pending {
    bpf_map* map;
    int old_fd;
    std::string path;
    bool copy;  // false: another layout, entries dropped
    std::string from, to;
  };
  struct Older {
    int old_fd;
    std::string path;
    PinEvent event;
  };
  std::string pin_dir_;
  std::vector<Pending> pending_;
  std::vector<Older> older_;
  std::vector<PinEvent> events_;
};

// Copies every entry of map `from` into `to` (same key size), values through `convert` when
// given (else copied as they are; both value sizes equal). Returns how many were written.
Result<std::uint64_t> copy_map_entries(int from, int to, std::uint32_t key_size, std::uint32_t from_value_size, std::uint32_t to_value_size,
                                       const OlderLayout* convert);

}  // namespace switchyard::dataplane::ebpf
