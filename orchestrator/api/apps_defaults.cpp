// apps/v1 defaulting (pkg/apis/apps/v1/defaults.go).
#include "orchestrator/api/defaults.h"

namespace switchyard::api {

void apply_defaults(ReplicaSet& r) {
  if (!r.replicas) r.replicas = 1;
  apply_defaults(r.template_.spec);
}

void apply_defaults(Deployment& d) {
  if (!d.replicas) d.replicas = 1;
  auto& st = d.strategy;
  if (st.type.empty()) st.type = "RollingUpdate";
  if (st.type == "RollingUpdate") {
    if (!st.rolling_update) st.rolling_update.emplace();
    if (!st.rolling_update->max_unavailable) st.rolling_update->max_unavailable = IntOrString::of(std::string("25%"));
    if (!st.rolling_update->max_surge) st.rolling_update->max_surge = IntOrString::of(std::string("25%"));
  }
  if (!d.revision_history_limit) d.revision_history_limit = 10;
  if (!d.progress_deadline_seconds) d.progress_deadline_seconds = 600;
  apply_defaults(d.template_.spec);
}

void apply_defaults(DaemonSet& d) {
  auto& st = d.update_strategy;
  if (st.type.empty()) st.type = "RollingUpdate";
  if (st.type == "RollingUpdate") {
    if (!st.rolling_update) st.rolling_update.emplace();
    if (!st.rolling_update->max_unavailable) st.rolling_update->max_unavailable = IntOrString::of(1);
    if (!st.rolling_update->max_surge) st.rolling_update->max_surge = IntOrString::of(0);
  }
  if (!d.revision_history_limit) d.revision_history_limit = 10;
  apply_defaults(d.template_.spec);
}

void apply_defaults(ControllerRevision&) {}

}  // namespace switchyard::api
