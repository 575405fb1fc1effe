// A sorted map whose copies share their storage: entries live in immutable chunks of at most
// kMaxChunk, held by shared pointers, and a change copies only the chunk it touches. Copying the
// map copies one pointer per chunk. A Snapshot keeps its services in these, so building the next
// Snapshot after one endpoint change costs a few chunks, not the whole map (issue #25: the two
// std::map copies were most of the 12 ms at 10,000 services); a chunk no other map holds is
// changed in place. The read interface is the part of
// std::map the consumers use: iteration in key order, find, lower_bound, at, size.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

namespace switchyard::endpoints {

template <class Key, class Value>
class ChunkedSortedMap {
 public:
  using value_type = std::pair<Key, Value>;
  using Chunk = std::vector<value_type>;
  static constexpr std::size_t kMaxChunk = 64;

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = ChunkedSortedMap::value_type;
    using difference_type = std::ptrdiff_t;
    using pointer = const value_type*;
    using reference = const value_type&;
    const_iterator() = default;
    reference operator*() const { return (*(*chunks_)[chunk_])[offset_]; }
    pointer operator->() const { return &**this; }
    const_iterator& operator++() {
      if (++offset_ == (*chunks_)[chunk_]->size()) {
        ++chunk_;
        offset_ = 0;
      }
      return *this;
    }
    const_iterator operator++(int) {
      auto old = *this;
      ++*this;
      return old;
    }
    bool operator==(const const_iterator& o) const { return chunk_ == o.chunk_ && offset_ == o.offset_; }
    // Where it stands: the diff skips whole chunks that two maps share.
    std::size_t chunk_index() const { return chunk_; }
    std::size_t offset() const { return offset_; }
    // The first entry of the next chunk.
    const_iterator next_chunk() const { return {chunks_, chunk_ + 1, 0}; }

   private:
    friend class ChunkedSortedMap;
    const_iterator(const std::vector<std::shared_ptr<Chunk>>* chunks, std::size_t chunk, std::size_t offset)
        : chunks_(chunks), chunk_(chunk), offset_(offset) {}
    const std::vector<std::shared_ptr<Chunk>>* chunks_ = nullptr;
    std::size_t chunk_ = 0, offset_ = 0;
  };
  using iterator = const_iterator;

  ChunkedSortedMap() = default;

  const_iterator begin() const { return {&chunks_, 0, 0}; }
  const_iterator end() const { return {&chunks_, chunks_.size(), 0}; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  const_iterator lower_bound(const Key& k) const {
    const std::size_t c = chunk_for(k);
    if (c == chunks_.size()) return end();
    const Chunk& chunk = *chunks_[c];
    const auto at = std::lower_bound(chunk.begin(), chunk.end(), k, [](const value_type& e, const Key& key) { return e.first < key; });
    if (at == chunk.end()) return {&chunks_, c + 1, 0};
    return {&chunks_, c, static_cast<std::size_t>(at - chunk.begin())};
  }
  const_iterator find(const Key& k) const {
    auto it = lower_bound(k);
    return it != end() && !(k < it->first) ? it : end();
  }
  bool contains(const Key& k) const { return find(k) != end(); }
  const Value& at(const Key& k) const {
    auto it = find(k);
    if (it == end()) throw std::out_of_range("ChunkedSortedMap::at");
    return it->second;
  }

  // Shared chunks: two maps that hold the same pointer hold the same entries.
  const std::vector<std::shared_ptr<Chunk>>& chunks() const { return chunks_; }

  void clear() {
    chunks_.clear();
    size_ = 0;
  }

  // Inserts or replaces; copies the one chunk it changes.
  void insert_or_assign(const Key& k, Value v) {
    if (chunks_.empty()) {
      chunks_.push_back(std::make_shared<Chunk>(Chunk{value_type{k, std::move(v)}}));
      size_ = 1;
      return;
    }
    std::size_t c = chunk_for(k);
    if (c == chunks_.size()) c = chunks_.size() - 1;  // past the last key: append to the last chunk
    Chunk* copy = own(c);
    auto at = std::lower_bound(copy->begin(), copy->end(), k, [](const value_type& e, const Key& key) { return e.first < key; });
    if (at != copy->end() && !(k < at->first)) {
      at->second = std::move(v);
    } else {
      copy->insert(at, value_type{k, std::move(v)});
      ++size_;
    }
    if (copy->size() > 2 * kMaxChunk) {  // split in two halves
      const auto middle = copy->begin() + static_cast<std::ptrdiff_t>(copy->size() / 2);
      auto upper = std::make_shared<Chunk>(std::make_move_iterator(middle), std::make_move_iterator(copy->end()));
      // The lower half in a vector of its size: the grown one had room for twice the entries,
      // and a chunk past which the entries go on being appended is never grown again (issue #25).
      *copy = Chunk(std::make_move_iterator(copy->begin()), std::make_move_iterator(middle));
      chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(c) + 1, std::move(upper));
    }
  }

  // Removes k if present; copies the one chunk it changes (or drops it when it empties).
  bool erase(const Key& k) {
    const std::size_t c = chunk_for(k);
    if (c == chunks_.size()) return false;
    const Chunk& chunk = *chunks_[c];
    auto at = std::lower_bound(chunk.begin(), chunk.end(), k, [](const value_type& e, const Key& key) { return e.first < key; });
    if (at == chunk.end() || k < at->first) return false;
    --size_;
    if (chunk.size() == 1) {
      chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c));
      return true;
    }
    const auto index = at - chunk.begin();
    Chunk* mine = own(c);
    mine->erase(mine->begin() + index);
    return true;
  }

  // Builds from entries sorted by key (no duplicates), in full chunks of kMaxChunk.
  static ChunkedSortedMap from_sorted(std::vector<value_type> sorted) {
    ChunkedSortedMap m;
    m.size_ = sorted.size();
    for (std::size_t i = 0; i < sorted.size(); i += kMaxChunk) {
      const auto first = sorted.begin() + static_cast<std::ptrdiff_t>(i);
      const auto last = sorted.begin() + static_cast<std::ptrdiff_t>(std::min(sorted.size(), i + kMaxChunk));
      m.chunks_.push_back(std::make_shared<Chunk>(std::make_move_iterator(first), std::make_move_iterator(last)));
    }
    return m;
  }

 private:
  // Chunk c, copied first unless this map holds the only reference (copy on write). A count of
  // one cannot rise under us: another holder would need a reference to copy from. The fence
  // orders our writes after the reads of a holder on another thread that has just let go (its
  // release of the count, which use_count() read relaxed).
  Chunk* own(std::size_t c) {
    if (chunks_[c].use_count() != 1)
      chunks_[c] = std::make_shared<Chunk>(*chunks_[c]);
    else
      std::atomic_thread_fence(std::memory_order_acquire);
    return chunks_[c].get();
  }

  // The first chunk whose last key is >= k (chunks_.size() if none).
  std::size_t chunk_for(const Key& k) const {
    const auto it = std::lower_bound(chunks_.begin(), chunks_.end(), k,
                                     [](const std::shared_ptr<Chunk>& c, const Key& key) { return c->back().first < key; });
    return static_cast<std::size_t>(it - chunks_.begin());
  }

  std::vector<std::shared_ptr<Chunk>> chunks_;
  std::size_t size_ = 0;
};

}  // namespace switchyard::endpoints
