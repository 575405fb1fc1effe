#include "orchestrator/apiserver/delete_options.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "orchestrator/api/field_error.h"

namespace switchyard::apiserver {

using Json = nlohmann::json;

namespace {

std::optional<PropagationPolicy> parse_policy(const std::string& s) {
  if (s == "Background") return PropagationPolicy::Background;
  if (s == "Foreground") return PropagationPolicy::Foreground;
  if (s == "Orphan") return PropagationPolicy::Orphan;
  return std::nullopt;
}

}  // namespace

std::optional<bool> read_dry_run(const QueryParams& query, const Json& body_values, ApiError& error) {
  std::vector<std::string> values;
  if (auto it = query.find("dryRun"); it != query.end()) values.push_back(it->second);
  if (body_values.is_array())
    for (const auto& v : body_values) values.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  if (!body_values.is_null() && !body_values.is_array()) {
    error = bad_request("dryRun must be a list of strings");
    return std::nullopt;
  }
  for (const auto& v : values)
    if (v != "All") {
      std::string listed;
      for (const auto& each : values) listed += (listed.empty() ? "" : ", ") + api::go_quoted(each);
      error = bad_request(fmt::format("dryRun: Unsupported value: []string{{{}}}: supported values: \"All\"", listed));
      return std::nullopt;
    }
  return !values.empty();
}

std::optional<DeleteOptions> read_delete_options(const QueryParams& query, const Json& body, ApiError& error) {
  DeleteOptions out;
  auto dry_run = read_dry_run(query, body.is_object() ? body.value("dryRun", Json()) : Json(), error);
  if (!dry_run) return std::nullopt;
  out.dry_run = *dry_run;
  auto grace = query_integer(query, "gracePeriodSeconds");
  if (!grace) {
    error = bad_request(grace.error().message);
    return std::nullopt;
  }
  out.grace_period_seconds = *grace;
  std::optional<std::string> policy;
  std::optional<bool> orphan;
  if (auto it = query.find("propagationPolicy"); it != query.end()) policy = it->second;
  if (query.contains("orphanDependents")) orphan = query_flag(query, "orphanDependents");
  if (body.is_object()) {
    if (body.contains("preconditions") && body["preconditions"].is_object()) out.precondition_uid = body["preconditions"].value("uid", "");
    if (body.contains("gracePeriodSeconds") && !body["gracePeriodSeconds"].is_null()) {
      if (!body["gracePeriodSeconds"].is_number_integer()) {
        error = bad_request("gracePeriodSeconds must be an integer");
        return std::nullopt;
      }
      out.grace_period_seconds = body["gracePeriodSeconds"].get<std::int64_t>();
    }
    if (body.contains("propagationPolicy") && !body["propagationPolicy"].is_null()) {
      if (!body["propagationPolicy"].is_string()) {
        error = bad_request("propagationPolicy must be a string");
        return std::nullopt;
      }
      policy = body["propagationPolicy"].get<std::string>();
    }
    if (body.contains("orphanDependents") && !body["orphanDependents"].is_null()) {
      if (!body["orphanDependents"].is_boolean()) {
        error = bad_request("orphanDependents must be a boolean");
        return std::nullopt;
      }
      orphan = body["orphanDependents"].get<bool>();
    }
  }
  // ValidateDeleteOptions.
  api::FieldErrors errors;
  const api::FieldPath path("propagationPolicy");
  if (orphan && policy)
    errors.push_back(api::invalid(path, api::go_quoted(*policy), "orphanDependents and deletionPropagation cannot be both set"));
  if (policy && !parse_policy(*policy))
    errors.push_back(api::not_supported(path, api::go_quoted(*policy), {"Foreground", "Background", "Orphan", "nil"}));
  if (!errors.empty()) {
    error = invalid("meta.k8s.io", "DeleteOptions", "", errors);
    return std::nullopt;
  }
  if (policy) out.propagation = parse_policy(*policy);
  if (orphan) out.propagation = *orphan ? PropagationPolicy::Orphan : PropagationPolicy::Background;
  return out;
}

bool apply_gc_finalizers(std::vector<std::string>& finalizers, std::optional<PropagationPolicy> policy) {
  if (!policy) return false;  // the object's own GC finalizers (or none: Background) stand
  std::vector<std::string> next;
  for (const auto& f : finalizers)
    if (f != kOrphanFinalizer && f != kForegroundFinalizer) next.push_back(f);
  if (*policy == PropagationPolicy::Orphan) next.push_back(kOrphanFinalizer);
  if (*policy == PropagationPolicy::Foreground) next.push_back(kForegroundFinalizer);
  const bool changed = std::set<std::string>(next.begin(), next.end()) != std::set<std::string>(finalizers.begin(), finalizers.end());
  if (changed) finalizers = std::move(next);
  return changed;
}

}  // namespace switchyard::apiserver
