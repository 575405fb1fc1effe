// An endpoint's topology hints (forZones or forNodes names): nearly always empty, so 8 bytes
// (null, or a pointer to one immutable block its copies share) where a std::vector took 24 in
// each copy of the endpoint (issue #25). Reads like a const vector of strings.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchyard::endpoints {

class HintList {
 public:
  HintList() = default;
  HintList(std::vector<std::string> names);  // NOLINT(google-explicit-constructor): reads as the names it holds
  HintList(std::initializer_list<std::string> names) : HintList(std::vector<std::string>(names)) {}
  HintList(const HintList& o) noexcept : block_(o.block_) {
    if (block_) block_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  HintList(HintList&& o) noexcept : block_(std::exchange(o.block_, nullptr)) {}
  HintList& operator=(HintList o) noexcept {
    std::swap(block_, o.block_);
    return *this;
  }
  ~HintList() { release(); }

  bool empty() const { return block_ == nullptr; }
  std::size_t size() const { return block_ ? block_->names.size() : 0; }
  const std::string* begin() const { return block_ ? block_->names.data() : nullptr; }
  const std::string* end() const { return block_ ? block_->names.data() + block_->names.size() : nullptr; }
  const std::string& operator[](std::size_t i) const { return block_->names[i]; }
  bool contains(std::string_view name) const;

  bool operator==(const HintList& o) const;

 private:
  struct Block {
    std::atomic<std::uint32_t> refs;
    std::vector<std::string> names;  // never empty
  };
  void release() noexcept;
  Block* block_ = nullptr;  // null: no hints
};

}  // namespace switchyard::endpoints
