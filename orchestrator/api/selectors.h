// Label selectors (equality- and set-based, from strings and from matchLabels/matchExpressions)
// and field selectors, with the semantics of k8s.io/apimachinery/pkg/{labels,fields}.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/api/field_error.h"
#include "orchestrator/api/types.h"
#include "orchestrator/base/error.h"

namespace switchyard::api {

enum class SelectorOperator { Equals, NotEquals, In, NotIn, Exists, DoesNotExist, GreaterThan, LessThan };

struct LabelRequirement {
  std::string key;
  SelectorOperator op;
  std::vector<std::string> values;  // sorted, for In/NotIn; one value for the others that take one

  bool matches(const StringMap& labels) const;
  std::string to_string() const;
};

// metav1.LabelSelectorRequirement as written in a manifest.
struct LabelSelectorExpression {
  std::string key, op;  // In, NotIn, Exists, DoesNotExist
  std::vector<std::string> values;
};

class LabelSelector {
 public:
  // Matches everything.
  LabelSelector() = default;
  // Matches nothing (a nil *metav1.LabelSelector).
  static LabelSelector nothing();
  // "a=b,c!=d,e in (x,y),f notin (z),g,!h"; the message says where and why parsing failed.
  static Result<LabelSelector> parse(std::string_view text);
  // A Service's selector: every key equal to its value.
  static LabelSelector from_map(const StringMap& match_labels);
  // metav1.LabelSelector; errors name the field under `path`.
  static std::expected<LabelSelector, FieldErrors> from_api(const StringMap& match_labels,
                                                            const std::vector<LabelSelectorExpression>& expressions,
                                                            const FieldPath& path);

  bool matches(const StringMap& labels) const;
  bool matches_everything() const { return !nothing_ && requirements_.empty(); }
  bool matches_nothing() const { return nothing_; }
  const std::vector<LabelRequirement>& requirements() const { return requirements_; }
  std::string to_string() const;

 private:
  std::vector<LabelRequirement> requirements_;
  bool nothing_ = false;
};

struct FieldRequirement {
  std::string field, value;
  bool negated = false;  // !=
};

class FieldSelector {
 public:
  FieldSelector() = default;
  // "metadata.name=foo,metadata.namespace!=bar" (== is accepted; \, \= \\ escape).
  // `supported` lists the fields the resource can be selected by.
  static Result<FieldSelector> parse(std::string_view text,
                                                         const std::vector<std::string_view>& supported);
  // `fields` holds the object's selectable fields, e.g. {metadata.name: x, metadata.namespace: y}.
  bool matches(const StringMap& fields) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<FieldRequirement>& requirements() const { return requirements_; }

 private:
  std::vector<FieldRequirement> requirements_;
};

// metadata.name and metadata.namespace of an object, as field selectors see them.
StringMap object_meta_fields(const ObjectMeta& m, bool namespaced);

}  // namespace switchyard::api
