// The StatefulSet controller's writes of PersistentVolumeClaims (stateful_pod_control.go
// createPersistentVolumeClaims and UpdatePodClaimForRetentionPolicy), with upstream's Events.
#include <cctype>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "orchestrator/client/rest.h"
#include "orchestrator/controllers/event_recorder.h"
#include "orchestrator/controllers/statefulset_claims.h"
#include "orchestrator/controllers/statefulset_controller.h"
#include "orchestrator/controllers/statefulset_math.h"

namespace switchyard::controllers {

namespace {

const EventSource kEvents{"statefulset-controller"};

void claim_event(client::ApiClient& api, const api::StatefulSet& set, const std::string& verb, const std::string& claim,
                 const std::string& pod, const std::string* error) {
  std::string title = verb;
  title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(title[0])));
  if (!error)
    record_event(api, kEvents, "apps/v1", "StatefulSet", set.metadata, "Normal", "Successful" + title,
                 fmt::format("{} Claim {} Pod {} in StatefulSet {} success", verb, claim, pod, set.metadata.name));
  else
    record_event(api, kEvents, "apps/v1", "StatefulSet", set.metadata, "Warning", "Failed" + title,
                 fmt::format("{} Claim {} for Pod {} in StatefulSet {} failed error: {}", verb, claim, pod, set.metadata.name, *error));
}

// utilerrors.NewAggregate's message: one error alone, several as [a, b].
std::string aggregate(const std::vector<std::string>& errors) {
  return errors.size() == 1 ? errors[0] : fmt::format("[{}]", fmt::join(errors, ", "));
}

}  // namespace

Result<void> StatefulSetController::create_missing_claims(client::ApiClient& api, const api::StatefulSet& set,
                                                          const std::vector<api::PersistentVolumeClaim>& templates, int ordinal) {
  const std::string pod = sts::pod_name(set.metadata.name, ordinal);
  std::vector<std::string> errors;
  for (const auto& claim : sts::claims_for(set, templates, ordinal)) {
    const auto& name = claim.metadata.name;
    if (auto cached = claims_.indexer().get(claim.metadata.namespace_ + "/" + name)) {
      // Never recreated while it exists; one being deleted would take the pod's data with it.
      if (cached->metadata.deletion_timestamp) errors.push_back(fmt::format("pvc {} is being deleted", name));
      continue;
    }
    auto made = client::create(api, claim);
    if (made) {
      ++stats_.claims_created;
      claim_event(api, set, "create", name, pod, nullptr);
      continue;
    }
    ++stats_.failed_writes;
    errors.push_back(fmt::format("failed to create PVC {}: {}", name, made.error().message));
    if (made.error().code != ErrorCode::AlreadyExists) claim_event(api, set, "create", name, pod, &made.error().message);
  }
  if (errors.empty()) return {};
  return fail(ErrorCode::Conflict, aggregate(errors));
}

Result<void> StatefulSetController::update_claim_owners(client::ApiClient& api, const api::StatefulSet& set,
                                                        const std::vector<api::PersistentVolumeClaim>& templates, const api::Pod& pod,
                                                        int ordinal) {
  sts::ClaimOwners owners{set.metadata.name, set.metadata.uid, pod.metadata.name, pod.metadata.uid};
  if (const auto& p = set.spec.persistent_volume_claim_retention_policy) {
    owners.when_deleted = p->when_deleted;
    owners.when_scaled = p->when_scaled;
  }
  const int start = set.spec.ordinals ? set.spec.ordinals->start : 0;
  owners.pod_scaled_down = ordinal < start || ordinal >= start + set.spec.replicas.value_or(1);
  for (const auto& t : templates) {
    const std::string name = sts::claim_name(t.metadata.name, set.metadata.name, ordinal);
    auto cached = claims_.indexer().get(set.metadata.namespace_ + "/" + name);
    if (!cached) continue;  // not made yet, or not in the cache yet: a later sync sees it
    const auto& refs = cached->metadata.owner_references;
    if (sts::claim_owners_up_to_date(refs, owners)) continue;
    if (sts::has_unexpected_controller(refs, owners)) {
      const std::string why = fmt::format(
          "PersistentVolumeClaim {} has a conflicting OwnerReference that acts as a manging controller, the retention policy is ignored "
          "for this claim",
          name);
      claim_event(api, set, "update", name, pod.metadata.name, &why);
    }
    api::PersistentVolumeClaim updated = *cached;
    updated.metadata.owner_references = sts::updated_claim_owners(refs, owners);
    if (auto r = client::update(api, updated); !r) {
      ++stats_.failed_writes;
      return fail(r.error().code, fmt::format("could not update claim {} for delete policy ownerRefs: {}", name, r.error().message));
    }
    ++stats_.claims_updated;
  }
  return {};
}

}  // namespace switchyard::controllers
