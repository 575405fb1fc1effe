// A string stored once per process: node names, zones and hostnames repeat across every
// endpoint on the same node, zone or StatefulSet ordinal, so each endpoint keeps a pointer to
// the one copy (8 bytes where a std::string took 32). Interned strings are never freed: use it
// only for values from a bounded set (nodes, zones, hostnames), never for pod names, which
// change with every rollout. Reads like a const std::string.
#pragma once

#include <compare>
#include <ostream>
#include <string>
#include <string_view>

namespace switchyard::endpoints {

class InternedString {
 public:
  InternedString() : s_(&empty_string()) {}
  InternedString(std::string_view s);  // NOLINT(google-explicit-constructor): reads as the string it holds
  InternedString(const std::string& s) : InternedString(std::string_view(s)) {}
  InternedString(const char* s) : InternedString(std::string_view(s)) {}

  const std::string& str() const { return *s_; }
  operator const std::string&() const { return *s_; }  // NOLINT(google-explicit-constructor)
  bool empty() const { return s_->empty(); }
  std::size_t size() const { return s_->size(); }
  const char* c_str() const { return s_->c_str(); }

  // One copy per value: equal strings are the same pointer.
  bool operator==(const InternedString& o) const { return s_ == o.s_; }
  std::strong_ordering operator<=>(const InternedString& o) const { return *s_ <=> *o.s_; }
  bool operator==(std::string_view o) const { return *s_ == o; }
  bool operator==(const std::string& o) const { return *s_ == o; }
  bool operator==(const char* o) const { return *s_ == o; }
  friend std::ostream& operator<<(std::ostream& out, const InternedString& s) { return out << *s.s_; }

 private:
  static const std::string& empty_string();
  const std::string* s_;
};

}  // namespace switchyard::endpoints
