#include "endpoints/node/interned_string.h"

#include <mutex>
#include <unordered_set>

namespace switchyard::endpoints {

namespace {

struct Pool {
  std::mutex mu;
  std::unordered_set<std::string> strings;  // nodes are stable: pointers to them stay valid
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

InternedString::InternedString(std::string_view s) : s_(&empty_string()) {
  if (s.empty()) return;
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  s_ = &*p.strings.emplace(s).first;
}

}  // namespace switchyard::endpoints
