#include "endpoints/node/shared_string.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace switchyard::endpoints {

SharedString::SharedString(std::string_view s) {
  if (s.empty()) return;
  void* memory = std::malloc(sizeof(Block) + s.size());
  if (!memory) throw std::bad_alloc();
  block_ = new (memory) Block{1, static_cast<std::uint32_t>(s.size())};
  std::memcpy(block_->chars(), s.data(), s.size());
}

void SharedString::release() noexcept {
  if (block_ && block_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    block_->~Block();
    std::free(block_);
  }
  block_ = nullptr;
}

}  // namespace switchyard::endpoints
