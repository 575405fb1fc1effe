#include "orchestrator/api/field_error.h"

#include <fmt/format.h>

namespace switchyard::api {

FieldPath FieldPath::child(std::string_view name) const {
  return FieldPath(path_.empty() ? std::string(name) : fmt::format("{}.{}", path_, name));
}
FieldPath FieldPath::index(std::size_t i) const { return FieldPath(fmt::format("{}[{}]", path_, i)); }
FieldPath FieldPath::key(std::string_view k) const { return FieldPath(fmt::format("{}[{}]", path_, k)); }

std::string go_quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        else
          out += c;
    }
  }
  return out + "\"";
}

std::string rendered(std::int64_t v) { return std::to_string(v); }

std::string FieldError::message_without_field() const {
  switch (type) {
    case FieldErrorType::Required:
      return detail.empty() ? "Required value" : "Required value: " + detail;
    case FieldErrorType::Forbidden:
      return detail.empty() ? "Forbidden" : "Forbidden: " + detail;
    case FieldErrorType::Duplicate:
      return "Duplicate value: " + value;
    case FieldErrorType::NotFound:
      return "Not found: " + value;
    case FieldErrorType::NotSupported:
      return "Unsupported value: " + value + (detail.empty() ? "" : ": " + detail);
    case FieldErrorType::TooMany:
      return "Too many: " + value + (detail.empty() ? "" : ": " + detail);
    case FieldErrorType::TooLong:
      return "Too long: " + detail;
    case FieldErrorType::Invalid:
      // An empty value is Go's field.OmitValueType: only the detail is shown.
      if (value.empty()) return detail.empty() ? "Invalid value" : "Invalid value: " + detail;
      return "Invalid value: " + value + (detail.empty() ? "" : ": " + detail);
  }
  return {};
}

std::string FieldError::message() const { return field.empty() ? message_without_field() : field + ": " + message_without_field(); }

std::string_view FieldError::reason() const {
  switch (type) {
    case FieldErrorType::Required:
      return "FieldValueRequired";
    case FieldErrorType::Invalid:
      return "FieldValueInvalid";
    case FieldErrorType::Forbidden:
      return "FieldValueForbidden";
    case FieldErrorType::Duplicate:
      return "FieldValueDuplicate";
    case FieldErrorType::NotSupported:
      return "FieldValueNotSupported";
    case FieldErrorType::TooLong:
      return "FieldValueTooLong";
    case FieldErrorType::TooMany:
      return "FieldValueTooMany";
    case FieldErrorType::NotFound:
      return "FieldValueNotFound";
  }
  return "FieldValueInvalid";
}

FieldError required(const FieldPath& p, std::string detail) { return {FieldErrorType::Required, p.str(), "", std::move(detail)}; }
FieldError invalid(const FieldPath& p, std::string v, std::string detail) {
  return {FieldErrorType::Invalid, p.str(), std::move(v), std::move(detail)};
}
FieldError forbidden(const FieldPath& p, std::string detail) { return {FieldErrorType::Forbidden, p.str(), "", std::move(detail)}; }
FieldError duplicate(const FieldPath& p, std::string v) { return {FieldErrorType::Duplicate, p.str(), std::move(v), ""}; }
FieldError not_supported(const FieldPath& p, std::string v, const std::vector<std::string_view>& supported) {
  std::string detail;
  for (auto s : supported) {
    if (!detail.empty()) detail += ", ";
    detail += go_quoted(s);
  }
  return {FieldErrorType::NotSupported, p.str(), std::move(v), supported.empty() ? "" : "supported values: " + detail};
}
FieldError too_long(const FieldPath& p, std::string v, std::size_t max) {
  return {FieldErrorType::TooLong, p.str(), std::move(v), fmt::format("may not be more than {} bytes", max)};
}
FieldError too_many(const FieldPath& p, std::size_t actual, std::size_t max) {
  return {FieldErrorType::TooMany, p.str(), std::to_string(actual), fmt::format("must have at most {} items", max)};
}

std::string aggregate_message(const FieldErrors& errors) {
  if (errors.size() == 1) return errors[0].message();
  std::string out = "[";
  for (std::size_t i = 0; i < errors.size(); ++i) {
    if (i) out += ", ";
    out += errors[i].message();
  }
  return out + "]";
}

}  // namespace switchyard::api
