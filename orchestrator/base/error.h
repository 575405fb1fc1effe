// The one error vocabulary of the project: an Error carries a code a caller can act on and a
// message that names the object and the cause; every fallible operation returns a Result.
// Result is [[nodiscard]]: a result nobody looks at is a compile warning (an error in CI).
#pragma once

#include <expected>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>

namespace switchyard {

enum class ErrorCode {
  NotFound,        // the object, key or file does not exist
  AlreadyExists,   // a create of something that exists
  Conflict,        // a compare-and-swap lost (resourceVersion / mod revision moved)
  Invalid,         // the input is malformed or fails validation
  Compacted,       // the requested revision is older than the store keeps (HTTP 410 Gone)
  FutureRevision,  // the requested revision is newer than the store's
  OutOfRange,      // a requested value outside its range
  Exhausted,       // nothing left to hand out (a range is full), or a limit on work in flight reached
  Unavailable,     // a peer (API server, etcd, containerd, the kernel) cannot be reached now: retry
  Timeout,         // an operation ran out of time
  TooLarge,        // a request or object over a limit
  Unauthorized,    // no valid credentials
  Forbidden,       // valid credentials without the permission
  Internal,        // anything else: a failed syscall, a malformed peer response, a bug's symptom
};

std::string_view to_string(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::Internal;
  std::string message;

  // "NotFound: pod default/web not found"
  std::string describe() const;
  friend bool operator==(const Error&, const Error&) = default;
};

// Writes the message alone, as users read it ("error: " << e): the code is for callers to act on.
std::ostream& operator<<(std::ostream& out, const Error& error);

template <class T = void>
class [[nodiscard]] Result : public std::expected<T, Error> {
 public:
  using std::expected<T, Error>::expected;
  Result(std::expected<T, Error> other) : std::expected<T, Error>(std::move(other)) {}  // NOLINT: implicit on purpose
};

// return fail(ErrorCode::NotFound, "pod {} not found") as a Result of any T.
inline std::unexpected<Error> fail(ErrorCode code, std::string message) { return std::unexpected(Error{code, std::move(message)}); }
inline std::unexpected<Error> fail(Error error) { return std::unexpected(std::move(error)); }

// Adds context in front of an error's message, keeping its code: "loading kubeconfig /x: …".
inline Error with_context(Error error, std::string_view context) {
  error.message.insert(0, std::string(context) + ": ");
  return error;
}

}  // namespace switchyard
