// apps/v1 StatefulSet defaulting (pkg/apis/apps/v1/defaults.go SetDefaults_StatefulSet).
// maxUnavailable is not defaulted: upstream defaults it to 1 only behind the alpha
// MaxUnavailableStatefulSet gate; when given, the controller honours it.
#include "orchestrator/api/defaults.h"
#include "orchestrator/api/statefulset_claims.h"

namespace switchyard::api {

void apply_defaults(StatefulSet& o) {
  auto& s = o.spec;
  if (s.pod_management_policy.empty()) s.pod_management_policy = "OrderedReady";
  auto& st = s.update_strategy;
  if (st.type.empty()) st.type = "RollingUpdate";
  if (st.type == "RollingUpdate") {
    if (!st.rolling_update) st.rolling_update.emplace();
    if (!st.rolling_update->partition) st.rolling_update->partition = 0;
  }
  if (!s.persistent_volume_claim_retention_policy) s.persistent_volume_claim_retention_policy.emplace();
  auto& policy = *s.persistent_volume_claim_retention_policy;
  if (policy.when_deleted.empty()) policy.when_deleted = "Retain";
  if (policy.when_scaled.empty()) policy.when_scaled = "Retain";
  if (!s.replicas) s.replicas = 1;
  if (!s.revision_history_limit) s.revision_history_limit = 10;
  apply_defaults(s.template_.spec);
  // Each volumeClaimTemplate is defaulted as a claim (volumeMode, status.phase), so an update that
  // leaves them out compares equal to the stored ones.
  auto templates = volume_claim_templates(o);
  if (templates.errors.empty() && !templates.claims.empty()) {
    for (auto& c : templates.claims) apply_defaults(c);
    set_volume_claim_templates(o, templates.claims);
  }
}

}  // namespace switchyard::api
