// A StatefulSet's spec.volumeClaimTemplates as PersistentVolumeClaims. statefulset_types.h keeps
// them as JSON text (spec.passthrough, so types.h need not know the storage kinds); defaulting,
// validation and the controller read them through here.
#pragma once

#include <vector>

#include "orchestrator/api/field_error.h"
#include "orchestrator/api/types.h"

namespace switchyard::api {

struct ClaimTemplates {
  std::vector<PersistentVolumeClaim> claims;  // in spec order
  FieldErrors errors;                         // spec.volumeClaimTemplates[i] that do not decode
};
ClaimTemplates volume_claim_templates(const StatefulSet& set);

// Writes the templates back as the API server stores them (apiVersion v1, kind
// PersistentVolumeClaim, metadata.creationTimestamp null, as Go encodes a template).
void set_volume_claim_templates(StatefulSet& set, const std::vector<PersistentVolumeClaim>& claims);

// A pod volume `persistentVolumeClaim: {claimName}` per (volume name, claim name), first and in
// that order, replacing any volume of the same name (upstream's updateStorage).
struct ClaimVolume {
  std::string volume, claim;
};
void use_claim_volumes(PodSpec& spec, const std::vector<ClaimVolume>& volumes);

}  // namespace switchyard::api
