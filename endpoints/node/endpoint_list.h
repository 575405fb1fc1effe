// One endpoint as the node sees it, and the lists that hold them: each endpoint is stored once
// (issue #25). ClusterState parses a slice's endpoints into immutable arrays; a service's
// EndpointPool is the concatenation of its slices' arrays (shared, not copied), and every list
// the Snapshot keeps (a port's endpoints, its eligibility lists, the service's DNS addresses)
// is a span or a set of indices into that pool.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

#include "endpoints/node/hint_list.h"
#include "endpoints/node/interned_string.h"
#include "endpoints/node/ip_address.h"
#include "endpoints/node/shared_string.h"

namespace switchyard::endpoints {

enum class IpFamily : std::uint8_t { IPv4, IPv6 };

// 64 bytes: stored once per slice port and endpoint (the conditions are bits for that).
struct Endpoint {
  IpAddress ip;
  std::int32_t port = 0;
  IpFamily family = IpFamily::IPv4;
  bool ready : 1 = false, serving : 1 = false, terminating : 1 = false;
  bool local : 1 = false;  // on this node
  InternedString node_name, zone, hostname;
  SharedString pod_name;
  HintList zone_hints, node_hints;
  bool operator==(const Endpoint&) const = default;
};

// Immutable endpoint arrays seen as one: entry i of the pool is entry i - start of the part
// that holds it. The parts are shared with ClusterState's slice records.
class EndpointPool {
 public:
  using Part = std::shared_ptr<const std::vector<Endpoint>>;
  EndpointPool() = default;
  explicit EndpointPool(std::vector<Part> parts);
  static std::shared_ptr<const EndpointPool> of(std::vector<Endpoint> endpoints);  // one part of its own

  std::uint32_t size() const { return size_; }
  const Endpoint& operator[](std::uint32_t i) const { return more_ ? in_parts(i) : (*first_)[i]; }

 private:
  // Most services have one slice, hence one part: kept inline, the others only when there are.
  struct MoreParts {
    std::vector<Part> parts;            // every part, the first included
    std::vector<std::uint32_t> starts;  // the pool index of each part's first entry
  };
  const Endpoint& in_parts(std::uint32_t i) const;
  Part first_;
  std::unique_ptr<const MoreParts> more_;
  std::uint32_t size_ = 0;
};

// Endpoints of one pool: a span of it (no heap of its own: the usual case, a port whose one
// slice gives every endpoint) or any indices into it. A list built by hand (tests, callers of
// categorize_endpoints on their own vector) gets a pool of its own. Reads as a vector.
class EndpointList {
 public:
  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = Endpoint;
    using difference_type = std::ptrdiff_t;
    using pointer = const Endpoint*;
    using reference = const Endpoint&;
    const_iterator() = default;
    const_iterator(const EndpointList* list, std::size_t i) : list_(list), i_(i) {}
    reference operator*() const { return (*list_)[i_]; }
    pointer operator->() const { return &(*list_)[i_]; }
    reference operator[](difference_type n) const { return (*list_)[i_ + static_cast<std::size_t>(n)]; }
    const_iterator& operator++() { return ++i_, *this; }
    const_iterator operator++(int) { return {list_, i_++}; }
    const_iterator& operator--() { return --i_, *this; }
    const_iterator operator--(int) { return {list_, i_--}; }
    const_iterator& operator+=(difference_type n) { return i_ += static_cast<std::size_t>(n), *this; }
    const_iterator& operator-=(difference_type n) { return i_ -= static_cast<std::size_t>(n), *this; }
    friend const_iterator operator+(const_iterator it, difference_type n) { return it += n; }
    friend const_iterator operator+(difference_type n, const_iterator it) { return it += n; }
    friend const_iterator operator-(const_iterator it, difference_type n) { return it -= n; }
    friend difference_type operator-(const const_iterator& a, const const_iterator& b) {
      return static_cast<difference_type>(a.i_) - static_cast<difference_type>(b.i_);
    }
    bool operator==(const const_iterator& o) const { return i_ == o.i_; }
    auto operator<=>(const const_iterator& o) const { return i_ <=> o.i_; }

   private:
    const EndpointList* list_ = nullptr;
    std::size_t i_ = 0;
  };
  using iterator = const_iterator;
  using value_type = Endpoint;

  EndpointList() = default;
  EndpointList(std::initializer_list<Endpoint> own) : EndpointList(std::vector<Endpoint>(own)) {}
  // Explicit: a vector and a list each convert to the other, so both ways implicit would be ambiguous.
  explicit EndpointList(std::vector<Endpoint> own);
  // Entries `indices` of `pool` (kept as a span when they are consecutive).
  EndpointList(std::shared_ptr<const EndpointPool> pool, std::vector<std::uint32_t> indices);
  // Entries start .. start + count - 1 of `pool`.
  EndpointList(std::shared_ptr<const EndpointPool> pool, std::uint32_t start, std::uint32_t count)
      : pool_(std::move(pool)), start_(start), count_(count) {}
  EndpointList(const EndpointList& o);
  EndpointList(EndpointList&& o) noexcept
      : pool_(std::move(o.pool_)),
        indices_(std::move(o.indices_)),
        start_(std::exchange(o.start_, 0)),
        count_(std::exchange(o.count_, 0)) {}
  EndpointList& operator=(const EndpointList& o);
  EndpointList& operator=(EndpointList&& o) noexcept {
    pool_ = std::move(o.pool_);
    indices_ = std::move(o.indices_);
    start_ = std::exchange(o.start_, 0);
    count_ = std::exchange(o.count_, 0);
    return *this;
  }

  std::size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  const Endpoint& operator[](std::size_t i) const { return (*pool_)[index(i)]; }
  const Endpoint& at(std::size_t i) const;
  const Endpoint& front() const { return (*this)[0]; }
  const Endpoint& back() const { return (*this)[size() - 1]; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size()}; }
  void push_back(Endpoint e);                                          // the list then has a pool of its own
  operator std::vector<Endpoint>() const { return {begin(), end()}; }  // NOLINT(google-explicit-constructor)
  bool operator==(const EndpointList& o) const;

  const std::shared_ptr<const EndpointPool>& pool() const { return pool_; }
  // The pool index of entry i.
  std::uint32_t index(std::size_t i) const { return indices_ ? indices_[i] : start_ + static_cast<std::uint32_t>(i); }

 private:
  std::shared_ptr<const EndpointPool> pool_;
  std::unique_ptr<std::uint32_t[]> indices_;  // count_ of them; null: the span start_ .. start_ + count_ - 1
  std::uint32_t start_ = 0, count_ = 0;
};

}  // namespace switchyard::endpoints
