// An immutable string whose copies share one heap block (8 bytes each, a reference count in
// the block): an endpoint's pod name is kept by the ClusterState's record, the port's endpoint
// and the service's address list, and with std::string each copy had its own block (issue #25).
// Unlike InternedString it is freed with its last copy, so it suits values that come and go.
// Reads like a const string.
#pragma once

#include <atomic>
#include <compare>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace switchyard::endpoints {

class SharedString {
 public:
  SharedString() = default;
  SharedString(std::string_view s);  // NOLINT(google-explicit-constructor): reads as the string it holds
  SharedString(const std::string& s) : SharedString(std::string_view(s)) {}  // NOLINT(google-explicit-constructor)
  SharedString(const char* s) : SharedString(std::string_view(s)) {}         // NOLINT(google-explicit-constructor)
  SharedString(const SharedString& o) noexcept : block_(o.block_) {
    if (block_) block_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  SharedString(SharedString&& o) noexcept : block_(std::exchange(o.block_, nullptr)) {}
  SharedString& operator=(SharedString o) noexcept {
    std::swap(block_, o.block_);
    return *this;
  }
  ~SharedString() { release(); }

  std::string_view view() const { return block_ ? std::string_view(block_->chars(), block_->size) : std::string_view(); }
  std::string str() const { return std::string(view()); }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
  operator std::string() const { return str(); }        // NOLINT(google-explicit-constructor)
  bool empty() const { return block_ == nullptr; }
  std::size_t size() const { return block_ ? block_->size : 0; }

  bool operator==(const SharedString& o) const { return block_ == o.block_ || view() == o.view(); }
  std::strong_ordering operator<=>(const SharedString& o) const { return view() <=> o.view(); }
  bool operator==(std::string_view o) const { return view() == o; }
  bool operator==(const std::string& o) const { return view() == o; }
  bool operator==(const char* o) const { return view() == o; }
  friend std::ostream& operator<<(std::ostream& out, const SharedString& s) { return out << s.view(); }

 private:
  struct Block {
    std::atomic<std::uint32_t> refs;
    std::uint32_t size;
    char* chars() { return reinterpret_cast<char*>(this + 1); }
  };
  void release() noexcept;
  Block* block_ = nullptr;  // null: the empty string
};

}  // namespace switchyard::endpoints

template <>
struct fmt::formatter<switchyard::endpoints::SharedString> : fmt::formatter<std::string_view> {
  auto format(const switchyard::endpoints::SharedString& s, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(s.view(), ctx);
  }
};
