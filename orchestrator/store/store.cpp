#include "orchestrator/store/store.h"

namespace switchyard::store {

std::string_view to_string(StoreErrorCode code) {
  switch (code) {
    case StoreErrorCode::NotFound: return "NotFound";
    case StoreErrorCode::AlreadyExists: return "AlreadyExists";
    case StoreErrorCode::Conflict: return "Conflict";
    case StoreErrorCode::Compacted: return "Compacted";
    case StoreErrorCode::FutureRevision: return "FutureRevision";
    case StoreErrorCode::Unavailable: return "Unavailable";
    case StoreErrorCode::Internal: return "Internal";
  }
  return "Unknown";
}

std::string prefix_range_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return end;
}

}  // namespace switchyard::store
