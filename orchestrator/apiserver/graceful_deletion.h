// What a DELETE does to an object, as kube-apiserver's rest.BeforeDelete and the Pod strategy's
// CheckGracefulDelete decide it: delete it now; leave it (a deletion is under way already, with
// a grace period no longer than the one asked for); or mark it with deletionTimestamp and
// deletionGracePeriodSeconds and keep it (a Pod on a node until its kubelet has stopped it and
// confirms with a zero grace period, or an object held by finalizers).
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "orchestrator/apiserver/resources.h"

namespace switchyard::apiserver {

struct DeletionPlan {
  enum class Action { DeleteNow, Pending, Mark };
  Action action = Action::DeleteNow;
  std::string deletion_timestamp;  // Mark: RFC 3339
  std::int64_t grace_period_seconds = 0;
};

// `requested`: DeleteOptions.gracePeriodSeconds when the client gave one. `object` is as stored.
DeletionPlan plan_deletion(const ResourceInfo& r, const nlohmann::json& object, std::optional<std::int64_t> requested, std::time_t now);

std::string rfc3339_at(std::time_t t);

}  // namespace switchyard::apiserver
