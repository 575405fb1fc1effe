// Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table in which every backend
// owns about the same number of entries, and removing one backend of N moves only about 1/N
// of the entries. Computed here, read by the BPF programs (lb_maglev_v1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace switchyard::dataplane::ebpf {

struct MaglevBackend {
  std::string name;  // stable across restarts ("ip:port"): decides the backend's permutation
  std::uint32_t id = 0;
};

// A table of `size` backend ids (size must be prime). Empty when there are no backends.
std::vector<std::uint32_t> build_maglev_table(const std::vector<MaglevBackend>& backends, std::uint32_t size);

}  // namespace switchyard::dataplane::ebpf
