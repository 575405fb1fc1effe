#include "endpoints/node/hint_list.h"

#include <algorithm>

namespace switchyard::endpoints {

HintList::HintList(std::vector<std::string> names) {
  if (!names.empty()) block_ = new Block{1, std::move(names)};
}

bool HintList::contains(std::string_view name) const { return std::find(begin(), end(), name) != end(); }

bool HintList::operator==(const HintList& o) const { return block_ == o.block_ || std::equal(begin(), end(), o.begin(), o.end()); }

void HintList::release() noexcept {
  if (block_ && block_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete block_;
  block_ = nullptr;
}

}  // namespace switchyard::endpoints
