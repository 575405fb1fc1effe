// The strategic-merge-patch schema of the kinds Switchyard serves: for each list field, whether a
// patch merges into it (and by which key) or replaces it. Taken from the patchStrategy /
// patchMergeKey struct tags of k8s.io/api (core/v1, discovery/v1) and metav1.ObjectMeta.
// Lists not in the table are replaced, as Kubernetes does for lists without a patchStrategy
// (`+listType=atomic`). Paths are JSON field names joined by '.', with "[]" for "each element of
// this list": "spec.containers[].ports".
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace switchyard::apiserver {

enum class ListStrategy { replace, merge };

struct ListSchema {
  ListStrategy strategy = ListStrategy::replace;
  std::string_view merge_key;  // empty for a merged list of primitives (a set, e.g. finalizers)
};

struct ListRule {
  std::string_view kind;  // "*" for fields every kind has (metadata.*)
  std::string_view path;
  ListSchema schema;
};

// Whether strategic merge patch is defined for the kind (the built-in kinds Switchyard serves).
bool has_strategic_merge_schema(std::string_view kind);

// The list at `path` of `kind`, or nullopt when the table does not name it (replace).
std::optional<ListSchema> find_list_schema(std::string_view kind, std::string_view path);

// The whole table, for tests and documentation.
std::span<const ListRule> list_rules();

}  // namespace switchyard::apiserver
