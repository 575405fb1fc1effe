// The namespace registry's own rules (pkg/registry/core/namespace): a new namespace is Active
// with the `kubernetes` finalizer, which only the finalize subresource removes.
#pragma once

#include "orchestrator/api/types.h"

namespace switchyard::apiserver {

inline constexpr const char* kNamespaceFinalizer = "kubernetes";

// The namespace strategy's PrepareForCreate: phase Active, conditions cleared, `kubernetes` in
// spec.finalizers.
void prepare_namespace_create(api::Namespace& n);

}  // namespace switchyard::apiserver
