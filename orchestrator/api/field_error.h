// Field-level errors exactly as Kubernetes renders them (k8s.io/apimachinery/pkg/util/validation/field):
//   spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::api {

// A path into an object: "spec.ports[0].nodePort". Cheap to build by value while walking.
class FieldPath {
 public:
  FieldPath() = default;
  explicit FieldPath(std::string root) : path_(std::move(root)) {}
  FieldPath child(std::string_view name) const;
  FieldPath index(std::size_t i) const;
  FieldPath key(std::string_view k) const;  // metadata.labels[app]
  const std::string& str() const { return path_; }
  bool empty() const { return path_.empty(); }

 private:
  std::string path_;
};

// The value shown after "Invalid value: ", already rendered as Go's %#v would print it
// (strings quoted, numbers bare).
std::string go_quoted(std::string_view s);
std::string rendered(std::int64_t v);

enum class FieldErrorType { Required, Invalid, Forbidden, Duplicate, NotSupported, TooLong, TooMany, NotFound };

struct FieldError {
  FieldErrorType type;
  std::string field;
  std::string value;  // rendered; empty when the type does not show a value
  std::string detail;

  // "Invalid value: 0: must be between 1 and 65535, inclusive" (no field)
  std::string message_without_field() const;
  // "spec.ports[0].port: Invalid value: 0: must be ..."
  std::string message() const;
  // Status cause reason: FieldValueInvalid, FieldValueRequired, ...
  std::string_view reason() const;
};

using FieldErrors = std::vector<FieldError>;

FieldError required(const FieldPath& p, std::string detail = {});
FieldError invalid(const FieldPath& p, std::string rendered_value, std::string detail);
FieldError forbidden(const FieldPath& p, std::string detail);
FieldError duplicate(const FieldPath& p, std::string rendered_value);
FieldError not_supported(const FieldPath& p, std::string rendered_value, const std::vector<std::string_view>& supported);
FieldError too_long(const FieldPath& p, std::string rendered_value, std::size_t max);
FieldError too_many(const FieldPath& p, std::size_t actual, std::size_t max);

// "[a, b]" for several errors, the message itself for one (utilerrors.NewAggregate).
std::string aggregate_message(const FieldErrors& errors);

}  // namespace switchyard::api
