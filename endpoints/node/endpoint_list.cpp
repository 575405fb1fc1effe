#include "endpoints/node/endpoint_list.h"

#include <algorithm>
#include <stdexcept>

namespace switchyard::endpoints {

EndpointPool::EndpointPool(std::vector<Part> parts) : parts_(std::move(parts)) {
  starts_.reserve(parts_.size());
  for (const auto& p : parts_) {
    starts_.push_back(size_);
    size_ += static_cast<std::uint32_t>(p->size());
  }
}

std::shared_ptr<const EndpointPool> EndpointPool::of(std::vector<Endpoint> endpoints) {
  return std::make_shared<const EndpointPool>(std::vector<Part>{std::make_shared<const std::vector<Endpoint>>(std::move(endpoints))});
}

const Endpoint& EndpointPool::in_parts(std::uint32_t i) const {
  const auto k = static_cast<std::size_t>(std::upper_bound(starts_.begin(), starts_.end(), i) - starts_.begin()) - 1;
  return (*parts_[k])[i - starts_[k]];
}

EndpointList::EndpointList(std::vector<Endpoint> own) {
  count_ = static_cast<std::uint32_t>(own.size());
  if (count_ != 0) pool_ = EndpointPool::of(std::move(own));
}

EndpointList::EndpointList(std::shared_ptr<const EndpointPool> pool, std::vector<std::uint32_t> indices)
    : pool_(std::move(pool)), count_(static_cast<std::uint32_t>(indices.size())) {
  bool consecutive = true;
  for (std::size_t i = 1; i < indices.size() && consecutive; ++i) consecutive = indices[i] == indices[i - 1] + 1;
  if (consecutive)
    start_ = indices.empty() ? 0 : indices[0];
  else
    indices_ = std::move(indices);
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
  if (pool_ == o.pool_ && indices_ == o.indices_ && start_ == o.start_) return true;
  return std::equal(begin(), end(), o.begin());
}

}  // namespace switchyard::endpoints
