// Dense ids for the backend arrays (lb4/lb6_backends_v2, indexed by id): the lowest free ids are
// handed out again, so an array's size follows the most backends alive at once, not every
// endpoint ever seen. A released id is not handed out before recycle() (the next sync): by then
// no slot or Maglev table names it, and the affinity entries that still do are purged before it
// names another backend (take_reused()).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

namespace switchyard::dataplane::ebpf {

class IdAllocator {
 public:
  std::uint32_t allocate() {
    while (!free_.empty()) {
      const std::uint32_t id = free_.top();
      free_.pop();
      if (used_[id]) continue;  // claimed meanwhile (read back from the maps)
      used_[id] = true;
      reused_.push_back(id);
      return id;
    }
    const std::uint32_t id = end_++;
    used_.resize(end_);
    used_[id] = true;
    return id;
  }
  // An id found in the maps (a restart, or a full sync's read-back): in use from now on.
  void claim(std::uint32_t id) {
    if (id == 0) return;
    if (id >= end_) {
      used_.resize(id + 1);
      for (std::uint32_t gap = end_; gap < id; ++gap) free_.push(gap);
      end_ = id + 1;
    }
    used_[id] = true;
  }
  void release(std::uint32_t id) {
    if (id != 0 && id < end_ && used_[id]) released_.push_back(id);
  }
  // Ids released so far become free (call when no map entry names them any more).
  void recycle() {
    for (std::uint32_t id : released_) {
      used_[id] = false;
      free_.push(id);
    }
    released_.clear();
  }
  // One past the highest id handed out or claimed: the array size the ids need.
  std::uint32_t end() const { return end_; }
  // Ids handed out again since the last call (their old affinity entries must go).
  std::vector<std::uint32_t> take_reused() { return std::exchange(reused_, {}); }
  void clear() { *this = IdAllocator{}; }

 private:
  std::uint32_t end_ = 1;  // id 0 is never handed out: slots use it for "none"
  std::vector<bool> used_ = std::vector<bool>(1);
  std::priority_queue<std::uint32_t, std::vector<std::uint32_t>, std::greater<>> free_;  // lowest first
  std::vector<std::uint32_t> released_, reused_;
};

}  // namespace switchyard::dataplane::ebpf
