// A string stored once per process: node names, zones and hostnames repeat across every
// endpoint on the same node, zone or StatefulSet ordinal, so each endpoint keeps the 4-byte
// number of the one copy (a std::string took 32, a pointer 8: issue #25). Interned strings are
// never freed: use it only for values from a bounded set (nodes, zones, hostnames), never for
// pod names, which change with every rollout. Reads like a const std::string.
#pragma once

#include <atomic>
#include <compare>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

namespace switchyard::endpoints {

class InternedString {
 public:
  InternedString() = default;
  InternedString(std::string_view s);  // NOLINT(google-explicit-constructor): reads as the string it holds
  InternedString(const std::string& s) : InternedString(std::string_view(s)) {}
  InternedString(const char* s) : InternedString(std::string_view(s)) {}

  const std::string& str() const {
    return id_ == 0 ? empty_string() : table_[id_ >> kChunkBits].load(std::memory_order_acquire)[id_ & kChunkMask];
  }
  operator const std::string&() const { return str(); }  // NOLINT(google-explicit-constructor)
  bool empty() const { return id_ == 0; }
  std::size_t size() const { return str().size(); }
  const char* c_str() const { return str().c_str(); }

  // One copy per value: equal strings have the same number.
  bool operator==(const InternedString& o) const { return id_ == o.id_; }
  std::strong_ordering operator<=>(const InternedString& o) const { return str() <=> o.str(); }
  bool operator==(std::string_view o) const { return str() == o; }
  bool operator==(const std::string& o) const { return str() == o; }
  bool operator==(const char* o) const { return str() == o; }
  friend std::ostream& operator<<(std::ostream& out, const InternedString& s) { return out << s.str(); }

 private:
  // String n lives in chunk n >> kChunkBits, published (release) before n is handed out; 0 is "".
  static constexpr unsigned kChunkBits = 10;
  static constexpr std::uint32_t kChunkMask = (1u << kChunkBits) - 1;
  static constexpr std::size_t kMaxChunks = std::size_t{1} << 16;  // 2^26 strings; the table: 512 KiB of zero pages
  static const std::string& empty_string();
  inline static std::atomic<const std::string*> table_[kMaxChunks] = {};
  std::uint32_t id_ = 0;
};

}  // namespace switchyard::endpoints
