// What kube-apiserver does to a Service between decoding an update and validating it: the
// storage's normalizeClusterIPs (the singular and plural cluster IP fields kept in step for
// clients that only know the singular one) and the strategy's dropTypeDependentFields (a type
// change clears what the new type cannot have, unless the user changed it in the same update,
// in which case validation reports it).
#pragma once

#include "orchestrator/api/types.h"

namespace switchyard::apiserver {

void prepare_service_update(const api::Service& old, api::Service& updated);

}  // namespace switchyard::apiserver
