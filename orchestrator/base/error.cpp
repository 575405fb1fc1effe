#include "orchestrator/base/error.h"

#include <ostream>

namespace switchyard {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::NotFound: return "NotFound";
    case ErrorCode::AlreadyExists: return "AlreadyExists";
    case ErrorCode::Conflict: return "Conflict";
    case ErrorCode::Invalid: return "Invalid";
    case ErrorCode::Compacted: return "Compacted";
    case ErrorCode::FutureRevision: return "FutureRevision";
    case ErrorCode::OutOfRange: return "OutOfRange";
    case ErrorCode::Exhausted: return "Exhausted";
    case ErrorCode::Unavailable: return "Unavailable";
    case ErrorCode::Timeout: return "Timeout";
    case ErrorCode::TooLarge: return "TooLarge";
    case ErrorCode::Unauthorized: return "Unauthorized";
    case ErrorCode::Forbidden: return "Forbidden";
    case ErrorCode::Internal: return "Internal";
  }
  return "Unknown";
}

std::ostream& operator<<(std::ostream& out, const Error& error) { return out << error.message; }

std::string Error::describe() const { return std::string(to_string(code)) + ": " + message; }

}  // namespace switchyard
