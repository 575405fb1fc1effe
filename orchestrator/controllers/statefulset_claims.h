// The StatefulSet controller's claims as pure functions (pkg/controller/statefulset
// stateful_set_utils.go): the claim each volumeClaimTemplate gives an ordinal, and the
// ownerReferences persistentVolumeClaimRetentionPolicy puts on it so the garbage collector
// deletes it with the set (whenDeleted: Delete) or with a pod scaled away (whenScaled: Delete).
// No I/O here.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/api/types.h"

namespace switchyard::controllers::sts {

// getPersistentVolumeClaimName: TEMPLATE-SET-ORDINAL ("data-web-0").
std::string claim_name(const std::string& template_name, const std::string& set_name, int ordinal);

// getPersistentVolumeClaims: one claim per template for `ordinal`, in the set's namespace, with
// the template's labels and the selector's matchLabels over them.
std::vector<api::PersistentVolumeClaim> claims_for(const api::StatefulSet& set, const std::vector<api::PersistentVolumeClaim>& templates,
                                                   int ordinal);

// Who may own one claim under the policy.
struct ClaimOwners {
  std::string set_name, set_uid, pod_name, pod_uid;
  std::string when_deleted = "Retain", when_scaled = "Retain";
  bool pod_scaled_down = false;  // the pod's ordinal is outside [start, start + replicas)
};

// hasUnexpectedController: under a Delete policy, a controller of the claim other than this set
// and pod (or a reference to them with another uid).
bool has_unexpected_controller(const std::vector<api::OwnerReference>& refs, const ClaimOwners& o);
// isClaimOwnerUpToDate: Retain/Retain no reference to set or pod; whenDeleted Delete the set as
// controller; whenScaled Delete the pod as controller once it is scaled down (and then not the
// set). Stale references (our names, other uids) and other controllers are left alone.
bool claim_owners_up_to_date(const std::vector<api::OwnerReference>& refs, const ClaimOwners& o);
// updateClaimOwnerRefForSetAndPod: the references with ours replaced by what the policy asks.
std::vector<api::OwnerReference> updated_claim_owners(const std::vector<api::OwnerReference>& refs, const ClaimOwners& o);

}  // namespace switchyard::controllers::sts
