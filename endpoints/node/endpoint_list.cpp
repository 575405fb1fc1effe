#include "endpoints/node/endpoint_list.h"

#include <algorithm>
#include <stdexcept>

namespace switchyard::endpoints {

EndpointPool::EndpointPool(std::vector<Part> parts) {
  for (const auto& p : parts) size_ += static_cast<std::uint32_t>(p->size());
  if (parts.size() == 1) first_ = std::move(parts[0]);
  if (parts.size() <= 1) return;
  auto more = std::make_unique<MoreParts>();
  std::uint32_t start = 0;
  for (const auto& p : parts) {
    more->starts.push_back(start);
    start += static_cast<std::uint32_t>(p->size());
  }
  more->parts = std::move(parts);
  more_ = std::move(more);
}

std::shared_ptr<const EndpointPool> EndpointPool::of(std::vector<Endpoint> endpoints) {
  return std::make_shared<const EndpointPool>(std::vector<Part>{std::make_shared<const std::vector<Endpoint>>(std::move(endpoints))});
}

const Endpoint& EndpointPool::in_parts(std::uint32_t i) const {
  const auto& starts = more_->starts;
  const auto k = static_cast<std::size_t>(std::upper_bound(starts.begin(), starts.end(), i) - starts.begin()) - 1;
  return (*more_->parts[k])[i - starts[k]];
}

EndpointList::EndpointList(std::vector<Endpoint> own) {
  count_ = static_cast<std::uint32_t>(own.size());
  if (count_ != 0) pool_ = EndpointPool::of(std::move(own));
}

EndpointList::EndpointList(std::shared_ptr<const EndpointPool> pool, std::vector<std::uint32_t> indices)
    : pool_(std::move(pool)), count_(static_cast<std::uint32_t>(indices.size())) {
  bool consecutive = true;
  for (std::size_t i = 1; i < indices.size() && consecutive; ++i) consecutive = indices[i] == indices[i - 1] + 1;
  if (consecutive) {
    start_ = indices.empty() ? 0 : indices[0];
  } else {
    indices_ = std::make_unique_for_overwrite<std::uint32_t[]>(count_);
    std::copy(indices.begin(), indices.end(), indices_.get());
  }
}

EndpointList::EndpointList(const EndpointList& o) : pool_(o.pool_), start_(o.start_), count_(o.count_) {
  if (o.indices_) {
    indices_ = std::make_unique_for_overwrite<std::uint32_t[]>(count_);
    std::copy(o.indices_.get(), o.indices_.get() + count_, indices_.get());
  }
}

EndpointList& EndpointList::operator=(const EndpointList& o) {
  if (this != &o) *this = EndpointList(o);
  return *this;
}

const Endpoint& EndpointList::at(std::size_t i) const {
  if (i >= size()) throw std::out_of_range("EndpointList::at");
  return (*this)[i];
}

void EndpointList::push_back(Endpoint e) {
  std::vector<Endpoint> own = *this;
  own.push_back(std::move(e));
  *this = EndpointList(std::move(own));
}

bool EndpointList::operator==(const EndpointList& o) const {
  if (count_ != o.count_) return false;
  if (pool_ == o.pool_ && start_ == o.start_ && !indices_ && !o.indices_) return true;
  if (pool_ == o.pool_ && indices_ && o.indices_ && std::equal(indices_.get(), indices_.get() + count_, o.indices_.get())) return true;
  return std::equal(begin(), end(), o.begin());
}

}  // namespace switchyard::endpoints
