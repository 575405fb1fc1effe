#include "dataplane/ebpf/maglev.h"

#include <algorithm>
#include <stdexcept>

namespace switchyard::dataplane::ebpf {
namespace {

// FNV-1a with a seed: deterministic across processes and builds, unlike std::hash.
std::uint64_t fnv1a(const std::string& s, std::uint64_t seed) {
  std::uint64_t h = 14695981039346656037ULL ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  h ^= h >> 29;  // FNV's low bits are weak for short keys
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 32);
}

}  // namespace

std::vector<std::uint32_t> build_maglev_table(const std::vector<MaglevBackend>& input, std::uint32_t size) {
  if (size < 2) throw std::invalid_argument("Maglev table size must be a prime > 1");
  if (input.empty()) return {};
  // Sorted by name: the table depends on the set of backends, not on the order they came in.
  std::vector<MaglevBackend> backends = input;
  std::ranges::sort(backends, {}, &MaglevBackend::name);
  const std::size_t n = backends.size();
  std::vector<std::uint64_t> offset(n), skip(n), next(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    offset[i] = fnv1a(backends[i].name, 0x6d61676c) % size;
    skip[i] = fnv1a(backends[i].name, 0x65763131) % (size - 1) + 1;
  }
  constexpr std::int64_t kEmpty = -1;
  std::vector<std::int64_t> owner(size, kEmpty);
  std::uint32_t filled = 0;
  while (true) {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t c = (offset[i] + next[i] * skip[i]) % size;
      while (owner[c] != kEmpty) {
        ++next[i];
        c = (offset[i] + next[i] * skip[i]) % size;
      }
      owner[c] = static_cast<std::int64_t>(i);
      ++next[i];
      if (++filled == size) {
        std::vector<std::uint32_t> table(size);
        for (std::uint32_t s = 0; s < size; ++s) table[s] = backends[static_cast<std::size_t>(owner[s])].id;
        return table;
      }
    }
  }
}

}  // namespace switchyard::dataplane::ebpf
