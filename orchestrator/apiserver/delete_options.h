// DeleteOptions as kube-apiserver reads them (query parameters and a JSON or protobuf body,
// the body winning) and what their garbage-collection fields do to an object's finalizers
// (the generic registry's deletionFinalizersForGarbageCollection).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/apiserver/query_params.h"
#include "orchestrator/apiserver/status.h"

namespace switchyard::apiserver {

inline constexpr const char* kOrphanFinalizer = "orphan";
inline constexpr const char* kForegroundFinalizer = "foregroundDeletion";

enum class PropagationPolicy { Background, Foreground, Orphan };

struct DeleteOptions {
  std::string precondition_uid;
  std::optional<std::int64_t> grace_period_seconds;
  // propagationPolicy, or the legacy orphanDependents (true: Orphan, false: Background);
  // nullopt when the client gave neither (the object's own GC finalizers then stand).
  std::optional<PropagationPolicy> propagation;
  bool dry_run = false;  // dryRun: ["All"]: everything but the write
};

// The dryRun parameter (query `dryRun=All`, or a body's `dryRun: ["All"]`): whether to stop
// before the write. "All" is the only value kube-apiserver knows; another is a 400 in its words.
std::optional<bool> read_dry_run(const QueryParams& query, const nlohmann::json& body_values, ApiError& error);

// `body`: the parsed DeleteOptions (null when the request had none). 400 for a badly typed
// field, 422 for the combinations ValidateDeleteOptions refuses, in its words.
std::optional<DeleteOptions> read_delete_options(const QueryParams& query, const nlohmann::json& body, ApiError& error);

// The finalizers an object gets from a delete with `policy`: both GC finalizers dropped, then the
// one the policy asks for appended. Unchanged (false) when the set stays the same.
bool apply_gc_finalizers(std::vector<std::string>& finalizers, std::optional<PropagationPolicy> policy);

}  // namespace switchyard::apiserver
