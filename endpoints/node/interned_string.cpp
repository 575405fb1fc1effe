#include "endpoints/node/interned_string.h"

#include <memory>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace switchyard::endpoints {

namespace {

struct Pool {
  std::mutex mu;
  std::unordered_map<std::string_view, std::uint32_t> ids;  // views of the chunks' strings, which never move
  std::uint32_t next = 1;                                   // 0 is the empty string
  std::string* chunk = nullptr;                             // the one being filled
};

Pool& pool() {
  static auto* p = new Pool;  // never destroyed: interned strings may be read during exit
  return *p;
}

}  // namespace

const std::string& InternedString::empty_string() {
  static const auto* e = new std::string;
  return *e;
}

InternedString::InternedString(std::string_view s) {
  if (s.empty()) return;
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  if (auto it = p.ids.find(s); it != p.ids.end()) {
    id_ = it->second;
    return;
  }
  const std::uint32_t id = p.next;
  if ((id >> kChunkBits) >= kMaxChunks) throw std::length_error("InternedString: more strings than its table holds");
  if (id == 1 || (id & kChunkMask) == 0) {
    p.chunk = new std::string[std::size_t{1} << kChunkBits];  // never freed, as the strings
    table_[id >> kChunkBits].store(p.chunk, std::memory_order_release);
  }
  std::string& slot = p.chunk[id & kChunkMask];
  slot = s;
  p.ids.emplace(slot, id);
  p.next = id + 1;
  id_ = id;
}

}  // namespace switchyard::endpoints
